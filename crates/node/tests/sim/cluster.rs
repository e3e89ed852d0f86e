//! The in-process cluster: 3 to 5 `Node`s in one test process, each on its own tokio runtime
//! with its own temporary data dir, talking to each other over one [`MemoryNetwork`].
//!
//! - Peer traffic goes through the memory network, so a test partitions, cuts, delays and heals
//!   links without root, ports or processes.
//! - Clients use each node's real client port (TCP on `127.0.0.1:0`): the script drives the
//!   same connection code as `redis-cli` does, pipelining and batching included, and nothing
//!   in the server needs a test-only entry point.
//! - `crash N` takes the node off the network and shuts its runtime down, which drops every
//!   task it had (Raft, peer and client connections, tickers) without a leadership hand-off or
//!   any grace; its data dir stays. `restart N` starts it again on the same dir, at the same
//!   peer and client addresses (so the addresses in the membership stay right).
//!
//! openraft's timers run on real time (its elections are randomised by its own RNG, and
//! paused tokio time does not reach the separate node runtimes), so nothing here sleeps for a
//! fixed time: every step waits for an observable condition, read from `INFO` ([`Wait`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use node::client::{info_fields, RespClient};
use node::config::Config;
use node::node::{Node, NodeEnv, PeerListener};
use node::transport::memory::MemoryNetwork;
use resp::Reply;

/// Longest any wait for a condition lasts before the test fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);
/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(20);
/// Deadline of one client call (longer than the node's own routing deadline, so the node's
/// answer, an error included, always arrives).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Heartbeat of the test nodes: short, so elections and lease expiry take well under a second.
const HEARTBEAT_MS: u64 = 50;
/// Election timeout range of the test nodes (the production default: shorter ones make a
/// loaded machine's stalls look like a dead leader).
const ELECTION_MS: (u64, u64) = (500, 1000);

/// A node id.
pub type NodeId = u64;

/// One node slot: its addresses and dir always, its runtime and `Node` while it runs.
struct SimNode {
    data_dir: PathBuf,
    peer_addr: String,
    /// The client address, fixed at first start and reused on restart.
    client_listen: String,
    running: Option<Running>,
}

struct Running {
    runtime: tokio::runtime::Runtime,
    node: Node,
}

/// The cluster under test.
pub struct SimCluster {
    net: MemoryNetwork,
    dir: tempfile::TempDir,
    nodes: BTreeMap<NodeId, SimNode>,
    clients: HashMap<NodeId, RespClient>,
}

impl SimCluster {
    /// An empty cluster: no node runs yet.
    pub fn new() -> SimCluster {
        SimCluster {
            net: MemoryNetwork::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            nodes: BTreeMap::new(),
            clients: HashMap::new(),
        }
    }

    /// The network, for faults.
    pub fn net(&self) -> &MemoryNetwork {
        &self.net
    }

    /// Start nodes `1..=n` as one cluster: node 1 bootstraps and adds the others as voters one
    /// by one; returns once every node applied the last membership and node 1 leads.
    pub async fn start_cluster(&mut self, n: NodeId) -> Result<(), String> {
        self.start_node(1, true).await?;
        self.wait_leader(&[1]).await?;
        for id in 2..=n {
            self.start_node(id, false).await?;
            let (peer, client) = self.addrs(id)?;
            let reply = self
                .call(
                    1,
                    &["RAFTKV", "MEMBER", "ADD", &id.to_string(), &peer, &client],
                )
                .await?;
            if reply != Reply::Simple("OK".into()) {
                return Err(format!("adding node {id}: {reply:?}"));
            }
        }
        let all: Vec<NodeId> = (1..=n).collect();
        let voters = all
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        self.wait_field(&all, "raft_voters", &voters).await?;
        // An election may have happened under a loaded machine: scripts expect node 1 to lead.
        if self.leader_of(&all).await != Some(1) {
            self.call(1, &["RAFTKV", "MEMBER", "TRANSFER-LEADER", "1"])
                .await?;
        }
        self.wait_leader_is(&all, Some(1)).await?;
        self.wait_caught_up(&all).await
    }

