//! What a client counted: requests sent, answered, failed, and an HDR histogram of the
//! latencies of the answered ones. Clients keep their own and they are merged at the end, so
//! the hot loop shares nothing but two progress counters.
//!
//! Invariant: `ok + errors == sent` after every finished batch (a request whose reply never
//! came is an error), and the histogram holds exactly `ok` values.

use hdrhistogram::Histogram;

/// Highest latency recorded, in microseconds; longer ones are recorded as this (the
/// per-request timeout is far below it).
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant decimal digits the histogram keeps (0.1% resolution).
pub const HISTOGRAM_DIGITS: u8 = 3;

/// Counts and latencies of measured requests.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Latencies of answered requests, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Requests written to a server.
    pub sent: u64,
    /// Requests answered with anything but an error reply.
    pub ok: u64,
    /// Requests answered with an error reply, or lost with their connection.
    pub errors: u64,
    /// Times a client left its server (error, redirect, closed) for the next endpoint.
    pub reconnects: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

impl Tally {
    /// Nothing counted yet.
    pub fn new() -> Tally {
        Tally {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, HISTOGRAM_DIGITS)
                .expect("constant bounds are valid"),
            sent: 0,
            ok: 0,
            errors: 0,
            reconnects: 0,
        }
    }

    /// One answered request that took `latency_us` microseconds.
    pub fn record_ok(&mut self, latency_us: u64) {
        self.ok += 1;
        self.latency_us.saturating_record(latency_us.max(1));
    }

    /// Add `other`'s counts and latencies to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms with the same bounds merge");
        self.sent += other.sent;
        self.ok += other.ok;
        self.errors += other.errors;
        self.reconnects += other.reconnects;
    }
}
