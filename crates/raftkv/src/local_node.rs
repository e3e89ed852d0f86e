//! One node that `raftkv local` manages: where it listens and keeps its data and log, the
//! process `local` started for it, how to start it ([`LocalNode::launch`], through
//! [`node::launch`], so a restart command printed on the screen matches what `local` ran), and
//! what its log says at the end.
//!
//! Shared by `local` (which starts and stops nodes) and `local_view` (which shows them), so
//! neither imports the other's internals.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Child;

use node::launch::Launch;

/// Lines of a failed node's log shown on the screen.
const LOG_TAIL_LINES: usize = 8;

/// One node `local` manages.
pub struct LocalNode {
    /// Node id, 1-based.
    pub id: usize,
    /// Client address.
    pub client: String,
    /// Peer address.
    pub peer: String,
    /// Data dir.
    pub data_dir: PathBuf,
    /// Log file (stdout and stderr).
    pub log_path: PathBuf,
    /// The process `local` started, until it is reaped.
    pub child: Option<Child>,
    /// The pid `local` started it with.
    pub started_pid: u32,
    /// How that process ended, once reaped.
    pub exit: Option<String>,
    /// The cluster's certificates under `--tls`: the node is started with them and asked over
    /// TLS.
    pub tls: Option<crate::local_tls::LocalTls>,
    /// Its share of this machine's CPUs (`--worker-threads`): the nodes share one machine.
    pub worker_threads: usize,
}

impl LocalNode {
    /// How to start this node, with `flags` after its ids and addresses (and its TLS flags and
    /// its share of the CPUs).
    pub fn launch(&self, mut flags: Vec<String>) -> Launch {
        flags.extend([
            "--worker-threads".to_string(),
            self.worker_threads.to_string(),
        ]);
        if let Some(tls) = &self.tls {
            flags.extend(tls.flags(self.id));
        }
        Launch {
            id: self.id as u64,
            data_dir: self.data_dir.clone(),
            listen: self.client.clone(),
            peer_listen: self.peer.clone(),
            flags,
            env: Vec::new(),
        }
    }

    /// The shell command that restarts this node by hand (its data is kept, so it resumes).
    pub fn restart_command(&self, exe: &Path) -> String {
        let args: Vec<String> = self
            .launch(Vec::new())
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!(
            "{} {} >> {} 2>&1 &",
            exe.display(),
            args.join(" "),
            self.log_path.display()
        )
    }
}

/// The last `lines` lines of a log file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The end of a failed node's log, for the screen.
pub fn failure_tail(path: &Path) -> String {
    log_tail(path, LOG_TAIL_LINES)
}

/// True if the log's last line is the node's graceful-shutdown line.
pub fn ended_cleanly(path: &Path) -> bool {
    log_tail(path, 1)
        .trim_end()
        .ends_with(crate::serve::CLEAN_EXIT_MESSAGE)
}
