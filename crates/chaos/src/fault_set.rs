//! The families of faults a run draws from, as chosen with `--faults`.
//!
//! `mixed` is the default and what CI runs: the schedule picks a family uniformly, then a
//! variant within it (see [`crate::schedule`]). The single families exist to focus a run on one
//! kind of trouble, for instance while chasing a bug that one of them exposed; `powerloss` on
//! its own is also the self-test of `--unsafe-no-fsync`.

use std::fmt;
use std::str::FromStr;

/// Which family of faults a run draws from (`--faults`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSet {
    /// Every family below except `PowerLoss` on its own (it is part of `Kill`).
    Mixed,
    /// `kill -9` and restart: one node, a minority, the leader, all nodes; and power loss of
    /// all nodes.
    Kill,
    /// SIGSTOP/SIGCONT: the leader, a minority.
    Pause,
    /// Partitions: isolate the leader, halves, ring, one-way.
    Partition,
    /// Wall-clock jumps and strobes on one node.
    Clock,
    /// Remove and re-add, grow and shrink, with and without partitions.
    Membership,
    /// Only simulated power loss of all nodes (with `--unsafe-no-fsync`: the self-test).
    PowerLoss,
    /// A full disk on the leader or one node (data directories on tmpfs; needs root). Not part
    /// of `Mixed`, so the mixed schedules of existing seeds stay as they were.
    Disk,
}

impl FaultSet {
    /// The name as given on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            FaultSet::Mixed => "mixed",
            FaultSet::Kill => "kill",
            FaultSet::Pause => "pause",
            FaultSet::Partition => "partition",
            FaultSet::Clock => "clock",
            FaultSet::Membership => "membership",
            FaultSet::PowerLoss => "powerloss",
            FaultSet::Disk => "disk",
        }
    }
}

impl FromStr for FaultSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "mixed" => FaultSet::Mixed,
            "kill" => FaultSet::Kill,
            "pause" => FaultSet::Pause,
            "partition" => FaultSet::Partition,
            "clock" => FaultSet::Clock,
            "membership" => FaultSet::Membership,
            "powerloss" => FaultSet::PowerLoss,
            "disk" => FaultSet::Disk,
            _ => {
                return Err(format!(
                    "unknown fault set {s:?} (mixed, kill, pause, partition, clock, membership, powerloss, disk)"
                ))
            }
        })
    }
}

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
