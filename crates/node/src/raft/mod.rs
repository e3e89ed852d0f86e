//! Consensus: the one place the node touches openraft.
//!
//! [`Consensus`] owns the Raft instance, its log store and state machine, and answers the
//! questions the rest of the node asks: run this command (through the log if it writes, after a
//! linearizable read barrier if it reads), who leads and where, what the local Raft state is,
//! add this node. Everything else (client connections, INFO, the binary) sees only this facade
//! and plain data, so an openraft upgrade touches this module alone.
//!
//! # Routing
//! Any node accepts any command. [`Consensus::execute`] runs it here when this node leads, and
//! otherwise forwards it over the peer link to the leader, which runs it with
//! [`Consensus::execute_local`] (never forwarding again, so a stale leader hint cannot make a
//! loop). While no leader is known the request waits, re-checking as Raft's metrics change, up
//! to [`ROUTE_DEADLINE`]; then it fails with `-CLUSTERDOWN` if this node sees no leader at all
//! and `-TRYAGAIN` otherwise. A command error from the state machine is a normal reply.
//!
//! # Reads
//! A batch of reads only never goes through the log: the leader answers it from its lease or
//! after a ReadIndex round, a follower after getting a read index from the leader, a `READONLY`
//! connection locally. See [`reads`] for the rules and why they are linearizable.
//!
//! # Time
//! The leader stamps each write with its wall clock ([`wall_clock_ms`]) when it proposes it; the
//! state machine applies it at that time on every replica. Reads are evaluated at the leader's
//! time: its wall clock on the leader, the time in the leader's read-index answer on a follower,
//! and [`leader_clock`]'s estimate for local reads; never earlier than the latest applied stamp.
//!
//! # Outcomes
//! A write is acknowledged only after it is committed and applied. If leadership changes after
//! the entry was proposed, or the leader cannot reach a quorum within [`WRITE_TIMEOUT`], the
//! outcome is unknown and the client is told so (`-ERR ... outcome unknown`), never `OK`.
//!
//! # Storage failures
//! Once the log store recorded a failed write ([`storage_fault`]), nothing more is proposed:
//! a write gets [`ConsensusError::StorageFailed`] (`-MISCONF`), a read `-TRYAGAIN` (a stopped
//! Raft cannot confirm leadership, so no read here stays linearizable), and a follower
//! forwarding to this node is told it does not lead, so it waits for the new leader. A write
//! that was already in flight when the log failed may still commit (the followers may have
//! stored it), so its outcome is unknown. [`Consensus::wait_stopped`] tells the node to exit.

mod admin;
mod faults;
pub use admin::{file_crc32, Export, MembershipView};
pub mod leader_clock;
pub mod log_store;
pub mod network;
pub mod peers;
pub mod power_loss;
pub mod reads;
pub mod snapshot_file;
pub mod state_log;
pub mod state_machine;
pub mod storage_fault;
pub mod types;
pub mod wal_types;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{ChangeMembers, ServerState};
use resp::Reply;

use crate::errors;
use crate::transport::message::{Forward, ForwardReply, PeerRequest, PeerResponse};
use crate::transport::Transport;
use log_store::LogStore;
use network::NetworkFactory;
use peers::Peers;
use state_machine::{StateMachine, StateView};
use storage_fault::FaultSlot;
pub use storage_fault::{StorageFault, EXIT_RAFT_STOPPED, EXIT_STORAGE_FAILURE};
use types::{NodeAddr, NodeId, Raft, RaftMetrics};

/// How long a request may wait for a leader to be elected or reached before it fails.
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(3);
/// How long a write may wait for commit before its outcome is reported unknown.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a forwarded command may take on the leader, end to end.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(6);
/// How long adding a node may take (the learner must first catch up).
pub const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(600);
/// Most bytes of client arguments in one log entry (one command, or one pipelined batch). Every
/// entry must fit in one peer frame together with the others of its AppendEntries request.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;
/// Most entries in one AppendEntries request (openraft's `max_payload_entries`).
pub const MAX_APPEND_ENTRIES: u64 = 16;

