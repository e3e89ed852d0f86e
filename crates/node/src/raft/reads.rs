//! The read paths: leader lease, ReadIndex, follower read index, and local (`READONLY`) reads.
//!
//! A read-only batch never goes through the log. Where it is answered depends on the node:
//!
//! - **Leader, lease.** With `read_policy = lease`, the leader answers from its state machine
//!   without any round trip while its lease is valid: a quorum acknowledged an AppendEntries or
//!   heartbeat that the leader *sent* less than `read_lease_ms` ago (openraft records the send
//!   time; we ask for it with [`LinearizerOption`] `max_quorum_ack_age = lease`, no wait). A
//!   follower that acknowledged it refuses to vote for anyone else for `election_timeout_max`
//!   after it *received* it, and the lease is validated to be shorter than
//!   `election_timeout_min - read_lease_margin_ms`, so no other leader can exist while the lease
//!   is valid as long as clocks drift apart by less than the margin over one lease.
//! - **New leader.** A leader serves no lease read until `read_lease_ms + margin` after it took
//!   office in its term ([`LeaseGate`]): the longest an old leader's lease could still run. It
//!   uses ReadIndex meanwhile, and it must also have applied its own no-op (openraft's read
//!   index is at least the no-op's index), so everything committed under an old leader is
//!   visible.
//! - **Leader, ReadIndex.** Otherwise (policy `readindex`, lease not yet valid, or lease lost)
//!   the leader confirms with a quorum heartbeat round, then serves once applied up to the read
//!   index. A leader cut off from the majority therefore stops answering once its lease runs
//!   out: the round fails and the client gets `-TRYAGAIN`/`-CLUSTERDOWN`, never a stale value.
//! - **Follower.** It asks the leader for a read index (`Forward::ReadIndex`, sent by the
//!   cluster layer's router; the leader confirms by lease or round as above and answers with
//!   [`Consensus::serve_read_index`]), waits up to [`FOLLOWER_APPLY_WAIT`] until it has applied
//!   that far, then answers locally at the leader's time carried in the answer
//!   ([`Consensus::read_at`]). Still linearizable; the read load spreads over the followers.
//! - **Local.** `READONLY` connections (and `--unsafe-stale-reads`) read this node's state
//!   machine with no check at all. Possibly stale.
//!
//! Restarts: a node forgets, when it restarts, which leader it promised not to vote against
//! (openraft keeps that lease in memory only). With lease reads on, a node therefore refuses
//! every vote and pre-vote that is not a leadership transfer for `election_timeout_max` after
//! it starts ([`Reads::refuses_votes`]), so a quick restart cannot help elect a second leader
//! while the old one's lease runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::{LinearizableReadError, RaftError};
use openraft::raft::linearizable_read::{Linearizer, LinearizerOption};
use openraft::ServerState;
use resp::Reply;
use tokio::time::Instant;

use super::error::ConsensusError;
use super::types::{RaftMetrics, RaftServerMetrics, TypeConfig};
use super::Consensus;
use crate::clock::wall_clock_ms;
use crate::config::ReadPolicy;
pub use crate::limits::FOLLOWER_APPLY_WAIT;
use crate::limits::WRITE_TIMEOUT;

/// Read settings, from the node's config.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Lease or ReadIndex.
    pub policy: ReadPolicy,
    /// How long a quorum acknowledgement keeps the lease, from the time the acknowledged
    /// message was sent.
    pub lease: Duration,
    /// Allowance for clock drift between nodes over one lease.
    pub margin: Duration,
    /// How long a follower keeps refusing votes after a leader's heartbeat (openraft's
    /// follower-side lease, `election_timeout_max`); also how long a restarted node refuses votes.
    pub vote_lease: Duration,
}

/// The path that answered a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    /// On the leader, within its lease.
    Lease,
    /// On the leader, after a ReadIndex round.
    ReadIndex,
    /// On a follower, after the leader gave it a read index.
    FollowerReadIndex,
    /// Locally with no check (`READONLY`, `--unsafe-stale-reads`).
    Local,
}

/// Commands answered on each read path since start.
#[derive(Debug, Default)]
pub struct ReadCounters {
    lease: AtomicU64,
    read_index: AtomicU64,
    follower: AtomicU64,
    local: AtomicU64,
}

impl ReadCounters {
    fn counter(&self, path: ReadPath) -> &AtomicU64 {
        match path {
            ReadPath::Lease => &self.lease,
            ReadPath::ReadIndex => &self.read_index,
            ReadPath::FollowerReadIndex => &self.follower,
            ReadPath::Local => &self.local,
        }
    }

