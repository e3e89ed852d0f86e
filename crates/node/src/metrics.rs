//! Process metrics: the recorders behind what `/metrics` exports and what `INFO` reports about
//! latency. Plain recorders: this module imports nothing of the node, so any layer may record
//! into it; the exporter that reads the node's state at scrape time is [`crate::exporter`].
//!
//! Recording goes through the `metrics` facade; when `--metrics-listen` is set, [`install`]
//! puts a Prometheus recorder (`metrics-exporter-prometheus`) behind it, and `/metrics` renders
//! it. The labelled histograms of the write path are recorded through handles registered once
//! (`Handles`) and skipped without a recorder, so the hot paths pay nothing then; the
//! unlabelled macros are no-ops without one. With a recorder, a thread runs its upkeep every
//! [`UPKEEP_INTERVAL`], which bounds the memory its histograms hold between scrapes.
//!
//! The Raft-log fsync latency is also kept in an [`hdrhistogram`] (microseconds, cumulative since
//! the process started) because `INFO raft` reports its p50 and p99 whether or not Prometheus is
//! on. These statistics are process-wide: one process runs one node.
//!
//! Gauges that describe state rather than events (keys, apply lag, term, RSS) are set at scrape
//! time by [`crate::exporter::refresh_gauges`], so they are never stale and cost nothing between scrapes.
//!
//! Exported names (all prefixed `raftkv_`):
//! - `leader_changes_total` (counter): times this node saw the leader change (including to none);
//! - `proposals_committed_total`, `proposals_failed_total` (counters): log entries of client
//!   writes proposed by this node as leader, by outcome;
//! - `raft_log_fsync_seconds` (histogram): from a log append to its durable-flush callback;
//! - `peer_rtt_seconds{peer}` (histogram): round trip of Raft RPCs to each peer;
//! - `command_duration_seconds{cmd}` (histogram): time from dispatch to reply of each data
//!   command (commands of one pipelined batch share the batch's time);
//! - `write_stage_seconds{stage}` (histogram): where a write's time goes, stage by stage (see
//!   [`Stage`]); `INFO raft` reports each stage's p50 and p99 as `write_stage_<stage>_p50_us`;
//! - `write_entry_requests`, `write_entry_commands` (histograms): how many callers' batches and
//!   commands the proposer gathered into each log entry (`crate::raft::proposer`);
//! - `snapshot_failures_total` (counter): snapshot builds that could not be written (a full
//!   disk); the previous snapshot and the log behind it were kept;
//! - `keys`, `apply_lag_entries`, `term`, `commit_index`, `applied_index`, `is_leader`,
//!   `raft_log_disk_bytes`, `snapshot_disk_bytes`, `resident_memory_bytes` (gauges);
//! - `disk_free_bytes`, `disk_min_free_bytes`, `disk_ok` (1 unless free space is below the
//!   minimum), `raft_log_growth_bytes_per_second` (gauges, set by the free-space sampler every
//!   second, see [`crate::disk`]).
//! - `pubsub_channels`, `pubsub_patterns` (gauges) and `pubsub_published_total`,
//!   `pubsub_messages_delivered_total`, `pubsub_clients_cut_off_total` (counters), set at
//!   scrape time from the node's pub/sub hub, as `INFO pubsub` reports them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets for latencies, in seconds (50 µs .. 10 s).
const LATENCY_BUCKETS_S: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];
/// Histogram buckets for how many requests or commands one log entry gathered.
const ENTRY_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
/// Largest fsync latency the INFO histogram tracks, in microseconds (larger values saturate).
const FSYNC_MAX_US: u64 = 60_000_000;

/// How often the Prometheus recorder's upkeep runs. Until it does, every histogram sample is
/// kept as it was recorded (the `metrics-exporter-prometheus` recorder folds samples into its
/// buckets only on upkeep or a scrape), so a node whose `/metrics` nobody scraped grew by
/// ~10 MB a second under load; now at most this long's samples wait.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();
static UPKEEP_RUNS: AtomicU64 = AtomicU64::new(0);
static FSYNC_US: OnceLock<Mutex<Histogram<u64>>> = OnceLock::new();
static STAGE_US: OnceLock<[Mutex<Histogram<u64>>; Stage::ALL.len()]> = OnceLock::new();
static ENTRY_SIZES: OnceLock<[Mutex<Histogram<u64>>; 2]> = OnceLock::new();
static HANDLES: OnceLock<Handles> = OnceLock::new();

/// The Prometheus handles of the labelled histograms recorded on the write path, each
/// registered on first use; present only once [`install`] has put the recorder in place.
///
/// A `histogram!` call with a label builds its key (an allocation) and looks it up in the
/// recorder's registry each time, and it does so even with no recorder installed: a write paid
/// three of them (its queue and write stages, its command's duration), plus the batch's list
/// of names built for the last. Through these, a record is one call on a handle, and without a
/// recorder nothing at all.
#[derive(Default)]
struct Handles {
    /// `write_stage_seconds{stage}`, by [`Stage`].
    stages: [OnceLock<metrics::Histogram>; Stage::ALL.len()],
    /// `command_duration_seconds{cmd}`, by command name.
    commands: RwLock<HashMap<&'static str, metrics::Histogram>>,
    /// `peer_rtt_seconds{peer}`, by peer id.
    peers: RwLock<HashMap<u64, metrics::Histogram>>,
}

