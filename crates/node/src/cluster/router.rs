//! Routing: where a batch of client commands runs, decided from [`crate::raft::Consensus::status`].
//!
//! [`Cluster::execute`] is the whole path of a client command once the connection has parsed
//! and batched it:
//!
//! 1. If this node's Raft log failed, refuse at once (a write: nothing was proposed; a read:
//!    no linearizable read is possible here).
//! 2. Try it here ([`Cluster::execute_local`]): a write through the log as one entry
//!    ([`crate::raft::Consensus::propose`]), a read-only batch after the leader's read barrier
//!    ([`crate::raft::Consensus::leader_read`]). This works only on the leader.
//! 3. Not the leader, and a leader is known: forward a write to it (`Forward::Commands`; the
//!    leader runs it with `execute_local` and never forwards again, so a stale hint cannot make
//!    a loop), or ask it for a read index (`Forward::ReadIndex`) and answer the read here once
//!    applied that far ([`crate::raft::Consensus::read_at`]).
//! 4. No leader known, the hint was stale, or the leader had no quorum: wait for Raft's state to
//!    change and try again, until [`ROUTE_DEADLINE`]; then fail as unavailable.
//!
//! Steps 3 and 4 are decided by `next_step`, a pure function of the local failure, and a
//! forward's fate by `maybe_delivered`; both are unit-tested.
//!
//! Past `maxmemory` ([`crate::memory`]), the leader refuses each command of a batch that may
//! grow memory with `-OOM` and runs the rest; a transaction (a batch that starts with EXEC's
//! WATCH guard) is refused whole, so EXEC answers `-OOM` as in Redis. The plan is `memory_plan`,
//! a pure function. Only the leader refuses, so every node answers alike.
//!
//! A command error from the state machine is a normal reply. A forwarded write that was sent
//! and then lost (the leader failed or the link broke) has an unknown outcome and is never
//! retried; one refused at connect (nothing was sent) is.

use std::io;
use std::time::{Duration, Instant};

use resp::Reply;

use super::{Cluster, ClusterError};
use crate::ids::NodeId;
use crate::limits::{FORWARD_TIMEOUT, ROUTE_DEADLINE};
use crate::raft::error::ConsensusError;
use crate::wire::{Forward, ForwardReply, PeerRequest, PeerResponse};

/// What the router does after a batch failed to run here.
#[derive(Debug, PartialEq)]
enum Next {
    /// Send the write batch to this leader.
    Forward(NodeId),
    /// Ask this leader for a read index, then read here.
    FollowerRead(NodeId),
    /// No leader to go to yet (none known, or it had no quorum): wait for news and try again.
    Wait,
    /// A failure routing does not retry.
    Fail(ConsensusError),
}

/// The routing rule: where a batch goes after running it here failed with `err`, on node `me`.
/// Pure, so it is unit-tested.
fn next_step(err: ConsensusError, me: NodeId, writes: bool) -> Next {
    match err {
        ConsensusError::NotLeader {
            leader: Some(leader),
        } if leader != me => {
            if writes {
                Next::Forward(leader)
            } else {
                Next::FollowerRead(leader)
            }
        }
        ConsensusError::NotLeader { .. } | ConsensusError::NoQuorum => Next::Wait,
        e @ (ConsensusError::OutcomeUnknown(_)
        | ConsensusError::Stopped(_)
        | ConsensusError::StorageFailed(_)
        | ConsensusError::Membership(_)
        | ConsensusError::Behind { .. }) => Next::Fail(e),
    }
}

/// True if a forward that failed with `e` may have reached the leader: anything but a refusal
/// at connect (or at the hello), where nothing was sent. A write forwarded so has an unknown
/// outcome and is never sent again.
fn maybe_delivered(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::PermissionDenied
    )
}

/// What came of carrying a batch to the leader.
enum Routed {
    /// The leader (or this node, after the leader's read index) answered.
    Done(Result<Vec<Reply>, ClusterError>),
    /// That node does not lead after all (or its address is unknown): wait for news.
    NotLeader,
    /// The peer link failed.
    Failed(io::Error),
}

