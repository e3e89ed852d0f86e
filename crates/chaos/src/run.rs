//! One fault run from start to verdict.
//!
//! 1. **Set up** (single-threaded): check we are root and have the tools, sweep leftovers of
//!    dead runs, create the report directory, generate the schedule from the seed, build the
//!    network and move this process into its hub namespace. Only then start the async runtime.
//! 2. **Form** the cluster: the first node bootstraps, the others join; wait for every voter.
//! 3. **Warm up**: recording clients (a few per slot, every slot) run for [`WARMUP`] with no
//!    fault.
//! 4. **Faults**: follow the schedule; each episode begins, holds, ends. Nodes that exit on their
//!    own are noticed between steps.
//! 5. **Heal**: network healed, clocks right, paused nodes continued, dead members restarted,
//!    membership reconciled with the intent; then every member must accept a write within
//!    [`RECOVERY_BOUND`] of the heal (these probe writes are part of the history).
//! 6. **After heal**: the clients keep going for [`AFTER_HEAL`].
//! 7. **Final reads**: clients stop; every key ever used is read through every member.
//! 8. **Check** the history, write the report, and decide: see [`crate::summary`].
//!
//! Ctrl-C (or SIGTERM) at any point abandons the run: the history so far is saved, every node
//! is killed and every namespace deleted, and the run fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use check::{CheckOptions, Command, History, Outcome, Recorder, Verdict};

use crate::admin;
use crate::client::{Client, OP_TIMEOUT};
use crate::cluster::{Cluster, ClusterOptions, SPARE_SLOTS};
use crate::events::EventLog;
use crate::fault_set::FaultSet;
use crate::keys::KeyPool;
use crate::nemesis::Nemesis;
use crate::net::{cleanup_stale, Network};
use crate::process::LIBFAKETIME;
use crate::report::ReportDir;
use crate::schedule::{Schedule, ScheduleParams};
use crate::stats::{OpStats, Phase};
use crate::summary::Summary;
use crate::workload::{classify, Workload};
use check::Rng;

/// Fault-free client time before the first fault.
pub const WARMUP: Duration = Duration::from_secs(10);
/// Fault-free client time after the cluster recovered.
pub const AFTER_HEAL: Duration = Duration::from_secs(10);
/// Shortest run: warm-up, after-heal, and room for one fault.
pub const MIN_DURATION: Duration = Duration::from_secs(30);
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// After healing, every member must have accepted a write within this bound.
pub const RECOVERY_BOUND: Duration = Duration::from_secs(60);
/// Pause between probe writes to a node that has not recovered yet.
pub const PROBE_PAUSE: Duration = Duration::from_millis(500);
/// How long to wait for clients to finish their last operation once told to stop.
pub const CLIENT_STOP_WAIT: Duration = Duration::from_secs(25);
/// A run fails if fewer operations than this succeeded before the first fault.
pub const MIN_OK_BEFORE_FAULTS: u64 = 50;
/// A run fails if fewer operations than this succeeded after the cluster recovered.
pub const MIN_OK_AFTER_HEAL: u64 = 10;
/// Time the checker may take to decide.
pub const CHECK_TIME_LIMIT: Duration = Duration::from_secs(300);
/// Memory the register search may use per key, in bytes.
pub const CHECK_MEMO_BYTES: usize = 2 << 30;
/// Most initial nodes.
pub const MAX_NODES: usize = 9;
/// Most clients per node slot.
pub const MAX_CLIENTS_PER_NODE: usize = 16;
/// Worker threads of the suite's runtime (clients, admin calls, the nemesis).
pub const WORKER_THREADS: usize = 4;
/// Client ids from here on are final reads (plus the slot).
pub const FINAL_READ_CLIENT: u64 = 10_000;
/// Client ids from here on are recovery probes (plus the slot).
pub const PROBE_CLIENT: u64 = 20_000;
/// How often the runner looks for nodes that exited on their own while waiting.
pub const EXIT_POLL: Duration = Duration::from_millis(500);

