//! What the peer server calls for each request: the [`PeerHandler`] trait.
//!
//! The transport owns this trait and the consensus side implements it (the cluster layer's peer
//! service), so the transport imports nothing from `raft/` or `cluster/`: it moves framed
//! [`crate::wire`] messages and reassembles snapshot files, and leaves every decision to the
//! handler.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use futures_util::stream::BoxStream;
use openraft::raft::AppendEntriesRequest;

use super::auth::PeerAuth;
use super::faults::LinkFaults;
use crate::ids::NodeId;
use crate::raft::types::TypeConfig;
use crate::wire::{PeerRequest, PeerResponse, SnapshotChunk};

/// A pending answer to one peer request.
pub type AnswerFuture<'a> = Pin<Box<dyn Future<Output = PeerResponse> + Send + 'a>>;
/// The AppendEntries requests of one pipelined lane, in the order they arrived.
pub type AppendRequests = BoxStream<'static, AppendEntriesRequest<TypeConfig>>;
/// A lane's answers: one per request, in request order. It ends after the first answer that is
/// not a success (openraft ends its stream there), leaving any later request unanswered.
pub type AppendAnswers = BoxStream<'static, PeerResponse>;

/// The node side of the peer listener.
pub trait PeerHandler: Send + Sync + 'static {
    /// This node's id (a hello meant for another id is refused).
    fn node_id(&self) -> NodeId;
    /// What this node proves its peers with, for the hello.
    fn peer_auth(&self) -> &PeerAuth;
    /// Test-only link cuts (`RAFTKV FAULT`): a cut peer's connections are refused and dropped.
    fn link_faults(&self) -> &LinkFaults;
    /// Answer one request (never a snapshot chunk: the server reassembles those itself).
    fn handle(&self, req: PeerRequest) -> AnswerFuture<'_>;
    /// Answer a connection's AppendEntries requests as a pipeline: each is handed to Raft as it
    /// arrives, without waiting for the previous one to be durable, and answered once it is.
    fn append_lane(&self, requests: AppendRequests) -> AppendAnswers;
    /// Where a snapshot transfer called `name` is written while it arrives.
    fn snapshot_receive_path(&self, name: &str) -> PathBuf;
    /// Install the snapshot that arrived in full at `path`; `last` is its final chunk (its
    /// vote and metadata).
    fn install_snapshot(&self, last: SnapshotChunk, path: PathBuf) -> AnswerFuture<'_>;
}
