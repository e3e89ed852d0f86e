//! One closed-loop client: write `pipeline` requests, read their replies, repeat.
//!
//! Client `i` starts on endpoint `i % endpoints` (so clients spread over the nodes) and stays
//! there while it answers. It moves to the next endpoint when its connection fails or closes,
//! a request times out ([`REQUEST_TIMEOUT`]), or a reply says the node cannot serve
//! (`MOVED`, `ASK`, `CLUSTERDOWN`, `TRYAGAIN`, `READONLY`, `LOADING`): that is how it follows a
//! leader change. Requests lost that way, and every error reply, are counted as errors, never
//! retried, so `ok + errors == sent` holds and throughput counts only answered requests.
//!
//! Requests started before the warm-up ends are not counted. With `--requests N` the
//! measured requests are claimed from a shared budget a batch at a time, so the clients
//! together send exactly N.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use node::client::RespClient;
use resp::Reply;

use super::options::{Plan, StopAfter};
use super::tally::Tally;
use super::workload::Workload;

/// Longest wait for a connection or for one reply before giving the server up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before trying the next endpoint after a failed connect or a redirect, so a cluster
/// without a leader is not spun on.
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Reply prefixes that mean "this node cannot serve you now, try another".
const MOVE_ON_ERRORS: [&str; 6] = [
    "MOVED",
    "ASK",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "READONLY",
    "LOADING",
];

/// What the clients share: when to start measuring and stop, the request budget, and live
/// counts for the progress line.
#[derive(Debug)]
pub struct Shared {
    /// Requests started from here on are measured.
    pub measure_from: Instant,
    /// When clients stop (`--duration`), or `None` with `--requests`.
    pub stop_at: Option<Instant>,
    /// Measured requests still to claim (`--requests`).
    pub budget: AtomicU64,
    /// Measured requests answered so far.
    pub ok: AtomicU64,
    /// Measured requests failed so far.
    pub errors: AtomicU64,
    /// TLS for every connection (`--tls-ca`), or None for plain ones.
    pub tls: Option<Arc<node::tls::ClientTls>>,
}

impl Shared {
    /// Shared state for a run starting now.
    pub fn new(plan: &Plan, now: Instant) -> Shared {
        let measure_from = now + plan.warmup;
        let (stop_at, budget) = match plan.stop {
            StopAfter::Duration(d) => (Some(measure_from + d), 0),
            StopAfter::Requests(n) => (None, n),
        };
        Shared {
            measure_from,
            stop_at,
            budget: AtomicU64::new(budget),
            ok: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            tls: None,
        }
    }

    /// Whether the run is over (duration passed, or the budget spent), without claiming.
    fn finished(&self, now: Instant) -> bool {
        match self.stop_at {
            Some(stop_at) => now >= stop_at,
            None => now >= self.measure_from && self.budget.load(Ordering::Relaxed) == 0,
        }
    }

    /// How many requests the next batch may send (0: stop). Claims from the budget once
    /// measuring.
    fn claim(&self, now: Instant, want: usize) -> usize {
        if let Some(stop_at) = self.stop_at {
            return if now >= stop_at { 0 } else { want };
        }
        if now < self.measure_from {
            return want;
        }
        let mut left = self.budget.load(Ordering::Relaxed);
        loop {
            let take = left.min(want as u64);
            if take == 0 {
                return 0;
            }
            match self.budget.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take as usize,
                Err(now_left) => left = now_left,
            }
        }
    }
}

/// Is this error reply one that means "go to another node"?
pub fn moves_on(error: &str) -> bool {
    let prefix = error.split(' ').next().unwrap_or("");
    MOVE_ON_ERRORS.contains(&prefix)
}

/// One client's run.
pub struct Client {
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    workload: Workload,
    endpoint: usize,
    conn: Option<RespClient>,
    out: BytesMut,
    tally: Tally,
}

impl Client {
    /// Client number `index`, generating requests with `workload`.
    pub fn new(index: usize, plan: Arc<Plan>, shared: Arc<Shared>, workload: Workload) -> Client {
        let endpoint = index % plan.endpoints.len();
        Client {
            plan,
            shared,
            workload,
            endpoint,
            conn: None,
            out: BytesMut::with_capacity(4096),
            tally: Tally::new(),
        }
    }

