//! What the peer server calls for each request: the [`PeerHandler`] trait.
//!
//! The transport owns this trait and the consensus side implements it (the cluster layer's peer
//! service), so the transport imports nothing from `raft/` or `cluster/`: it moves framed
//! [`crate::wire`] messages and reassembles snapshot files, and leaves every decision to the
//! handler.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use super::auth::PeerAuth;
use super::faults::LinkFaults;
use crate::ids::NodeId;
use crate::wire::{PeerRequest, PeerResponse, SnapshotChunk};

/// A pending answer to one peer request.
pub type AnswerFuture<'a> = Pin<Box<dyn Future<Output = PeerResponse> + Send + 'a>>;

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
    /// Where a snapshot transfer called `name` is written while it arrives.
    fn snapshot_receive_path(&self, name: &str) -> PathBuf;
    /// Install the snapshot that arrived in full at `path`; `last` is its final chunk (its
    /// vote and metadata).
    fn install_snapshot(&self, last: SnapshotChunk, path: PathBuf) -> AnswerFuture<'_>;
}
