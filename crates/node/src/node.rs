//! One `raftkv serve` process: listeners, consensus, background tasks, and shutdown.
//!
//! Start-up order: validate the config; bind both listeners (so `:0` ports resolve before
//! anything is published); finish a pending restore (`raftkv snapshot restore`); open storage and
//! start Raft; serve peers; then, only if the data dir held no state, bootstrap or join; then
//! serve clients and run the expiry ticker. [`Node::start`] talks to peers over TCP;
//! [`Node::start_with`] takes the peer network as a [`NodeEnv`] (the in-process cluster tests
//! pass an in-memory one, [`crate::transport::memory`]). A node that finds state in its data dir (a restored
//! one included) resumes from it and ignores `--bootstrap`/`--join`.
//!
//! Before opening storage the node writes and fsyncs a probe file in its data dir
//! ([`crate::disk::probe_writable`]) and refuses to start if it cannot (a full disk).
//!
//! While it runs, `watch_disk` samples free space every [`crate::disk::DISK_SAMPLE_INTERVAL`];
//! when it falls below `min_free_space_bytes` a leader hands leadership to a follower, at most
//! once per low period (so nodes sharing one low disk, as under `raftkv local`, pass it on at
//! most once each instead of round in circles).
//!
//! If Raft stops by itself (its log could not be written: a full disk, EIO),
//! [`Node::run_until`] logs one ERROR naming the path and the OS error, lets in-flight replies
//! go out for [`STORAGE_FAILURE_EXIT_GRACE`], and returns the exit status
//! ([`crate::raft::EXIT_STORAGE_FAILURE`]) for the process to exit with, so a supervisor
//! restarts it. A node never lingers with a stopped Raft.
//!
//! Shutdown (first SIGTERM/SIGINT): if this node leads and other voters exist, transfer
//! leadership to the most up-to-date voter and wait (at most twice the election timeout) for it
//! to take over; then stop accepting clients and peers, give open client requests a short grace
//! period, shut Raft down (its log is durable by construction), return.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::client::RespClient;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::ids::NodeAddr;
use crate::raft::snapshot_file::restore;
use crate::raft::{Consensus, RaftOptions};
use crate::server::{self, ServerContext};
use crate::tls::reload::Reload;
use crate::tls::{ClientTls, ServerTls};
use crate::transport::memory::MemoryListener;
use crate::transport::{
    PeerAuth, PeerHandler, PeerServer, PeerTls, Peers, TcpTransport, TlsTransport, Transport,
};

/// How often the leader looks for keys past their deadline.
pub const EXPIRY_TICK: Duration = Duration::from_millis(100);
/// How long `--join` keeps trying to reach the cluster.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(120);
/// Grace period for in-flight client requests at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// After Raft stopped on a storage failure, how long the process stays up so replies already
/// decided (`-MISCONF`, `-ERR write outcome unknown`) reach their clients before it exits.
pub const STORAGE_FAILURE_EXIT_GRACE: Duration = Duration::from_millis(500);