    /// Start node `id` with no state (or, if its dir has state, resume): bootstrap a one-node
    /// cluster if `bootstrap`, otherwise wait to be added.
    pub async fn start_node(&mut self, id: NodeId, bootstrap: bool) -> Result<(), String> {
        if self.nodes.get(&id).is_some_and(|n| n.running.is_some()) {
            return Err(format!("node {id} is already running"));
        }
        let slot = self.nodes.entry(id).or_insert_with(|| SimNode {
            data_dir: self.dir.path().join(format!("node{id}")),
            peer_addr: format!("10.77.0.{id}:7379"),
            client_listen: "127.0.0.1:0".into(),
            running: None,
        });
        let config = Config {
            node_id: id,
            data_dir: slot.data_dir.clone(),
            listen: slot.client_listen.clone(),
            peer_listen: slot.peer_addr.clone(),
            bootstrap,
            heartbeat_interval_ms: HEARTBEAT_MS,
            election_timeout_ms_min: ELECTION_MS.0,
            election_timeout_ms_max: ELECTION_MS.1,
            // Page-cache durability is what a crashed process keeps; fsync only slows tests.
            unsafe_no_fsync: true,
            min_free_space_bytes: 0,
            ..Config::default()
        };
        let env = NodeEnv {
            transport: Arc::new(self.net.transport(id)),
            peers: PeerListener::Memory(self.net.listen(id, &slot.peer_addr)),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("sim-node-{id}"))
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let node = runtime
            .spawn(Node::start_with(config, env))
            .await
            .map_err(|e| format!("starting node {id}: {e}"))?
            .map_err(|e| format!("starting node {id}: {e}"))?;
        slot.client_listen = node.client_addr.to_string();
        slot.running = Some(Running { runtime, node });
        self.clients.remove(&id);
        Ok(())
    }

    /// Crash node `id`: off the network, every task dropped, nothing handed over. Returns once
    /// its runtime stopped (so a restart never shares the data dir with the old instance).
    pub async fn crash(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self
            .nodes
            .get_mut(&id)
            .ok_or_else(|| format!("no node {id}"))?;
        let running = slot
            .running
            .take()
            .ok_or_else(|| format!("node {id} is not running"))?;
        self.clients.remove(&id);
        self.net.disconnect(id);
        let consensus = Arc::downgrade(&running.node.ctx.consensus);
        drop(running.node);
        // Dropping a runtime blocks until its workers stop: not on this runtime's threads.
        tokio::task::spawn_blocking(move || running.runtime.shutdown_timeout(WAIT_LIMIT))
            .await
            .map_err(|e| e.to_string())?;
        let mut wait = Wait::new(format!("node {id}'s Raft to be dropped"));
        while !wait.next(Ok(consensus.strong_count() == 0)).await? {}
        Ok(())
    }

    /// Restart a crashed node on its data dir.
    pub async fn restart(&mut self, id: NodeId) -> Result<(), String> {
        if !self.nodes.contains_key(&id) {
            return Err(format!("no node {id} to restart"));
        }
        self.start_node(id, false).await
    }

    /// Stop every node (the end of a script).
    pub async fn shutdown(&mut self) {
        let ids: Vec<NodeId> = self.running_ids();
        for id in ids {
            let _ = self.crash(id).await;
        }
    }

    /// The peer and client addresses of node `id`, as `RAFTKV MEMBER ADD` takes them.
    pub fn addrs(&self, id: NodeId) -> Result<(String, String), String> {
        let n = self.nodes.get(&id).ok_or_else(|| format!("no node {id}"))?;
        Ok((n.peer_addr.clone(), n.client_listen.clone()))
    }

