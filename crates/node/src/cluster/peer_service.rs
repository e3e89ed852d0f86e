//! The peer service: what this node answers on the peer link, as the transport's
//! [`PeerHandler`].
//!
//! Raft messages (AppendEntries, votes, leadership transfer, a received snapshot) go straight
//! to [`crate::raft::Consensus`]. The rest are requests other nodes' routers send to the
//! leader, answered here:
//!
//! - `Forward::Commands`: run the batch with `execute_local` (never forwarding again). If this
//!   node does not lead, or nothing was proposed (no quorum, its log failed), the sender is told
//!   `NotLeader` and waits for another leader; other failures become error replies, one per
//!   command.
//! - `Forward::ReadIndex`: confirm leadership (lease or ReadIndex round) and answer with the
//!   read index and this leader's time.
//! - `Forward::Members`: run a membership change here (see [`super::membership`]).

use std::path::PathBuf;

use resp::Reply;

use super::Cluster;
use crate::ids::NodeId;
use crate::raft::error::ConsensusError;
use crate::transport::auth::PeerAuth;
use crate::transport::faults::LinkFaults;
use crate::transport::handler::{AnswerFuture, PeerHandler};
use crate::wire::{Forward, ForwardReply, PeerRequest, PeerResponse, SnapshotChunk};

impl PeerHandler for Cluster {
    fn node_id(&self) -> NodeId {
        self.node_id
    }

    fn peer_auth(&self) -> &PeerAuth {
        self.peers.auth()
    }

    fn link_faults(&self) -> &LinkFaults {
        self.peers.faults()
    }

    fn handle(&self, req: PeerRequest) -> AnswerFuture<'_> {
        Box::pin(async move {
            match req {
                PeerRequest::Forward(forward) => self.answer_forward(forward).await,
                raft => self.consensus.handle_raft_rpc(raft).await,
            }
        })
    }

    fn snapshot_receive_path(&self, name: &str) -> PathBuf {
        self.consensus.view().receive_path(name)
    }

    fn install_snapshot(&self, last: SnapshotChunk, path: PathBuf) -> AnswerFuture<'_> {
        Box::pin(self.consensus.install_snapshot(last, path))
    }
}

impl Cluster {
    /// Answer a request another node's router sent to this node as the leader.
    async fn answer_forward(&self, forward: Forward) -> PeerResponse {
        let answer = |reply| PeerResponse::Forwarded(reply);
        match forward {
            Forward::Commands(cmds) => match self.execute_local(&cmds).await {
                Ok(replies) => answer(ForwardReply::Replies(replies)),
                Err(ConsensusError::NotLeader { leader }) => {
                    answer(ForwardReply::NotLeader { leader })
                }
                // Nothing was proposed: the forwarding node waits for another leader.
                Err(ConsensusError::NoQuorum | ConsensusError::StorageFailed(_)) => {
                    answer(ForwardReply::NotLeader { leader: None })
                }
                Err(e) => answer(ForwardReply::Replies(vec![
                    (self.error_reply)(&e);
                    cmds.len()
                ])),
            },
            Forward::ReadIndex => match self.consensus.serve_read_index().await {
                Ok((index, leader_now_ms)) => answer(ForwardReply::ReadIndex {
                    index,
                    leader_now_ms,
                }),
                Err(ConsensusError::NotLeader { leader }) => {
                    answer(ForwardReply::NotLeader { leader })
                }
                Err(
                    ConsensusError::NoQuorum
                    | ConsensusError::StorageFailed(_)
                    | ConsensusError::Stopped(_),
                ) => answer(ForwardReply::NotLeader { leader: None }),
                Err(e) => PeerResponse::Error(e.to_string()),
            },
            Forward::Members(change) => match self.change_members_local(change).await {
                Ok(()) => answer(ForwardReply::Replies(vec![Reply::ok()])),
                Err(ConsensusError::NotLeader { leader }) => {
                    answer(ForwardReply::NotLeader { leader })
                }
                Err(e) => answer(ForwardReply::Replies(vec![(self.error_reply)(&e)])),
            },
        }
    }
}
