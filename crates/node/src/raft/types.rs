//! The concrete types openraft is instantiated with.
//!
//! Everything that names an openraft generic lives under `raft/`, so an openraft upgrade touches
//! one module. The rest of the node sees [`LogCommand`] (what goes into the log), [`NodeAddr`]
//! (how to reach a member) and the aliases below.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::ids::{NodeAddr, NodeId};

/// One entry's application payload: a batch of kv commands stamped with the leader's
/// wall-clock time.
///
/// A batch is the run of consecutive commands one client pipelined; applying it as one entry
/// keeps the client's order and costs one log append. Reads inside a batch that also writes go
/// through the log with it, so they see the writes before them.
///
/// The commands are shared (`Arc`), so the copies the log hands out, one per follower to
/// replicate and one to apply, cost a reference count each rather than a copy of every
/// command; they are encoded exactly as a `Vec` would be.
///
/// The state machine never reads a clock: `now_ms` is chosen once, by the leader that proposed
/// the entry, and every replica applies the commands at that same time. Relative TTLs inside a
/// command are turned into absolute deadlines from it at apply time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogCommand {
    /// Leader wall-clock time when the batch was proposed, in milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// The commands, applied in order.
    pub cmds: Arc<[kv::Command]>,
}

impl LogCommand {
    /// Every argument of every command, as [`kv::Command::approx_bytes`] counts them: what the
    /// log store's budgets charge for the entry (an HSET of 10,000 members is not the size of
    /// its key).
    pub fn approx_bytes(&self) -> usize {
        self.cmds.iter().map(kv::Command::approx_bytes).sum()
    }
}

impl fmt::Display for LogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cmds[..] {
            [one] => write!(f, "{}@{}", one.name(), self.now_ms),
            many => write!(f, "{} commands@{}", many.len(), self.now_ms),
        }
    }
}

openraft::declare_raft_types!(
    /// raftkv's openraft type configuration.
    pub TypeConfig:
        D = LogCommand,
        R = Vec<resp::Reply>,
        NodeId = NodeId,
        Node = NodeAddr,
);

/// A log id (leader id + index).
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
/// A vote.
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
/// A log entry.
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
/// Membership as stored with the log id that introduced it.
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
/// Raft metrics.
pub type RaftMetrics = openraft::RaftMetrics<TypeConfig>;
/// openraft's server metrics: vote, role, leader and membership only.
pub type RaftServerMetrics = openraft::metrics::RaftServerMetrics<TypeConfig>;
