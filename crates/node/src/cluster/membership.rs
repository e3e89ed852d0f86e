//! Membership changes (`RAFTKV MEMBER ADD | PROMOTE | REMOVE | TRANSFER-LEADER`).
//!
//! A change is decided in two parts. [`plan`] is pure: from the requested [`MemberChange`],
//! the current membership and this node's id it returns the Raft steps to take, or why the
//! change is refused (not a member, the last voter, different addresses). The leader then
//! executes the steps one at a time through [`crate::raft::Consensus`]'s membership calls.
//! Any node accepts the command: a node that does not lead forwards it to the leader
//! (`Forward::Members`) and passes the leader's answer on.
//!
//! Adding a voter is two steps, as Raft requires: add it as a learner (openraft blocks until
//! it caught up with the leader's log), then make it a voter. Removing the leader itself first
//! hands leadership to another voter ([`super::leadership`]); the caller then retries on the
//! new leader.

use std::io;
use std::time::Instant;

use resp::Reply;

use super::{Cluster, ClusterError};
use crate::ids::{NodeAddr, NodeId};
use crate::limits::ADD_NODE_TIMEOUT;
use crate::raft::error::ConsensusError;
use crate::raft::status::MembershipView;
use crate::wire::{Forward, ForwardReply, MemberChange, PeerRequest, PeerResponse};

/// One Raft step of a membership change, run on the leader in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Check that the node proves the cluster secret, then add it as a learner (blocks until
    /// it caught up).
    AddLearner {
        /// The node.
        id: NodeId,
        /// Its addresses.
        addr: NodeAddr,
    },
    /// Make a learner a voter.
    AddVoter(NodeId),
    /// Remove a voter.
    RemoveVoter(NodeId),
    /// Remove a learner.
    RemoveLearner(NodeId),
    /// This leader is being removed: hand leadership to another voter first, then stop (the
    /// caller retries on the new leader).
    HandOverFirst,
    /// Ask this leader's Raft to hand leadership to a voter.
    TransferLeader(NodeId),
}

/// The steps that make `change` happen from `membership`, as decided by leader `me`; empty if
/// there is nothing to do. Pure: reads nothing else.
pub fn plan(
    change: &MemberChange,
    membership: &MembershipView,
    me: NodeId,
) -> Result<Vec<Step>, ConsensusError> {
    let refused = ConsensusError::Membership;
    let not_member = |id: NodeId| refused(format!("node {id} is not a member"));
    let member = |id: NodeId| membership.contains(id);
    let voter = |id: NodeId| membership.is_voter(id);
    let steps = match change {
        MemberChange::Add { id, addr, learner } => {
            let (id, learner) = (*id, *learner);
            let mut steps = Vec::new();
            match membership.addr(id) {
                Some(existing) if existing != addr => {
                    return Err(refused(format!(
                        "node {id} is already a member with different addresses ({existing}); remove it first"
                    )))
                }
                Some(_) if voter(id) || learner => return Ok(steps),
                Some(_) => {}
                None => steps.push(Step::AddLearner {
                    id,
                    addr: addr.clone(),
                }),
            }
            if !learner {
                steps.push(Step::AddVoter(id));
            }
            steps
        }
        MemberChange::Promote { id } => {
            let id = *id;
            if !member(id) {
                return Err(not_member(id));
            }
            if voter(id) {
                vec![]
            } else {
                vec![Step::AddVoter(id)]
            }
        }
        MemberChange::Remove { id } => {
            let id = *id;
            if !member(id) {
                return Err(not_member(id));
            }
            if voter(id) && membership.voters.len() == 1 {
                return Err(refused("cannot remove the last voter".into()));
            }
            if id == me {
                vec![Step::HandOverFirst]
            } else if voter(id) {
                vec![Step::RemoveVoter(id)]
            } else {
                vec![Step::RemoveLearner(id)]
            }
        }
        MemberChange::TransferLeader { id } => {
            let id = *id;
            if !voter(id) {
                return Err(refused(format!("node {id} is not a voter")));
            }
            if id == me {
                vec![]
            } else {
                vec![Step::TransferLeader(id)]
            }
        }
    };
    Ok(steps)
}

