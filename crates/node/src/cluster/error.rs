//! Why the cluster layer could not run a request, as typed values. The client server turns
//! them into Redis error replies in one place (`server/errors.rs`).

use crate::raft::error::ConsensusError;

/// Why a routed request failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// A consensus failure routing does not retry (including a forwarded write whose outcome is
    /// unknown).
    #[error(transparent)]
    Consensus(#[from] ConsensusError),
    /// No leader could be found or confirmed before the routing deadline.
    #[error("no leader could be reached (leader known: {leader_known})")]
    Unavailable {
        /// Whether this node knew a leader when it gave up.
        leader_known: bool,
    },
    /// A read refused because this node cannot write its Raft log (the OS error's text): its
    /// Raft has stopped, so it cannot confirm a linearizable read; another node can.
    #[error("cannot write the Raft log: {0}")]
    StorageReadRefused(String),
    /// The leader refused a forwarded request; its error reply's text, verbatim.
    #[error("{0}")]
    Refused(String),
}
