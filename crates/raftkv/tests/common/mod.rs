//! Test harness: real `raftkv serve` processes on loopback, each in its own temp data dir.
//!
//! Nodes bind port 0; the harness learns the bound addresses (client, peer, metrics) from the
//! node's "ready" log line, the one log line a test depends on: every other check reads `INFO`
//! or `/metrics`.
//! A restarted node gets its previous addresses back (they are in the cluster membership).
//! Every wait is on a condition with a deadline, never a bare sleep.

#![allow(dead_code)]

pub mod blocked;
pub mod certs;
pub mod writers;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use node::client::RespClient;
use node::launch::{ready_addrs, ready_http, Launch};
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
/// Pause between two checks of a condition.
pub const POLL: Duration = Duration::from_millis(50);

/// One node process.
pub struct TestNode {
    pub id: u64,
    pub data_dir: PathBuf,
    pub client: String,
    pub peer: String,
    /// The metrics (HTTP) address, if the node was started with `--metrics-listen`.
    pub http: Option<String>,
    pub log: PathBuf,
    child: Option<Child>,
    /// How it was started; a restart reuses it on the addresses it bound.
    launch: Launch,
}

/// A cluster of node processes sharing one temp dir.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<TestNode>,
    /// How the harness's own clients reach the nodes' client ports: over TLS when set
    /// ([`Cluster::start_each_tls`]), else plain.
    pub tls: Option<std::sync::Arc<node::tls::ClientTls>>,
    /// What the harness's own connections (INFO, waits, [`Cluster::client`]) authenticate
    /// with: node 1's `--requirepass`, if it was started with one; a test may change it.
    pub auth: Option<node::credentials::Credentials>,
}

/// The addresses a node reports on its ready line.
struct Bound {
    client: String,
    peer: String,
    http: Option<String>,
}

