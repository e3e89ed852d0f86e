//! The fault schedule: which faults, when, and for how long, as a pure function of the seed.
//!
//! [`Schedule::generate`] walks the fault window from its start, drawing a quiet gap, then a
//! fault and how long to hold it, until the next episode would not fit. Times are offsets from
//! the start of the run. The runner follows them as a plan: an episode starts at its planned time
//! or, if the previous one ran late (a restart or a membership change can take seconds), as soon
//! as the previous one has ended plus the minimum gap; an episode that can no longer start
//! inside the fault window is skipped. So the *plan* is identical for a given seed, while what
//! ran is recorded in the report's event log.
//!
//! The generator draws from the families of the chosen [`FaultSet`] uniformly by family first,
//! then by variant, so a mixed run sees kills, pauses, partitions, clock faults and membership
//! changes in roughly equal measure whatever the number of variants in each.

use std::fmt;
use std::time::Duration;

use crate::fault::{Fault, PartitionKind, Target};
use crate::fault_set::FaultSet;
use check::Rng;

/// Shortest quiet time before an episode.
pub const GAP_MIN: Duration = Duration::from_secs(3);
/// Longest quiet time before an episode.
pub const GAP_MAX: Duration = Duration::from_secs(8);
/// Shortest time a fault is held.
pub const HOLD_MIN: Duration = Duration::from_secs(3);
/// Longest time a fault is held.
pub const HOLD_MAX: Duration = Duration::from_secs(12);
/// Smallest wall-clock jump, in milliseconds.
pub const CLOCK_JUMP_MIN_MS: u64 = 100;
/// Largest "small" wall-clock jump, in milliseconds (half the jumps are small).
pub const SMALL_CLOCK_JUMP_MAX_MS: u64 = 60_000;
/// Largest wall-clock jump, in milliseconds (a day, either way).
pub const CLOCK_JUMP_MAX_MS: u64 = 86_400_000;
/// Smallest strobe amplitude, in milliseconds.
pub const STROBE_DELTA_MIN_MS: u64 = 10;
/// Largest strobe amplitude, in milliseconds.
pub const STROBE_DELTA_MAX_MS: u64 = 10_000;
/// Shortest time between strobe flips, in milliseconds.
pub const STROBE_PERIOD_MIN_MS: u64 = 20;
/// Longest time between strobe flips, in milliseconds.
pub const STROBE_PERIOD_MAX_MS: u64 = 500;
/// Percent of remove-and-re-add faults that remove the leader (the rest: a random member).
pub const READD_LEADER_PERCENT: u64 = 30;
/// Percent of membership faults that run under a partition.
pub const MEMBERSHIP_PARTITIONED_PERCENT: u64 = 40;
/// Most episodes in one schedule (a bound on very long runs).
pub const MAX_EPISODES: usize = 10_000;

/// What a schedule is generated for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleParams {
    /// The seed.
    pub seed: u64,
    /// Faults to draw from.
    pub faults: FaultSet,
    /// Earliest start of the first fault, from the start of the run.
    pub window_start: Duration,
    /// Every fault must have ended by then.
    pub window_end: Duration,
}

/// One planned fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Episode {
    /// Planned start, from the start of the run.
    pub start: Duration,
    /// How long the fault is held once in force.
    pub hold: Duration,
    /// The fault.
    pub fault: Fault,
}

/// A planned sequence of non-overlapping faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The episodes, in start order.
    pub episodes: Vec<Episode>,
}

/// A family of faults: draws one variant.
type Family = fn(&mut Rng, &ScheduleParams) -> Fault;

fn kill(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    let pick = rng.next_u64();
    match rng.below(5) {
        0 => Fault::Kill(Target::One { pick }),
        1 => Fault::Kill(Target::Minority { pick }),
        2 => Fault::Kill(Target::Leader),
        3 => Fault::Kill(Target::All),
        _ => Fault::PowerLoss,
    }
}

fn pause(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    let pick = rng.next_u64();
    Fault::Pause(match rng.below(2) {
        0 => Target::Leader,
        _ => Target::Minority { pick },
    })
}

fn partition_kind(rng: &mut Rng) -> PartitionKind {
    let pick = rng.next_u64();
    match rng.below(4) {
        0 => PartitionKind::IsolateLeader,
        1 => PartitionKind::Halves { pick },
        2 => PartitionKind::Ring { pick },
        _ => PartitionKind::OneWay {
            pick,
            deaf: rng.percent(50),
        },
    }
}

fn partition(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    Fault::Partition(partition_kind(rng))
}

fn clock(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    let pick = rng.next_u64();
    let target = if rng.percent(50) {
        Target::Leader
    } else {
        Target::One { pick }
    };
    if rng.percent(50) {
        // Half small jumps (within a minute), half large ones (up to a day).
        let max = if rng.percent(50) {
            SMALL_CLOCK_JUMP_MAX_MS
        } else {
            CLOCK_JUMP_MAX_MS
        };
        let magnitude = rng.between(CLOCK_JUMP_MIN_MS, max) as i64;
        let offset_ms = if rng.percent(50) {
            magnitude
        } else {
            -magnitude
        };
        Fault::ClockJump { target, offset_ms }
    } else {
        Fault::ClockStrobe {
            target,
            delta_ms: rng.between(STROBE_DELTA_MIN_MS, STROBE_DELTA_MAX_MS),
            period_ms: rng.between(STROBE_PERIOD_MIN_MS, STROBE_PERIOD_MAX_MS),
        }
    }
}