/// The handle under `key` in `map`, registered with `register` the first time.
fn handle<K: Hash + Eq>(
    map: &RwLock<HashMap<K, metrics::Histogram>>,
    key: K,
    register: impl FnOnce() -> metrics::Histogram,
) -> metrics::Histogram {
    if let Some(h) = map.read().ok().and_then(|m| m.get(&key).cloned()) {
        return h;
    }
    let mut m = map.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    m.entry(key).or_insert_with(register).clone()
}

/// A stage of a write's life, timed on the node where it happens. On the leader a write is
/// [`Stage::Write`] end to end, of which [`Stage::Queue`] then [`Stage::Raft`]; a follower that
/// received it from a client adds the forward to the leader. The Raft stage contains the
/// leader's log append and fsync (`raft_log_fsync`), the replication round trip to each peer
/// (`peer_rtt{peer}`, which holds the follower's [`Stage::Append`]), commit and the leader's
/// [`Stage::Apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// From a connection dispatching a batch that writes to its replies being ready, on the node
    /// the client is connected to (forwarding included).
    Write,
    /// Waiting in the proposer for an entry slot (queued to proposed).
    Queue,
    /// An entry handed to openraft until its applied replies come back: append and fsync,
    /// replication, commit, apply.
    Raft,
    /// A follower handling one AppendEntries request: its log append and fsync included.
    Append,
    /// Applying one log entry to the state machine.
    Apply,
}

impl Stage {
    /// Every stage, in the order of a write's life.
    pub const ALL: [Stage; 5] = [
        Stage::Write,
        Stage::Queue,
        Stage::Raft,
        Stage::Append,
        Stage::Apply,
    ];

    /// The stage's label in `/metrics` and `INFO`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Write => "write",
            Stage::Queue => "queue",
            Stage::Raft => "raft",
            Stage::Append => "append",
            Stage::Apply => "apply",
        }
    }
}

fn new_latency_hist() -> Mutex<Histogram<u64>> {
    Mutex::new(Histogram::new_with_bounds(1, FSYNC_MAX_US, 2).expect("valid histogram bounds"))
}

fn stage_hists() -> &'static [Mutex<Histogram<u64>>; Stage::ALL.len()] {
    STAGE_US.get_or_init(|| std::array::from_fn(|_| new_latency_hist()))
}

fn entry_size_hists() -> &'static [Mutex<Histogram<u64>>; 2] {
    ENTRY_SIZES.get_or_init(|| std::array::from_fn(|_| new_latency_hist()))
}

/// Record `elapsed` for one pass through `stage`.
pub fn record_stage(stage: Stage, elapsed: Duration) {
    if let Some(handles) = HANDLES.get() {
        handles.stages[stage as usize]
            .get_or_init(
                || metrics::histogram!("raftkv_write_stage_seconds", "stage" => stage.name()),
            )
            .record(elapsed.as_secs_f64());
    }
    let us = (elapsed.as_micros() as u64).clamp(1, FSYNC_MAX_US);
    if let Ok(mut h) = stage_hists()[stage as usize].lock() {
        let _ = h.record(us);
    }
}

/// A stage's latency since start: (p50 µs, p99 µs, count). Zeros before the first record.
pub fn stage_percentiles_us(stage: Stage) -> (u64, u64, u64) {
    stage_hists()[stage as usize]
        .lock()
        .map(|h| percentiles(&h))
        .unwrap_or((0, 0, 0))
}

/// Record one gathered log entry: `requests` callers' batches holding `commands` commands.
pub fn record_gathered(requests: usize, commands: usize) {
    metrics::histogram!("raftkv_write_entry_requests").record(requests as f64);
    metrics::histogram!("raftkv_write_entry_commands").record(commands as f64);
    for (h, n) in entry_size_hists().iter().zip([requests, commands]) {
        if let Ok(mut h) = h.lock() {
            let _ = h.record((n as u64).clamp(1, FSYNC_MAX_US));
        }
    }
}

/// Per gathered entry since start: ((p50, p99, count) of requests, (p50, p99, count) of
/// commands).
pub fn entry_size_percentiles() -> ((u64, u64, u64), (u64, u64, u64)) {
    let [requests, commands] = entry_size_hists()
        .each_ref()
        .map(|h| h.lock().map(|h| percentiles(&h)).unwrap_or((0, 0, 0)));
    (requests, commands)
}

fn fsync_hist() -> &'static Mutex<Histogram<u64>> {
    FSYNC_US.get_or_init(new_latency_hist)
}

