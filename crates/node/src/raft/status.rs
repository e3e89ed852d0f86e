//! What the rest of the node may know about this node's Raft state, in plain data.
//!
//! [`RaftStatus`] is a copy of the parts of openraft's metrics that INFO, `RAFTKV MEMBER LIST`,
//! routing, removal detection, leadership hand-off and the Prometheus gauges read, with no
//! openraft type in it: nothing outside `raft/` reads openraft's metrics. Taking one is a clone
//! of the watched metrics; it is a snapshot and goes stale as soon as Raft moves on.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;

use super::types::RaftMetrics;
use super::Consensus;
use crate::ids::{NodeAddr, NodeId};

/// This node's role in Raft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It leads.
    Leader,
    /// It is campaigning.
    Candidate,
    /// It follows a leader (or waits for one).
    Follower,
    /// It is a learner: it replicates but does not vote.
    Learner,
    /// Raft has stopped.
    Shutdown,
}

/// A membership as this node knows it, in plain data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MembershipView {
    /// Term of the leader that proposed this membership (0 for none).
    pub term: u64,
    /// Voter ids.
    pub voters: Vec<NodeId>,
    /// Every member (voters and learners) with its addresses, by id.
    pub nodes: Vec<(NodeId, NodeAddr)>,
}

impl MembershipView {
    /// True if `id` is a voter or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.nodes.iter().any(|(n, _)| *n == id)
    }

    /// True if `id` is a voter.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// The learners (members that are not voters), by id.
    pub fn learners(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !self.is_voter(*id))
            .collect()
    }

    /// The addresses of member `id`.
    pub fn addr(&self, id: NodeId) -> Option<&NodeAddr> {
        self.nodes.iter().find(|(n, _)| *n == id).map(|(_, a)| a)
    }
}

/// This node's Raft state, in plain data (see the module docs).
#[derive(Clone, Debug)]
pub struct RaftStatus {
    /// This node's id.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: u64,
    /// Who it believes leads.
    pub leader: Option<NodeId>,
    /// Index of the last entry in its log (0 for none).
    pub last_log_index: u64,
    /// Index of the last entry it knows committed (0 for none).
    pub committed_index: u64,
    /// Index of the last entry its state machine applied (0 for none).
    pub applied_index: u64,
    /// Last index included in its current snapshot (0 for none).
    pub snapshot_index: u64,
    /// Last index purged from its log (0 for none).
    pub purged_index: u64,
    /// The membership it uses (the latest it has, committed or not).
    pub membership: MembershipView,
    /// (term, index) of the log entry that introduced that membership; `None` for none.
    pub membership_log: Option<(u64, u64)>,
    /// The members of the latest committed membership.
    pub committed_members: Vec<NodeId>,
    /// On a leader: the last log index each other member is known to have stored (`None` for
    /// nothing yet). Empty on other nodes.
    pub matched: BTreeMap<NodeId, Option<u64>>,
    /// On a leader: how long ago the last message a quorum acknowledged was sent.
    pub quorum_ack_age: Option<Duration>,
}

impl RaftStatus {
    /// True if this node leads.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// The leader's id and addresses, as this node knows them.
    pub fn leader_addr(&self) -> Option<(NodeId, NodeAddr)> {
        let id = self.leader?;
        Some((id, self.membership.addr(id)?.clone()))
    }

    /// Copy the fields out of openraft's metrics.
    pub(super) fn from_metrics(m: &RaftMetrics) -> RaftStatus {
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Candidate => Role::Candidate,
            ServerState::Follower => Role::Follower,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let index = |l: Option<&super::types::LogId>| l.map(|l| l.index()).unwrap_or(0);
        RaftStatus {
            id: m.id,
            role,
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            committed_index: index(m.local_committed.as_ref()),
            applied_index: index(m.last_applied.as_ref()),
            snapshot_index: index(m.snapshot.as_ref()),
            purged_index: index(m.purged.as_ref()),
            membership: membership_view(m),
            membership_log: m
                .membership_config
                .log_id()
                .as_ref()
                .map(|l| (l.committed_leader_id().term, l.index())),
            committed_members: m
                .committed_membership_config
                .membership()
                .nodes()
                .map(|(id, _)| *id)
                .collect(),
            matched: m
                .replication
                .iter()
                .flatten()
                .map(|(id, l)| (*id, l.as_ref().map(|l| l.index())))
                .collect(),
            quorum_ack_age: m
                .last_quorum_acked
                .as_ref()
                .map(|at| openraft::Instant::elapsed(&**at)),
        }
    }
}

/// The membership in `m`, in plain data.
fn membership_view(m: &RaftMetrics) -> MembershipView {
    let membership = m.membership_config.membership();
    MembershipView {
        term: m
            .membership_config
            .log_id()
            .as_ref()
            .map(|l| l.committed_leader_id().term)
            .unwrap_or(0),
        voters: membership.voter_ids().collect(),
        nodes: membership
            .nodes()
            .map(|(id, addr)| (*id, addr.clone()))
            .collect(),
    }
}

impl Consensus {
    /// This node's Raft state now, in plain data.
    pub fn status(&self) -> RaftStatus {
        RaftStatus::from_metrics(&self.raft.metrics().borrow_watched())
    }

    /// The membership this node currently uses.
    pub fn membership_view(&self) -> MembershipView {
        membership_view(&self.raft.metrics().borrow_watched())
    }

    /// The addresses of member `id`, as this node knows them (cheaper than a whole status).
    pub fn member_addr(&self, id: NodeId) -> Option<NodeAddr> {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .get_node(&id)
            .cloned()
    }

    /// Block until Raft's state changes or `max` passes.
    pub async fn wait_status_change(&self, max: Duration) {
        let mut rx = self.raft.metrics();
        let _ = tokio::time::timeout(max, rx.changed()).await;
    }

    /// The leader as this node knows it, each time it changes (including to none), until Raft
    /// stops. Cheap: it watches openraft's server metrics, which change only with the vote,
    /// role, leader or membership, not with every append and apply.
    pub async fn for_each_leader_change(&self, mut f: impl FnMut(Option<NodeId>)) {
        let mut rx = self.raft.server_metrics();
        // A process starts knowing no leader, so a leader elected before this task first ran
        // counts as a change too.
        let mut last = None;
        loop {
            let now = rx.borrow_watched().current_leader;
            if now != last {
                f(now);
                last = now;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}
