//! Why the consensus layer could not do what it was asked, as typed values.
//!
//! Never reply texts: the client server turns these into Redis error replies in one place
//! (`server/errors.rs`). openraft's and the OS's errors are reduced to plain words before they
//! are put in here, so no text carries Rust debug syntax.

use std::time::Duration;

use crate::ids::NodeId;

/// Why a command could not be run here.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConsensusError {
    /// This node does not lead; `leader` is who it believes does.
    #[error("not the leader")]
    NotLeader {
        /// The believed leader.
        leader: Option<NodeId>,
    },
    /// The leader could not confirm its leadership with a quorum.
    #[error("no quorum")]
    NoQuorum,
    /// The write may or may not have been applied.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Raft stopped (shutdown, or a panic in its core).
    #[error("raft stopped: {0}")]
    Stopped(String),
    /// This node cannot write its Raft log (the OS error's text); nothing was proposed.
    #[error("cannot write the Raft log: {0}")]
    StorageFailed(String),
    /// A membership change was refused.
    #[error("{0}")]
    Membership(String),
    /// This node did not apply up to a read index in time (it lags the leader).
    #[error("not applied up to read index {index} within {waited:?}")]
    Behind {
        /// The read index.
        index: u64,
        /// How long it waited.
        waited: Duration,
    },
}
