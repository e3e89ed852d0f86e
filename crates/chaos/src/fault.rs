//! The faults the suite can inject, as plain data.
//!
//! A [`Fault`] says *what* to do, not *to whom*: targets such as "the leader" or "a random
//! minority" are resolved only when the fault starts, against the cluster as it is then (who
//! leads, who is a member). Random choices are carried as a `pick`, a number drawn from the
//! schedule's seed and turned into a concrete choice at run time by shuffling the sorted member
//! list with it. So a schedule is fully determined by its seed and can be printed and compared
//! before anything runs, while still aiming at the nodes that matter when it does.
//!
//! Every fault has a start and an end: a killed node is restarted, a paused one continued, a
//! partition healed, a clock set right, a removed node re-added with a fresh id and an empty data
//! directory, a grown cluster shrunk back. Episodes never overlap, so at the end of each one the
//! cluster is whole again.

use std::fmt;

/// Which member nodes a fault hits, resolved when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One member, chosen with `pick`.
    One {
        /// Seed of the choice.
        pick: u64,
    },
    /// The node that leads when the fault starts (a random member if none is known).
    Leader,
    /// A minority of the members (at most `(n - 1) / 2`, at least one), chosen with `pick`.
    Minority {
        /// Seed of the choice.
        pick: u64,
    },
    /// Every member.
    All,
}

impl Target {
    fn label(&self) -> &'static str {
        match self {
            Target::One { .. } => "one",
            Target::Leader => "leader",
            Target::Minority { .. } => "minority",
            Target::All => "all",
        }
    }
}

/// A shape of network partition between the members, resolved when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// The leader can neither reach nor be reached by any other member.
    IsolateLeader,
    /// A random minority and the majority cannot reach each other.
    Halves {
        /// Seed of the split.
        pick: u64,
    },
    /// Members in a random ring order; each hears only itself and its predecessors, a majority
    /// in all, so every node sees a different majority.
    Ring {
        /// Seed of the ring order.
        pick: u64,
    },
    /// One random member's packets are dropped in one direction only: nobody hears it
    /// (`deaf == false`) or it hears nobody (`deaf == true`).
    OneWay {
        /// Seed of the choice of node.
        pick: u64,
        /// The node hears nobody (else: nobody hears it).
        deaf: bool,
    },
}

impl PartitionKind {
    /// Short stable name, used in summaries.
    pub fn name(&self) -> &'static str {
        match self {
            PartitionKind::IsolateLeader => "partition-leader",
            PartitionKind::Halves { .. } => "partition-halves",
            PartitionKind::Ring { .. } => "partition-ring",
            PartitionKind::OneWay { .. } => "partition-one-way",
        }
    }
}

/// One fault of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` the target at the start; restart it at the end.
    Kill(Target),
    /// Simulated power loss of every member at once: SIGUSR1 makes a node (started with
    /// `--unsafe-power-loss-signal`) drop every WAL byte not yet fsynced and exit; restart them
    /// at the end. With fsync on nothing acknowledged may be lost; with `--unsafe-no-fsync`
    /// everything since the start is.
    PowerLoss,
    /// SIGSTOP the target at the start; SIGCONT at the end.
    Pause(Target),
    /// Cut the network between members at the start; heal it at the end.
    Partition(PartitionKind),
    /// Set one node's wall clock `offset_ms` off (libfaketime) at the start; back at the end.
    ClockJump {
        /// The node.
        target: Target,
        /// The offset, in milliseconds (negative: the past).
        offset_ms: i64,
    },
    /// Flip one node's wall clock between right and `delta_ms` ahead every `period_ms`.
    ClockStrobe {
        /// The node.
        target: Target,
        /// How far ahead the clock jumps, in milliseconds.
        delta_ms: u64,
        /// Time between flips, in milliseconds.
        period_ms: u64,
    },
    /// Remove the target from the cluster (and stop it) at the start; at the end start a new
    /// node in its place, with a new id and an empty data directory, and add it. Optionally
    /// while a partition is in force.
    RemoveReadd {
        /// The node removed.
        target: Target,
        /// A partition imposed before the removal and healed before the re-add.
        during: Option<PartitionKind>,
    },
    /// Fill the target's data directory (a tmpfs of its own, see [`crate::disk`]) at the start:
    /// it must exit with status 74 at its next log append. Free the space and restart it at the
    /// end.
    DiskFull(Target),
    /// Add two new nodes at the start; remove two random members at the end. Optionally while a
    /// partition is in force.
    GrowShrink {
        /// Seed of the choice of members removed when shrinking.
        pick: u64,
        /// A partition imposed before growing and healed before shrinking.
        during: Option<PartitionKind>,
    },
}

impl Fault {
    /// Short stable name of the fault type, used to count faults in summaries.
    pub fn name(&self) -> String {
        match self {
            Fault::Kill(t) => format!("kill-{}", t.label()),
            Fault::PowerLoss => "power-loss".to_string(),
            Fault::Pause(t) => format!("pause-{}", t.label()),
            Fault::Partition(p) => p.name().to_string(),
            Fault::ClockJump { .. } => "clock-jump".to_string(),
            Fault::ClockStrobe { .. } => "clock-strobe".to_string(),
            Fault::DiskFull(t) => format!("disk-full-{}", t.label()),
            Fault::RemoveReadd { during, .. } => match during {
                None => "member-readd".to_string(),
                Some(_) => "member-readd-partitioned".to_string(),
            },
            Fault::GrowShrink { during, .. } => match during {
                None => "member-grow-shrink".to_string(),
                Some(_) => "member-grow-shrink-partitioned".to_string(),
            },
        }
    }

    /// Whether the fault needs every data directory on a tmpfs of its own.
    pub fn needs_tmpfs(&self) -> bool {
        matches!(self, Fault::DiskFull(_))
    }

    /// Whether the fault needs nodes started under libfaketime.
    pub fn needs_faketime(&self) -> bool {
        matches!(self, Fault::ClockJump { .. } | Fault::ClockStrobe { .. })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::ClockJump { offset_ms, .. } => write!(f, "{} {offset_ms:+}ms", self.name()),
            Fault::ClockStrobe {
                delta_ms,
                period_ms,
                ..
            } => write!(f, "{} +{delta_ms}ms every {period_ms}ms", self.name()),
            _ => f.write_str(&self.name()),
        }
    }
}