/// Most log entries kept behind a snapshot (fewer when the snapshot threshold is smaller).
pub const LOG_KEPT_BEHIND_SNAPSHOT: u64 = 1000;
/// Most keys one expiry entry deletes.
pub const EXPIRE_BATCH_KEYS: u32 = 1000;
/// How often [`Consensus::wait_stopped`] looks for a recorded storage failure.
pub const STORAGE_FAULT_POLL: Duration = Duration::from_millis(50);

/// A change of cluster membership.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MemberChange {
    /// Add a node as a learner, wait until it has caught up, then (unless `learner`) make it a
    /// voter.
    Add {
        /// The new node's id.
        id: NodeId,
        /// Its addresses.
        addr: NodeAddr,
        /// Keep it a learner.
        learner: bool,
    },
    /// Make a learner a voter.
    Promote {
        /// The learner.
        id: NodeId,
    },
    /// Remove a voter or learner. Removing the leader first hands leadership to another voter.
    Remove {
        /// The node.
        id: NodeId,
    },
    /// Ask the leader to hand leadership to this voter.
    TransferLeader {
        /// The voter to lead.
        id: NodeId,
    },
}

/// Raft timing and storage settings.
#[derive(Clone, Debug)]
pub struct RaftOptions {
    /// This node's id.
    pub node_id: NodeId,
    /// Where the log and snapshots live.
    pub data_dir: PathBuf,
    /// False disables fsync (unsafe; tests and benchmarks only).
    pub fsync: bool,
    /// Leader heartbeat period, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout, in milliseconds.
    pub election_timeout_ms_min: u64,
    /// Upper bound of the randomized election timeout, in milliseconds.
    pub election_timeout_ms_max: u64,
    /// Build a snapshot (and purge the log behind it) after this many applied entries.
    pub snapshot_threshold: u64,
    /// Read policy, leader lease and its clock-drift margin.
    pub read_policy: crate::config::ReadPolicy,
    /// Leader lease, in milliseconds (shorter than the minimum election timeout minus the margin).
    pub read_lease_ms: u64,
    /// Clock-drift margin of the lease, in milliseconds.
    pub read_lease_margin_ms: u64,
    /// Run a pre-vote round before each election.
    pub pre_vote: bool,
    /// What peer connections prove (the cluster secret, or none).
    pub peer_auth: crate::transport::PeerAuth,
}

/// Why a command could not be run here.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// This node does not lead; `leader` is who it believes does.
    #[error("not the leader")]
    NotLeader {
        /// The believed leader.
        leader: Option<NodeId>,
    },
    /// The leader could not confirm its leadership with a quorum.
    #[error("no quorum")]
    NoQuorum,
    /// The write may or may not have been applied.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Raft stopped (shutdown, or a panic in its core).
    #[error("raft stopped: {0}")]
    Stopped(String),
    /// This node cannot write its Raft log (the OS error's text); nothing was proposed.
    #[error("cannot write the Raft log: {0}")]
    StorageFailed(String),
    /// A membership change was refused.
    #[error("{0}")]
    Membership(String),
    /// This node did not apply up to a read index in time (it lags the leader).
    #[error("not applied up to read index {index} within {waited:?}")]
    Behind {
        /// The read index.
        index: u64,
        /// How long it waited.
        waited: Duration,
    },
}

/// The node's consensus facade. Shared behind an `Arc`.
pub struct Consensus {
    raft: Raft,
    view: StateView,
    log: LogStore,
    peers: Peers,
    node_id: NodeId,
    reads: reads::Reads,
    fault: FaultSlot,
}

/// Why the Raft core stopped by itself, and the exit status the process should end with.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftStopped {
    /// What to log: names the path and the OS error for a storage failure.
    pub message: String,
    /// [`EXIT_STORAGE_FAILURE`] or [`EXIT_RAFT_STOPPED`].
    pub exit_code: i32,
}