impl Cluster {
    /// Run a batch of commands wherever it must run (here or on the leader), in order, and
    /// return one reply per command. Any write in the batch sends the whole batch through the
    /// log as one entry; a batch of reads runs after one linearizable read barrier.
    pub async fn execute(&self, cmds: Vec<kv::Command>) -> Result<Vec<Reply>, ClusterError> {
        let deadline = Instant::now() + ROUTE_DEADLINE;
        let writes = cmds.iter().any(|c| c.is_write());
        if let Some(fault) = self.consensus.storage_fault() {
            return Err(if writes {
                ConsensusError::StorageFailed(fault.error).into()
            } else {
                ClusterError::StorageReadRefused(fault.error)
            });
        }
        loop {
            let err = match self.execute_local(&cmds).await {
                Ok(replies) => return Ok(replies),
                Err(e) => e,
            };
            let routed = match next_step(err, self.node_id, writes) {
                Next::Fail(e) => return Err(e.into()),
                Next::Wait => None,
                Next::Forward(leader) => Some(self.forward(leader, &cmds).await),
                Next::FollowerRead(leader) => Some(self.follower_read(leader, &cmds).await),
            };
            match routed {
                None => {}
                Some(Routed::Done(result)) => return result,
                Some(Routed::NotLeader) => {} // the hint was stale; wait for news below
                Some(Routed::Failed(e)) if writes && maybe_delivered(&e) => {
                    tracing::debug!(error = %e, "forwarding a write failed");
                    return Err(ConsensusError::OutcomeUnknown(
                        "the leader failed or could not be reached while handling the write".into(),
                    )
                    .into());
                }
                Some(Routed::Failed(e)) => tracing::debug!(error = %e, "forward failed"),
            }
            if Instant::now() >= deadline {
                return Err(self.unavailable());
            }
            self.wait_for_change(deadline).await;
        }
    }

    /// Run a batch only if this node leads: through the log if any command writes, otherwise
    /// after the leader's read barrier (lease or ReadIndex). Never forwards: this is also how
    /// the leader runs a batch a follower forwarded to it.
    pub async fn execute_local(&self, cmds: &[kv::Command]) -> Result<Vec<Reply>, ConsensusError> {
        if self.memory.over_limit() && self.consensus.status().is_leader() {
            if let Some(refused) = memory_plan(cmds) {
                return self.execute_within_memory(cmds, &refused).await;
            }
        }
        self.run_here(cmds).await
    }

    /// Through the log if any command writes, otherwise after the read barrier.
    async fn run_here(&self, cmds: &[kv::Command]) -> Result<Vec<Reply>, ConsensusError> {
        if cmds.iter().any(|c| c.is_write()) {
            self.consensus.propose(cmds.to_vec()).await
        } else {
            self.consensus.leader_read(cmds).await
        }
    }

    /// Past `maxmemory`: `-OOM` for the commands `refused` marks, the others run as a batch.
    async fn execute_within_memory(
        &self,
        cmds: &[kv::Command],
        refused: &[bool],
    ) -> Result<Vec<Reply>, ConsensusError> {
        let kept: Vec<kv::Command> = cmds
            .iter()
            .zip(refused)
            .filter(|(_, &r)| !r)
            .map(|(c, _)| c.clone())
            .collect();
        let mut ran = if kept.is_empty() {
            Vec::new()
        } else {
            self.run_here(&kept).await?
        }
        .into_iter();
        Ok(refused
            .iter()
            .map(|&r| match r {
                true => {
                    crate::counters::OOM_WRITES_REFUSED.incr();
                    kv::Error::OutOfMemory.to_reply()
                }
                false => ran
                    .next()
                    .unwrap_or_else(|| Reply::error("ERR internal: missing reply")),
            })
            .collect())
    }

    /// Forward a write batch to `leader`, which runs it through its log.
    async fn forward(&self, leader: NodeId, cmds: &[kv::Command]) -> Routed {
        let Some(addr) = self.consensus.member_addr(leader) else {
            return Routed::NotLeader;
        };
        let client = self.peers.client(leader, &addr.peer_addr, "forward");
        let request = PeerRequest::Forward(Forward::Commands(cmds.to_vec()));
        match client.call(request, FORWARD_TIMEOUT).await {
            Ok(PeerResponse::Forwarded(ForwardReply::Replies(replies)))
                if replies.len() == cmds.len() =>
            {
                Routed::Done(Ok(replies))
            }
            Ok(PeerResponse::Forwarded(ForwardReply::NotLeader { .. })) => Routed::NotLeader,
            Ok(PeerResponse::Error(msg)) => Routed::Failed(io::Error::other(msg)),
            Ok(other) => {
                tracing::warn!(answer = ?other, "unexpected answer to a forward");
                Routed::Failed(io::Error::other("unexpected answer to a forward"))
            }
            Err(e) => Routed::Failed(e),
        }
    }

