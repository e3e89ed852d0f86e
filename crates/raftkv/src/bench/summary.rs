//! The figures a run reports, computed once from the merged [`Tally`]: throughput over the
//! measured time and latency percentiles from the HDR histogram (never hand-computed).

use std::time::Duration;

use serde_json::{json, Value};

use super::options::{Plan, StopAfter};
use super::tally::Tally;

/// The result of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Requests written in the measured part.
    pub sent: u64,
    /// Of those, answered without an error.
    pub ok: u64,
    /// Of those, answered with an error or lost with a connection.
    pub errors: u64,
    /// Times a client moved to the next endpoint.
    pub reconnects: u64,
    /// Length of the measured part, in seconds.
    pub elapsed_s: f64,
    /// Answered requests per second (`ok / elapsed_s`).
    pub throughput: f64,
    /// Mean latency of answered requests, in microseconds.
    pub mean_us: f64,
    /// Median latency, in microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: u64,
    /// 99.9th percentile latency, in microseconds.
    pub p999_us: u64,
    /// Highest latency, in microseconds.
    pub max_us: u64,
}

impl Summary {
    /// Summarize `tally`, measured over `elapsed`.
    pub fn new(tally: &Tally, elapsed: Duration) -> Summary {
        let h = &tally.latency_us;
        let elapsed_s = elapsed.as_secs_f64();
        let (p50, p99, p999) = if tally.ok == 0 {
            (0, 0, 0)
        } else {
            (
                h.value_at_quantile(0.50),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
            )
        };
        Summary {
            sent: tally.sent,
            ok: tally.ok,
            errors: tally.errors,
            reconnects: tally.reconnects,
            elapsed_s,
            throughput: if elapsed_s > 0.0 {
                tally.ok as f64 / elapsed_s
            } else {
                0.0
            },
            mean_us: if tally.ok == 0 { 0.0 } else { h.mean() },
            p50_us: p50,
            p99_us: p99,
            p999_us: p999,
            max_us: if tally.ok == 0 { 0 } else { h.max() },
        }
    }

    /// The summary and the run's settings as one JSON object.
    pub fn to_json(&self, plan: &Plan) -> Value {
        json!({
            "target": "resp",
            "endpoints": plan.endpoints,
            "clients": plan.clients,
            "pipeline": plan.pipeline,
            "read_ratio": plan.read_ratio,
            "value_size": plan.value_size,
            "keyspace": plan.keyspace,
            "keys": format!("{:?}", plan.keys).to_lowercase(),
            "warmup_s": plan.warmup.as_secs_f64(),
            "requests": match plan.stop { StopAfter::Requests(n) => Some(n), _ => None },
            "duration_s": self.elapsed_s,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "throughput": self.throughput,
            "mean_us": self.mean_us,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "p999_us": self.p999_us,
            "max_us": self.max_us,
        })
    }

    /// Human-readable lines.
    pub fn to_text(&self, plan: &Plan) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "{clients} clients, pipeline {pipeline}, {reads:.0}% GET, {size}-byte values, \
             {keyspace} keys ({keys:?}), {endpoints} endpoint(s)\n\
             requests: {sent} sent, {ok} ok, {errors} errors, {reconnects} reconnects in {secs:.2} s\n\
             throughput: {tput:.0} req/s\n\
             latency ms: p50 {p50:.3}  p99 {p99:.3}  p99.9 {p999:.3}  max {max:.3}  mean {mean:.3}\n",
            clients = plan.clients,
            pipeline = plan.pipeline,
            reads = plan.read_ratio * 100.0,
            size = plan.value_size,
            keyspace = plan.keyspace,
            keys = plan.keys,
            endpoints = plan.endpoints.len(),
            sent = self.sent,
            ok = self.ok,
            errors = self.errors,
            reconnects = self.reconnects,
            secs = self.elapsed_s,
            tput = self.throughput,
            p50 = ms(self.p50_us),
            p99 = ms(self.p99_us),
            p999 = ms(self.p999_us),
            max = ms(self.max_us),
            mean = self.mean_us / 1000.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut t = Tally::new();
        // 1..=1000 us, once each: p50 = 500, p99 = 990, p99.9 = 999, max 1000 (within the
        // histogram's 0.1% resolution).
        for us in 1..=1000 {
            t.sent += 1;
            t.record_ok(us);
        }
        t.sent += 5;
        t.errors += 5;
        let s = Summary::new(&t, Duration::from_secs(2));
        assert_eq!((s.sent, s.ok, s.errors), (1005, 1000, 5));
        assert_eq!(s.throughput, 500.0);
        assert_eq!(
            (s.p50_us, s.p99_us, s.p999_us, s.max_us),
            (500, 990, 999, 1000)
        );
        assert!((s.mean_us - 500.5).abs() < 1.0, "{}", s.mean_us);
    }

    #[test]
    fn merged_tallies_add_up() {
        let (mut a, mut b) = (Tally::new(), Tally::new());
        a.sent = 3;
        a.record_ok(100);
        a.record_ok(100);
        a.errors = 1;
        b.sent = 2;
        b.record_ok(10_000);
        b.errors = 1;
        b.reconnects = 1;
        a.merge(&b);
        let s = Summary::new(&a, Duration::from_secs(1));
        assert_eq!((s.sent, s.ok, s.errors, s.reconnects), (5, 3, 2, 1));
        assert_eq!(s.p50_us, 100);
        // The histogram keeps 3 significant digits: max is 10,000 within 0.1%.
        assert!((10_000..=10_010).contains(&s.max_us), "{}", s.max_us);
        assert!(s.p50_us <= s.p99_us && s.p99_us <= s.p999_us && s.p999_us <= s.max_us);
    }

    #[test]
    fn nothing_answered_gives_zeroes_not_garbage() {
        let mut t = Tally::new();
        t.sent = 4;
        t.errors = 4;
        let s = Summary::new(&t, Duration::ZERO);
        assert_eq!(
            (s.throughput, s.p50_us, s.max_us, s.mean_us),
            (0.0, 0, 0, 0.0)
        );
    }
}