/// Why openraft refused a proposal, in words a client may see: openraft's own texts for some of
/// these hold Rust debug syntax (`Some(LogId { .. })`, `{1, 2}`), so those are reworded here and
/// the original goes to the log.
fn refusal(e: &ClientWriteError<types::TypeConfig>) -> String {
    use openraft::error::ChangeMembershipError as C;
    let text = match e {
        ClientWriteError::ChangeMembershipError(c) => match c {
            C::InProgress(_) => {
                "another membership change is still in progress; retry once it completes".into()
            }
            C::EmptyMembership(_) => "the new membership would have no voter".into(),
            C::LearnerNotFound(l) => {
                format!(
                    "node {} is not a learner yet: add it before promoting it",
                    l.node_id
                )
            }
            C::UnsupportedMembershipTransition(_) => {
                "this change of voters must be made in smaller steps".into()
            }
            C::UncommittedLeaderLog(_) => {
                "the new leader has not committed an entry of its own term yet; retry shortly"
                    .into()
            }
            C::NodeMetadataChanged(n) => format!(
                "the change would alter the addresses of existing node {}",
                n.node_id
            ),
        },
        ClientWriteError::ForwardToLeader(_) => "this node does not lead".into(),
        ClientWriteError::LogEntryDiscarded(_) => {
            "leadership changed before the entry committed".into()
        }
        ClientWriteError::PreconditionFailed(_) => "the membership changed meanwhile; retry".into(),
    };
    tracing::info!(error = %e, "proposal refused: {text}");
    text
}