    /// A read-only batch on a follower: get a read index from `leader`, wait to apply it,
    /// answer here at the leader's time (see `raft::reads`).
    async fn follower_read(&self, leader: NodeId, cmds: &[kv::Command]) -> Routed {
        let Some(addr) = self.consensus.member_addr(leader) else {
            return Routed::NotLeader;
        };
        let client = self.peers.client(leader, &addr.peer_addr, "forward");
        let request = PeerRequest::Forward(Forward::ReadIndex);
        match client.call(request, FORWARD_TIMEOUT).await {
            Ok(PeerResponse::Forwarded(ForwardReply::ReadIndex {
                index,
                leader_now_ms,
            })) => Routed::Done(
                self.consensus
                    .read_at(index, leader_now_ms, cmds)
                    .await
                    .map_err(ClusterError::from),
            ),
            Ok(PeerResponse::Forwarded(ForwardReply::NotLeader { .. })) => Routed::NotLeader,
            Ok(PeerResponse::Error(msg)) => Routed::Failed(io::Error::other(msg)),
            Ok(other) => Routed::Failed(io::Error::other(format!(
                "unexpected answer to a read-index request: {other:?}"
            ))),
            Err(e) => Routed::Failed(e),
        }
    }

    /// Gave up waiting for a leader: unavailable, saying whether one is known.
    pub(super) fn unavailable(&self) -> ClusterError {
        ClusterError::Unavailable {
            leader_known: self.consensus.status().leader.is_some(),
        }
    }

    /// Block until Raft's state changes or `deadline` passes (at most 200 ms at a time).
    pub(super) async fn wait_for_change(&self, deadline: Instant) {
        let pause = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        self.consensus.wait_status_change(pause).await;
    }
}

/// Past `maxmemory`, which commands of `cmds` to refuse: those that may grow memory, or all of a
/// transaction (EXEC's batch starts with its WATCH guard) that holds one. `None` if none is.
fn memory_plan(cmds: &[kv::Command]) -> Option<Vec<bool>> {
    let grows: Vec<bool> = cmds.iter().map(kv::Command::may_grow_memory).collect();
    if !grows.contains(&true) {
        return None;
    }
    let transaction = matches!(cmds.first(), Some(kv::Command::WatchGuard { .. }));
    Some(if transaction {
        vec![true; cmds.len()]
    } else {
        grows
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> kv::Command {
        let args: Vec<bytes::Bytes> = line
            .split(' ')
            .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        kv::Command::parse(&args).unwrap()
    }

    #[test]
    fn past_maxmemory_only_commands_that_may_grow_are_refused() {
        let batch = [
            parse("SET k v"),
            parse("GET k"),
            parse("DEL k"),
            parse("LPUSH l a"),
            parse("LPOP l"),
            parse("EXPIRE k 10"),
            parse("INCR n"),
        ];
        assert_eq!(
            memory_plan(&batch),
            Some(vec![true, false, false, true, false, false, true])
        );
        assert_eq!(memory_plan(&[parse("DEL k"), parse("GET k")]), None);
        assert_eq!(
            memory_plan(&[parse("EVAL_RO return 1 0"), parse("EVAL return 1 0")]),
            Some(vec![false, true])
        );
    }

    #[test]
    fn past_maxmemory_a_transaction_that_may_grow_is_refused_whole() {
        let guard = kv::Command::WatchGuard {
            watched: Vec::new(),
        };
        assert_eq!(
            memory_plan(&[guard.clone(), parse("DEL k"), parse("SET k v")]),
            Some(vec![true, true, true])
        );
        assert_eq!(memory_plan(&[guard, parse("DEL k")]), None);
    }

    fn not_leader(leader: Option<NodeId>) -> ConsensusError {
        ConsensusError::NotLeader { leader }
    }

    #[test]
    fn a_write_goes_to_the_leader_and_a_read_asks_it_for_a_read_index() {
        assert_eq!(next_step(not_leader(Some(2)), 1, true), Next::Forward(2));
        assert_eq!(
            next_step(not_leader(Some(2)), 1, false),
            Next::FollowerRead(2)
        );
    }

    #[test]
    fn no_leader_a_stale_hint_at_itself_or_no_quorum_waits() {
        for writes in [true, false] {
            assert_eq!(next_step(not_leader(None), 1, writes), Next::Wait);
            assert_eq!(next_step(not_leader(Some(1)), 1, writes), Next::Wait);
            assert_eq!(next_step(ConsensusError::NoQuorum, 1, writes), Next::Wait);
        }
    }

    #[test]
    fn other_failures_are_final() {
        for e in [
            ConsensusError::OutcomeUnknown("x".into()),
            ConsensusError::Stopped("x".into()),
            ConsensusError::StorageFailed("x".into()),
            ConsensusError::Membership("x".into()),
            ConsensusError::Behind {
                index: 3,
                waited: Duration::from_secs(2),
            },
        ] {
            assert_eq!(next_step(e.clone(), 1, true), Next::Fail(e));
        }
    }

    #[test]
    fn only_a_refusal_at_connect_proves_a_forward_was_not_delivered() {
        assert!(!maybe_delivered(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(!maybe_delivered(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(maybe_delivered(&io::Error::from(io::ErrorKind::TimedOut)));
        assert!(maybe_delivered(&io::Error::other("connection reset")));
    }
}
