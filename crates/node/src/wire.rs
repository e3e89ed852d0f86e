//! The messages nodes exchange on the peer link (the wire format).
//!
//! A leaf both sides name: the transport frames and moves these, the Raft glue and the cluster
//! layer build and answer them. The Raft payloads are openraft's own request types, over the
//! type configuration in [`crate::raft::types`] (itself a leaf).
//!
//! Every request carries an id chosen by the dialing side; the answer carries the same id, so
//! one connection can have many requests in flight (pipelining) and answers may come back in any
//! order. Raft RPCs are answered in the order they arrived on a connection; forwarded client
//! commands run concurrently.

use bytes::Bytes;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::raft::{TransferLeaderRequest, TransferLeaderResponse};
use serde::{Deserialize, Serialize};

use crate::ids::{NodeAddr, NodeId};
use crate::raft::types::{SnapshotMeta, TypeConfig, Vote};

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// Raft AppendEntries (also the heartbeat).
    Append(AppendEntriesRequest<TypeConfig>),
    /// Raft RequestVote.
    Vote(VoteRequest<TypeConfig>),
    /// Raft pre-vote: would you vote for me? Changes no state on the receiver.
    PreVote(VoteRequest<TypeConfig>),
    /// Leadership handover.
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// One piece of a snapshot; pieces of one transfer arrive in order on one connection.
    SnapshotChunk(SnapshotChunk),
    /// A client command forwarded to the leader.
    Forward(Forward),
}

/// One piece of a streamed snapshot file.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotChunk {
    /// The sender's vote.
    pub vote: Vote,
    /// Metadata of the snapshot being sent.
    pub meta: SnapshotMeta,
    /// Distinguishes transfers; a new id discards any partial previous transfer.
    pub transfer_id: u64,
    /// Byte offset of `data` in the snapshot file.
    pub offset: u64,
    /// The bytes.
    pub data: Bytes,
    /// True on the last piece: the receiver installs the snapshot and answers.
    pub done: bool,
}

/// A client command forwarded from a follower to the leader.
#[derive(Debug, Serialize, Deserialize)]
pub enum Forward {
    /// A batch of kv commands: the leader runs them (through the log if any writes) and
    /// returns one reply per command.
    Commands(Vec<kv::Command>),
    /// A membership change, run by the leader.
    Members(MemberChange),
    /// A follower read: the leader confirms it leads (lease or ReadIndex round, per its read
    /// policy) and answers with the index the follower must apply before it reads locally.
    ReadIndex,
}

/// A change of cluster membership (`RAFTKV MEMBER ...`), run by the leader.
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

/// The answer to a [`PeerRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    /// Answer to `Append`.
    Append(AppendEntriesResponse<TypeConfig>),
    /// Answer to `Vote` and `PreVote`.
    Vote(VoteResponse<TypeConfig>),
    /// Answer to `TransferLeader`.
    TransferLeader(TransferLeaderResponse<TypeConfig>),
    /// Answer to a non-final `SnapshotChunk`.
    ChunkStored,
    /// Answer to the final `SnapshotChunk`.
    Snapshot(SnapshotResponse<TypeConfig>),
    /// Answer to `Forward`.
    Forwarded(ForwardReply),
    /// The receiver could not handle the request (it is shutting down, or its Raft failed).
    Error(String),
}

/// The leader's answer to a forwarded command.
#[derive(Debug, Serialize, Deserialize)]
pub enum ForwardReply {
    /// The commands ran; one reply each (possibly command error replies).
    Replies(Vec<resp::Reply>),
    /// The receiver is not the leader; it believes `leader` is.
    NotLeader {
        /// Who the receiver thinks leads, if anyone.
        leader: Option<NodeId>,
    },
    /// Answer to `Forward::ReadIndex`: the leader's leadership was confirmed after the request
    /// arrived.
    ReadIndex {
        /// Log index the follower must have applied before answering the read.
        index: u64,
        /// The leader's time when it confirmed (ms since the Unix epoch): the follower judges
        /// TTLs at this time, not by its own wall clock.
        leader_now_ms: u64,
    },
}

/// A request with its connection-local id.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Chosen by the dialer, echoed in the answer.
    pub id: u64,
    /// The request or response.
    pub body: T,
}
