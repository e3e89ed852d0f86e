//! Test harness: real `raftkv serve` processes on loopback, each in its own temp data dir.
//!
//! Nodes bind port 0; the harness learns the bound addresses from the node's "ready" log line.
//! A restarted node gets its previous addresses back (they are in the cluster membership).
//! Every wait is on a condition with a deadline, never a bare sleep.

#![allow(dead_code)]

pub mod recorder;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use node::client::RespClient;
use resp::Reply;

/// Raft timing for tests: faster than the defaults, still well above the heartbeat.
pub const TEST_TIMING: [&str; 6] = [
    "--heartbeat-interval-ms",
    "50",
    "--election-timeout-ms-min",
    "300",
    "--election-timeout-ms-max",
    "600",
];

/// Default deadline for cluster-wide conditions.
pub const WAIT: Duration = Duration::from_secs(30);

/// One node process.
pub struct TestNode {
    pub id: u64,
    pub data_dir: PathBuf,
    pub client: String,
    pub peer: String,
    pub log: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
}

/// A cluster of node processes sharing one temp dir.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<TestNode>,
}

fn spawn(
    id: u64,
    data_dir: &Path,
    log: &Path,
    listen: &str,
    peer: &str,
    extra: &[String],
) -> (Child, String, String) {
    spawn_env(id, data_dir, log, listen, peer, extra, &[])
}

/// [`spawn`] with extra environment variables for the process (e.g. libfaketime's).
fn spawn_env(
    id: u64,
    data_dir: &Path,
    log: &Path,
    listen: &str,
    peer: &str,
    extra: &[String],
    env: &[(String, String)],
) -> (Child, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_raftkv"));
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.arg("serve")
        .args(["--node-id", &id.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", listen, "--peer-listen", peer]);
    // Fast elections keep tests short, unless the test chose its own timing.
    if !extra.iter().any(|f| f.starts_with("--election-timeout")) {
        cmd.args(TEST_TIMING);
    }
    cmd.args(extra)
        .env("RUST_LOG", "info,openraft=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn raftkv serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let log_for_error = log.to_path_buf();
    let log = log.to_path_buf();
    std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            if !sent && line.contains("raftkv node ready") {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(&format!("{name}=")))
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                };
                let _ = tx.send((field("client"), field("peer")));
                sent = true;
            }
        }
    });
    let (client, peer) = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
        panic!(
            "node {id} did not become ready; log:\n{}",
            std::fs::read_to_string(&log_for_error).unwrap_or_default()
        )
    });
    (child, client, peer)
}

impl Cluster {
    /// Start an `n`-node cluster: node 1 bootstraps, the others join through it.
    pub async fn start(n: u64) -> Cluster {
        Self::start_with(n, &[]).await
    }

    /// The data dir node `id` gets by default, under the cluster's temp dir.
    fn default_data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    /// Start node `id` on `data_dir`, clients on port 0 and peers on `peer`. Restarts reuse
    /// every flag, --bootstrap/--join included (a node with state ignores them), but not `env`.
    fn launch(
        &mut self,
        id: u64,
        data_dir: PathBuf,
        peer: &str,
        flags: Vec<String>,
        env: &[(String, String)],
    ) {
        let log = self.dir.path().join(format!("node{id}.log"));
        let (child, client, peer) =
            spawn_env(id, &data_dir, &log, "127.0.0.1:0", peer, &flags, env);
        self.nodes.push(TestNode {
            id,
            data_dir,
            client,
            peer,
            log,
            child: Some(child),
            extra: flags,
        });
    }

    /// Same, with extra `serve` flags for every node.
    pub async fn start_with(n: u64, extra: &[&str]) -> Cluster {
        let flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::start_each(n, |_| NodeSetup {
            flags: flags.clone(),
            env: Vec::new(),
        })
        .await
    }

    pub fn node(&self, id: u64) -> &TestNode {
        &self.nodes[(id - 1) as usize]
    }

