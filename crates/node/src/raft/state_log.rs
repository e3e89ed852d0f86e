//! One INFO line per Raft state change, instead of a line per heartbeat.
//!
//! openraft reports every failed heartbeat and replication attempt (about ten a second for one
//! dead peer); the default log filter (`raftkv serve`) keeps those at debug. What an operator
//! needs at INFO is the change itself, once: this node became leader or stepped down, the
//! leader changed, a peer stopped answering the leader or came back, the membership changed.
//! (Snapshots are logged where they happen: `built snapshot` and `installed snapshot from
//! leader` in `state_machine`.)
//!
//! [`watch`] samples openraft's metrics every [`POLL_INTERVAL`] and hands a plain
//! [`Observed`] to [`StateLog::observe`], which returns the changes as [`StateEvent`]s; the pure
//! part is tested without a cluster. A peer counts as unreachable once the leader has had no
//! acknowledgement from it for [`PEER_SILENT_AFTER`]; while it stays away, a reminder is logged
//! at most every [`PEER_REMINDER_EVERY`], so a long outage costs a line a minute, not ten a
//! second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{Instant as _, ServerState};

use super::types::NodeId;
use super::Consensus;

/// How often the metrics are sampled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// A peer is unreachable once the leader has heard nothing from it for this long.
pub const PEER_SILENT_AFTER: Duration = Duration::from_secs(2);
/// While a peer stays unreachable, remind at most this often.
pub const PEER_REMINDER_EVERY: Duration = Duration::from_secs(60);

/// The state [`StateLog`] compares, sampled at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Milliseconds since the watcher started (any monotonic origin).
    pub now_ms: u64,
    /// Current term.
    pub term: u64,
    /// True if this node is the leader.
    pub is_leader: bool,
    /// The leader this node knows, if any.
    pub leader: Option<NodeId>,
    /// Log index of the membership in use.
    pub membership_index: Option<u64>,
    /// Voter ids of that membership.
    pub voters: BTreeSet<NodeId>,
    /// Learner ids of that membership.
    pub learners: BTreeSet<NodeId>,
    /// On the leader: per peer, milliseconds since its last acknowledgement (`None`: never).
    pub peer_silence_ms: BTreeMap<NodeId, Option<u64>>,
}

/// A change worth one INFO line. Fields: `term`, `leader` (a node id), `peer` (a node id),
/// durations in milliseconds (`_ms`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are described above, once
pub enum StateEvent {
    /// This node became leader.
    BecameLeader { term: u64 },
    /// This node was leader and no longer is.
    SteppedDown { term: u64, leader: Option<NodeId> },
    /// The leader this node follows changed (to none while an election runs).
    LeaderChanged { term: u64, leader: Option<NodeId> },
    /// A peer stopped acknowledging this leader.
    PeerUnreachable { peer: NodeId, silent_ms: u64 },
    /// A peer is still unreachable (at most every [`PEER_REMINDER_EVERY`]).
    PeerStillUnreachable { peer: NodeId, down_ms: u64 },
    /// A peer acknowledges this leader again.
    PeerBack { peer: NodeId, down_ms: u64 },
    /// The membership changed.
    MembershipChanged {
        voters: Vec<NodeId>,
        learners: Vec<NodeId>,
    },
}

/// What has been reported, to report only changes.
#[derive(Debug, Default)]
pub struct StateLog {
    last: Option<Observed>,
    /// When this node last became leader, in ms: a peer that has not acknowledged this leader
    /// yet is silent since then.
    leader_since_ms: u64,
    /// Per unreachable peer: when it went away and when it was last reported, in ms.
    down: BTreeMap<NodeId, (u64, u64)>,
}