/// Start the node `launch` describes, its log appended to `log`; waits for its ready line and
/// returns the process with the addresses it bound.
fn spawn(launch: &Launch, log: &Path) -> (Child, Bound) {
    let id = launch.id;
    let mut launch = launch.clone();
    // Fast elections keep tests short, unless the test chose its own timing.
    if !launch
        .flags
        .iter()
        .any(|f| f.starts_with("--election-timeout"))
    {
        launch
            .flags
            .extend(TEST_TIMING.iter().map(|s| s.to_string()));
    }
    let mut cmd = launch.command(Path::new(env!("CARGO_BIN_EXE_raftkv")));
    cmd.stdin(Stdio::null())
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
            if let Some((client, peer)) = ready_addrs(&line).filter(|_| !sent) {
                let http = ready_http(&line);
                let _ = tx.send(Bound { client, peer, http });
                sent = true;
            }
        }
    });
    let bound = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
        panic!(
            "node {id} did not become ready; log:\n{}",
            std::fs::read_to_string(&log_for_error).unwrap_or_default()
        )
    });
    (child, bound)
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
    /// every flag, --bootstrap/--join included (a node with state ignores them), and `env`.
    fn launch(
        &mut self,
        id: u64,
        data_dir: PathBuf,
        peer: &str,
        flags: Vec<String>,
        env: &[(String, String)],
    ) {
        let log = self.dir.path().join(format!("node{id}.log"));
        let mut launch = Launch {
            id,
            data_dir: data_dir.clone(),
            listen: "127.0.0.1:0".into(),
            peer_listen: peer.into(),
            flags,
            env: env.to_vec(),
        };
        let (child, Bound { client, peer, http }) = spawn(&launch, &log);
        launch.listen = client.clone();
        launch.peer_listen = peer.clone();
        self.nodes.push(TestNode {
            id,
            data_dir,
            client,
            peer,
            http,
            log,
            child: Some(child),
            launch,
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
        poll_sync(&format!("node {id} to exit after {signal:?}"), || {
            child.try_wait().expect("wait")
        })
    }

    /// Restart a killed node on its old addresses from its data dir, with the flags and
    /// environment it was first started with. Its metrics endpoint (on port 0) may move.
    pub fn restart(&mut self, id: u64) {
        let node = &mut self.nodes[(id - 1) as usize];
        assert!(node.child.is_none(), "node {id} is still running");
        let (child, bound) = spawn(&node.launch, &node.log);
        node.http = bound.http;
        node.child = Some(child);
    }

    /// The metrics (HTTP) address of node `id`; fails unless it was started with
    /// `--metrics-listen`.
    pub fn http_addr(&self, id: u64) -> String {
        let node = self.node(id);
        node.http
            .clone()
            .unwrap_or_else(|| panic!("node {id} has no metrics endpoint (--metrics-listen)"))
    }

    /// INFO raft of a node as field map.
    pub async fn info(&self, id: u64) -> Option<std::collections::HashMap<String, String>> {
        let addr = &self.node(id).client;
        let timeout = Duration::from_secs(2);
        let mut c = RespClient::connect_as(addr, timeout, self.tls.as_deref(), self.auth.as_ref())
            .await
            .ok()?;
        match c.call(&["INFO", "all"]).await.ok()? {
            Reply::Bulk(b) => Some(node::client::info_fields(&String::from_utf8_lossy(&b))),
            _ => None,
        }
    }

    /// Wait until all of `ids` (running) agree on one leader that is itself among `ids`.
    pub async fn wait_leader_among(&self, ids: &[u64]) -> u64 {
        poll_for(&format!("an agreed leader among {ids:?}"), || async move {
            let mut leaders = Vec::new();
            for &id in ids {
                if let Some(info) = self.info(id).await {
                    leaders.push(info.get("raft_leader_id").cloned().unwrap_or_default());
                }
            }
            let agreed = leaders.len() == ids.len() && leaders.iter().all(|l| *l == leaders[0]);
            leaders
                .first()
                .and_then(|l| l.parse::<u64>().ok())
                .filter(|l| agreed && ids.contains(l))
        })
        .await
    }

    /// The term node `id` leads in; fails unless its own INFO says it is the leader. A test reads it
    /// before and after a fail-over: a higher term under a leader that says so shows an election.
    pub async fn leader_term(&self, id: u64) -> u64 {
        let info = self.info(id).await.expect("the leader answers INFO");
        assert_eq!(info["raft_role"], "leader", "node {id}: {info:?}");
        info["raft_term"].parse().expect("raft_term is a number")
    }

    /// A numeric `INFO` field of node `id` (a counter, an index); fails if it is missing, so a
    /// renamed field fails the test instead of reading as 0.
    pub async fn count(&self, id: u64, field: &str) -> u64 {
        let info = self.info(id).await.expect("the node answers INFO");
        info.get(field)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("node {id}: no number {field} in INFO: {info:?}"))
    }

    /// Wait until node `id` itself (a `READONLY` read of its own state, not the cluster's answer)
    /// replies `want` to `args`: it has applied the writes that lead there.
    pub async fn wait_local(&self, id: u64, args: &[&str], want: Reply) {
        let addr = self.node(id).client.clone();
        let tls = self.tls.as_deref();
        let auth = self.auth.as_ref();
        wait_until(
            &format!("node {id} to answer {args:?} with {want:?}"),
            || {
                let (addr, want) = (addr.clone(), want.clone());
                async move {
                    let timeout = Duration::from_secs(2);
                    let connect = RespClient::connect_as(&addr, timeout, tls, auth);
                    let Ok(mut c) = connect.await else {
                        return false;
                    };
                    c.call(&["READONLY"]).await.is_ok() && c.call(args).await.ok() == Some(want)
                }
            },
        )
        .await
    }

    /// Node `id`'s last log index: tests count the entries a request took.
    pub async fn last_log_index(&self, id: u64) -> u64 {
        self.count(id, "raft_last_log_index").await
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
        let want = &want;
        wait_until(&format!("voters {want}"), || async move {
            let mut ok = true;
            for &id in on {
                let v = self
                    .info(id)
                    .await
                    .and_then(|i| i.get("raft_voters").cloned());
                ok &= v.as_deref() == Some(want.as_str());
            }
            ok
        })
        .await
    }

    /// Connect a client to a node.
    pub async fn client(&self, id: u64) -> RespClient {
        let addr = &self.node(id).client;
        let timeout = Duration::from_secs(10);
        RespClient::connect_as(addr, timeout, self.tls.as_deref(), self.auth.as_ref())
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
            let logs: Vec<(u64, String)> = self
                .nodes
                .iter()
                .map(|n| (n.id, std::fs::read_to_string(&n.log).unwrap_or_default()))
                .collect();
            for (id, log) in &logs {
                eprintln!("---- log of node {id} ----\n{log}");
            }
            // Last, so that an output cut in its middle still shows them: a node's own panics.
            for (id, log) in &logs {
                for panic in node_panics(log) {
                    eprintln!("---- node {id} panicked ----\n{panic}");
                }
            }
        }
    }
}

