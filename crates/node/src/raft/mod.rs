//! Consensus: the one place the node touches openraft.
//!
//! [`Consensus`] owns the Raft instance, its log store and state machine, and offers the rest of
//! the node a small typed interface in plain data, with no RESP text and no openraft type:
//!
//! - [`Consensus::propose`]: put a batch of commands through the log and get its applied result
//!   (only on the leader);
//! - [`Consensus::leader_read`] / [`Consensus::serve_read_index`]: a linearizable read barrier
//!   on the leader (lease or ReadIndex, see [`reads`]), then the read, or just the read index;
//! - [`Consensus::read_at`]: wait until applied up to an index, then query the state machine;
//!   [`Consensus::local_read`] queries it with no check;
//! - [`Consensus::add_learner`], [`Consensus::add_voter`], [`Consensus::remove_member`],
//!   [`Consensus::transfer_leader`]: one membership step each;
//! - [`Consensus::handle_raft_rpc`], [`Consensus::install_snapshot`]: a peer's Raft message;
//! - [`Consensus::status`]: this node's Raft state as a [`RaftStatus`].
//!
//! Failures are [`ConsensusError`]s ([`error`]). Deciding where a command runs (here, forwarded
//! to the leader, or read on a follower), membership plans and leadership hand-offs are the
//! cluster layer's (`crate::cluster`), which uses only this interface; an openraft upgrade
//! touches this module alone.
//!
//! # Time
//! The leader stamps each write with its wall clock ([`wall_clock_ms`]) when it proposes it; the
//! state machine applies it at that time on every replica. Reads are evaluated at the leader's
//! time: its wall clock on the leader, the time in the leader's read-index answer on a follower,
//! and the leader clock's estimate ([`crate::clock::leader`]) for local reads; never earlier
//! than the latest applied stamp.
//!
//! # Outcomes
//! A write is acknowledged only after it is committed and applied. If leadership changes after
//! the entry was proposed, or the leader cannot reach a quorum within [`WRITE_TIMEOUT`], the
//! outcome is unknown ([`ConsensusError::OutcomeUnknown`]), never success.
//!
//! # Storage failures
//! Once the log store recorded a failed write ([`storage_fault`]), nothing more is proposed:
//! a write gets [`ConsensusError::StorageFailed`], and a stopped Raft cannot confirm leadership,
//! so no read here stays linearizable. A write that was already in flight when the log failed
//! may still commit (the followers may have stored it), so its outcome is unknown.
//! [`Consensus::wait_stopped`] tells the node to exit.

pub mod compaction;
pub mod error;
pub mod log_store;
pub mod network;
pub mod power_loss;
pub mod proposer;
pub mod reads;
pub mod snapshot_file;
pub mod state_log;
pub mod state_machine;
pub mod status;
pub mod storage_fault;
pub mod types;
pub mod wal_types;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::ChangeMembers;
use resp::Reply;

use crate::clock::wall_clock_ms;
use crate::ids::{NodeAddr, NodeId};
use crate::limits::{
    EXPIRE_BATCH_KEYS, LOG_KEPT_BEHIND_SNAPSHOT, MAX_APPEND_ENTRIES, STORAGE_FAULT_POLL,
    WRITE_TIMEOUT,
};
use crate::transport::peers::Peers;
use crate::wire::{PeerRequest, PeerResponse, SnapshotChunk};
pub use error::ConsensusError;
use log_store::LogStore;
use network::NetworkFactory;
use state_machine::{StateMachine, StateView};
pub use status::{MembershipView, RaftStatus, Role};
use storage_fault::FaultSlot;
pub use storage_fault::{StorageFault, EXIT_RAFT_STOPPED, EXIT_STORAGE_FAILURE};

/// The Raft handle type.
type Raft = openraft::Raft<types::TypeConfig, StateMachine>;

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
}

/// The node's openraft glue (see the module docs). Shared behind an `Arc`.
pub struct Consensus {
    raft: Raft,
    view: StateView,
    log: LogStore,
    node_id: NodeId,
    reads: reads::Reads,
    fault: FaultSlot,
    proposer: proposer::Proposer,
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

impl Consensus {
    /// Open storage in `opts.data_dir` and start Raft, talking to peers through `peers`. Does
    /// not bootstrap or join.
    pub async fn start(opts: &RaftOptions, peers: Peers) -> io::Result<Arc<Consensus>> {
        let log = LogStore::open(&opts.data_dir.join("raft-log"), opts.fsync)?;
        let fault = log.fault_slot();
        let sm = StateMachine::open(opts.data_dir.join("snapshots"))?;
        let view = sm.view();
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
        let proposer = {
            let (raft, fault) = (raft.clone(), fault.clone());
            proposer::Proposer::start(Arc::new(move |cmds| {
                let (raft, fault) = (raft.clone(), fault.clone());
                Box::pin(async move { write_entry(&raft, &fault, cmds).await })
            }))
        };
        Ok(Arc::new(Consensus {
            raft,
            view,
            log,
            node_id: opts.node_id,
            reads,
            fault,
            proposer,
        }))
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The local state machine, for reads that accept staleness and for statistics.
    pub fn view(&self) -> &StateView {
        &self.view
    }

    /// Bytes the Raft log takes on disk.
    pub fn log_disk_bytes(&self) -> u64 {
        self.log.disk_bytes()
    }

    /// The Raft log's payload cache (entries, bytes, hits and misses).
    pub fn log_cache_stat(&self) -> log_store::LogCacheStat {
        self.log.cache_stat()
    }

    /// The first failure to write the Raft log, if there was one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        self.fault.get().cloned()
    }

