//! The client listener: RESP connections, command dispatch, and pipelined replies.
//!
//! Each connection is one task ([`connection`]). It decodes every complete request in what it
//! read, answers connection-level commands itself ([`commands`], [`info`]), and gathers the run
//! of consecutive data commands into one batch ([`batcher`]) that goes to the cluster layer as
//! a unit ([`ServerContext::execute`]), so a pipeline of N commands costs one Raft entry (or one
//! read barrier) and its replies come back in order with one write. Per-connection state is
//! [`session`]; typed errors become RESP replies only in [`errors`].
//!
//! Blocking pops ([`blocking`]) and XREAD/XREADGROUP with BLOCK ([`blocking::stream`]) wait on
//! this node and pop or read through the log.
//!
//! Pub/sub commands ([`pubsub`]) are answered by the connection too; a subscribed connection
//! also waits on its outbox and writes delivered messages between replies.
//!
//! With client TLS each accepted connection runs its handshake in its own task, then the same
//! connection code serves the TLS stream ([`connection::serve`] is generic over the stream, so
//! plain connections pay nothing for it).
//!
//! A command error is a reply and never closes the connection; only a protocol error does
//! (after its error reply), or `QUIT`. Beyond `max_clients` connections a new client gets
//! `-ERR max number of clients reached` and is closed.

pub mod acl;
pub mod backup;
pub mod batcher;
pub mod blocking;
pub mod commands;
pub mod connection;
pub mod errors;
pub mod families;
pub mod help;
pub mod info;
pub mod introspection;
pub mod publish;
pub mod pubsub;
pub mod session;
pub mod subscriptions;
pub mod transaction;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use resp::Reply;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::raft::Consensus;
use crate::tls::ServerTls;

/// Everything connection tasks share.
pub struct ServerContext {
    /// The cluster layer: routing, membership, hand-off, backups.
    pub cluster: Arc<Cluster>,
    /// The consensus layer underneath (the local state machine, Raft status, read stats).
    pub consensus: Arc<Consensus>,
    /// The effective configuration.
    pub config: Config,
    /// When the process started.
    pub started: Instant,
    /// A random id for this process run (INFO `run_id`).
    pub run_id: String,
    /// Open client connections.
    pub connected_clients: AtomicUsize,
    /// Client connections closed for idling past `client_idle_timeout_secs`.
    pub idle_clients_closed: AtomicU64,
    /// Client connections closed for taking no replies for `client_output_timeout_secs`.
    pub output_stalled_clients_closed: AtomicU64,
    /// Client connections accepted since start.
    pub total_connections: AtomicU64,
    /// Commands processed since start.
    pub total_commands: AtomicU64,
    /// Next client id (CLIENT ID).
    pub next_client_id: AtomicU64,
    /// Set once this node learns it was removed from the cluster (see
    /// [`crate::cluster::removal`]); from then on every command but INFO is refused.
    pub removed: Arc<AtomicBool>,
    /// Free space of the data dir's file system, as last sampled (see [`crate::disk`]).
    pub disk: Arc<crate::disk::DiskStatus>,
    /// The `default` user while the cluster's ACL table has none (see [`acl`]).
    pub default_user: kv::acl::User,
}

impl ServerContext {
    /// A context for `cluster` with `config`.
    pub fn new(cluster: Arc<Cluster>, config: Config) -> Arc<ServerContext> {
        let run_id = {
            use std::hash::{BuildHasher, Hasher};
            let mut s = String::new();
            for _ in 0..3 {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(0);
                s.push_str(&format!("{:016x}", h.finish()));
            }
            s.truncate(40);
            s
        };
        let disk = Arc::new(crate::disk::DiskStatus::new(
            config.data_dir.clone(),
            config.min_free_space_bytes,
        ));
        Arc::new(ServerContext {
            default_user: acl::fallback_default_user(&config),
            consensus: cluster.consensus().clone(),
            cluster,
            disk,
            config,
            started: Instant::now(),
            run_id,
            connected_clients: AtomicUsize::new(0),
            idle_clients_closed: AtomicU64::new(0),
            output_stalled_clients_closed: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            total_commands: AtomicU64::new(0),
            next_client_id: AtomicU64::new(1),
            removed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The error to answer `command` with if this node was removed from the cluster.
    pub fn refusal(&self, command: &[u8]) -> Option<resp::Reply> {
        (self.removed.load(Ordering::Relaxed) && !command.eq_ignore_ascii_case(b"INFO"))
            .then(|| resp::Reply::error(crate::cluster::removal::REMOVED_ERROR))
    }

    /// Run a batch of data commands through the cluster (here or on the leader) and return one
    /// reply per command; a routing failure answers every command with its error reply.
    pub async fn execute(&self, cmds: Vec<kv::Command>) -> Vec<Reply> {
        let n = cmds.len();
        self.cluster
            .execute(cmds)
            .await
            .unwrap_or_else(|e| vec![errors::cluster(&e); n])
    }
}

/// Deadline for a client's TLS handshake: one that connects and stalls is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accept clients on `listener` until the task is aborted; with `tls`, each connection is a
/// TLS handshake first (one that fails or stalls past [`TLS_HANDSHAKE_TIMEOUT`] is closed).
/// Handshakes in progress are bounded by `max_clients` too: beyond it a new connection is
/// closed at once, so clients that connect and stall cannot pile up tasks.
pub async fn run(listener: TcpListener, tls: Option<Arc<ServerTls>>, ctx: Arc<ServerContext>) {
    let handshaking = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "client accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        ctx.total_connections.fetch_add(1, Ordering::Relaxed);
        let ctx = ctx.clone();
        let Some(tls) = tls.clone() else {
            tokio::spawn(connection::serve(stream, remote, ctx));
            continue;
        };
        if handshaking.fetch_add(1, Ordering::Relaxed) >= ctx.config.max_clients {
            handshaking.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!(%remote, "too many TLS handshakes in progress; connection closed");
            continue;
        }
        let handshaking = handshaking.clone();
        tokio::spawn(async move {
            let accepted = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await;
            handshaking.fetch_sub(1, Ordering::Relaxed);
            match accepted {
                Ok(Ok(stream)) => connection::serve(stream, remote, ctx).await,
                Ok(Err(e)) => tracing::debug!(%remote, error = %e, "client TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "client TLS handshake timed out"),
            }
        });
    }
}