/// Lines of a node's log that report a panic, each with the few lines after it.
fn node_panics(log: &str) -> Vec<String> {
    const LINES_AFTER: usize = 8;
    let lines: Vec<&str> = log.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains("panicked at"))
        .map(|(i, _)| lines[i..lines.len().min(i + 1 + LINES_AFTER)].join("\n"))
        .collect()
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

    /// True while node `id`'s process runs.
    pub fn is_running(&self, id: u64) -> bool {
        self.node(id).child.is_some()
    }

    /// Wait (at most [`WAIT`]) for node `id` to exit by itself and return its exit status;
    /// panics if it is still running then.
    pub async fn wait_exit(&mut self, id: u64) -> std::process::ExitStatus {
        let node = &mut self.nodes[(id - 1) as usize];
        let child = node.child.as_mut().expect("node is running");
        let status = poll_for(&format!("node {id} to exit"), || {
            let status = child.try_wait().expect("wait");
            async move { status }
        })
        .await;
        node.child = None;
        status
    }
}

/// Run `raftkv serve` for node 1 on `data_dir` with `flags`, which must refuse to start: waits
/// (at most [`WAIT`]) for it to exit and returns its stderr. Fails if it exits 0 or keeps
/// running.
pub fn serve_must_fail(data_dir: &Path, flags: &[&str]) -> String {
    let launch = Launch {
        id: 1,
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        peer_listen: "127.0.0.1:0".into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        env: Vec::new(),
    };
    let mut child = KillOnDrop(
        launch
            .command(Path::new(env!("CARGO_BIN_EXE_raftkv")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn raftkv serve"),
    );
    // Read stderr while waiting, so a chatty node never blocks on a full pipe.
    let mut stderr = child.0.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let what = format!("raftkv serve on {data_dir:?} to refuse to start");
    let status = poll_sync(&what, || child.0.try_wait().expect("wait"));
    let stderr = reader.join().expect("stderr reader");
    assert!(!status.success(), "must exit non-zero: {stderr}");
    stderr
}

/// A child process killed (and reaped) when dropped, also when a wait on it fails the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
        Self::start_in(n, data_dir, setup, None).await
    }

    /// [`Cluster::start_each`] with the harness's clients speaking TLS with `tls` (for nodes
    /// whose client port serves TLS).
    pub async fn start_each_tls(
        n: u64,
        tls: std::sync::Arc<node::tls::ClientTls>,
        setup: impl Fn(u64) -> NodeSetup,
    ) -> Cluster {
        Self::start_in(n, |_| None, setup, Some(tls)).await
    }

    async fn start_in(
        n: u64,
        data_dir: impl Fn(u64) -> Option<PathBuf>,
        setup: impl Fn(u64) -> NodeSetup,
        tls: Option<std::sync::Arc<node::tls::ClientTls>>,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = Cluster {
            dir,
            nodes: Vec::new(),
            tls,
            auth: None,
        };
        for id in 1..=n {
            let NodeSetup { mut flags, env } = setup(id);
            if id == 1 {
                cluster.auth = requirepass(&flags);
            }
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

/// The credentials `--requirepass P` among `flags` gives (`AUTH P`), if any.
fn requirepass(flags: &[String]) -> Option<node::credentials::Credentials> {
    let at = flags.iter().position(|f| f == "--requirepass")?;
    flags.get(at + 1).map(|p| node::credentials::Credentials {
        user: None,
        password: p.clone(),
    })
}

/// Poll `check` until it returns true, or panic with `what` after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll_for(what, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await
}

/// Poll `check` until it gives a value, every [`POLL`], for at most [`WAIT`]; fails the test
/// naming `what` on timeout.
pub async fn poll_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll_within(WAIT, check)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Poll `check` until it gives a value, every [`POLL`], for at most `limit`; `None` on
/// timeout (for checks that report a timeout as a finding rather than fail at once).
pub async fn poll_within<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`poll_for`] for code outside the async runtime (waiting on a child process, a file).
pub fn poll_sync<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll_sync_within(what, WAIT, check)
}

/// [`poll_sync`] with its own limit instead of [`WAIT`].
pub fn poll_sync_within<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(POLL);
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

/// One HTTP/1.1 request; returns (status code, body).
pub fn http(addr: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read http");
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (code, body.unwrap_or_default())
}

/// `GET path` over HTTP/1.1; returns (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
}