    /// Run until the duration passes or the request budget is spent; return what was counted.
    pub async fn run(mut self) -> Tally {
        loop {
            let Some(mut conn) = self.connection().await else {
                if self.shared.finished(Instant::now()) {
                    break;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            let batch = self.shared.claim(Instant::now(), self.plan.pipeline);
            if batch == 0 {
                break;
            }
            let keep = self.send_batch(&mut conn, batch).await;
            if keep {
                self.conn = Some(conn);
            } else {
                self.move_on().await;
            }
        }
        self.tally
    }

    /// The open connection, or a new one to the current endpoint (`None`, having moved to the
    /// next endpoint, if that fails).
    async fn connection(&mut self) -> Option<RespClient> {
        if let Some(conn) = self.conn.take() {
            return Some(conn);
        }
        let addr = &self.plan.endpoints[self.endpoint];
        match crate::auth::connect(addr, REQUEST_TIMEOUT, self.shared.tls.as_deref()).await {
            Ok(conn) => Some(conn),
            Err(_) => {
                self.endpoint = (self.endpoint + 1) % self.plan.endpoints.len();
                None
            }
        }
    }

    async fn move_on(&mut self) {
        self.conn = None;
        self.endpoint = (self.endpoint + 1) % self.plan.endpoints.len();
        self.tally.reconnects += 1;
        tokio::time::sleep(RETRY_PAUSE).await;
    }

    /// Send `batch` requests and read their replies; false when the connection should be
    /// given up.
    async fn send_batch(&mut self, conn: &mut RespClient, batch: usize) -> bool {
        self.out.clear();
        for _ in 0..batch {
            self.workload.next_into(&mut self.out);
        }
        let began = Instant::now();
        let measured = began >= self.shared.measure_from;
        let (mut ok, mut errors, mut keep) = (0u64, 0u64, true);
        if conn.send_raw(&self.out).await.is_err() {
            errors = batch as u64;
            keep = false;
        } else {
            for answered in 0..batch {
                match conn.read_reply().await {
                    Ok(Reply::Error(e)) => {
                        errors += 1;
                        keep &= !moves_on(&e);
                    }
                    Ok(_) => {
                        ok += 1;
                        if measured {
                            self.tally.record_ok(began.elapsed().as_micros() as u64);
                        }
                    }
                    Err(_) => {
                        errors += (batch - answered) as u64;
                        keep = false;
                        break;
                    }
                }
            }
        }
        if measured {
            self.tally.sent += batch as u64;
            self.tally.errors += errors;
            self.shared.ok.fetch_add(ok, Ordering::Relaxed);
            self.shared.errors.fetch_add(errors, Ordering::Relaxed);
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::keys::KeyDistribution;
    use crate::bench::options::Output;

    fn plan(stop: StopAfter, warmup: Duration) -> Plan {
        Plan {
            endpoints: vec!["a:1".into()],
            clients: 1,
            stop,
            pipeline: 4,
            value_size: 1,
            keyspace: 1,
            read_ratio: 0.0,
            keys: KeyDistribution::Uniform,
            warmup,
            seed: 1,
            output: Output::Json,
        }
    }

    #[test]
    fn request_budget_is_claimed_exactly_after_the_warmup() {
        let t0 = Instant::now();
        let shared = Shared::new(&plan(StopAfter::Requests(10), Duration::from_secs(1)), t0);
        // Warm-up batches are free and never end the run.
        assert_eq!(shared.claim(t0, 4), 4);
        assert!(!shared.finished(t0));
        let later = t0 + Duration::from_secs(2);
        let claims: Vec<usize> = (0..5).map(|_| shared.claim(later, 4)).collect();
        assert_eq!(claims, vec![4, 4, 2, 0, 0]);
        assert!(shared.finished(later));
    }

    #[test]
    fn duration_ends_the_run_at_warmup_plus_duration() {
        let t0 = Instant::now();
        let p = plan(
            StopAfter::Duration(Duration::from_secs(3)),
            Duration::from_secs(1),
        );
        let shared = Shared::new(&p, t0);
        assert_eq!(shared.claim(t0 + Duration::from_millis(3999), 4), 4);
        assert_eq!(shared.claim(t0 + Duration::from_secs(4), 4), 0);
        assert!(shared.finished(t0 + Duration::from_secs(4)));
    }

    #[test]
    fn redirect_errors_move_on_others_do_not() {
        assert!(moves_on("CLUSTERDOWN no leader"));
        assert!(moves_on("TRYAGAIN the leader could not be reached"));
        assert!(moves_on("MOVED 0 127.0.0.1:7001"));
        assert!(!moves_on("ERR syntax error"));
        assert!(!moves_on("WRONGTYPE Operation against a key"));
        assert!(!moves_on("TRYAGAINX"));
    }
}