    /// Ids of the running nodes.
    pub fn running_ids(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.running.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Send one command to node `id` and return its reply.
    pub async fn call(&mut self, id: NodeId, args: &[&str]) -> Result<Reply, String> {
        let replies = self.pipeline(id, &[args.to_vec()]).await?;
        Ok(replies.into_iter().next().expect("one reply"))
    }

    /// Send `commands` to node `id` in one write and read their replies.
    pub async fn pipeline(
        &mut self,
        id: NodeId,
        commands: &[Vec<&str>],
    ) -> Result<Vec<Reply>, String> {
        let result = self.try_pipeline(id, commands).await;
        if result.is_err() {
            // A broken connection is not reused.
            self.clients.remove(&id);
        }
        result
    }

    async fn try_pipeline(
        &mut self,
        id: NodeId,
        commands: &[Vec<&str>],
    ) -> Result<Vec<Reply>, String> {
        let client = self.client(id).await?;
        let mut out = bytes::BytesMut::new();
        for c in commands {
            node::client::encode_command(c, &mut out);
        }
        client
            .send_raw(&out)
            .await
            .map_err(|e| format!("node {id}: {e}"))?;
        let mut replies = Vec::with_capacity(commands.len());
        for _ in commands {
            replies.push(
                client
                    .read_reply()
                    .await
                    .map_err(|e| format!("node {id}: {e}"))?,
            );
        }
        Ok(replies)
    }

    async fn client(&mut self, id: NodeId) -> Result<&mut RespClient, String> {
        if !self.clients.contains_key(&id) {
            let addr = match self.nodes.get(&id) {
                Some(SimNode {
                    running: Some(r), ..
                }) => r.node.client_addr.to_string(),
                _ => return Err(format!("node {id} is not running")),
            };
            let c = RespClient::connect(&addr, CALL_TIMEOUT)
                .await
                .map_err(|e| format!("connecting to node {id}: {e}"))?;
            self.clients.insert(id, c);
        }
        Ok(self.clients.get_mut(&id).expect("inserted above"))
    }

    /// Node `id`'s `INFO` fields.
    pub async fn info(&mut self, id: NodeId) -> Result<HashMap<String, String>, String> {
        match self.call(id, &["INFO", "everything"]).await? {
            Reply::Bulk(b) => Ok(info_fields(&String::from_utf8_lossy(&b))),
            other => Err(format!("INFO on node {id}: {other:?}")),
        }
    }

    /// One `INFO` field of node `id`.
    pub async fn field(&mut self, id: NodeId, name: &str) -> Result<String, String> {
        self.info(id)
            .await?
            .remove(name)
            .ok_or_else(|| format!("node {id} has no INFO field {name}"))
    }

    /// The node among `among` that leads and that every other node of `among` follows, if any.
    pub async fn leader_of(&mut self, among: &[NodeId]) -> Option<NodeId> {
        let mut leader = None;
        for &id in among {
            let info = self.info(id).await.ok()?;
            let says = info.get("raft_leader_id")?.parse::<NodeId>().ok()?;
            if leader.is_some_and(|l| l != says) {
                return None;
            }
            leader = Some(says);
        }
        let leader = leader?;
        let role = self.field(leader, "raft_role").await.ok()?;
        (among.contains(&leader) && role == "leader").then_some(leader)
    }

    /// The leader every running node that knows one agrees on (for `leader>` in scripts).
    pub async fn current_leader(&mut self) -> Result<NodeId, String> {
        let mut best: Option<(u64, NodeId)> = None;
        for id in self.running_ids() {
            let info = self.info(id).await?;
            if info.get("raft_role").map(String::as_str) == Some("leader") {
                let term = info
                    .get("raft_term")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if best.is_none_or(|(t, _)| term > t) {
                    best = Some((term, id));
                }
            }
        }
        best.map(|(_, id)| id)
            .ok_or_else(|| "no running node leads".to_string())
    }

    /// Wait until one node of `among` leads and all of `among` follow it.
    pub async fn wait_leader(&mut self, among: &[NodeId]) -> Result<(), String> {
        self.wait_leader_is(among, None).await
    }

    /// Wait until `leader` (or, if `None`, any node of `among`) leads and all of `among`
    /// follow it.
    pub async fn wait_leader_is(
        &mut self,
        among: &[NodeId],
        leader: Option<NodeId>,
    ) -> Result<(), String> {
        let who = leader.map_or("a leader".to_string(), |l| {
            format!("node {l} as the leader")
        });
        let mut wait = Wait::new(format!("{who} that nodes {among:?} agree on"));
        loop {
            if let Ok(seen) = self.fields(among, "raft_leader_id").await {
                wait.saw(format!("leader ids {seen:?}"));
            }
            let found = self.leader_of(among).await;
            let done = found.is_some() && (leader.is_none() || found == leader);
            if wait.next(Ok(done)).await? {
                return Ok(());
            }
        }
    }

    /// Wait until field `name` of every node in `ids` reads `value`.
    pub async fn wait_field(
        &mut self,
        ids: &[NodeId],
        name: &str,
        value: &str,
    ) -> Result<(), String> {
        let mut wait = Wait::new(format!("{name} = {value} on nodes {ids:?}"));
        loop {
            let look = self.fields(ids, name).await.map(|seen| {
                let done = seen.iter().all(|(_, v)| v == value);
                wait.saw(format!("{seen:?}"));
                done
            });
            if wait.next(look).await? {
                return Ok(());
            }
        }
    }

    /// Field `name` of every node in `ids` (empty where a node has no such field).
    async fn fields(
        &mut self,
        ids: &[NodeId],
        name: &str,
    ) -> Result<Vec<(NodeId, String)>, String> {
        let mut seen = Vec::new();
        for &id in ids {
            let v = self.info(id).await?.remove(name).unwrap_or_default();
            seen.push((id, v));
        }
        Ok(seen)
    }

    /// Wait until every node of `ids` applied everything the first of them committed.
    pub async fn wait_caught_up(&mut self, ids: &[NodeId]) -> Result<(), String> {
        let mut wait = Wait::new(format!("nodes {ids:?} to apply the same last index"));
        loop {
            let look = self.fields(ids, "raft_applied_index").await;
            if let Ok(applied) = &look {
                wait.saw(format!("applied {applied:?}"));
            }
            if wait.next(self.caught_up(ids).await).await? {
                return Ok(());
            }
        }
    }

    /// Whether every node of `ids` applied all it committed, and all applied the same index.
    async fn caught_up(&mut self, ids: &[NodeId]) -> Result<bool, String> {
        let mut applied = Vec::new();
        for &id in ids {
            let info = self.info(id).await?;
            let num = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if num("raft_applied_index") < num("raft_commit_index") {
                return Ok(false);
            }
            applied.push(num("raft_applied_index"));
        }
        Ok(applied.windows(2).all(|w| w[0] == w[1]))
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        // A script that failed half-way leaves runtimes behind: stop them without blocking
        // (this may run inside the test's runtime).
        for slot in self.nodes.values_mut() {
            if let Some(r) = slot.running.take() {
                drop(r.node);
                r.runtime.shutdown_background();
            }
        }
    }
}

/// A wait for a condition: look, then [`Wait::next`] says whether to stop (it held), sleeps
/// [`POLL`] and goes on (not yet), or fails naming the condition after [`WAIT_LIMIT`]. A look
/// that failed (a node not answering yet) counts as "not yet"; the last such error is reported.
///
/// ```ignore
/// let mut wait = Wait::new("the thing");
/// while !wait.next(look().await).await? {}
/// ```
pub struct Wait {
    what: String,
    deadline: tokio::time::Instant,
    last_err: Option<String>,
    /// What the last look saw, for the failure message.
    seen: Option<String>,
}

impl Wait {
    /// Start waiting for `what`.
    pub fn new(what: impl Into<String>) -> Wait {
        Wait {
            what: what.into(),
            deadline: tokio::time::Instant::now() + WAIT_LIMIT,
            last_err: None,
            seen: None,
        }
    }

    /// Note what a look saw: a failed wait reports the last such note.
    pub fn saw(&mut self, seen: String) {
        self.seen = Some(seen);
    }

    /// `Ok(true)` if `look` found the condition true; `Ok(false)` after a pause otherwise; an
    /// error once the limit passed.
    pub async fn next(&mut self, look: Result<bool, String>) -> Result<bool, String> {
        match look {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => self.last_err = Some(e),
        }
        if tokio::time::Instant::now() >= self.deadline {
            return Err(format!(
                "waited {WAIT_LIMIT:?} for {}{}{}",
                self.what,
                self.seen
                    .as_ref()
                    .map(|s| format!("; last seen: {s}"))
                    .unwrap_or_default(),
                self.last_err
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            ));
        }
        tokio::time::sleep(POLL).await;
        Ok(false)
    }
}