/// Install the Prometheus recorder (once per process) and return its handle.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = PROMETHEUS.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS_S)
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(
            Matcher::Prefix("raftkv_write_entry_".into()),
            ENTRY_SIZE_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    // Counters appear in the export only once touched; touch them so a scrape always lists them.
    for counter in [
        "raftkv_leader_changes_total",
        "raftkv_proposals_committed_total",
        "raftkv_proposals_failed_total",
        "raftkv_snapshot_failures_total",
    ] {
        metrics::counter!(counter).increment(0);
    }
    let handle = PROMETHEUS.get_or_init(|| handle).clone();
    let _ = HANDLES.set(Handles::default());
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            upkeep.run_upkeep();
            UPKEEP_RUNS.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(UPKEEP_INTERVAL);
        })
        .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
    Ok(handle)
}

/// Upkeep runs of the Prometheus recorder so far (see [`UPKEEP_INTERVAL`]).
pub fn upkeep_runs() -> u64 {
    UPKEEP_RUNS.load(Ordering::Relaxed)
}

/// Record one Raft-log flush: `elapsed` from the append to its durable callback.
pub fn record_fsync(elapsed: Duration) {
    metrics::histogram!("raftkv_raft_log_fsync_seconds").record(elapsed.as_secs_f64());
    let us = (elapsed.as_micros() as u64).clamp(1, FSYNC_MAX_US);
    if let Ok(mut h) = fsync_hist().lock() {
        let _ = h.record(us);
    }
}

/// Raft-log fsync latency since start: (p50 µs, p99 µs, count). Zeros before the first flush.
pub fn fsync_percentiles_us() -> (u64, u64, u64) {
    fsync_hist()
        .lock()
        .map(|h| percentiles(&h))
        .unwrap_or((0, 0, 0))
}

/// (p50, p99, count) of `h`; zeros when it is empty.
fn percentiles(h: &Histogram<u64>) -> (u64, u64, u64) {
    if h.is_empty() {
        return (0, 0, 0);
    }
    (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.len())
}

/// Record one Raft RPC round trip to `peer`.
pub fn record_peer_rtt(peer: u64, elapsed: Duration) {
    if let Some(handles) = HANDLES.get() {
        handle(
            &handles.peers,
            peer,
            || metrics::histogram!("raftkv_peer_rtt_seconds", "peer" => peer.to_string()),
        )
        .record(elapsed.as_secs_f64());
    }
}

/// Record the outcome of one client write proposed by this node.
pub fn record_proposal(committed: bool) {
    if committed {
        metrics::counter!("raftkv_proposals_committed_total").increment(1);
    } else {
        metrics::counter!("raftkv_proposals_failed_total").increment(1);
    }
}

/// Times one batch of data commands; [`BatchTimer::finish`] records it once per command, and as
/// one [`Stage::Write`] if it writes.
pub struct BatchTimer {
    /// The batch's command names, a run of equal neighbours as one (name, count); left empty
    /// when no recorder is installed, since nothing would read it.
    names: Vec<(&'static str, usize)>,
    writes: bool,
    started: Instant,
}

impl BatchTimer {
    /// Start timing `batch`.
    pub fn start(batch: &[kv::Command]) -> BatchTimer {
        let mut names: Vec<(&'static str, usize)> = Vec::new();
        if HANDLES.get().is_some() {
            for c in batch {
                match names.last_mut() {
                    Some((name, count)) if *name == c.name() => *count += 1,
                    _ => names.push((c.name(), 1)),
                }
            }
        }
        BatchTimer {
            names,
            writes: batch.iter().any(kv::Command::is_write),
            started: Instant::now(),
        }
    }

    /// Record the elapsed time for every command of the batch.
    pub fn finish(self) {
        let elapsed = self.started.elapsed();
        if self.writes {
            record_stage(Stage::Write, elapsed);
        }
        let Some(handles) = HANDLES.get() else {
            return;
        };
        let secs = elapsed.as_secs_f64();
        for (name, count) in self.names {
            handle(
                &handles.commands,
                name,
                || metrics::histogram!("raftkv_command_duration_seconds", "cmd" => name),
            )
            .record_many(secs, count);
        }
    }
}

/// Resident set size of this process, in bytes (from `/proc/self/statm`, 4 KiB pages).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    parse_statm_rss_pages(&statm).map(|pages| pages * 4096)
}

/// The resident page count: the second field of `/proc/self/statm`.
fn parse_statm_rss_pages(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_second_field_is_rss_pages() {
        assert_eq!(parse_statm_rss_pages("1000 250 30 4 0 100 0\n"), Some(250));
        assert_eq!(parse_statm_rss_pages("1000"), None);
        assert_eq!(parse_statm_rss_pages("a b"), None);
    }

    #[test]
    fn the_installed_recorder_is_kept_up_without_scrapes() {
        install().unwrap();
        let before = upkeep_runs();
        let deadline = Instant::now() + 10 * UPKEEP_INTERVAL;
        while upkeep_runs() < before + 2 {
            assert!(Instant::now() < deadline, "no upkeep ran since {before}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn percentiles_of_a_histogram() {
        let mut h = Histogram::new_with_bounds(1, FSYNC_MAX_US, 2).unwrap();
        assert_eq!(percentiles(&h), (0, 0, 0));
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let (p50, p99, n) = percentiles(&h);
        assert_eq!(n, 100);
        assert!((40_000..=60_000).contains(&p50), "p50 {p50}");
        assert!(p99 >= 90_000, "p99 {p99}");
    }
}