    /// Count `n` commands answered on `path`.
    pub fn add(&self, path: ReadPath, n: usize) {
        self.counter(path).fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Commands answered on `path` since start.
    pub fn get(&self, path: ReadPath) -> u64 {
        self.counter(path).load(Ordering::Relaxed)
    }
}

/// When a new leader may start serving lease reads: `wait` after it took office in its term.
#[derive(Debug)]
pub struct LeaseGate {
    wait: Duration,
    since: Mutex<Option<(u64, Instant)>>,
}

impl LeaseGate {
    /// A gate that opens `wait` after each new term of leadership.
    pub fn new(wait: Duration) -> LeaseGate {
        LeaseGate {
            wait,
            since: Mutex::new(None),
        }
    }

    /// Note this node's leadership at `now`: `Some(term)` while it leads in `term`, `None`
    /// otherwise. The first sighting of a term starts its wait.
    pub fn observe(&self, leading: Option<u64>, now: Instant) {
        let mut since = self.since.lock().expect("lease gate lock poisoned");
        match leading {
            None => *since = None,
            Some(term) if since.is_none_or(|(t, _)| t != term) => *since = Some((term, now)),
            Some(_) => {}
        }
    }

    /// True if lease reads are allowed at `now` for a leader in `term`.
    pub fn allows(&self, term: u64, now: Instant) -> bool {
        let since = *self.since.lock().expect("lease gate lock poisoned");
        since.is_some_and(|(t, at)| t == term && now >= at + self.wait)
    }
}

/// The read-path state of a node.
#[derive(Debug)]
pub struct Reads {
    /// Settings.
    pub opts: ReadOptions,
    /// Per-path counters.
    pub counters: ReadCounters,
    /// The new-leader wait.
    pub gate: Arc<LeaseGate>,
    /// When this process started Raft.
    started: Instant,
}

impl Reads {
    /// Read state for a node starting now.
    pub fn new(opts: ReadOptions) -> Reads {
        Reads {
            opts,
            counters: ReadCounters::default(),
            gate: Arc::new(LeaseGate::new(opts.lease + opts.margin)),
            started: Instant::now(),
        }
    }

