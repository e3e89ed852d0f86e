//! `etcd-bench`: the etcd load generator behind `scripts/bench-compare`.
//!
//! Closed loop, like `raftkv bench`: `--clients` tasks each keep one request in flight (a PUT,
//! or a linearizable GET with probability `--read-ratio`) on keys drawn uniformly from
//! `--keyspace`, for `--warmup` and then `--duration` seconds. Only the measured window is
//! recorded. Clients share `--conns` gRPC connections (HTTP/2 multiplexes them), round-robin,
//! and every connection goes to the first endpoint (the script passes the leader, so etcd
//! and raftkv both take their load on the leader). The summary is one JSON object with the
//! fields `raftkv bench --output json` prints, so the script reads both the same way.

use std::time::{Duration, Instant};

use clap::Parser;
use etcd_client::{Client, GetOptions};
use hdrhistogram::Histogram;

/// Highest latency the histogram records, in microseconds (longer ones are clamped).
const MAX_LATENCY_US: u64 = 60_000_000;

/// Flags.
#[derive(Parser, Debug)]
struct Opts {
    /// etcd client URLs (http://host:port), comma-separated; all load goes to the first.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// gRPC connections the clients share (default: one per client, at most 64).
    #[arg(long)]
    conns: Option<usize>,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before the measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 100_000)]
    keyspace: u64,
    /// Fraction of requests that are (linearizable) GETs, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    read_ratio: f64,
    /// Seed of the key generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One client's tallies for the measured window.
struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    anyhow::ensure!(opts.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(opts.keyspace > 0, "--keyspace must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.read_ratio),
        "--read-ratio must be between 0 and 1"
    );
    let conns = opts.conns.unwrap_or(opts.clients.min(64)).max(1);
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        clients.push(Client::connect([opts.endpoints[0].as_str()], None).await?);
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(opts.warmup);
    let stop_at = measure_from + Duration::from_secs_f64(opts.duration);
    let value = vec![b'x'; opts.value_size];
    let mut tasks = Vec::new();
    for i in 0..opts.clients {
        let client = clients[i % conns].clone();
        let (value, keyspace, read_ratio) = (value.clone(), opts.keyspace, opts.read_ratio);
        let seed = opts.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        tasks.push(tokio::spawn(async move {
            run_client(
                client,
                seed,
                keyspace,
                read_ratio,
                value,
                measure_from,
                stop_at,
            )
            .await
        }));
    }
    let mut total = Tally {
        hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
        ok: 0,
        errors: 0,
    };
    for t in tasks {
        let t = t.await?;
        total.hist.add(&t.hist)?;
        total.ok += t.ok;
        total.errors += t.errors;
    }
    // The measured time ends when the last client's last request does.
    let secs = Instant::now()
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-6);
    let h = &total.hist;
    let summary = serde_json::json!({
        "target": "etcd",
        "clients": opts.clients,
        "pipeline": 1,
        "read_ratio": opts.read_ratio,
        "value_size": opts.value_size,
        "duration_s": secs,
        "sent": total.ok + total.errors,
        "ok": total.ok,
        "errors": total.errors,
        "throughput": total.ok as f64 / secs,
        "p50_us": h.value_at_quantile(0.50),
        "p99_us": h.value_at_quantile(0.99),
        "p999_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
    });
    println!("{summary}");
    Ok(())
}

/// A splitmix64 step: a small seeded generator (no need for a crate here).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One closed-loop client: one request at a time until `stop_at`, recording those that
/// start at or after `measure_from`.
async fn run_client(
    mut client: Client,
    seed: u64,
    keyspace: u64,
    read_ratio: f64,
    value: Vec<u8>,
    measure_from: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally {
        hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds"),
        ok: 0,
        errors: 0,
    };
    let mut rng = seed;
    loop {
        let began = Instant::now();
        if began >= stop_at {
            return tally;
        }
        let key = format!("key:{:012}", next(&mut rng) % keyspace);
        let read = ((next(&mut rng) >> 11) as f64 / (1u64 << 53) as f64) < read_ratio;
        let result = if read {
            client.get(key, Some(GetOptions::new())).await.map(|_| ())
        } else {
            client.put(key, value.clone(), None).await.map(|_| ())
        };
        if began < measure_from {
            continue;
        }
        match result {
            Ok(()) => {
                tally.ok += 1;
                let us = (began.elapsed().as_micros() as u64).clamp(1, MAX_LATENCY_US);
                tally.hist.record(us).expect("clamped into bounds");
            }
            Err(_) => tally.errors += 1,
        }
    }
}