    /// A fatal error from openraft as a client-safe [`ConsensusError`] (openraft's own text
    /// holds Rust debug syntax, which must never reach a client).
    fn fatal(&self, f: &openraft::error::Fatal<types::TypeConfig>) -> ConsensusError {
        fatal_error(f, &self.fault)
    }

    /// Resolve once Raft has stopped by itself (a storage failure or a panic; not a shutdown),
    /// or a storage failure was recorded, with what to log and the exit status. Pending
    /// forever otherwise.
    pub async fn wait_stopped(&self) -> RaftStopped {
        use openraft::error::Fatal;
        // Polled, not woken by `rx.changed()`: openraft's metrics change several times per log
        // entry, and each change woke this future's thread (the process's main thread) to find
        // Raft still running, a thread wake-up per change on every node under load.
        let rx = self.raft.metrics();
        let mut poll = tokio::time::interval(STORAGE_FAULT_POLL);
        loop {
            poll.tick().await;
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

    /// Put a batch of commands through the log and return one reply per command once it is
    /// committed and applied. Batches proposed meanwhile by other connections may share its log
    /// entry ([`proposer`]); its commands stay together and in order.
    pub async fn propose(&self, cmds: Vec<kv::Command>) -> Result<Vec<Reply>, ConsensusError> {
        if let Some(fault) = self.fault.get() {
            return Err(ConsensusError::StorageFailed(fault.error.clone()));
        }
        self.proposer.propose(cmds).await
    }

    /// A membership change through openraft, with its refusals in plain words.
    fn membership_error(
        &self,
        e: RaftError<types::TypeConfig, ClientWriteError<types::TypeConfig>>,
    ) -> ConsensusError {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                ConsensusError::NotLeader {
                    leader: f.leader_id,
                }
            }
            RaftError::APIError(e) => ConsensusError::Membership(refusal(&e)),
            RaftError::Fatal(f) => self.fatal(&f),
        }
    }

    /// Add `id` as a learner; blocks until it has caught up with the leader's log.
    pub async fn add_learner(&self, id: NodeId, addr: NodeAddr) -> Result<(), ConsensusError> {
        self.raft
            .add_learner(id, addr, true)
            .await
            .map(|_| ())
            .map_err(|e| self.membership_error(e))
    }

    /// Make learner `id` a voter.
    pub async fn add_voter(&self, id: NodeId) -> Result<(), ConsensusError> {
        self.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
    }

    /// Remove member `id` (a voter if `voter`, else a learner).
    pub async fn remove_member(&self, id: NodeId, voter: bool) -> Result<(), ConsensusError> {
        let ids = BTreeSet::from([id]);
        self.change_membership(if voter {
            ChangeMembers::RemoveVoters(ids)
        } else {
            ChangeMembers::RemoveNodes(ids)
        })
        .await
    }

    async fn change_membership(
        &self,
        members: ChangeMembers<NodeId, NodeAddr>,
    ) -> Result<(), ConsensusError> {
        self.raft
            .change_membership(members, false)
            .await
            .map(|_| ())
            .map_err(|e| self.membership_error(e))
    }

    /// Ask this leader's Raft to hand leadership to voter `id`.
    pub async fn transfer_leader(&self, id: NodeId) -> Result<(), ConsensusError> {
        self.raft
            .trigger()
            .transfer_leader(id)
            .await
            .map_err(|e| self.fatal(&e))
    }