    /// True while this node must refuse (pre-)votes because it restarted less than a vote lease
    /// ago and lease reads are on (see the module docs).
    pub fn refuses_votes(&self, now: Instant) -> bool {
        self.opts.policy == ReadPolicy::Lease
            && now.saturating_duration_since(self.started) < self.opts.vote_lease
    }
}

/// A node's read counters and settings, in plain data, for `INFO`.
#[derive(Clone, Debug)]
pub struct ReadStats {
    /// The configured policy.
    pub policy: ReadPolicy,
    /// Lease length, in milliseconds.
    pub lease_ms: u64,
    /// Clock-drift margin, in milliseconds.
    pub margin_ms: u64,
    /// Whether this node would answer a read from its lease right now (leaders only).
    pub lease_valid: bool,
    /// Commands answered from the lease.
    pub lease: u64,
    /// Commands answered after a ReadIndex round on this node (as leader).
    pub read_index: u64,
    /// Commands answered on this node as a follower, after the leader's read index.
    pub follower_read_index: u64,
    /// Commands answered locally without any check.
    pub local: u64,
}

/// This node's term if it leads.
fn leading_term(m: &RaftMetrics) -> Option<u64> {
    (m.state == ServerState::Leader).then_some(m.current_term)
}

/// Keep `gate` informed of this node's leadership until Raft stops. Watches openraft's server
/// metrics, which change only with the vote, role, leader or membership (the full metrics
/// change with every append and apply).
pub(super) async fn watch_leadership(
    gate: Arc<LeaseGate>,
    mut rx: openraft::type_config::alias::WatchReceiverOf<TypeConfig, RaftServerMetrics>,
) {
    loop {
        let term = {
            let m = rx.borrow_watched();
            (m.state == ServerState::Leader).then_some(m.vote.leader_id().term)
        };
        gate.observe(term, Instant::now());
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn read_error(
    consensus: &Consensus,
    e: RaftError<TypeConfig, LinearizableReadError<TypeConfig>>,
) -> ConsensusError {
    match e {
        RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => {
            ConsensusError::NotLeader {
                leader: f.leader_id,
            }
        }
        RaftError::APIError(LinearizableReadError::QuorumNotEnough(_)) => ConsensusError::NoQuorum,
        RaftError::Fatal(f) => consensus.fatal(&f),
    }
}

impl Consensus {
    /// Confirm this node leads, by lease when the policy and the lease allow it, by a ReadIndex
    /// round otherwise. Returns the read index to apply up to and how it was confirmed.
    async fn linearize(&self) -> Result<(Linearizer<TypeConfig>, ReadPath), ConsensusError> {
        let reads = &self.reads;
        if reads.opts.policy == ReadPolicy::Lease {
            let term = leading_term(&self.raft.metrics().borrow_watched());
            if let Some(term) = term {
                let now = Instant::now();
                reads.gate.observe(Some(term), now);
                if reads.gate.allows(term, now) {
                    let option = LinearizerOption::new(Some(reads.opts.lease), false)
                        .with_wait_timeout(Duration::ZERO);
                    match self.raft.get_read_linearizer(option).await {
                        // The term is checked again: leadership may have moved on and come back
                        // between the gate and openraft's check.
                        Ok(l) if l.read_log_id().committed_leader_id().term == term => {
                            return Ok((l, ReadPath::Lease));
                        }
                        Ok(_)
                        | Err(RaftError::APIError(LinearizableReadError::QuorumNotEnough(_))) => {}
                        Err(e) => return Err(read_error(self, e)),
                    }
                }
            }
        }
        let round = self
            .raft
            .get_read_linearizer(openraft::ReadPolicy::ReadIndex);
        match tokio::time::timeout(WRITE_TIMEOUT, round).await {
            Err(_) => Err(ConsensusError::NoQuorum),
            Ok(r) => r
                .map(|l| (l, ReadPath::ReadIndex))
                .map_err(|e| read_error(self, e)),
        }
    }

    /// Wait until this node has applied up to `index`, at most `max`.
    async fn await_applied(&self, index: u64, max: Duration) -> Result<(), ConsensusError> {
        let applied = self.raft.metrics().borrow_watched().last_applied;
        if applied.is_some_and(|l| l.index() >= index) {
            return Ok(());
        }
        match self
            .raft
            .wait(Some(max))
            .applied_index_at_least(Some(index), "read index")
            .await
        {
            Ok(_) => Ok(()),
            Err(openraft::metrics::WaitError::Timeout(..)) => {
                Err(ConsensusError::Behind { index, waited: max })
            }
            Err(e) => {
                tracing::debug!(error = %e, "waiting for the applied index failed");
                Err(ConsensusError::Stopped("Raft stopped".into()))
            }
        }
    }

    /// A read-only batch on this node as leader: confirm, wait for the state machine to reach
    /// the read index, answer at the leader's wall clock.
    pub async fn leader_read(&self, cmds: &[kv::Command]) -> Result<Vec<Reply>, ConsensusError> {
        let (linearizer, path) = self.linearize().await?;
        self.await_applied(linearizer.read_log_id().index(), WRITE_TIMEOUT)
            .await?;
        self.reads.counters.add(path, cmds.len());
        Ok(self.view.query(wall_clock_ms(), cmds))
    }

    /// The leader's side of a follower read: confirm leadership, return the read index and the
    /// leader's time.
    pub async fn serve_read_index(&self) -> Result<(u64, u64), ConsensusError> {
        let (linearizer, _) = self.linearize().await?;
        let now = wall_clock_ms().max(self.view.expiry_state().1);
        Ok((linearizer.read_log_id().index(), now))
    }

    /// A read-only batch on a follower, once the leader gave it `index` and its time
    /// `leader_now_ms`: wait up to [`FOLLOWER_APPLY_WAIT`] to apply that far, then answer
    /// locally at the leader's time.
    pub async fn read_at(
        &self,
        index: u64,
        leader_now_ms: u64,
        cmds: &[kv::Command],
    ) -> Result<Vec<Reply>, ConsensusError> {
        self.await_applied(index, FOLLOWER_APPLY_WAIT).await?;
        self.reads
            .counters
            .add(ReadPath::FollowerReadIndex, cmds.len());
        Ok(self.view.query(leader_now_ms, cmds))
    }

    /// Answer a read-only batch from this node's state machine with no check (`READONLY`,
    /// `--unsafe-stale-reads`). May be stale.
    pub fn local_read(&self, cmds: &[kv::Command]) -> Vec<Reply> {
        self.reads.counters.add(ReadPath::Local, cmds.len());
        self.view.query(self.local_now_ms(), cmds)
    }

    /// The time this node judges TTLs at when it has nothing better: its own wall clock if it
    /// leads (the leader's clock is the authority), otherwise its estimate of the leader's.
    pub fn local_now_ms(&self) -> u64 {
        if self.raft.is_leader() {
            wall_clock_ms().max(self.view.expiry_state().1)
        } else {
            self.view.leader_now_ms()
        }
    }

    /// Read settings and counters, for `INFO`.
    pub fn read_stats(&self) -> ReadStats {
        let reads = &self.reads;
        let lease_valid = {
            let m = self.raft.metrics().borrow_watched().clone();
            let single = m.membership_config.membership().voter_ids().count() == 1;
            let fresh = m
                .last_quorum_acked
                .as_ref()
                .is_some_and(|acked| openraft::Instant::elapsed(&**acked) < reads.opts.lease);
            leading_term(&m).is_some_and(|t| reads.gate.allows(t, Instant::now()))
                && (single || fresh)
                && reads.opts.policy == ReadPolicy::Lease
        };
        let c = &reads.counters;
        ReadStats {
            policy: reads.opts.policy,
            lease_ms: reads.opts.lease.as_millis() as u64,
            margin_ms: reads.opts.margin.as_millis() as u64,
            lease_valid,
            lease: c.get(ReadPath::Lease),
            read_index: c.get(ReadPath::ReadIndex),
            follower_read_index: c.get(ReadPath::FollowerReadIndex),
            local: c.get(ReadPath::Local),
        }
    }

    /// If this node must refuse `req` (a vote or pre-vote) because it restarted less than a vote
    /// lease ago, the refusal to send.
    pub(super) fn refuse_vote_after_restart(
        &self,
        req: &openraft::raft::VoteRequest<TypeConfig>,
    ) -> Option<openraft::raft::VoteResponse<TypeConfig>> {
        if req.leadership_transfer || !self.reads.refuses_votes(Instant::now()) {
            return None;
        }
        tracing::info!(candidate = %req.vote, "refusing a vote: restarted less than a vote lease ago");
        let vote = self.raft.metrics().borrow_watched().vote;
        Some(openraft::raft::VoteResponse::new(vote, None, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_leader_waits_out_the_old_lease_before_lease_reads() {
        let gate = LeaseGate::new(ms(350));
        let t0 = Instant::now();
        assert!(!gate.allows(5, t0), "never before leadership is seen");
        gate.observe(Some(5), t0);
        assert!(!gate.allows(5, t0));
        assert!(!gate.allows(5, t0 + ms(349)));
        // Seeing the same term again does not restart the wait.
        gate.observe(Some(5), t0 + ms(349));
        assert!(gate.allows(5, t0 + ms(350)));
        assert!(!gate.allows(6, t0 + ms(350)), "a term not seen yet");
        // Losing leadership closes the gate; a new term waits again from its start.
        gate.observe(None, t0 + ms(400));
        assert!(!gate.allows(5, t0 + ms(400)));
        let t1 = t0 + ms(500);
        gate.observe(Some(7), t1);
        assert!(!gate.allows(7, t1 + ms(200)));
        assert!(gate.allows(7, t1 + ms(350)));
    }

    #[test]
    fn a_restarted_node_refuses_votes_for_one_vote_lease_with_lease_reads_on() {
        let opts = ReadOptions {
            policy: ReadPolicy::Lease,
            lease: ms(250),
            margin: ms(100),
            vote_lease: ms(1000),
        };
        let reads = Reads::new(opts);
        let start = reads.started;
        assert!(reads.refuses_votes(start));
        assert!(reads.refuses_votes(start + ms(999)));
        assert!(!reads.refuses_votes(start + ms(1000)));
        let read_index = Reads::new(ReadOptions {
            policy: ReadPolicy::ReadIndex,
            ..opts
        });
        assert!(!read_index.refuses_votes(read_index.started));
    }

    #[test]
    fn counters_count_commands_per_path() {
        let c = ReadCounters::default();
        c.add(ReadPath::Lease, 3);
        c.add(ReadPath::Local, 1);
        c.add(ReadPath::Lease, 2);
        assert_eq!(c.get(ReadPath::Lease), 5);
        assert_eq!(c.get(ReadPath::Local), 1);
        assert_eq!(c.get(ReadPath::ReadIndex), 0);
        assert_eq!(c.get(ReadPath::FollowerReadIndex), 0);
    }
}
