//! The live screen of `raftkv local`: what each node is doing, redrawn when it changes.
//!
//! Every [`POLL_INTERVAL`] the screen reaps any child that exited (so a killed
//! node never lingers as `<defunct>`) and asks every node's client port for `INFO` with a short
//! deadline. A node counts as itself only when the answer carries its own `raft_node_id`; its pid
//! is the answer's `process_id`, which shows a node restarted by hand. The rendered screen is
//! compared with the last one and printed again only when something changed (role, leader, a
//! death, a restart); on a terminal it replaces the previous screen.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use node::client::{info_fields, RaftInfo, RespClient};
use resp::Reply;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::local_node::{failure_tail, LocalNode};

/// The signals that stop `raftkv local`: SIGINT (Ctrl-C), SIGTERM and SIGHUP. Once created,
/// they no longer kill the process, so the nodes are always stopped first.
pub struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    /// Install the handlers (inside a tokio runtime).
    pub fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupted (SIGINT)",
            _ = self.term.recv() => "terminated (SIGTERM)",
            _ = self.hup.recv() => "the terminal closed (SIGHUP)",
        }
    }
}

/// Deadline of one node's INFO answer.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the screen polls the nodes.
const POLL_INTERVAL: Duration = Duration::from_millis(300);

/// What one poll saw of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeView {
    /// The pid of the process answering as this node, if one does.
    pub pid: Option<u32>,
    /// Its Raft state, if it answered.
    pub raft: Option<RaftInfo>,
    /// How `local`'s own process for it ended, once reaped.
    pub exit: Option<String>,
}

/// Ask one node for `INFO`; `None` unless it answers as node `id`.
async fn ask(n: &LocalNode) -> Option<(u32, RaftInfo)> {
    let (addr, id) = (&n.client, n.id);
    let tls = n.tls.as_ref().map(|t| &*t.client);
    let call = async {
        let mut c = RespClient::connect_tls(addr, ASK_TIMEOUT, tls).await.ok()?;
        match c.call(&["INFO", "server", "raft"]).await.ok()? {
            Reply::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Reply::Verbatim(s) => Some(s),
            _ => None,
        }
    };
    let text = tokio::time::timeout(ASK_TIMEOUT, call).await.ok()??;
    let fields = info_fields(&text);
    let raft = RaftInfo::from_fields(&fields);
    let pid = fields.get("process_id")?.parse().ok()?;
    (raft.node_id == id as u64).then_some((pid, raft))
}

/// Reap exited children and ask every node; one view per node, in order.
pub async fn poll_all(nodes: &mut [LocalNode]) -> Vec<NodeView> {
    let mut views = Vec::with_capacity(nodes.len());
    for n in nodes.iter_mut() {
        let mut view = NodeView::default();
        if let Some(child) = n.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                n.exit = Some(describe_exit(status));
                n.child = None;
            }
        }
        view.exit.clone_from(&n.exit);
        if let Some((pid, raft)) = ask(n).await {
            view.pid = Some(pid);
            view.raft = Some(raft);
        } else if n.child.is_some() {
            view.pid = Some(n.started_pid);
        }
        views.push(view);
    }
    views
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "exited".into(),
    }
}