/// Everything `raftkv-chaos run` needs; also its command-line flags.
#[derive(Clone, Debug, clap::Args)]
pub struct RunOptions {
    /// Initial cluster size (spare slots for growing are added).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Seed of the fault schedule and the clients [default: from the clock; the summary
    /// prints it].
    #[arg(long, default_value_t = crate::seed_from_clock(), hide_default_value = true)]
    pub seed: u64,
    /// Client time: 10 s warm-up, faults, 10 s after healing (e.g. 180s, 3m); healing and
    /// checking come on top.
    #[arg(long, default_value = "180s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// register or append.
    #[arg(long, default_value = "register")]
    pub workload: Workload,
    /// mixed, kill, pause, partition, clock, membership, powerloss, or disk (needs root: tmpfs data dirs).
    #[arg(long, default_value = "mixed")]
    pub faults: FaultSet,
    /// Self-test: start nodes with --unsafe-no-fsync (power loss then loses acknowledged writes).
    #[arg(long)]
    pub unsafe_no_fsync: bool,
    /// Self-test: start nodes with --unsafe-stale-reads.
    #[arg(long)]
    pub unsafe_stale_reads: bool,
    /// Report directory (must not hold a report yet).
    #[arg(long)]
    pub report_dir: PathBuf,
    /// The raftkv binary.
    #[arg(long, default_value = "target/release/raftkv")]
    pub binary: PathBuf,
    /// Recording clients per node slot.
    #[arg(long, default_value_t = 2)]
    pub clients_per_node: usize,
    /// Do not echo events on stderr.
    #[arg(long)]
    pub quiet: bool,
}

impl RunOptions {
    fn unsafe_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.unsafe_no_fsync {
            flags.push("--unsafe-no-fsync".to_string());
        }
        if self.unsafe_stale_reads {
            flags.push("--unsafe-stale-reads".to_string());
        }
        flags
    }

    fn schedule_params(&self) -> ScheduleParams {
        ScheduleParams {
            seed: self.seed,
            faults: self.faults,
            window_start: WARMUP,
            window_end: self.duration.saturating_sub(AFTER_HEAL),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=MAX_NODES).contains(&self.nodes) {
            bail!("--nodes must be 1 to {MAX_NODES}");
        }
        if self.duration < MIN_DURATION || self.duration > MAX_DURATION {
            bail!("--duration must be {MIN_DURATION:?} to {MAX_DURATION:?}");
        }
        if !(1..=MAX_CLIENTS_PER_NODE).contains(&self.clients_per_node) {
            bail!("--clients-per-node must be 1 to {MAX_CLIENTS_PER_NODE}");
        }
        if !self.binary.is_file() {
            bail!(
                "no raftkv binary at {} (build it with `cargo build --release -p raftkv`)",
                self.binary.display()
            );
        }
        Ok(())
    }
}

