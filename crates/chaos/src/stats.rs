//! Live operation counts by phase of the run, for progress and for the vacuous-pass guards.
//!
//! A run passes only if the clients did real work: enough operations must succeed before the
//! first fault (or the cluster was never healthy and the faults tested nothing) and some must
//! succeed after healing (or the cluster never came back and there was nothing left to check).
//! The history has the full detail; these counters are what the runner can read cheaply while
//! the clients are still going.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use check::Outcome;

/// The phases of a run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Cluster healthy, no faults yet.
    Warmup = 0,
    /// Faults are being injected.
    Faults = 1,
    /// Everything healed; waiting for the cluster to recover.
    Healing = 2,
    /// Recovered; clients keep going without faults.
    AfterHeal = 3,
    /// Clients stopped; final reads.
    Final = 4,
}

/// Number of phases.
pub const PHASES: usize = 5;

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; PHASES] = [
        Phase::Warmup,
        Phase::Faults,
        Phase::Healing,
        Phase::AfterHeal,
        Phase::Final,
    ];

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Faults => "faults",
            Phase::Healing => "healing",
            Phase::AfterHeal => "after-heal",
            Phase::Final => "final",
        }
    }
}

/// Counts of ok / fail / info operations per phase, plus anomalies (replies of the wrong shape).
#[derive(Debug, Default)]
pub struct OpStats {
    phase: AtomicUsize,
    /// `[phase][0 ok, 1 fail, 2 info]`.
    counts: [[AtomicU64; 3]; PHASES],
    anomalies: AtomicU64,
}

impl OpStats {
    /// Fresh counters, in the warm-up phase.
    pub fn new() -> OpStats {
        OpStats::default()
    }

    /// Enters a phase.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as usize, Ordering::SeqCst);
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::ALL[self.phase.load(Ordering::SeqCst).min(PHASES - 1)]
    }

    /// Counts one finished operation in the current phase.
    pub fn record(&self, outcome: &Outcome, anomaly: bool) {
        let kind = match outcome {
            Outcome::Ok { .. } => 0,
            Outcome::Fail { .. } => 1,
            Outcome::Info { .. } => 2,
        };
        self.counts[self.phase() as usize][kind].fetch_add(1, Ordering::Relaxed);
        if anomaly {
            self.anomalies.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(ok, fail, info)` in a phase.
    pub fn in_phase(&self, phase: Phase) -> (u64, u64, u64) {
        let c = &self.counts[phase as usize];
        (
            c[0].load(Ordering::Relaxed),
            c[1].load(Ordering::Relaxed),
            c[2].load(Ordering::Relaxed),
        )
    }

    /// Replies of an unexpected shape so far.
    pub fn anomalies(&self) -> u64 {
        self.anomalies.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_the_current_phase() {
        let s = OpStats::new();
        s.record(&Outcome::ok(check::Value::Nil), false);
        s.set_phase(Phase::AfterHeal);
        s.record(&Outcome::info("t"), true);
        s.record(&Outcome::fail("f"), false);
        assert_eq!(s.in_phase(Phase::Warmup), (1, 0, 0));
        assert_eq!(s.in_phase(Phase::AfterHeal), (0, 1, 1));
        assert_eq!(s.anomalies(), 1);
    }
}