/// Milliseconds since the Unix epoch by this machine's wall clock.
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Consensus {
    /// Open storage in `opts.data_dir` and start Raft. Does not bootstrap or join.
    pub async fn start(
        opts: &RaftOptions,
        transport: Arc<dyn Transport>,
    ) -> io::Result<Arc<Consensus>> {
        let log = LogStore::open(&opts.data_dir.join("raft-log"), opts.fsync)?;
        let fault = log.fault_slot();
        let sm = StateMachine::open(opts.data_dir.join("snapshots"))?;
        let view = sm.view();
        let peers = Peers::new(opts.node_id, transport, opts.peer_auth.clone());
        let config = openraft::Config {
            cluster_name: "raftkv".to_string(),
            heartbeat_interval: opts.heartbeat_interval_ms,
            election_timeout_min: opts.election_timeout_ms_min,
            election_timeout_max: opts.election_timeout_ms_max,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(opts.snapshot_threshold),
            // Bounded so an AppendEntries request always fits in one peer frame.
            max_payload_entries: MAX_APPEND_ENTRIES,
            // Keep some log behind each snapshot so briefly lagging followers catch up from the
            // log, not a full snapshot; never more than a snapshot's worth.
            max_in_snapshot_log_to_keep: opts.snapshot_threshold.min(LOG_KEPT_BEHIND_SNAPSHOT),
            install_snapshot_timeout: 60_000,
            // A restarted leader must win a new election. Restoring leadership without one lets
            // it serve ReadIndex reads from its persisted commit index, which can lag what the
            // cluster acknowledged (the commit record is not fsynced): a stale read after a
            // power cut, caught by tests/durability.rs.
            enable_leader_restore: Some(false),
            // A node that cannot win (it was partitioned, or its log is behind) asks first and
            // never raises the term, so its return does not depose a healthy leader. openraft's
            // handler grants a pre-vote only when it would grant the vote and has not heard from
            // a live leader within its lease (`election_timeout_max`).
            enable_pre_vote: Some(opts.pre_vote),
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(io::Error::other)?);
        let raft = Raft::new(
            opts.node_id,
            config,
            NetworkFactory::new(peers.clone()),
            log.clone(),
            sm,
        )
        .await
        .map_err(io::Error::other)?;
        let reads = reads::Reads::new(reads::ReadOptions {
            policy: opts.read_policy,
            lease: Duration::from_millis(opts.read_lease_ms),
            margin: Duration::from_millis(opts.read_lease_margin_ms),
            vote_lease: Duration::from_millis(opts.election_timeout_ms_max),
        });
        tokio::spawn(reads::watch_leadership(
            reads.gate.clone(),
            raft.server_metrics(),
        ));
        Ok(Arc::new(Consensus {
            raft,
            view,
            log,
            peers,
            node_id: opts.node_id,
            reads,
            fault,
        }))
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// A snapshot of Raft's metrics.
    pub fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The local state machine, for reads that accept staleness and for statistics.
    pub fn view(&self) -> &StateView {
        &self.view
    }

    /// Bytes the Raft log takes on disk.
    pub fn log_disk_bytes(&self) -> u64 {
        self.log.disk_bytes()
    }

    /// The first failure to write the Raft log, if there was one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        self.fault.get().cloned()
    }

    /// A fatal error from openraft as a client-safe [`ConsensusError`] (openraft's own text
    /// holds Rust debug syntax, which must never reach a client).
    fn fatal(&self, f: &openraft::error::Fatal<types::TypeConfig>) -> ConsensusError {
        use openraft::error::Fatal;
        match (f, self.fault.get()) {
            (_, Some(fault)) => ConsensusError::StorageFailed(fault.error.clone()),
            (Fatal::StorageError(_), None) => {
                ConsensusError::StorageFailed("storage error (see the node's log)".into())
            }
            (Fatal::Panicked, None) => ConsensusError::Stopped("the Raft core panicked".into()),
            (Fatal::Stopped, None) => ConsensusError::Stopped("shutting down".into()),
        }
    }

    /// Resolve once Raft has stopped by itself (a storage failure or a panic; not a shutdown),
    /// or a storage failure was recorded, with what to log and the exit status. Pending
    /// forever otherwise.
    pub async fn wait_stopped(&self) -> RaftStopped {
        use openraft::error::Fatal;
        let mut rx = self.raft.metrics();
        loop {
            if let Some(fault) = self.fault.get() {
                return RaftStopped {
                    message: format!("Raft stopped on a storage failure: {fault}"),
                    exit_code: EXIT_STORAGE_FAILURE,
                };
            }
            let state = rx.borrow_watched().running_state.clone();
            match state {
                Ok(()) | Err(Fatal::Stopped) => {}
                Err(Fatal::StorageError(e)) => {
                    return RaftStopped {
                        message: format!("Raft stopped on a storage failure: {e}"),
                        exit_code: EXIT_STORAGE_FAILURE,
                    }
                }
                Err(Fatal::Panicked) => {
                    return RaftStopped {
                        message: "the Raft core panicked".into(),
                        exit_code: EXIT_RAFT_STOPPED,
                    }
                }
            }
            // The slot is written from the WAL's flush thread without touching the metrics:
            // look again at least every STORAGE_FAULT_POLL.
            if let Ok(Err(_)) = tokio::time::timeout(STORAGE_FAULT_POLL, rx.changed()).await {
                std::future::pending::<()>().await;
            }
        }
    }

    /// True once this node has a membership (bootstrapped, joined, or restarted with state).
    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// Make this node a single-member cluster. A no-op if it already has state.
    pub async fn bootstrap(&self, addr: NodeAddr) -> Result<(), ConsensusError> {
        let members = BTreeMap::from([(self.node_id, addr)]);
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ConsensusError::Stopped(e.to_string())),
        }
    }

    /// What this node proves its peers with, for the peer server's hello.
    pub(crate) fn peer_auth(&self) -> &crate::transport::PeerAuth {
        self.peers.auth()
    }

    /// The leader's id and addresses, as this node knows them.
    pub fn leader(&self) -> Option<(NodeId, NodeAddr)> {
        let m = self.raft.metrics().borrow_watched().clone();
        let id = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, addr))
    }

    /// Run a batch of commands wherever it must run (here or on the leader), in order, and
    /// return one reply per command. Any write in the batch sends the whole batch through the
    /// log as one entry; a batch of reads runs after one linearizable read barrier.
    pub async fn execute(&self, cmds: Vec<kv::Command>) -> Vec<Reply> {
        let deadline = Instant::now() + ROUTE_DEADLINE;
        let writes = cmds.iter().any(|c| c.is_write());
        let fail = |reply: Reply| vec![reply; cmds.len()];
        if let Some(fault) = self.fault.get() {
            return fail(if writes {
                errors::consensus(&ConsensusError::StorageFailed(fault.error.clone()))
            } else {
                errors::storage_read_refused(&fault.error)
            });
        }
        loop {
            let err = match self.execute_local(&cmds).await {
                Ok(replies) => return replies,
                Err(e) => e,
            };
            match err {
                ConsensusError::NotLeader {
                    leader: Some(leader),
                } if leader != self.node_id => {
                    let routed = if writes {
                        self.forward(leader, &cmds).await
                    } else {
                        self.follower_read(leader, &cmds).await
                    };
                    match routed {
                        Ok(Some(replies)) => return replies,
                        Ok(None) => {} // the hint was stale; wait for news below
                        // Refused at connect (or at the hello): nothing was sent.
                        Err(e)
                            if writes
                                && !matches!(
                                    e.kind(),
                                    io::ErrorKind::ConnectionRefused
                                        | io::ErrorKind::PermissionDenied
                                ) =>
                        {
                            tracing::debug!(error = %e, "forwarding a write failed");
                            return fail(errors::outcome_unknown(
                                "the leader failed or could not be reached while handling the write",
                            ));
                        }
                        Err(e) => tracing::debug!(error = %e, "forward failed"),
                    }
                }
                ConsensusError::NotLeader { .. } | ConsensusError::NoQuorum => {}
                e @ (ConsensusError::OutcomeUnknown(_)
                | ConsensusError::Stopped(_)
                | ConsensusError::StorageFailed(_)
                | ConsensusError::Membership(_)
                | ConsensusError::Behind { .. }) => return fail(errors::consensus(&e)),
            }
            if Instant::now() >= deadline {
                return fail(errors::unavailable(self.metrics().current_leader.is_some()));
            }
            self.wait_for_change(deadline).await;
        }
    }

    /// Run a batch only if this node leads: through the log if any command writes, otherwise
    /// after confirming leadership (lease or ReadIndex, see [`reads`]).
    pub async fn execute_local(&self, cmds: &[kv::Command]) -> Result<Vec<Reply>, ConsensusError> {
        if cmds.iter().any(|c| c.is_write()) {
            self.write(cmds.to_vec()).await
        } else {
            self.leader_read(cmds).await
        }
    }

    async fn write(&self, cmds: Vec<kv::Command>) -> Result<Vec<Reply>, ConsensusError> {
        if let Some(fault) = self.fault.get() {
            return Err(ConsensusError::StorageFailed(fault.error.clone()));
        }
        let entry = types::LogCommand {
            now_ms: wall_clock_ms(),
            cmds,
        };
        match tokio::time::timeout(
            WRITE_TIMEOUT,
            admin::observed(self.raft.client_write(entry)),
        )
        .await
        {
            Err(_) => Err(ConsensusError::OutcomeUnknown(format!(
                "the write was not committed within {WRITE_TIMEOUT:?}"
            ))),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(ConsensusError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)))) => {
                Err(ConsensusError::OutcomeUnknown(
                    "leadership changed before the write committed".into(),
                ))
            }
            Ok(Err(RaftError::APIError(e))) => Err(ConsensusError::Membership(refusal(&e))),
            // Proposed, and then Raft stopped: the followers may have stored and may yet
            // commit the entry.
            Ok(Err(RaftError::Fatal(f))) => match self.fatal(&f) {
                ConsensusError::StorageFailed(why) => Err(ConsensusError::OutcomeUnknown(format!(
                    "this node could not write its Raft log ({why})"
                ))),
                e => Err(e),
            },
        }
    }

    /// Forward a batch to `leader`. `Ok(None)` if that node does not lead after all.
    async fn forward(
        &self,
        leader: NodeId,
        cmds: &[kv::Command],
    ) -> io::Result<Option<Vec<Reply>>> {
        let Some(addr) = self.member_addr(leader) else {
            return Ok(None);
        };
        let client = self.peers.client(leader, &addr.peer_addr, "forward");
        match client
            .call(
                PeerRequest::Forward(Forward::Commands(cmds.to_vec())),
                FORWARD_TIMEOUT,
            )
            .await?
        {
            PeerResponse::Forwarded(ForwardReply::Replies(replies))
                if replies.len() == cmds.len() =>
            {
                Ok(Some(replies))
            }
            PeerResponse::Forwarded(ForwardReply::NotLeader { .. }) => Ok(None),
            PeerResponse::Error(msg) => Err(io::Error::other(msg)),
            other => {
                tracing::warn!(answer = ?other, "unexpected answer to a forward");
                Err(io::Error::other("unexpected answer to a forward"))
            }
        }
    }

    fn member_addr(&self, id: NodeId) -> Option<NodeAddr> {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .get_node(&id)
            .cloned()
    }

    /// Block until Raft's metrics change or `deadline` passes.
    async fn wait_for_change(&self, deadline: Instant) {
        let mut rx = self.raft.metrics();
        let pause = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        let _ = tokio::time::timeout(pause, rx.changed()).await;
    }

    /// Apply a membership change, routed to the leader. On failure the error reply says why.
    pub async fn change_members(&self, change: MemberChange) -> Result<(), Reply> {
        let deadline = Instant::now() + ADD_NODE_TIMEOUT;
        loop {
            match self.change_members_local(change.clone()).await {
                Ok(()) => return Ok(()),
                Err(ConsensusError::NotLeader { leader: Some(l) }) if l != self.node_id => {
                    if let Some(leader_addr) = self.member_addr(l) {
                        let client = self.peers.client(l, &leader_addr.peer_addr, "forward");
                        let req = PeerRequest::Forward(Forward::Members(change.clone()));
                        match client.call(req, ADD_NODE_TIMEOUT).await {
                            Ok(PeerResponse::Forwarded(ForwardReply::Replies(r))) => {
                                return match r.into_iter().next() {
                                    Some(e @ Reply::Error(_)) => Err(e),
                                    _ => Ok(()),
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::debug!(error = %e, "forwarding a membership change failed")
                            }
                        }
                    }
                }
                Err(ConsensusError::NotLeader { .. }) | Err(ConsensusError::NoQuorum) => {}
                Err(e) => return Err(errors::consensus(&e)),
            }
            if Instant::now() >= deadline {
                return Err(errors::unavailable(self.metrics().current_leader.is_some()));
            }
            self.wait_for_change(deadline).await;
        }
    }

    async fn change_members_local(&self, change: MemberChange) -> Result<(), ConsensusError> {
        let map_err = |e: RaftError<types::TypeConfig, ClientWriteError<types::TypeConfig>>| match e
        {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                ConsensusError::NotLeader {
                    leader: f.leader_id,
                }
            }
            RaftError::APIError(e) => ConsensusError::Membership(refusal(&e)),
            RaftError::Fatal(f) => self.fatal(&f),
        };
        let m = self.metrics();
        if m.state != ServerState::Leader {
            return Err(ConsensusError::NotLeader {
                leader: m.current_leader,
            });
        }
        let membership = m.membership_config.membership().clone();
        let is_voter = |id: NodeId| membership.voter_ids().any(|v| v == id);
        let is_member = |id: NodeId| membership.get_node(&id).is_some();
        let not_member =
            |id: NodeId| ConsensusError::Membership(format!("node {id} is not a member"));
        let apply = |members: ChangeMembers<NodeId, NodeAddr>| async move {
            self.raft
                .change_membership(members, false)
                .await
                .map(|_| ())
                .map_err(map_err)
        };
        match change {
            MemberChange::Add { id, addr, learner } => {
                if let Some(existing) = membership.get_node(&id) {
                    if *existing != addr {
                        return Err(ConsensusError::Membership(format!(
                            "node {id} is already a member with different addresses ({existing}); remove it first"
                        )));
                    }
                    if is_voter(id) || learner {
                        return Ok(());
                    }
                }
                if !is_member(id) {
                    // A node that cannot prove the cluster secret could never catch up: say so
                    // now instead of waiting. (One not reachable yet may still start later.)
                    if let Err(e) = self.peers.probe(id, &addr.peer_addr).await {
                        if e.kind() == io::ErrorKind::PermissionDenied {
                            return Err(ConsensusError::Membership(format!(
                                "node {id} at {} failed the cluster secret check: start it with \
                                 the cluster's --cluster-secret-file",
                                addr.peer_addr
                            )));
                        }
                    }
                    // Blocks until the learner has caught up with the leader's log.
                    self.raft
                        .add_learner(id, addr, true)
                        .await
                        .map_err(map_err)?;
                }
                if !learner {
                    apply(ChangeMembers::AddVoterIds(BTreeSet::from([id]))).await?;
                }
            }
            MemberChange::Promote { id } => {
                if !is_member(id) {
                    return Err(not_member(id));
                }
                if !is_voter(id) {
                    apply(ChangeMembers::AddVoterIds(BTreeSet::from([id]))).await?;
                }
            }
            MemberChange::Remove { id } => {
                if !is_member(id) {
                    return Err(not_member(id));
                }
                if is_voter(id) && membership.voter_ids().count() == 1 {
                    return Err(ConsensusError::Membership(
                        "cannot remove the last voter".into(),
                    ));
                }
                if id == self.node_id {
                    // Hand leadership to the most up-to-date other voter first and wait for a
                    // new leader; the caller then retries there.
                    let wait = 2 * self.election_timeout_max();
                    let leader = self.hand_over("removing the leader", wait).await;
                    return Err(ConsensusError::NotLeader { leader });
                }
                let ids = BTreeSet::from([id]);
                if is_voter(id) {
                    apply(ChangeMembers::RemoveVoters(ids)).await?;
                } else {
                    apply(ChangeMembers::RemoveNodes(ids)).await?;
                }
            }
            MemberChange::TransferLeader { id } => {
                if !is_voter(id) {
                    return Err(ConsensusError::Membership(format!(
                        "node {id} is not a voter"
                    )));
                }
                if id != self.node_id {
                    self.raft
                        .trigger()
                        .transfer_leader(id)
                        .await
                        .map_err(|e| self.fatal(&e))?;
                }
            }
        }
        Ok(())
    }

    /// Answer one request from a peer.
    pub async fn handle_peer(&self, req: PeerRequest) -> PeerResponse {
        let fatal = |e: &dyn std::fmt::Display| PeerResponse::Error(e.to_string());
        match req {
            PeerRequest::Append(r) => self
                .raft
                .append_entries(r)
                .await
                .map_or_else(|e| fatal(&e), PeerResponse::Append),
            PeerRequest::Vote(r) => match self.refuse_vote_after_restart(&r) {
                Some(refusal) => PeerResponse::Vote(refusal),
                None => self
                    .raft
                    .vote(r)
                    .await
                    .map_or_else(|e| fatal(&e), PeerResponse::Vote),
            },
            // openraft's pre-vote handler is a real one: it grants only if it would grant the
            // vote (log at least as recent, vote not lower) and no live leader's lease holds
            // (neither a follower's lease from a recent heartbeat nor a leader's quorum lease).
            PeerRequest::PreVote(r) => match self.refuse_vote_after_restart(&r) {
                Some(refusal) => PeerResponse::Vote(refusal),
                None => self
                    .raft
                    .pre_vote(r)
                    .await
                    .map_or_else(|e| fatal(&e), PeerResponse::Vote),
            },
            PeerRequest::TransferLeader(r) => {
                if *r.to_node_id() == self.node_id {
                    crate::counters::TRANSFERS_TO_ME.incr();
                }
                self.raft
                    .handle_transfer_leader(r)
                    .await
                    .map_or_else(|e| fatal(&e), PeerResponse::TransferLeader)
            }
            PeerRequest::SnapshotChunk(_) => {
                PeerResponse::Error("snapshot chunks are handled by the peer server".into())
            }
            PeerRequest::Forward(Forward::Commands(cmds)) => {
                match self.execute_local(&cmds).await {
                    Ok(replies) => PeerResponse::Forwarded(ForwardReply::Replies(replies)),
                    Err(ConsensusError::NotLeader { leader }) => {
                        PeerResponse::Forwarded(ForwardReply::NotLeader { leader })
                    }
                    // Nothing was proposed: the forwarding node waits for another leader.
                    Err(ConsensusError::NoQuorum | ConsensusError::StorageFailed(_)) => {
                        PeerResponse::Forwarded(ForwardReply::NotLeader { leader: None })
                    }
                    Err(e) => {
                        PeerResponse::Forwarded(ForwardReply::Replies(vec![
                            errors::consensus(&e);
                            cmds.len()
                        ]))
                    }
                }
            }
            PeerRequest::Forward(Forward::ReadIndex) => match self.serve_read_index().await {
                Ok((index, leader_now_ms)) => PeerResponse::Forwarded(ForwardReply::ReadIndex {
                    index,
                    leader_now_ms,
                }),
                Err(ConsensusError::NotLeader { leader }) => {
                    PeerResponse::Forwarded(ForwardReply::NotLeader { leader })
                }
                Err(
                    ConsensusError::NoQuorum
                    | ConsensusError::StorageFailed(_)
                    | ConsensusError::Stopped(_),
                ) => PeerResponse::Forwarded(ForwardReply::NotLeader { leader: None }),
                Err(e) => PeerResponse::Error(e.to_string()),
            },
            PeerRequest::Forward(Forward::Members(change)) => {
                match self.change_members_local(change).await {
                    Ok(()) => PeerResponse::Forwarded(ForwardReply::Replies(vec![Reply::ok()])),
                    Err(ConsensusError::NotLeader { leader }) => {
                        PeerResponse::Forwarded(ForwardReply::NotLeader { leader })
                    }
                    Err(e) => {
                        PeerResponse::Forwarded(ForwardReply::Replies(vec![errors::consensus(&e)]))
                    }
                }
            }
        }
    }

    /// Install a snapshot that arrived in full at `path`.
    pub async fn install_snapshot(
        &self,
        vote: types::Vote,
        meta: types::SnapshotMeta,
        path: PathBuf,
    ) -> PeerResponse {
        let file = match snapshot_file::SnapshotFile::open(path) {
            Ok(f) => f,
            Err(e) => return PeerResponse::Error(format!("cannot open received snapshot: {e}")),
        };
        let snapshot = openraft::alias::SnapshotOf::<types::TypeConfig, _> {
            meta,
            snapshot: file,
        };
        match self.raft.install_full_snapshot(vote, snapshot).await {
            Ok(r) => PeerResponse::Snapshot(r),
            Err(e) => PeerResponse::Error(e.to_string()),
        }
    }

    /// If this node leads and keys are due, propose one expiry entry. Returns keys deleted.
    pub async fn expire_due(&self) -> Option<i64> {
        if !self.raft.is_leader() {
            return None;
        }
        let (next, clock) = self.view.expiry_state();
        let due = next? <= wall_clock_ms().max(clock);
        if !due {
            return None;
        }
        match self
            .write(vec![kv::Command::ExpireDue {
                max_keys: EXPIRE_BATCH_KEYS,
            }])
            .await
            .as_deref()
        {
            Ok([Reply::Integer(n)]) => Some(*n),
            _ => None,
        }
    }

    /// Test-only: simulate a power cut of this node (see [`power_loss`]); never returns.
    pub fn simulate_power_loss(&self) -> ! {
        self.log.simulate_power_loss()
    }

    /// Stop Raft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