fn membership(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    let pick = rng.next_u64();
    let during = rng
        .percent(MEMBERSHIP_PARTITIONED_PERCENT)
        .then(|| partition_kind(rng));
    if rng.percent(50) {
        let target = if rng.percent(READD_LEADER_PERCENT) {
            Target::Leader
        } else {
            Target::One { pick }
        };
        Fault::RemoveReadd { target, during }
    } else {
        Fault::GrowShrink { pick, during }
    }
}

fn disk(rng: &mut Rng, _: &ScheduleParams) -> Fault {
    let pick = rng.next_u64();
    Fault::DiskFull(if rng.percent(50) {
        Target::Leader
    } else {
        Target::One { pick }
    })
}

fn power_loss(_: &mut Rng, _: &ScheduleParams) -> Fault {
    Fault::PowerLoss
}

fn families(params: &ScheduleParams) -> Vec<Family> {
    match params.faults {
        FaultSet::Mixed => vec![kill, pause, partition, clock, membership],
        FaultSet::Kill => vec![kill],
        FaultSet::Pause => vec![pause],
        FaultSet::Partition => vec![partition],
        FaultSet::Clock => vec![clock],
        FaultSet::Membership => vec![membership],
        FaultSet::PowerLoss => vec![power_loss],
        FaultSet::Disk => vec![disk],
    }
}

fn duration_between(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    Duration::from_millis(rng.between(lo.as_millis() as u64, hi.as_millis() as u64))
}

impl Schedule {
    /// The schedule for `params`: the same parameters always give the same schedule.
    pub fn generate(params: &ScheduleParams) -> Schedule {
        // A stream of its own, so that other uses of the seed never shift the schedule.
        let mut rng = Rng::derive(params.seed, 0x5c4e_d01e);
        let families = families(params);
        let mut episodes = Vec::new();
        let mut t = params.window_start;
        while episodes.len() < MAX_EPISODES {
            let gap = duration_between(&mut rng, GAP_MIN, GAP_MAX);
            let hold = duration_between(&mut rng, HOLD_MIN, HOLD_MAX);
            let family = families[rng.index(families.len())];
            let fault = family(&mut rng, params);
            let start = t + gap;
            if start + hold > params.window_end {
                break;
            }
            episodes.push(Episode { start, hold, fault });
            t = start + hold;
        }
        Schedule { episodes }
    }

    /// Whether any episode needs data directories on tmpfs.
    pub fn needs_tmpfs(&self) -> bool {
        self.episodes.iter().any(|e| e.fault.needs_tmpfs())
    }

    /// Whether any episode needs libfaketime.
    pub fn needs_faketime(&self) -> bool {
        self.episodes.iter().any(|e| e.fault.needs_faketime())
    }
}

impl fmt::Display for Schedule {
    /// One line per episode: start, hold, fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.episodes {
            writeln!(
                f,
                "{:>8.3}s  hold {:>6.3}s  {}",
                e.start.as_secs_f64(),
                e.hold.as_secs_f64(),
                e.fault
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64, faults: FaultSet) -> ScheduleParams {
        ScheduleParams {
            seed,
            faults,
            window_start: Duration::from_secs(10),
            window_end: Duration::from_secs(170),
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let a = Schedule::generate(&params(42, FaultSet::Mixed));
        let b = Schedule::generate(&params(42, FaultSet::Mixed));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        assert!(!a.episodes.is_empty());
        let c = Schedule::generate(&params(43, FaultSet::Mixed));
        assert_ne!(a, c, "different seeds should give different schedules");
    }

    #[test]
    fn episodes_fit_the_window_and_do_not_overlap() {
        for seed in 0..50 {
            let p = params(seed, FaultSet::Mixed);
            let s = Schedule::generate(&p);
            let mut end = p.window_start;
            for e in &s.episodes {
                assert!(e.start >= end + GAP_MIN, "seed {seed}: overlap");
                assert!((HOLD_MIN..=HOLD_MAX).contains(&e.hold));
                end = e.start + e.hold;
            }
            assert!(end <= p.window_end, "seed {seed}: past the window");
        }
    }

    #[test]
    fn a_fault_set_only_draws_its_own_faults() {
        for seed in 0..20 {
            for e in Schedule::generate(&params(seed, FaultSet::Partition)).episodes {
                assert!(matches!(e.fault, Fault::Partition(_)), "{}", e.fault);
            }
            for e in Schedule::generate(&params(seed, FaultSet::PowerLoss)).episodes {
                assert_eq!(e.fault, Fault::PowerLoss);
            }
            for e in Schedule::generate(&params(seed, FaultSet::Clock)).episodes {
                assert!(e.fault.needs_faketime());
            }
            let disk = Schedule::generate(&params(seed, FaultSet::Disk));
            assert!(disk.needs_tmpfs());
            for e in disk.episodes {
                assert!(matches!(e.fault, Fault::DiskFull(_)), "{}", e.fault);
            }
            // Mixed runs never need root-mounted tmpfs data directories.
            assert!(!Schedule::generate(&params(seed, FaultSet::Mixed)).needs_tmpfs());
        }
    }

    #[test]
    fn mixed_runs_cover_every_family() {
        let mut names = std::collections::BTreeSet::new();
        for seed in 0..20 {
            for e in Schedule::generate(&params(seed, FaultSet::Mixed)).episodes {
                names.insert(e.fault.name());
            }
        }
        for prefix in ["kill-", "pause-", "partition-", "clock-", "member-"] {
            assert!(
                names.iter().any(|n| n.starts_with(prefix)),
                "no {prefix} fault in 20 mixed schedules: {names:?}"
            );
        }
        assert!(names.contains("power-loss"));
    }

    #[test]
    fn a_window_too_short_gives_no_faults() {
        let mut p = params(1, FaultSet::Kill);
        p.window_end = p.window_start + GAP_MIN;
        assert!(Schedule::generate(&p).episodes.is_empty());
    }
}