impl Cluster {
    /// Apply a membership change, routed to the leader.
    pub async fn change_members(&self, change: MemberChange) -> Result<(), ClusterError> {
        let deadline = Instant::now() + ADD_NODE_TIMEOUT;
        loop {
            match self.change_members_local(change.clone()).await {
                Ok(()) => return Ok(()),
                Err(ConsensusError::NotLeader { leader: Some(l) }) if l != self.node_id => {
                    if let Some(done) = self.forward_change(l, &change).await {
                        return done;
                    }
                }
                Err(ConsensusError::NotLeader { .. }) | Err(ConsensusError::NoQuorum) => {}
                Err(e) => return Err(e.into()),
            }
            if Instant::now() >= deadline {
                return Err(self.unavailable());
            }
            self.wait_for_change(deadline).await;
        }
    }

    /// Send `change` to `leader`; `None` if it did not answer as the leader (wait for news).
    async fn forward_change(
        &self,
        leader: NodeId,
        change: &MemberChange,
    ) -> Option<Result<(), ClusterError>> {
        let leader_addr = self.consensus.member_addr(leader)?;
        let client = self.peers.client(leader, &leader_addr.peer_addr, "forward");
        let req = PeerRequest::Forward(Forward::Members(change.clone()));
        match client.call(req, ADD_NODE_TIMEOUT).await {
            Ok(PeerResponse::Forwarded(ForwardReply::Replies(r))) => {
                Some(match r.into_iter().next() {
                    Some(Reply::Error(e)) => Err(ClusterError::Refused(e)),
                    _ => Ok(()),
                })
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "forwarding a membership change failed");
                None
            }
        }
    }

    /// Run a membership change on this node, only if it leads: plan it, then take each step.
    pub(super) async fn change_members_local(
        &self,
        change: MemberChange,
    ) -> Result<(), ConsensusError> {
        let status = self.consensus.status();
        if !status.is_leader() {
            return Err(ConsensusError::NotLeader {
                leader: status.leader,
            });
        }
        for step in plan(&change, &status.membership, self.node_id)? {
            self.take_step(step).await?;
        }
        Ok(())
    }

    async fn take_step(&self, step: Step) -> Result<(), ConsensusError> {
        match step {
            Step::AddLearner { id, addr } => {
                // A node that cannot prove the cluster secret could never catch up: say so now
                // instead of waiting. (One not reachable yet may still start later.)
                if let Err(e) = self.peers.probe(id, &addr.peer_addr).await {
                    if e.kind() == io::ErrorKind::PermissionDenied && is_tls_refusal(&e) {
                        return Err(ConsensusError::Membership(format!(
                            "node {id} at {} failed the peer TLS check ({e}): give it a \
                             certificate signed by the cluster's --peer-tls-ca that names its \
                             peer host",
                            addr.peer_addr
                        )));
                    }
                    if e.kind() == io::ErrorKind::PermissionDenied {
                        return Err(ConsensusError::Membership(format!(
                            "node {id} at {} failed the cluster secret check: start it with \
                             the cluster's --cluster-secret-file",
                            addr.peer_addr
                        )));
                    }
                }
                // Blocks until the learner has caught up with the leader's log.
                self.consensus.add_learner(id, addr).await
            }
            Step::AddVoter(id) => self.consensus.add_voter(id).await,
            Step::RemoveVoter(id) => self.consensus.remove_member(id, true).await,
            Step::RemoveLearner(id) => self.consensus.remove_member(id, false).await,
            Step::HandOverFirst => {
                // Hand leadership to the most up-to-date other voter first and wait for a new
                // leader; the caller then retries there.
                let wait = 2 * self.consensus.election_timeout_max();
                let leader = self.hand_over("removing the leader", wait).await;
                Err(ConsensusError::NotLeader { leader })
            }
            Step::TransferLeader(id) => self.consensus.transfer_leader(id).await,
        }
    }
}

