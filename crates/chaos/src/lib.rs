//! A fault suite for raftkv on real processes.
//!
//! Unit tests and simulations check what their authors thought of; this suite checks the thing
//! that ships. It starts a cluster of the release `raftkv` binary, one process per node, each in
//! its own Linux network namespace on a private bridge; runs recording clients against every
//! node; breaks the cluster on a schedule drawn from a seed (`kill -9`, SIGSTOP, partitions with
//! nftables, wall-clock jumps with libfaketime, membership changes, simulated power loss, a
//! full disk); heals
//! everything; demands that the cluster recovers; reads the final state; and hands the recorded
//! history to the linearizability checker (`raftkv-check`). Each run leaves a report directory
//! with the history, the verdict, the schedule, an event log, every node's log and data
//! directory, and a one-line summary.
//!
//! # Where the truth comes from
//!
//! The suite never asks raftkv whether it behaved: the verdict comes only from what clients
//! saw. Each operation is recorded with its call and return times on one monotonic clock and one
//! of three outcomes: a reply (`ok`), a refusal the server guarantees had no effect (`fail`), or
//! unknown (`info`: timeout, lost connection, "write outcome unknown"). Being honest about
//! `info` is what makes the verdict sound: an unknown write may take effect at any later time,
//! and the checker allows for that. See [`workload`] for the mapping of replies.
//!
//! # What keeps it honest
//!
//! * A run passes only if operations succeeded before the first fault and after healing, so a
//!   cluster that never worked cannot pass by producing an empty history ([`summary`]).
//! * `selftest` runs the suite against raftkv's deliberately unsafe switches and fails unless
//!   each is caught ([`selftest`]).
//! * The schedule is a pure function of the seed ([`schedule`]), so a failing seed can be run
//!   again; the event log says what actually happened, since timing on a real machine is not
//!   reproducible.
//!
//! # Isolation and cleanup
//!
//! The process moves itself into a namespace of its own before starting any thread
//! ([`net`]), so its traffic cannot leave the machine; it names everything after its pid, and
//! deletes all of it on exit, error, panic or Ctrl-C; `raftkv-chaos cleanup` removes what a
//! killed run left behind.
//!
//! # Map
//!
//! [`mod@run`] drives one run; [`schedule`], [`fault_set`] and [`fault`] plan it; [`nemesis`] applies faults to the
//! [`cluster`] of [`process`]es on the [`net`]work, with [`partition`] rules and [`clock`]
//! offsets; [`client`]s run the [`workload`] over [`keys`] and feed [`stats`] and the
//! recorder; [`report`], [`events`] and [`summary`] write it all down.

pub mod admin;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod disk;
pub mod events;
pub mod fault;
pub mod fault_set;
pub mod keys;
pub mod nemesis;
pub mod net;
pub mod partition;
pub mod process;
pub mod report;
pub mod run;
pub mod schedule;
pub mod selftest;
pub mod stats;
pub mod summary;
pub mod wait;
pub mod workload;

pub use crate::fault::{Fault, PartitionKind, Target};
pub use crate::fault_set::FaultSet;
pub use crate::run::{run, RunOptions};
pub use crate::schedule::{Episode, Schedule, ScheduleParams};
pub use crate::selftest::SelftestOptions;
pub use crate::summary::{RunResult, Summary};
pub use crate::workload::Workload;

/// A seed from the wall clock (seconds since the epoch), for runs given none.
pub fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses a duration flag: `90`, `90s`, `3m`, `1h`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 90s, 3m)"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration unit in {s:?} (s, m or h)")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("180s"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