/// A started node.
pub struct Node {
    /// Shared server state (consensus, config, counters).
    pub ctx: Arc<ServerContext>,
    /// The bound client address.
    pub client_addr: SocketAddr,
    /// The bound peer address.
    pub peer_addr: SocketAddr,
    /// The bound HTTP address of `/livez`, `/readyz`, `/metrics`, if `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// The bound address of the separate TLS client listener, if `tls.listen` is set.
    pub tls_addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Start a node from `config` (bind, open storage, start Raft, bootstrap or join), talking
    /// to its peers over TCP.
    pub async fn start(config: Config) -> io::Result<Node> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let peer_listener = TcpListener::bind(&config.peer_listen).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", config.peer_listen),
            )
        })?;
        let peer_tls = match (
            ServerTls::peer_port(&config.tls).map_err(tls_error)?,
            ClientTls::peer_dialer(&config.tls).map_err(tls_error)?,
        ) {
            (Some(server), Some(dialer)) => Some(PeerTls { server, dialer }),
            _ => None,
        };
        let env = match peer_tls {
            None => NodeEnv {
                transport: Arc::new(TcpTransport),
                peers: PeerListener::Tcp(peer_listener),
            },
            Some(tls) => NodeEnv {
                transport: Arc::new(TlsTransport::new(tls.dialer.clone())),
                peers: PeerListener::Tls(peer_listener, tls),
            },
        };
        Node::start_with(config, env).await
    }

    /// [`Node::start`] with the peer network given: how this node dials its peers and where
    /// their connections arrive. In-process cluster tests pass a
    /// [`crate::transport::memory::MemoryNetwork`]'s; the client listener is TCP either way.
    pub async fn start_with(mut config: Config, env: NodeEnv) -> io::Result<Node> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        // Bad certificate files refuse the start here, before anything is bound.
        let client_tls = ServerTls::client_port(&config.tls).map_err(tls_error)?;
        let node_client_tls = ClientTls::node_client(&config.tls).map_err(tls_error)?;
        let client_listener = TcpListener::bind(&config.listen).await.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen))
        })?;
        let tls_listener =
            match &config.tls.listen {
                Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
                })?),
                None => None,
            };
        let tls_addr = match &tls_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let NodeEnv {
            transport,
            peers: peer_listener,
        } = env;
        // Everything read from certificate files, read again on SIGHUP.
        let mut reloadable: Vec<Arc<dyn Reload>> = Vec::new();
        reloadable.extend(client_tls.clone().map(|t| t as Arc<dyn Reload>));
        reloadable.extend(node_client_tls.clone().map(|t| t as Arc<dyn Reload>));
        if let PeerListener::Tls(_, tls) = &peer_listener {
            reloadable.push(tls.server.clone());
            reloadable.push(tls.dialer.clone());
        }
        let metrics_listener =
            match &config.metrics_listen {
                Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
                })?),
                None => None,
            };
        let metrics_addr = match &metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let client_addr = client_listener.local_addr()?;
        let peer_addr = peer_listener.local_addr()?;
        // Publish what was actually bound when the flag asked for port 0.
        config.listen = client_addr.to_string();
        config.peer_listen = peer_addr.to_string();
        if let Some(addr) = tls_addr {
            config.tls.listen = Some(addr.to_string());
        }
        if config.unsafe_no_fsync {
            tracing::warn!("--unsafe-no-fsync: the Raft log is never fsynced; acknowledged writes CAN BE LOST on power failure or kernel crash. Use for tests and benchmarks only.");
        }
        if config.unsafe_stale_reads {
            tracing::warn!("--unsafe-stale-reads: reads skip the read barrier and CAN RETURN STALE DATA. Use for testing the fault suite only.");
        }
        if config.unsafe_fault_injection {
            tracing::warn!("--unsafe-fault-injection: any client can cut this node's peer links with RAFTKV FAULT. Use for tests only.");
        }
        if !config.pre_vote {
            tracing::warn!("--pre-vote=false: a node returning from a partition can depose a healthy leader. Use for tests and diagnosis only.");
        }
        tracing::info!(config = ?config, "effective configuration");

        let opts = RaftOptions {
            node_id: config.node_id,
            data_dir: config.data_dir.clone(),
            fsync: !config.unsafe_no_fsync,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            election_timeout_ms_min: config.election_timeout_ms_min,
            election_timeout_ms_max: config.election_timeout_ms_max,
            snapshot_threshold: config.snapshot_threshold,
            read_policy: config.read_policy,
            read_lease_ms: config.lease_ms(),
            read_lease_margin_ms: config.lease_margin_ms(),
            pre_vote: config.pre_vote,
        };
        let peer_auth = match &config.cluster_secret_file {
            Some(path) => PeerAuth::load(path)?,
            None => PeerAuth::none(),
        };
        let me = NodeAddr {
            peer_addr: config.peer_addr().to_string(),
            client_addr: config.client_addr().to_string(),
        };
        // Refuse to start on a disk that cannot take even a small write.
        crate::disk::probe_writable(&config.data_dir)?;
        // A data dir made by `raftkv snapshot restore` becomes a one-node cluster of this node.
        restore::finish_pending(&config.data_dir, config.node_id, &me)?;
        // One pool of peer connections, shared by Raft's network and the cluster layer's
        // forwarding; the peer server answers through the cluster layer's peer service.
        let peers = Peers::new(config.node_id, transport, peer_auth);
        let consensus = Consensus::start(&opts, peers.clone()).await?;
        let cluster = Cluster::new(consensus.clone(), peers, server::errors::consensus);
        cluster.memory().set_limit(config.maxmemory_bytes);
        let mut tasks = vec![
            tokio::spawn(peer_listener.serve(cluster.clone() as Arc<dyn PeerHandler>)),
            tokio::spawn(crate::memory::watch(cluster.memory().clone())),
        ];

        if consensus.is_initialized().await {
            crate::counters::RESUMED_FROM_STATE.incr();
            if config.bootstrap || config.join.is_some() {
                tracing::info!("data dir has state: resuming, ignoring --bootstrap/--join");
            }
        } else if config.bootstrap {
            consensus
                .bootstrap(me.clone())
                .await
                .map_err(|e| io::Error::other(e.to_string()))?;
            tracing::info!(
                node_id = config.node_id,
                "bootstrapped a new single-node cluster"
            );
        } else if let Some(seed) = config.join.clone() {
            let id = config.node_id;
            let me = me.clone();
            let join_tls = node_client_tls.clone();
            let credentials = crate::credentials::Credentials::of_node(&config);
            // Joining waits for the leader to catch this node up, which needs the peer server
            // already running (it is) and may take long: do it in the background.
            tasks.push(tokio::spawn(async move {
                match join(&seed, id, &me, join_tls.as_deref(), credentials.as_ref()).await {
                    Ok(()) => tracing::info!(%seed, "joined the cluster"),
                    Err(e) => tracing::error!(%seed, error = %e, "could not join the cluster"),
                }
            }));
        } else {
            tracing::warn!("no state in the data dir and neither --bootstrap nor --join: waiting to be added by a member");
        }

        if config.unsafe_power_loss_signal || config.unsafe_no_fsync {
            tasks.push(tokio::spawn(power_loss_on_sigusr1(consensus.clone())));
        }
        let ctx = ServerContext::new(cluster, config);
        if let (Some(listener), Some(addr)) = (metrics_listener, metrics_addr) {
            let prometheus = crate::metrics::install().map_err(io::Error::other)?;
            tasks.push(tokio::spawn(crate::http::serve(
                listener,
                ctx.clone(),
                prometheus,
            )));
            tracing::info!(http = %addr, "metrics endpoint ready");
        }
        tasks.push(tokio::spawn(crate::exporter::watch_leader(
            consensus.clone(),
        )));
        tasks.push(tokio::spawn(crate::raft::state_log::watch(
            consensus.clone(),
        )));
        tasks.push(tokio::spawn(crate::cluster::removal::watch(
            consensus.clone(),
            ctx.removed.clone(),
            node_client_tls.clone(),
            crate::credentials::Credentials::of_node(&ctx.config),
        )));
        tasks.push(tokio::spawn(watch_disk(ctx.clone())));
        match (&client_tls, tls_listener) {
            // During a migration --listen stays plain and the TLS listener serves beside it.
            (Some(tls), Some(l)) => {
                tasks.push(tokio::spawn(server::run(
                    client_listener,
                    None,
                    ctx.clone(),
                )));
                tasks.push(tokio::spawn(server::run(l, Some(tls.clone()), ctx.clone())));
            }
            (tls, _) => tasks.push(tokio::spawn(server::run(
                client_listener,
                tls.clone(),
                ctx.clone(),
            ))),
        }
        if !reloadable.is_empty() {
            tasks.push(tokio::spawn(crate::tls::reload::on_sighup(reloadable)));
        }
        tasks.push(tokio::spawn(crate::raft::compaction::watch(
            consensus.clone(),
            ctx.config.snapshot_log_bytes,
        )));
        tasks.push(tokio::spawn(expiry_ticker(consensus)));
        Ok(Node {
            ctx,
            client_addr,
            peer_addr,
            metrics_addr,
            tls_addr,
            tasks,
        })
    }

    /// Run until `shutdown` resolves, then stop gracefully and return `Ok`. If Raft stops by
    /// itself first (a storage failure), log why and return the status the process must exit
    /// with, at once: nothing can be shut down gracefully then.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), i32> {
        tokio::select! {
            () = shutdown => {}
            stopped = self.ctx.consensus.wait_stopped() => {
                tracing::error!(
                    exit_code = stopped.exit_code,
                    "{}; exiting so a supervisor restarts this node (free space first if the disk is full)",
                    stopped.message
                );
                tokio::time::sleep(STORAGE_FAILURE_EXIT_GRACE).await;
                return Err(stopped.exit_code);
            }
        }
        tracing::info!("shutting down");
        // A leader hands over first, so the cluster does not wait out an election timeout.
        let wait = 2 * self.ctx.consensus.election_timeout_max();
        self.ctx.cluster.hand_off_leadership(wait).await;
        for t in &self.tasks {
            t.abort();
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        self.ctx.consensus.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How a node reaches its peers: the transport it dials with and where their connections
/// arrive.
pub struct NodeEnv {
    /// How this node dials its peers.
    pub transport: Arc<dyn Transport>,
    /// Where peer connections arrive.
    pub peers: PeerListener,
}

/// Where a node's peer connections arrive.
pub enum PeerListener {
    /// A bound TCP listener (`raftkv serve`).
    Tcp(TcpListener),
    /// A bound TCP listener whose connections must complete mutual TLS first (`raftkv serve`
    /// with `--peer-tls-cert`).
    Tls(TcpListener, PeerTls),
    /// An in-memory network's listener (in-process tests); its address must be `ip:port` text.
    Memory(MemoryListener),
}

impl PeerListener {
    /// The address peers dial.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            PeerListener::Tcp(l) | PeerListener::Tls(l, _) => l.local_addr(),
            PeerListener::Memory(l) => l.addr().parse().map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("memory peer address {:?}: {e}", l.addr()),
                )
            }),
        }
    }

    /// Serve peers until the task is aborted (or, in memory, the node is taken down).
    async fn serve(self, handler: Arc<dyn PeerHandler>) {
        match self {
            PeerListener::Tcp(l) => PeerServer::run(l, None, handler).await,
            PeerListener::Tls(l, tls) => PeerServer::run(l, Some(tls.server), handler).await,
            PeerListener::Memory(mut l) => {
                while let Some((r, w)) = l.accept().await {
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        if let Err(e) = PeerServer::serve_stream(r, w, handler).await {
                            tracing::debug!(error = %e, "peer connection ended");
                        }
                    });
                }
            }
        }
    }
}

