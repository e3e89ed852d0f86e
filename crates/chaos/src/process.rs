//! One `raftkv serve` process inside its slot's network namespace.
//!
//! A [`NodeProcess`] is one node identity (an id, a data directory, a log file) that can be
//! started, killed, paused and restarted any number of times. It is spawned as
//! `ip netns exec <ns> env [libfaketime variables] raftkv serve ...`; both `ip netns exec` and
//! `env` exec rather than fork, so the child's pid is the server's own and signals reach it
//! directly. stdout and stderr are appended to the node's log file in the report, with a marker
//! line before each start.
//!
//! The start flags (`--bootstrap`, `--join`, or neither for a node the suite adds itself) are the
//! same on every restart. A node with state in its data directory ignores them; a node whose
//! state was lost (a simulated power loss under `--unsafe-no-fsync`) acts on them again, exactly
//! as an operator's unchanged service definition would.
//!
//! A process that exits without being told to (a crash, a panic) is noticed by
//! [`NodeProcess::check_exit`] and reported by the runner: that is a finding in itself.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::net::{CLIENT_PORT, PEER_PORT};
use crate::wait::poll_until_sync;

/// Path of libfaketime's preload library (Debian's `libfaketime` package).
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// Where libfaketime keeps its per-process shared memory.
pub const FAKETIME_SHM_DIR: &str = "/dev/shm";
/// How long a node may take to exit after SIGKILL, SIGUSR1 (power loss) or SIGTERM.
pub const EXIT_WAIT: Duration = Duration::from_secs(10);

/// How a node enters the cluster when its data directory is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// `--bootstrap`: a new single-node cluster.
    Bootstrap,
    /// `--join <client addr>`: ask that member to add it.
    Join(String),
    /// Neither: the suite adds it with `RAFTKV MEMBER ADD`.
    AddedBySuite,
}

/// Everything needed to start one node identity.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Raft node id (never reused).
    pub id: u64,
    /// The slot (network namespace) it runs in.
    pub slot: usize,
    /// The namespace's name.
    pub ns: String,
    /// The slot's address.
    pub addr: std::net::Ipv4Addr,
    /// The `raftkv` binary.
    pub binary: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its log file (stdout and stderr, appended).
    pub log: PathBuf,
    /// What it does with an empty data directory.
    pub start: StartMode,
    /// Further `serve` flags (timings, unsafe switches).
    pub extra: Vec<String>,
    /// libfaketime timestamp file, when the node runs under libfaketime.
    pub faketime_file: Option<PathBuf>,
}

impl NodeSpec {
    /// The client (RESP) address.
    pub fn client_addr(&self) -> String {
        format!("{}:{CLIENT_PORT}", self.addr)
    }

    /// The peer (Raft) address.
    pub fn peer_addr(&self) -> String {
        format!("{}:{PEER_PORT}", self.addr)
    }
}

/// A node identity and its current process, if any.
#[derive(Debug)]
pub struct NodeProcess {
    /// How to start it.
    pub spec: NodeSpec,
    child: Option<Child>,
    paused: bool,
    starts: u32,
}

impl NodeProcess {
    /// A node that has not been started yet.
    pub fn new(spec: NodeSpec) -> NodeProcess {
        NodeProcess {
            spec,
            child: None,
            paused: false,
            starts: 0,
        }
    }

