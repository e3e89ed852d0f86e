//! What a node does as a member of a cluster, on top of the consensus interface.
//!
//! [`Cluster`] decides where each request runs and carries it there; it sees Raft only through
//! [`Consensus`]'s typed interface and [`crate::raft::RaftStatus`], and peers only through the
//! transport's client pool ([`Peers`]):
//!
//! - [`router`]: any node accepts any command. A batch runs here when this node leads; a write
//!   is otherwise forwarded to the leader, a read answered here after the leader's read index.
//!   While no leader is known the request waits, re-checking as Raft's state changes, up to
//!   [`crate::limits::ROUTE_DEADLINE`].
//! - [`peer_service`]: the [`crate::transport::PeerHandler`] the peer server calls: Raft
//!   messages go to [`Consensus`], forwarded commands, read-index requests and membership
//!   changes are answered here.
//! - [`membership`]: `RAFTKV MEMBER ...` as a pure plan (unit-tested), then its execution on
//!   the leader (forwarded there from any node).
//! - [`leadership`]: handing leadership to the best-placed voter (at shutdown, on low disk,
//!   before the leader removes itself).
//! - [`removal`]: noticing that this node was removed from the cluster.
//! - [`backup`]: exporting a consistent snapshot for `RAFTKV SNAPSHOT`.
//! - [`faults`]: test-only link cuts.
//!
//! Failures are typed ([`ClusterError`]); the one place they become RESP replies is the
//! client server's error module. A leader's answer to a forwarded request is RESP on the wire,
//! so the peer service is handed that mapping when the node is wired ([`Cluster::new`]).

pub mod backup;
pub mod error;
pub mod faults;
pub mod leadership;
pub mod membership;
pub mod peer_service;
pub mod removal;
pub mod router;

use crate::memory::MemoryGauge;
use std::sync::Arc;

use resp::Reply;

use crate::ids::NodeId;
use crate::raft::error::ConsensusError;
use crate::raft::Consensus;
use crate::transport::peers::Peers;
pub use crate::wire::MemberChange;
pub use error::ClusterError;

/// Turns a consensus failure into the error reply a forwarding node passes to its client.
pub type ErrorReply = fn(&ConsensusError) -> Reply;

/// The node as a cluster member. Shared behind an `Arc`.
pub struct Cluster {
    consensus: Arc<Consensus>,
    peers: Peers,
    node_id: NodeId,
    error_reply: ErrorReply,
    /// `maxmemory` and this node's memory use: the leader refuses writes that may grow memory
    /// past it (`router`).
    memory: Arc<MemoryGauge>,
}

impl Cluster {
    /// The cluster layer over `consensus`, reaching peers through `peers` (the same pool Raft
    /// uses) and answering forwarded requests' failures with `error_reply`.
    pub fn new(consensus: Arc<Consensus>, peers: Peers, error_reply: ErrorReply) -> Arc<Cluster> {
        let node_id = consensus.node_id();
        Arc::new(Cluster {
            consensus,
            peers,
            node_id,
            error_reply,
            memory: Arc::new(MemoryGauge::new(0)),
        })
    }

    /// The `maxmemory` gauge (no limit until one is set).
    pub fn memory(&self) -> &Arc<MemoryGauge> {
        &self.memory
    }

    /// The consensus layer underneath.
    pub fn consensus(&self) -> &Arc<Consensus> {
        &self.consensus
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }
}