impl StateLog {
    /// Compare with the previous sample; the changes, in a stable order.
    pub fn observe(&mut self, now: Observed) -> Vec<StateEvent> {
        let mut events = Vec::new();
        let prev = self.last.take().unwrap_or_default();
        if now.is_leader && !prev.is_leader {
            self.leader_since_ms = now.now_ms;
            events.push(StateEvent::BecameLeader { term: now.term });
        } else if prev.is_leader && !now.is_leader {
            events.push(StateEvent::SteppedDown {
                term: now.term,
                leader: now.leader,
            });
        } else if !now.is_leader && now.leader != prev.leader {
            events.push(StateEvent::LeaderChanged {
                term: now.term,
                leader: now.leader,
            });
        }
        if now.membership_index != prev.membership_index
            && (now.voters != prev.voters || now.learners != prev.learners)
        {
            events.push(StateEvent::MembershipChanged {
                voters: now.voters.iter().copied().collect(),
                learners: now.learners.iter().copied().collect(),
            });
        }
        self.peers(&now, &mut events);
        self.last = Some(now);
        events
    }

    fn peers(&mut self, now: &Observed, events: &mut Vec<StateEvent>) {
        let silent_after = PEER_SILENT_AFTER.as_millis() as u64;
        let remind_every = PEER_REMINDER_EVERY.as_millis() as u64;
        if !now.is_leader {
            // Only a leader hears from every peer; a new leader starts afresh.
            self.down.clear();
            return;
        }
        for (&peer, silence) in &now.peer_silence_ms {
            let silent_ms =
                silence.unwrap_or_else(|| now.now_ms.saturating_sub(self.leader_since_ms));
            let away = silent_ms >= silent_after;
            match (away, self.down.get_mut(&peer)) {
                (true, None) => {
                    let since = now.now_ms.saturating_sub(silent_ms);
                    self.down.insert(peer, (since, now.now_ms));
                    events.push(StateEvent::PeerUnreachable { peer, silent_ms });
                }
                (true, Some((since, reported))) => {
                    if now.now_ms - *reported >= remind_every {
                        *reported = now.now_ms;
                        events.push(StateEvent::PeerStillUnreachable {
                            peer,
                            down_ms: now.now_ms - *since,
                        });
                    }
                }
                (false, Some((since, _))) => {
                    events.push(StateEvent::PeerBack {
                        peer,
                        down_ms: now.now_ms - *since,
                    });
                    self.down.remove(&peer);
                }
                (false, None) => {}
            }
        }
        self.down.retain(|p, _| now.peer_silence_ms.contains_key(p));
    }
}

/// Write one event at INFO.
fn log(e: &StateEvent) {
    match e {
        StateEvent::BecameLeader { term } => tracing::info!(term, "became leader"),
        StateEvent::SteppedDown { term, leader } => {
            tracing::info!(term, leader = ?leader, "stepped down as leader")
        }
        StateEvent::LeaderChanged {
            term,
            leader: Some(l),
        } => tracing::info!(term, leader = l, "leader elected"),
        StateEvent::LeaderChanged { term, leader: None } => {
            tracing::info!(term, "no leader known (election in progress)")
        }
        StateEvent::PeerUnreachable { peer, silent_ms } => {
            tracing::info!(peer, silent_ms, "peer unreachable")
        }
        StateEvent::PeerStillUnreachable { peer, down_ms } => {
            tracing::info!(peer, down_ms, "peer still unreachable")
        }
        StateEvent::PeerBack { peer, down_ms } => tracing::info!(peer, down_ms, "peer back"),
        StateEvent::MembershipChanged { voters, learners } => {
            tracing::info!(?voters, ?learners, "membership changed")
        }
    }
}