/// Wait until every node answers as the process `local` started and all agree on a leader
/// with every node a voter; fail at once, with the end of its log, if a node exits first.
pub async fn wait_ready(nodes: &mut [LocalNode], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let views = poll_all(nodes).await;
        for (n, v) in nodes.iter().zip(&views) {
            if let Some(exit) = &v.exit {
                bail!(
                    "node {} {exit} while the cluster was coming up; the end of {}:\n{}",
                    n.id,
                    n.log_path.display(),
                    failure_tail(&n.log_path)
                );
            }
        }
        let ours = nodes
            .iter()
            .zip(&views)
            .all(|(n, v)| v.raft.is_some() && v.pid == Some(n.started_pid));
        let leaders: Vec<Option<u64>> = views
            .iter()
            .map(|v| v.raft.as_ref().and_then(|r| r.leader_id))
            .collect();
        let voters = views
            .iter()
            .filter_map(|v| v.raft.as_ref())
            .map(|r| r.voters.len())
            .max()
            .unwrap_or(0);
        if ours
            && leaders[0].is_some()
            && leaders.iter().all(|l| *l == leaders[0])
            && voters == nodes.len()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "no agreed leader with {} voters after {timeout:?}; see the logs in {}",
                nodes.len(),
                nodes[0]
                    .log_path
                    .parent()
                    .map_or_else(String::new, |p| p.display().to_string())
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Render the screen for these views.
pub fn render(
    nodes: &[LocalNode],
    views: &[NodeView],
    exe: &Path,
    dir: &Path,
    base_port: u16,
) -> String {
    let mut s = format!(
        "raftkv local: {} nodes, data and logs in {}\n",
        nodes.len(),
        dir.display()
    );
    let leader = views
        .iter()
        .filter_map(|v| v.raft.as_ref())
        .find(|r| r.role == "leader");
    match leader {
        Some(r) => s += &format!("leader: node {} (term {})\n", r.node_id, r.term),
        None => s += "leader: none (election in progress, or no majority)\n",
    }
    let mut restarts = Vec::new();
    for (n, v) in nodes.iter().zip(views) {
        let state = match (&v.raft, v.pid) {
            (Some(r), Some(pid)) => {
                let again = if pid != n.started_pid {
                    "  (restarted)"
                } else {
                    ""
                };
                format!("pid {pid}  {}{again}", r.role)
            }
            (None, Some(pid)) => format!("pid {pid}  not answering"),
            _ => {
                restarts.push(format!("  node {}: {}", n.id, n.restart_command(exe)));
                format!("down ({})", v.exit.as_deref().unwrap_or("exited"))
            }
        };
        s += &format!("  node {}  {}  {state}\n", n.id, n.client);
    }
    // Point at a node that answers, so the hint works while node 1 is down.
    let port = nodes
        .iter()
        .zip(views)
        .find(|(_, v)| v.raft.is_some())
        .and_then(|(n, _)| n.client.rsplit_once(':'))
        .map_or_else(|| base_port.to_string(), |(_, p)| p.to_string());
    let (tls, tls_ca) = match nodes.first().and_then(|n| n.tls.as_ref()) {
        Some(t) => {
            let ca = t.ca().display().to_string();
            (format!("--tls --cacert {ca} "), format!(" --tls-ca {ca}"))
        }
        None => (String::new(), String::new()),
    };
    s += &format!("connect:   redis-cli {tls}-p {port}   (any node accepts any command)\n");
    // The admin commands find this cluster through .raftkv-local/endpoints from this
    // directory; with another --dir they need the addresses.
    let admin = if dir
        == Path::new(crate::endpoints::LOCAL_FILE)
            .parent()
            .unwrap_or(dir)
    {
        format!("{} status{tls_ca}", exe.display())
    } else {
        let all: Vec<&str> = nodes.iter().map(|n| n.client.as_str()).collect();
        format!(
            "{}={} {} status{tls_ca}",
            crate::endpoints::ENV,
            all.join(","),
            exe.display()
        )
    };
    s += &format!("admin:     {admin}   (also: member list, snapshot save /tmp/backup.snap)\n");
    s += "fail-over: kill -9 <pid of the leader>, then keep writing through another node\n";
    if !restarts.is_empty() {
        s += "restart (from this directory):\n";
        for r in restarts {
            s += &r;
            s.push('\n');
        }
    }
    s += "stop:      Ctrl-C (each node shuts down gracefully)\n";
    s
}

/// Show the cluster, redrawing on every change, until SIGINT or SIGTERM.
pub async fn watch(
    nodes: &mut [LocalNode],
    exe: &Path,
    dir: &Path,
    base_port: u16,
    signals: &mut StopSignals,
) -> anyhow::Result<()> {
    let tty = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let views = poll_all(nodes).await;
        let screen = render(nodes, &views, exe, dir, base_port);
        if screen != last {
            let mut out = std::io::stdout().lock();
            if tty {
                // Home the cursor and clear: the screen is replaced, not appended.
                let _ = write!(out, "\x1b[H\x1b[2J");
            } else if !last.is_empty() {
                let _ = writeln!(out, "--");
            }
            let _ = write!(out, "{screen}");
            let _ = out.flush();
            last = screen;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = signals.recv() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn node(id: usize) -> LocalNode {
        LocalNode {
            id,
            client: format!("127.0.0.1:{}", 7000 + id),
            peer: format!("127.0.0.1:{}", 17000 + id),
            data_dir: PathBuf::from(format!(".raftkv-local/node{id}")),
            log_path: PathBuf::from(format!(".raftkv-local/node{id}.log")),
            child: None,
            started_pid: 100 + id as u32,
            exit: None,
            tls: None,
            worker_threads: 1,
        }
    }

    fn up(pid: u32, id: u64, role: &str, leader: u64) -> NodeView {
        NodeView {
            pid: Some(pid),
            raft: Some(RaftInfo {
                node_id: id,
                role: role.into(),
                term: 4,
                leader_id: Some(leader),
                ..RaftInfo::default()
            }),
            exit: None,
        }
    }

    #[test]
    fn the_screen_shows_roles_deaths_restart_commands_and_restarts() {
        let nodes = [node(1), node(2), node(3)];
        let dead = NodeView {
            exit: Some("killed by signal 9".into()),
            ..NodeView::default()
        };
        let views = [dead, up(102, 2, "leader", 2), up(999, 3, "follower", 2)];
        let exe = Path::new("/bin/raftkv");
        let screen = render(&nodes, &views, exe, Path::new(".raftkv-local"), 7001);
        assert!(screen.contains("leader: node 2 (term 4)"), "{screen}");
        assert!(
            screen.contains("node 1  127.0.0.1:7001  down (killed by signal 9)"),
            "{screen}"
        );
        assert!(
            screen.contains("node 2  127.0.0.1:7002  pid 102  leader\n"),
            "{screen}"
        );
        assert!(
            screen.contains("pid 999  follower  (restarted)"),
            "{screen}"
        );
        assert!(screen.contains(
            "node 1: /bin/raftkv serve --node-id 1 --data-dir .raftkv-local/node1 --listen 127.0.0.1:7001 --peer-listen 127.0.0.1:17001 --worker-threads 1 >> .raftkv-local/node1.log 2>&1 &"
        ), "{screen}");
        assert!(
            screen.contains("redis-cli -p 7002"),
            "points at a live node: {screen}"
        );
        assert!(screen.contains("admin:     /bin/raftkv status"), "{screen}");
        let other = render(&nodes, &views, exe, Path::new("/tmp/c"), 7001);
        assert!(
            other.contains(
                "RAFTKV_ENDPOINTS=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 /bin/raftkv status"
            ),
            "{other}"
        );
        let no_leader = render(&nodes, &views[..1], exe, Path::new("/tmp/c"), 7001);
        assert!(no_leader.contains("leader: none"), "{no_leader}");
    }
}