/// Runs one fault run and writes its report. `Err` only for set-up failures (not root, missing
/// tools, bad options); everything after set-up ends in a [`Summary`].
pub fn run(opts: &RunOptions) -> anyhow::Result<Summary> {
    opts.validate()?;
    if !nix::unistd::geteuid().is_root() {
        bail!("raftkv-chaos run needs root (network namespaces, nftables)");
    }
    let schedule = Schedule::generate(&opts.schedule_params());
    for tool in ["ip", "nft"] {
        crate::net::run_cmd("sh", &["-c", &format!("command -v {tool}")], None).with_context(
            || format!("{tool} is not installed (apt-get install iproute2 nftables)"),
        )?;
    }
    if schedule.needs_faketime() && !std::path::Path::new(LIBFAKETIME).exists() {
        bail!("clock faults need {LIBFAKETIME} (apt-get install faketime)");
    }
    for stale in cleanup_stale(false)? {
        eprintln!("raftkv-chaos: removed leftover namespace {stale}");
    }
    let report = ReportDir::create(&opts.report_dir)?;
    let binary = std::fs::canonicalize(&opts.binary)?;
    std::fs::write(
        report.run_info(),
        format!(
            "command: {}\nseed: {}\nnodes: {}\nworkload: {}\nfaults: {}\nduration: {}s\nunsafe: {:?}\nbinary: {}\nclients per node: {}\n",
            std::env::args().collect::<Vec<_>>().join(" "),
            opts.seed,
            opts.nodes,
            opts.workload,
            opts.faults,
            opts.duration.as_secs(),
            opts.unsafe_flags(),
            binary.display(),
            opts.clients_per_node
        ),
    )?;
    std::fs::write(
        report.schedule(),
        format!(
            "# seed {} faults {}: times from the start of the clients\n{schedule}",
            opts.seed, opts.faults
        ),
    )?;

    let net = Network::create(opts.nodes + SPARE_SLOTS)?;
    net.enter_hub()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()?;
    let events = Arc::new(EventLog::create(&report.events(), !opts.quiet)?);
    let recorder = Recorder::new();
    let stats = Arc::new(OpStats::new());
    let cluster_opts = ClusterOptions {
        binary,
        unsafe_flags: opts.unsafe_flags(),
        faketime: schedule.needs_faketime(),
        tmpfs_data: schedule.needs_tmpfs(),
    };
    let cluster = Cluster::new(net, cluster_opts, report.clone(), events.clone())?;
    let nemesis = Nemesis::new(events.clone());
    let injected = nemesis.injected();
    let run = Run {
        opts: opts.clone(),
        schedule,
        report: report.clone(),
        events: events.clone(),
        recorder: recorder.clone(),
        stats: stats.clone(),
        nemesis,
        problems: Vec::new(),
    };
    let outcome = runtime.block_on(async move {
        tokio::select! {
            r = run.go(cluster) => r,
            _ = interrupted() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    // Every node is gone and every namespace deleted once the run's future is dropped.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let summary = match outcome {
        Ok(summary) => summary,
        Err(e) => {
            events.log(format!("run abandoned: {e:#}"));
            let history = recorder.history();
            let _ = history.save(&report.history());
            let injected = injected.lock().unwrap_or_else(|p| p.into_inner()).clone();
            summarize(
                opts,
                &history,
                injected,
                "not checked".into(),
                false,
                vec![format!("error: {e:#}")],
            )
        }
    };
    std::fs::write(report.summary(), format!("{summary}\n"))?;
    std::fs::write(
        report.summary_json(),
        serde_json::to_string_pretty(&summary.to_json())?,
    )?;
    Ok(summary)
}

async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Builds the summary from the history and what the run found.
fn summarize(
    opts: &RunOptions,
    history: &History,
    injected: BTreeMap<String, u64>,
    verdict: String,
    violation: bool,
    problems: Vec<String>,
) -> Summary {
    let (mut ok, mut failed, mut indeterminate) = (0, 0, 0);
    let mut checked: BTreeMap<String, u64> = BTreeMap::new();
    for op in history.ops() {
        match op.outcome {
            Outcome::Ok { .. } => ok += 1,
            Outcome::Fail { .. } => failed += 1,
            Outcome::Info { .. } => indeterminate += 1,
        }
        if !op.outcome.is_fail() {
            let model = if matches!(op.command, Command::Append(_)) || op.key.starts_with('a') {
                "append"
            } else {
                "register"
            };
            *checked.entry(model.to_string()).or_default() += 1;
        }
    }
    Summary {
        seed: opts.seed,
        nodes: opts.nodes,
        workload: opts.workload.to_string(),
        faults: opts.faults.to_string(),
        duration_secs: opts.duration.as_secs(),
        unsafe_flags: opts.unsafe_flags(),
        ok,
        failed,
        indeterminate,
        checked,
        injected,
        verdict,
        violation,
        problems,
    }
}

/// The state of one run in progress.
struct Run {
    opts: RunOptions,
    schedule: Schedule,
    report: ReportDir,
    events: Arc<EventLog>,
    recorder: Recorder,
    stats: Arc<OpStats>,
    nemesis: Nemesis,
    problems: Vec<String>,
}

impl Run {
    /// Sleeps until `at`, looking for nodes that exited on their own meanwhile.
    async fn wait_until(&self, cluster: &mut Cluster, at: Instant) {
        while Instant::now() < at {
            let step = at.saturating_duration_since(Instant::now()).min(EXIT_POLL);
            tokio::time::sleep(step).await;
            cluster.check_exits();
        }
    }

    async fn go(mut self, mut cluster: Cluster) -> anyhow::Result<Summary> {
        cluster.start_initial(self.opts.nodes).await?;

        // Clients: a few per slot, every slot (spare slots refuse until a node runs there).
        let pool = Arc::new(Mutex::new(KeyPool::new(self.opts.workload)));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for slot in 0..cluster.slots() {
            for k in 0..self.opts.clients_per_node {
                let id = (slot * self.opts.clients_per_node + k + 1) as u64;
                let client = Client {
                    id,
                    addr: cluster.client_addr(slot),
                    workload: self.opts.workload,
                    pool: pool.clone(),
                    recorder: self.recorder.clone(),
                    stats: self.stats.clone(),
                    stop: stop.clone(),
                    rng: Rng::derive(self.opts.seed, 1_000 + id),
                };
                handles.push(tokio::spawn(client.run()));
            }
        }
        let t0 = Instant::now();
        self.events.log(format!(
            "{} clients started ({} per slot); schedule times count from here",
            handles.len(),
            self.opts.clients_per_node
        ));

        // Warm-up, then the faults.
        self.wait_until(&mut cluster, t0 + WARMUP).await;
        self.stats.set_phase(Phase::Faults);
        let (ok, _, _) = self.stats.in_phase(Phase::Warmup);
        self.events.log(format!("warm-up done: {ok} ok operations"));
        let window_end = t0 + self.opts.schedule_params().window_end;
        for episode in self.schedule.episodes.clone() {
            let start = (t0 + episode.start).max(Instant::now());
            if start + episode.hold > window_end {
                self.events.log(format!(
                    "skipping {} (planned at {:.1}s): no time left in the fault window",
                    episode.fault,
                    episode.start.as_secs_f64()
                ));
                continue;
            }
            self.wait_until(&mut cluster, start).await;
            let active = self.nemesis.begin(&mut cluster, &episode.fault).await;
            let until = Instant::now() + episode.hold;
            self.wait_until(&mut cluster, until).await;
            self.nemesis.end(&mut cluster, active).await;
            cluster.check_exits();
        }
        self.wait_until(&mut cluster, window_end).await;

        // Heal everything and demand recovery.
        self.stats.set_phase(Phase::Healing);
        let healed_at = Instant::now();
        self.events.log("HEAL everything");
        if let Err(e) = cluster.net().heal() {
            self.problems
                .push(format!("cannot heal the network: {e:#}"));
        }
        if let Some(clocks) = cluster.clocks.as_mut() {
            let _ = clocks.reset_all().await;
        }
        cluster.resume_all();
        cluster.restart_members().await;
        let reconcile_budget = RECOVERY_BOUND.saturating_sub(healed_at.elapsed());
        if let Err(e) = cluster.reconcile(reconcile_budget).await {
            self.problems.push(format!(
                "recovery: membership not as intended {:.0}s after healing: {e}",
                healed_at.elapsed().as_secs_f64()
            ));
        }
        self.probe_all(&cluster, healed_at + RECOVERY_BOUND).await;
        self.events.log(format!(
            "recovery checked {:.1}s after healing",
            healed_at.elapsed().as_secs_f64()
        ));

        // Fault-free tail, then stop the clients.
        self.stats.set_phase(Phase::AfterHeal);
        self.wait_until(&mut cluster, Instant::now() + AFTER_HEAL)
            .await;
        stop.store(true, Ordering::Relaxed);
        let stop_deadline = Instant::now() + CLIENT_STOP_WAIT.max(OP_TIMEOUT * 2);
        for h in handles {
            let left = stop_deadline.saturating_duration_since(Instant::now());
            let abort = h.abort_handle();
            if tokio::time::timeout(left, h).await.is_err() {
                // Dropping its pending operation records it as unknown.
                abort.abort();
                self.events
                    .log("a client did not stop in time; its last operation stays unknown");
            }
        }
        self.stats.set_phase(Phase::Final);
        let keys = pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .used()
            .to_vec();
        self.final_reads(&cluster, &keys).await;
        cluster.check_exits();
        cluster.stop_all();
        for exit in &cluster.unexpected_exits {
            self.problems.push(format!("crash: {exit}"));
        }
        let injected = self
            .nemesis
            .injected()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        drop(cluster);
        self.events.log("every node stopped, network deleted");
        Ok(self.conclude(injected).await)
    }

    /// Writes a probe through every member until each accepts one or `deadline` passes.
    async fn probe_all(&mut self, cluster: &Cluster, deadline: Instant) {
        for slot in cluster.members() {
            let addr = cluster.client_addr(slot);
            let key = format!("probe-s{slot}");
            let mut attempt = 0u64;
            let recovered = loop {
                attempt += 1;
                let value = format!("p{slot}-{attempt}");
                let command = Command::Set(value.clone());
                let pending =
                    self.recorder
                        .begin(PROBE_CLIENT + slot as u64, key.clone(), command.clone());
                let outcome = match admin::call(&addr, &["SET", &key, &value], OP_TIMEOUT).await {
                    Ok(reply) => classify(&command, reply).0,
                    Err(e) => Outcome::info(e),
                };
                let ok = matches!(outcome, Outcome::Ok { .. });
                pending.finish(outcome);
                if ok {
                    break true;
                }
                if Instant::now() + PROBE_PAUSE >= deadline {
                    break false;
                }
                tokio::time::sleep(PROBE_PAUSE).await;
            };
            if !recovered {
                self.problems.push(format!(
                    "recovery: slot {slot} accepted no write within {RECOVERY_BOUND:?} of healing ({attempt} attempts)"
                ));
            }
        }
    }

    /// Reads every key through every member, recorded like any other read.
    async fn final_reads(&self, cluster: &Cluster, keys: &[String]) {
        let mut keys = keys.to_vec();
        keys.extend((0..cluster.slots()).map(|s| format!("probe-s{s}")));
        for slot in cluster.members() {
            let addr = cluster.client_addr(slot);
            let mut conn = node::client::RespClient::connect(&addr, OP_TIMEOUT)
                .await
                .ok();
            for key in &keys {
                let Some(c) = conn.as_mut() else { break };
                let pending =
                    self.recorder
                        .begin(FINAL_READ_CLIENT + slot as u64, key.clone(), Command::Get);
                match c.call(&["GET", key.as_str()]).await {
                    Ok(reply) => pending.finish(classify(&Command::Get, reply).0),
                    Err(e) => {
                        pending.info(e.to_string());
                        conn = None;
                    }
                }
            }
        }
        self.events.log(format!(
            "final reads of {} keys through every member",
            keys.len()
        ));
    }

    /// Guards, check, report files; returns the summary.
    async fn conclude(mut self, injected: BTreeMap<String, u64>) -> Summary {
        let (before, _, _) = self.stats.in_phase(Phase::Warmup);
        if before < MIN_OK_BEFORE_FAULTS {
            self.problems.push(format!(
                "guard: only {before} ok operations before the first fault (need {MIN_OK_BEFORE_FAULTS})"
            ));
        }
        let (after, _, _) = self.stats.in_phase(Phase::AfterHeal);
        if after < MIN_OK_AFTER_HEAL {
            self.problems.push(format!(
                "guard: only {after} ok operations after healing (need {MIN_OK_AFTER_HEAL})"
            ));
        }
        if self.stats.anomalies() > 0 {
            self.problems.push(format!(
                "{} replies of an unexpected shape (see history.jsonl)",
                self.stats.anomalies()
            ));
        }
        let history = self.recorder.history();
        if let Err(e) = history.save(&self.report.history()) {
            self.problems.push(format!("cannot save the history: {e}"));
        }
        self.events
            .log(format!("checking {} operations", history.len()));
        let started = Instant::now();
        let options = CheckOptions {
            time_limit: CHECK_TIME_LIMIT,
            memo_bytes_max: CHECK_MEMO_BYTES,
            ..CheckOptions::default()
        };
        let checked = {
            let history = history.clone();
            tokio::task::spawn_blocking(move || check::check(&history, &options)).await
        };
        let (verdict_line, violation) = match checked {
            Ok(Ok(verdict)) => {
                let line = verdict.summary();
                self.write_verdict(&verdict);
                if let Verdict::Timeout { .. } = verdict {
                    self.problems.push(format!("checker: {line}"));
                }
                (line, matches!(verdict, Verdict::Violation { .. }))
            }
            Ok(Err(e)) => {
                self.problems.push(format!("checker: bad history: {e}"));
                (format!("bad history: {e}"), false)
            }
            Err(e) => {
                self.problems.push(format!("checker crashed: {e}"));
                ("checker crashed".to_string(), false)
            }
        };
        self.events.log(format!(
            "verdict after {:.1}s: {verdict_line}",
            started.elapsed().as_secs_f64()
        ));
        summarize(
            &self.opts,
            &history,
            injected,
            verdict_line,
            violation,
            self.problems,
        )
    }

    fn write_verdict(&self, verdict: &Verdict) {
        let mut text = format!("{}\n", verdict.summary());
        if let Verdict::Violation {
            key,
            window,
            explanation,
        } = verdict
        {
            text.push_str(&format!(
                "\n{explanation}\n\n{}",
                check::timeline::render_text(window)
            ));
            let title = format!("raftkv-chaos seed {}: key {key}", self.opts.seed);
            let _ = check::timeline::write_timeline(
                &self.report.timeline(),
                &title,
                window,
                explanation,
            );
        }
        let _ = std::fs::write(self.report.verdict(), text);
    }
}
