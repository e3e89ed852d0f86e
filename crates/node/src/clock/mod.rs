//! Clocks: this machine's wall clock, and the leader's time as this node can estimate it.
//!
//! The state machine never reads a clock itself: the leader stamps each entry with
//! [`wall_clock_ms`] when it proposes it, and replicas estimate the leader's time from the stamps
//! they applied ([`leader::LeaderClock`]). Imports nothing of the node.

pub mod leader;

/// Milliseconds since the Unix epoch by this machine's wall clock.
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