/// A certificate problem found at start, as the start error.
fn tls_error(e: crate::tls::TlsError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// Ask the cluster, through the member at `seed` (a client address, dialed over TLS with
/// `tls` and authenticated with `credentials`), to add this node.
async fn join(
    seed: &str,
    id: u64,
    me: &NodeAddr,
    tls: Option<&ClientTls>,
    credentials: Option<&crate::credentials::Credentials>,
) -> io::Result<()> {
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut pause = Duration::from_millis(100);
    loop {
        let attempt = async {
            let timeout = crate::limits::ADD_NODE_TIMEOUT;
            let mut c = RespClient::connect_as(seed, timeout, tls, credentials).await?;
            let id = id.to_string();
            let args: [&[u8]; 6] = [
                b"RAFTKV",
                b"MEMBER",
                b"ADD",
                id.as_bytes(),
                me.peer_addr.as_bytes(),
                me.client_addr.as_bytes(),
            ];
            c.call(&args).await
        };
        match attempt.await {
            Ok(resp::Reply::Simple(_)) => return Ok(()),
            // Nodes started together (`raftkv local`) take turns: that refusal is expected.
            Ok(resp::Reply::Error(e)) if e.contains("undergoing a configuration change") => {
                tracing::info!(%seed, "another membership change is in progress; retrying the join")
            }
            Ok(other) => tracing::warn!(%seed, reply = ?other, "join refused; retrying"),
            Err(e) => tracing::warn!(%seed, error = %e, "join attempt failed; retrying"),
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("could not join through {seed}"),
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// While this node leads, propose expiry entries for keys past their deadline.
async fn expiry_ticker(consensus: Arc<Consensus>) {
    let mut tick = tokio::time::interval(EXPIRY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        while let Some(n) = consensus.expire_due().await {
            if n < crate::limits::EXPIRE_BATCH_KEYS as i64 {
                break;
            }
        }
    }
}

/// Sample the data dir's free space and the Raft log's size every
/// [`crate::disk::DISK_SAMPLE_INTERVAL`], export them, and hand leadership off once per low
/// period while this node leads on a low disk.
async fn watch_disk(ctx: Arc<ServerContext>) {
    let disk = ctx.disk.clone();
    let consensus = ctx.consensus.clone();
    let mut tick = tokio::time::interval(crate::disk::DISK_SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<(tokio::time::Instant, u64)> = None;
    // Whether this node already handed leadership off in the current low period.
    let mut handed_off = false;
    let mut statvfs_failed = false;
    loop {
        tick.tick().await;
        let dir = disk.dir.clone();
        let free = tokio::task::spawn_blocking(move || crate::disk::free_bytes(&dir))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        let free = match free {
            Ok(f) => {
                statvfs_failed = false;
                Some(f)
            }
            Err(e) => {
                if !statvfs_failed {
                    tracing::warn!(dir = %disk.dir.display(), error = %e, "cannot read free space of the data dir");
                }
                statvfs_failed = true;
                None
            }
        };
        let now = tokio::time::Instant::now();
        let log_bytes = consensus.log_disk_bytes();
        let growth = last.map_or(0, |(at, before)| {
            crate::disk::growth_per_sec(before, log_bytes, now - at)
        });
        last = Some((now, log_bytes));
        let was_low = disk.is_low();
        if disk.record(free, log_bytes, growth) {
            tracing::warn!(
                dir = %disk.dir.display(),
                free_bytes = free.unwrap_or(0),
                min_free_bytes = disk.min_free_bytes,
                "free space on the data dir is below --min-free-space: /readyz fails and this node gives up leadership"
            );
        } else if was_low && !disk.is_low() {
            tracing::info!(
                free_bytes = free.unwrap_or(0),
                "free space on the data dir is back above --min-free-space"
            );
            handed_off = false;
        }
        crate::exporter::record_disk(&disk.sample());
        // Counted as done once tried with a voter to take over (a lone voter keeps waiting
        // for one), so a failed transfer is not retried every sample either.
        if disk.is_low() && !handed_off && ctx.cluster.can_hand_off() {
            handed_off = true;
            let wait = 2 * consensus.election_timeout_max();
            ctx.cluster
                .hand_off_leadership_because("low free space on the data dir", wait)
                .await;
        }
    }
}

/// Test-only: SIGUSR1 simulates a power cut (unsynced WAL bytes are lost) and exits.
async fn power_loss_on_sigusr1(consensus: Arc<Consensus>) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::user_defined1()) {
        Ok(mut usr1) => {
            usr1.recv().await;
            consensus.simulate_power_loss();
        }
        Err(e) => tracing::error!(error = %e, "cannot install the SIGUSR1 power-loss handler"),
    }
}