    /// Ask Raft to build a snapshot of what is applied now and purge the log behind it (no-op
    /// while one is being built).
    pub async fn trigger_snapshot(&self) -> Result<(), ConsensusError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| self.fatal(&e))
    }

    /// Answer one Raft message from a peer (AppendEntries, votes, leadership transfer). Any
    /// other request is answered with an error: the cluster layer handles those.
    pub async fn handle_raft_rpc(&self, req: PeerRequest) -> PeerResponse {
        let fatal = |e: &dyn std::fmt::Display| PeerResponse::Error(e.to_string());
        match req {
            PeerRequest::Append(r) => {
                // Heartbeats (no entries) are not a write's stage.
                let timed = (!r.entries.is_empty()).then(std::time::Instant::now);
                let response = self.raft.append_entries(r).await;
                if let Some(started) = timed {
                    crate::metrics::record_stage(crate::metrics::Stage::Append, started.elapsed());
                }
                response.map_or_else(|e| fatal(&e), PeerResponse::Append)
            }
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
            PeerRequest::Forward(_) => {
                PeerResponse::Error("forwarded requests are handled by the cluster layer".into())
            }
        }
    }

    /// Install a snapshot that arrived in full at `path`; `last` is its final chunk (with the
    /// sender's vote and the snapshot's metadata).
    pub async fn install_snapshot(&self, last: SnapshotChunk, path: PathBuf) -> PeerResponse {
        let file = match snapshot_file::SnapshotFile::open(path) {
            Ok(f) => f,
            Err(e) => return PeerResponse::Error(format!("cannot open received snapshot: {e}")),
        };
        let snapshot = openraft::alias::SnapshotOf::<types::TypeConfig, _> {
            meta: last.meta,
            snapshot: file,
        };
        match self.raft.install_full_snapshot(last.vote, snapshot).await {
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
            .propose(vec![kv::Command::ExpireDue {
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

    /// The upper bound of the election timeout, from Raft's running config.
    pub fn election_timeout_max(&self) -> Duration {
        Duration::from_millis(self.raft.config().election_timeout_max)
    }

    /// Bytes taken by snapshot files (a shorthand for status reporting).
    pub fn snapshot_disk_bytes(&self) -> u64 {
        self.view.snapshot_disk_bytes()
    }
}

/// A fatal error from openraft as a client-safe [`ConsensusError`] (openraft's own text holds
/// Rust debug syntax, which must never reach a client).
fn fatal_error(f: &openraft::error::Fatal<types::TypeConfig>, fault: &FaultSlot) -> ConsensusError {
    use openraft::error::Fatal;
    match (f, fault.get()) {
        (_, Some(fault)) => ConsensusError::StorageFailed(fault.error.clone()),
        (Fatal::StorageError(_), None) => {
            ConsensusError::StorageFailed("storage error (see the node's log)".into())
        }
        (Fatal::Panicked, None) => ConsensusError::Stopped("the Raft core panicked".into()),
        (Fatal::Stopped, None) => ConsensusError::Stopped("shutting down".into()),
    }
}

/// Put one gathered entry through Raft, stamped with this leader's wall clock, and return one
/// reply per command once it is committed and applied.
async fn write_entry(
    raft: &Raft,
    fault: &FaultSlot,
    cmds: Vec<kv::Command>,
) -> Result<Vec<Reply>, ConsensusError> {
    let entry = types::LogCommand {
        now_ms: wall_clock_ms(),
        cmds: cmds.into(),
    };
    match tokio::time::timeout(WRITE_TIMEOUT, observed(raft.client_write(entry))).await {
        Err(_) => Err(ConsensusError::OutcomeUnknown(format!(
            "the write was not committed within {WRITE_TIMEOUT:?}"
        ))),
        Ok(Ok(resp)) => Ok(resp.data),
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
            Err(ConsensusError::NotLeader {
                leader: f.leader_id,
            })
        }
        Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)))) => Err(
            ConsensusError::OutcomeUnknown("leadership changed before the write committed".into()),
        ),
        Ok(Err(RaftError::APIError(e))) => Err(ConsensusError::Membership(refusal(&e))),
        // Raft stopped on a storage failure. A leader may have proposed the entry, which the
        // followers may have stored and may yet commit; a follower never proposes, so its write
        // was refused before it went anywhere (the race between the storage-fault check before
        // proposing and the failure itself).
        Ok(Err(RaftError::Fatal(f))) => match fatal_error(&f, fault) {
            ConsensusError::StorageFailed(why) if was_leader(raft) => {
                Err(ConsensusError::OutcomeUnknown(format!(
                    "this node could not write its Raft log ({why})"
                )))
            }
            e => Err(e),
        },
    }
}

/// True if this node's Raft, as it last reported, was the leader.
fn was_leader(raft: &Raft) -> bool {
    let metrics = raft.metrics();
    let metrics = metrics.borrow_watched();
    metrics.current_leader == Some(metrics.id)
}

/// Run a client write and count its outcome (a write dropped by a timeout counts as failed). A
/// write this node refused for not leading was never proposed here and is not counted (the
/// leader it is forwarded to counts it).
async fn observed<T>(
    write: impl std::future::Future<
        Output = Result<T, RaftError<types::TypeConfig, ClientWriteError<types::TypeConfig>>>,
    >,
) -> Result<T, RaftError<types::TypeConfig, ClientWriteError<types::TypeConfig>>> {
    struct Pending(bool);
    impl Drop for Pending {
        fn drop(&mut self) {
            if self.0 {
                crate::metrics::record_proposal(false);
            }
        }
    }
    let mut pending = Pending(true);
    let result = write.await;
    pending.0 = false;
    if !matches!(
        result,
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))
    ) {
        crate::metrics::record_proposal(result.is_ok());
    }
    result
}