    /// Starts the process (it must not be running). Does not wait for it to be ready.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "node {} is running", self.spec.id);
        let s = &self.spec;
        std::fs::create_dir_all(&s.data_dir)?;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .with_context(|| format!("cannot open {}", s.log.display()))?;
        self.starts += 1;
        writeln!(
            log,
            "==== raftkv-chaos: start #{} of node {} in slot {} ====",
            self.starts, s.id, s.slot
        )?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &s.ns, "env"]);
        let mut env = Vec::new();
        if let Some(file) = &s.faketime_file {
            env = [
                ("LD_PRELOAD", LIBFAKETIME.to_string()),
                ("FAKETIME_TIMESTAMP_FILE", file.display().to_string()),
                ("FAKETIME_NO_CACHE", "1".into()),
                ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
                ("DONT_FAKE_MONOTONIC", "1".into()),
            ]
            .map(|(k, v)| (k.to_string(), v))
            .to_vec();
        }
        let mut flags = Vec::new();
        match &s.start {
            StartMode::Bootstrap => flags.push("--bootstrap".to_string()),
            StartMode::Join(seed) => flags.extend(["--join".to_string(), seed.clone()]),
            StartMode::AddedBySuite => {}
        }
        flags.extend(s.extra.iter().cloned());
        let launch = node::launch::Launch {
            id: s.id,
            data_dir: s.data_dir.clone(),
            listen: s.client_addr(),
            peer_listen: s.peer_addr(),
            flags,
            env,
        };
        // `env` execs the server with these variables, so its pid is the server's own.
        cmd.args(launch.envs().iter().map(|(k, v)| format!("{k}={v}")))
            .arg(&s.binary)
            .args(launch.args());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start node {}", s.id))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Whether a process is running (or paused).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether it is paused with SIGSTOP.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// If the process has exited on its own since the last look, its exit status.
    pub fn check_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = child.try_wait().ok()??;
        let pid = child.id();
        self.child = None;
        self.paused = false;
        self.forget_faketime_shm(pid);
        Some(status)
    }

    fn pid(&self) -> Option<Pid> {
        self.child.as_ref().map(|c| Pid::from_raw(c.id() as i32))
    }

    /// Sends a signal; false if not running.
    pub fn signal(&self, sig: Signal) -> bool {
        self.pid().is_some_and(|pid| kill(pid, sig).is_ok())
    }

    /// Waits (bounded) for the process to exit after a signal; SIGKILLs it past the bound.
    /// Returns its exit status if it exited in time.
    fn reap(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        self.paused = false;
        let status = poll_until_sync(EXIT_WAIT, Duration::from_millis(10), || {
            child.try_wait().ok().flatten()
        });
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.forget_faketime_shm(child.id());
        status
    }

    /// libfaketime keeps a shared-memory segment and a semaphore per process, named after its
    /// pid, and removes them only on a clean exit; a killed node leaves them behind, and a later
    /// process that gets the same pid would then fail to start. Remove them once it is reaped.
    fn forget_faketime_shm(&self, pid: u32) {
        if self.spec.faketime_file.is_some() {
            for name in [
                format!("faketime_shm_{pid}"),
                format!("sem.faketime_sem_{pid}"),
            ] {
                let _ = std::fs::remove_file(std::path::Path::new(FAKETIME_SHM_DIR).join(name));
            }
        }
    }

    /// `kill -9`, and reap.
    pub fn kill(&mut self) {
        if self.signal(Signal::SIGKILL) {
            self.reap();
        }
    }

    /// Simulated power loss: SIGUSR1 (the node drops unsynced WAL bytes and exits). Does not
    /// wait; see [`NodeProcess::wait_exit`]. False if not running.
    pub fn cut_power(&mut self) -> bool {
        if self.paused {
            self.resume();
        }
        self.signal(Signal::SIGUSR1)
    }

    /// Waits (bounded) for the process to exit after a signal; SIGKILLs it past
    /// [`EXIT_WAIT`]. Returns its exit status if it exited in time.
    pub fn wait_exit(&mut self) -> Option<ExitStatus> {
        self.reap()
    }

    /// SIGTERM (after SIGCONT if paused), and reap; SIGKILL past [`EXIT_WAIT`].
    pub fn stop(&mut self) {
        if self.paused {
            self.resume();
        }
        if self.signal(Signal::SIGTERM) {
            self.reap();
        }
    }

    /// SIGSTOP.
    pub fn pause(&mut self) {
        if self.signal(Signal::SIGSTOP) {
            self.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        if self.signal(Signal::SIGCONT) {
            self.paused = false;
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.forget_faketime_shm(child.id());
        }
    }
}
