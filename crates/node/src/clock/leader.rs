//! The leader's time as this node can estimate it, for judging TTLs without the local wall clock.
//!
//! Every log entry carries `now_ms`, the wall clock of the leader that proposed it. When this
//! node applies an entry it records that stamp together with the local *monotonic* instant of
//! the apply. A read that does not get a time from the leader evaluates expiry at
//! `stamp + monotonic time elapsed since`, never at this machine's wall clock, which may be
//! wrong by minutes.
//!
//! Invariants and limits:
//! - The estimate trails the leader's real clock by the replication delay of the last entry
//!   (the stamp is taken before the entry travels), plus monotonic drift since; it never runs
//!   ahead of it on a node that keeps up. So a follower never hides a key early; near a
//!   deadline it may show a key a few milliseconds longer than the leader does.
//! - The store applies every command at `max(now_ms, store clock)`, and reads use the same
//!   rule, so whatever this estimate says, time inside the store never goes backwards.
//! - Before the first apply since start there is no estimate; readers fall back to the store
//!   clock (the greatest applied stamp), which trails real time.

use std::sync::Mutex;
use std::time::Instant;

/// The newest leader stamp this node applied, and when (local monotonic clock).
#[derive(Debug, Default)]
pub struct LeaderClock {
    last: Mutex<Option<(u64, Instant)>>,
}

impl LeaderClock {
    /// Record that an entry stamped `stamp_ms` (leader wall clock, ms since the Unix epoch) was
    /// applied at local instant `at`. The newest entry wins even if its stamp is lower: it is
    /// the current leader's clock, which is what reads must follow.
    pub fn observe(&self, stamp_ms: u64, at: Instant) {
        *self.last.lock().expect("leader clock lock poisoned") = Some((stamp_ms, at));
    }

    /// The leader's time at local instant `now`, in ms since the Unix epoch, if any entry was
    /// applied since start.
    pub fn estimate_ms(&self, now: Instant) -> Option<u64> {
        let last = *self.last.lock().expect("leader clock lock poisoned");
        last.map(|(stamp, at)| {
            let elapsed = now.saturating_duration_since(at).as_millis();
            stamp.saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_estimate_advances_with_the_monotonic_clock_from_the_last_stamp() {
        let clock = LeaderClock::default();
        let t0 = Instant::now();
        assert_eq!(clock.estimate_ms(t0), None);
        clock.observe(1_000_000, t0);
        assert_eq!(clock.estimate_ms(t0), Some(1_000_000));
        assert_eq!(
            clock.estimate_ms(t0 + Duration::from_millis(2_500)),
            Some(1_002_500)
        );
        // A new leader whose clock is behind: its stamps are followed (the store clock, not
        // this estimate, keeps store time from going backwards).
        let t1 = t0 + Duration::from_secs(3);
        clock.observe(999_000, t1);
        assert_eq!(
            clock.estimate_ms(t1 + Duration::from_millis(10)),
            Some(999_010)
        );
        // An instant before the stamp (a racing reader) never underflows.
        assert_eq!(clock.estimate_ms(t0), Some(999_000));
    }
}