/// True if a refused peer connection failed its TLS handshake (see
/// [`crate::transport::TlsTransport`]) rather than the cluster-secret check.
fn is_tls_refusal(e: &io::Error) -> bool {
    e.to_string()
        .contains(crate::transport::tls::HANDSHAKE_FAILED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u64) -> NodeAddr {
        NodeAddr {
            peer_addr: format!("10.0.0.{n}:7000"),
            client_addr: format!("10.0.0.{n}:6379"),
        }
    }

    /// Voters 1, 2, 3 and learner 4.
    fn members() -> MembershipView {
        MembershipView {
            term: 2,
            voters: vec![1, 2, 3],
            nodes: (1..=4).map(|n| (n, addr(n))).collect(),
        }
    }

    fn refusal(r: Result<Vec<Step>, ConsensusError>) -> String {
        match r {
            Err(ConsensusError::Membership(why)) => why,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn adding_a_new_voter_adds_a_learner_then_promotes_it() {
        let m = members();
        let add = |learner| MemberChange::Add {
            id: 5,
            addr: addr(5),
            learner,
        };
        let learner = Step::AddLearner {
            id: 5,
            addr: addr(5),
        };
        assert_eq!(
            plan(&add(false), &m, 1).unwrap(),
            vec![learner.clone(), Step::AddVoter(5)]
        );
        assert_eq!(plan(&add(true), &m, 1).unwrap(), vec![learner]);
    }

    #[test]
    fn adding_an_existing_member_again_only_promotes_or_does_nothing() {
        let m = members();
        let add = |id, learner| MemberChange::Add {
            id,
            addr: addr(id),
            learner,
        };
        assert_eq!(plan(&add(2, false), &m, 1).unwrap(), vec![]);
        assert_eq!(plan(&add(4, true), &m, 1).unwrap(), vec![]);
        assert_eq!(
            plan(&add(4, false), &m, 1).unwrap(),
            vec![Step::AddVoter(4)]
        );
        let moved = MemberChange::Add {
            id: 2,
            addr: addr(9),
            learner: false,
        };
        assert!(refusal(plan(&moved, &m, 1)).contains("different addresses"));
    }

    #[test]
    fn promoting_needs_a_member_and_is_idempotent() {
        let m = members();
        assert_eq!(
            plan(&MemberChange::Promote { id: 4 }, &m, 1).unwrap(),
            vec![Step::AddVoter(4)]
        );
        assert_eq!(
            plan(&MemberChange::Promote { id: 3 }, &m, 1).unwrap(),
            vec![]
        );
        assert_eq!(
            refusal(plan(&MemberChange::Promote { id: 9 }, &m, 1)),
            "node 9 is not a member"
        );
    }

    #[test]
    fn removing_picks_voter_or_learner_and_the_leader_hands_over_first() {
        let m = members();
        let remove = |id| MemberChange::Remove { id };
        assert_eq!(plan(&remove(2), &m, 1).unwrap(), vec![Step::RemoveVoter(2)]);
        assert_eq!(
            plan(&remove(4), &m, 1).unwrap(),
            vec![Step::RemoveLearner(4)]
        );
        assert_eq!(plan(&remove(1), &m, 1).unwrap(), vec![Step::HandOverFirst]);
        assert_eq!(refusal(plan(&remove(9), &m, 1)), "node 9 is not a member");
        let alone = MembershipView {
            term: 1,
            voters: vec![1],
            nodes: vec![(1, addr(1)), (4, addr(4))],
        };
        assert_eq!(
            refusal(plan(&remove(1), &alone, 1)),
            "cannot remove the last voter"
        );
        assert_eq!(
            plan(&remove(4), &alone, 1).unwrap(),
            vec![Step::RemoveLearner(4)]
        );
    }

    #[test]
    fn leadership_goes_only_to_a_voter() {
        let m = members();
        let to = |id| MemberChange::TransferLeader { id };
        assert_eq!(plan(&to(3), &m, 1).unwrap(), vec![Step::TransferLeader(3)]);
        assert_eq!(plan(&to(1), &m, 1).unwrap(), vec![]);
        assert_eq!(refusal(plan(&to(4), &m, 1)), "node 4 is not a voter");
        assert_eq!(refusal(plan(&to(9), &m, 1)), "node 9 is not a voter");
    }
}