    /// `kill -9` a node.
    pub fn kill(&mut self, id: u64) {
        let node = &mut self.nodes[(id - 1) as usize];
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send `signal` to a node and wait for it to exit.
    pub fn signal_and_wait(
        &mut self,
        id: u64,
        signal: nix::sys::signal::Signal,
    ) -> std::process::ExitStatus {
        let node = &mut self.nodes[(id - 1) as usize];
        let mut child = node.child.take().expect("node is running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal)
            .expect("kill");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node {id} did not exit after {signal:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Restart a killed node on its old addresses from its data dir.
    pub fn restart(&mut self, id: u64) {
        let node = &mut self.nodes[(id - 1) as usize];
        assert!(node.child.is_none(), "node {id} is still running");
        let (child, _, _) = spawn(
            id,
            &node.data_dir,
            &node.log,
            &node.client,
            &node.peer,
            &node.extra,
        );
        node.child = Some(child);
    }

    /// INFO raft of a node as field map.
    pub async fn info(&self, id: u64) -> Option<std::collections::HashMap<String, String>> {
        let mut c = RespClient::connect(&self.node(id).client, Duration::from_secs(2))
            .await
            .ok()?;
        match c.call(&["INFO", "all"]).await.ok()? {
            Reply::Bulk(b) => Some(node::client::info_fields(&String::from_utf8_lossy(&b))),
            _ => None,
        }
    }

    /// Wait until all of `ids` (running) agree on one leader that is itself among `ids`.
    pub async fn wait_leader_among(&self, ids: &[u64]) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut leaders = Vec::new();
            for &id in ids {
                if let Some(info) = self.info(id).await {
                    leaders.push(info.get("raft_leader_id").cloned().unwrap_or_default());
                }
            }
            let agreed = leaders.len() == ids.len() && leaders.iter().all(|l| *l == leaders[0]);
            if let Some(leader) = leaders
                .first()
                .and_then(|l| l.parse::<u64>().ok())
                .filter(|l| agreed && ids.contains(l))
            {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader among {ids:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until nodes `ids` all see `ids` as the voters.
    pub async fn wait_voters(&self, ids: &[u64]) {
        self.wait_voters_on(ids, ids).await
    }

    /// Wait until every node of `on` sees exactly `ids` as the voters (for when some voters
    /// are down).
    pub async fn wait_voters_on(&self, on: &[u64], ids: &[u64]) {
        let want = ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let deadline = Instant::now() + WAIT;
        loop {
            let mut ok = true;
            for &id in on {
                let v = self
                    .info(id)
                    .await
                    .and_then(|i| i.get("raft_voters").cloned());
                ok &= v.as_deref() == Some(want.as_str());
            }
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "voters never became {want}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connect a client to a node.
    pub async fn client(&self, id: u64) -> RespClient {
        RespClient::connect(&self.node(id).client, Duration::from_secs(10))
            .await
            .expect("connect")
    }

    /// Send one command to a node.
    pub async fn call(&self, id: u64, args: &[&str]) -> Reply {
        self.client(id).await.call(args).await.expect("call")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!(
                    "---- log of node {} ----\n{}",
                    n.id,
                    std::fs::read_to_string(&n.log).unwrap_or_default()
                );
            }
        }
    }
}

/// Shorthand for a bulk reply.
pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// Helpers for the operations tests (membership CLI, status, HTTP, snapshots).
impl Cluster {
    /// Start node `id` (the next free id) with no `--bootstrap`/`--join`: it waits to be added.
    pub fn spawn_empty(&mut self, id: u64, extra: &[&str]) {
        assert_eq!(id as usize, self.nodes.len() + 1, "ids are consecutive");
        let flags = extra.iter().map(|s| s.to_string()).collect();
        self.launch(id, self.default_data_dir(id), "127.0.0.1:0", flags, &[]);
    }

    /// Start node `id` (the next free id) on `data_dir` with exactly `extra` flags.
    pub fn spawn_on(&mut self, id: u64, data_dir: &Path, extra: &[&str]) {
        assert_eq!(id as usize, self.nodes.len() + 1, "ids are consecutive");
        let flags = extra.iter().map(|s| s.to_string()).collect();
        self.launch(id, data_dir.to_path_buf(), "127.0.0.1:0", flags, &[]);
    }

    /// Wait for a log line of node `id` containing `marker` and return its `field=` value.
    pub fn log_field(&self, id: u64, marker: &str, field: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = std::fs::read_to_string(&self.node(id).log).unwrap_or_default();
            let found = log.lines().filter(|l| l.contains(marker)).find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{field}=")))
                    .map(|s| s.to_string())
            });
            if let Some(v) = found {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "node {id} never logged {marker:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while node `id`'s process runs.
    pub fn is_running(&self, id: u64) -> bool {
        self.node(id).child.is_some()
    }

    /// Wait (at most [`WAIT`]) for node `id` to exit by itself and return its exit status;
    /// panics if it is still running then.
    pub async fn wait_exit(&mut self, id: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        let node = &mut self.nodes[(id - 1) as usize];
        let child = node.child.as_mut().expect("node is running");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                node.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "node {id} did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Run the `raftkv` binary with `args`; returns (exit success, stdout, stderr).
pub fn raftkv(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run raftkv");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Helpers for address-reuse tests.
impl Cluster {
    /// Start node `id` (the next free id) with no `--bootstrap`/`--join`, its peer listener on
    /// `peer` (e.g. a killed node's old peer address).
    pub fn spawn_empty_at(&mut self, id: u64, peer: &str) {
        assert_eq!(id as usize, self.nodes.len() + 1, "ids are consecutive");
        self.launch(id, self.default_data_dir(id), peer, Vec::new(), &[]);
    }
}

/// Per-node flags and environment for [`Cluster::start_each`].
#[derive(Clone, Debug, Default)]
pub struct NodeSetup {
    /// Extra `serve` flags (besides ids, addresses, `--bootstrap`/`--join`).
    pub flags: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// Helpers for clusters whose nodes differ (flags, environment such as a skewed clock).
impl Cluster {
    /// Start an `n`-node cluster where node `id` gets `setup(id)`: node 1 bootstraps, the others
    /// join through it. A restart keeps the flags but not the environment.
    pub async fn start_each(n: u64, setup: impl Fn(u64) -> NodeSetup) -> Cluster {
        Self::start_each_at(n, |_| None, setup).await
    }

    /// [`Cluster::start_each`], node `id` on `data_dir(id)` where that is `Some` (e.g. a
    /// directory on a small file system of its own), else under the cluster's temp dir.
    pub async fn start_each_at(
        n: u64,
        data_dir: impl Fn(u64) -> Option<PathBuf>,
        setup: impl Fn(u64) -> NodeSetup,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = Cluster {
            dir,
            nodes: Vec::new(),
        };
        for id in 1..=n {
            let NodeSetup { mut flags, env } = setup(id);
            if id == 1 {
                flags.push("--bootstrap".into());
            } else {
                flags.push("--join".into());
                flags.push(cluster.nodes[0].client.clone());
            }
            let data_dir = data_dir(id).unwrap_or_else(|| cluster.default_data_dir(id));
            cluster.launch(id, data_dir, "127.0.0.1:0", flags, &env);
            if id == 1 {
                cluster.wait_leader_among(&[1]).await;
            }
        }
        let all: Vec<u64> = (1..=n).collect();
        cluster.wait_voters(&all).await;
        cluster
    }
}

/// Poll `check` until it returns true, or panic with `what` after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Helpers for the membership and crash tests.
impl Cluster {
    /// Client addresses of nodes `ids`.
    pub fn client_addrs(&self, ids: &[u64]) -> Vec<String> {
        ids.iter().map(|&id| self.node(id).client.clone()).collect()
    }

    /// `kill -9` every node of `ids` at once (all signals sent before waiting for any exit).
    pub fn kill_all(&mut self, ids: &[u64]) {
        let mut children: Vec<Child> = ids
            .iter()
            .filter_map(|&id| self.nodes[(id - 1) as usize].child.take())
            .collect();
        for child in &mut children {
            let _ = child.kill();
        }
        for child in &mut children {
            let _ = child.wait();
        }
    }

    /// Wait until every node of `ids` says `leader` leads (and `leader` says it is leader).
    pub async fn wait_leader_is(&self, ids: &[u64], leader: u64) {
        wait_until(
            &format!("node {leader} to lead, as seen by {ids:?}"),
            || async move {
                let mut all = true;
                for &id in ids {
                    let info = self.info(id).await;
                    let seen = info.as_ref().and_then(|i| i.get("raft_leader_id"));
                    all &= seen.map(String::as_str) == Some(leader.to_string().as_str());
                    if id == leader {
                        let role = info.as_ref().and_then(|i| i.get("raft_role"));
                        all &= role.map(String::as_str) == Some("leader");
                    }
                }
                all
            },
        )
        .await;
    }
}