/// Sample the node's Raft state and log every change, until the task is aborted or Raft stops.
pub async fn watch(consensus: Arc<Consensus>) {
    let started = std::time::Instant::now();
    let mut state = StateLog::default();
    loop {
        let m = consensus.raft.metrics().borrow_watched().clone();
        if m.running_state.is_err() {
            return;
        }
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let learners = membership.learner_ids().collect();
        let peer_silence_ms = m
            .heartbeat
            .iter()
            .flatten()
            .filter(|(id, _)| **id != m.id)
            .map(|(id, acked)| {
                let silence = acked.as_ref().map(|t| (**t).elapsed().as_millis() as u64);
                (*id, silence)
            })
            .collect();
        let observed = Observed {
            now_ms: started.elapsed().as_millis() as u64,
            term: m.current_term,
            is_leader: m.state == ServerState::Leader,
            leader: m.current_leader,
            membership_index: m.membership_config.log_id().as_ref().map(|l| l.index()),
            voters,
            learners,
            peer_silence_ms,
        };
        for e in state.observe(observed) {
            log(&e);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader_at(now_ms: u64, silence: &[(NodeId, Option<u64>)]) -> Observed {
        Observed {
            now_ms,
            term: 2,
            is_leader: true,
            leader: Some(1),
            membership_index: Some(1),
            voters: [1, 2, 3].into(),
            peer_silence_ms: silence.iter().copied().collect(),
            ..Observed::default()
        }
    }

    #[test]
    fn a_dead_peer_is_reported_once_then_reminded_rarely_then_back() {
        let mut log = StateLog::default();
        let first = log.observe(leader_at(0, &[(2, Some(10)), (3, Some(10))]));
        assert!(first.contains(&StateEvent::BecameLeader { term: 2 }));
        assert!(first.contains(&StateEvent::MembershipChanged {
            voters: vec![1, 2, 3],
            learners: vec![]
        }));
        let mut events = Vec::new();
        // Peer 3 dies at 1 s; sample every 250 ms for 100 s.
        for step in 1..=400u64 {
            let now = step * 250;
            let silence = now.saturating_sub(1000);
            events.extend(log.observe(leader_at(now, &[(2, Some(10)), (3, Some(silence))])));
        }
        assert_eq!(
            events[0],
            StateEvent::PeerUnreachable {
                peer: 3,
                silent_ms: 2000
            }
        );
        // 100 s down: one report and one reminder a minute.
        assert_eq!(events.len(), 2, "{events:?}");
        let back = log.observe(leader_at(100_250, &[(2, Some(10)), (3, Some(5))]));
        assert_eq!(
            back,
            vec![StateEvent::PeerBack {
                peer: 3,
                down_ms: 99_250
            }]
        );
        assert!(log.observe(leader_at(100_500, &[(3, Some(5))])).is_empty());
    }

    #[test]
    fn a_new_leader_waits_for_a_first_acknowledgement_before_reporting_a_peer() {
        let mut log = StateLog::default();
        let mut at = |now_ms, is_leader| {
            let mut o = leader_at(now_ms, &[(2, None)]);
            o.is_leader = is_leader;
            log.observe(o)
        };
        assert!(!at(60_000, false)
            .iter()
            .any(|e| matches!(e, StateEvent::PeerUnreachable { .. })));
        // Leader from 70 s: peer 2 has never answered it; reported after 2 s, not at once.
        assert!(!at(70_000, true)
            .iter()
            .any(|e| matches!(e, StateEvent::PeerUnreachable { .. })));
        assert!(at(71_000, true).is_empty());
        assert_eq!(
            at(72_000, true),
            vec![StateEvent::PeerUnreachable {
                peer: 2,
                silent_ms: 2000
            }]
        );
    }

    #[test]
    fn roles_and_leaders_are_reported_once_each() {
        let mut log = StateLog::default();
        let follower = |leader| Observed {
            term: 3,
            leader,
            ..Observed::default()
        };
        assert_eq!(
            log.observe(follower(Some(2))),
            vec![StateEvent::LeaderChanged {
                term: 3,
                leader: Some(2)
            }]
        );
        assert!(log.observe(follower(Some(2))).is_empty());
        let mut lead = follower(Some(1));
        lead.is_leader = true;
        assert_eq!(
            log.observe(lead.clone()),
            vec![StateEvent::BecameLeader { term: 3 }]
        );
        assert!(log.observe(lead).is_empty());
        assert_eq!(
            log.observe(follower(None)),
            vec![StateEvent::SteppedDown {
                term: 3,
                leader: None
            }]
        );
        assert_eq!(
            log.observe(follower(Some(3))),
            vec![StateEvent::LeaderChanged {
                term: 3,
                leader: Some(3)
            }]
        );
    }
}
