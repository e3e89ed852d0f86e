//! The self-test: proof that the suite can fail.
//!
//! A fault suite that never reports anything is indistinguishable from one that cannot see.
//! raftkv has test-only switches that break its guarantees on purpose, and the self-test runs
//! the suite against each and demands a linearizability violation within a few short runs:
//!
//! * `--unsafe-no-fsync` with simulated power loss (`--faults powerloss`, append workload): the
//!   nodes never fsync, and SIGUSR1 makes each drop every WAL byte written since its last fsync
//!   and exit, as a power cut would. Acknowledged appends vanish; the final reads show it.
//! * `--unsafe-stale-reads` with partitions (`--faults partition`, register workload): every
//!   node answers reads from its own state machine without asking the leader, so a partitioned
//!   or lagging node serves old values.
//!
//! Each case runs `raftkv-chaos run` as a child process (its own namespaces, its own report
//! directory) up to `runs` times with successive seeds, and stops at the first run whose exit
//! code says "violation". The self-test passes only if every case was caught.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::fault_set::FaultSet;
use crate::summary::RunResult;
use crate::workload::Workload;

/// Default number of runs per case before the case counts as not caught.
pub const DEFAULT_RUNS: u32 = 3;
/// Default duration of each self-test run.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// One unsafe switch and the faults that expose it.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Short name (also the report subdirectory).
    pub name: &'static str,
    /// The `raftkv-chaos run` flag that passes the switch to the nodes.
    pub flag: &'static str,
    /// The workload.
    pub workload: Workload,
    /// The faults.
    pub faults: FaultSet,
}

/// Every case of the self-test.
pub const CASES: [Case; 2] = [
    Case {
        name: "no-fsync",
        flag: "--unsafe-no-fsync",
        workload: Workload::Append,
        faults: FaultSet::PowerLoss,
    },
    Case {
        name: "stale-reads",
        flag: "--unsafe-stale-reads",
        workload: Workload::Register,
        faults: FaultSet::Partition,
    },
];

/// Settings of `raftkv-chaos selftest`; also its command-line flags.
#[derive(Clone, Debug, clap::Args)]
pub struct SelftestOptions {
    /// The raftkv binary.
    #[arg(long, default_value = "target/release/raftkv")]
    pub binary: PathBuf,
    /// Parent directory of the runs' reports.
    #[arg(long)]
    pub report_dir: PathBuf,
    /// Seed of the first run of each case (later runs add one).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most runs per case.
    #[arg(long, default_value_t = DEFAULT_RUNS)]
    pub runs: u32,
    /// Duration of each run.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Nodes per run.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
}

/// Runs every case; returns one line per case and whether all were caught.
pub fn selftest(opts: &SelftestOptions) -> anyhow::Result<(Vec<String>, bool)> {
    let me = std::env::current_exe().context("cannot find my own executable")?;
    std::fs::create_dir_all(&opts.report_dir)?;
    let mut lines = Vec::new();
    let mut all_caught = true;
    for case in CASES {
        let mut caught = None;
        let started = Instant::now();
        for i in 0..opts.runs {
            let seed = opts.seed + u64::from(i);
            let dir = opts.report_dir.join(format!("{}-{}", case.name, i + 1));
            eprintln!(
                "raftkv-chaos selftest: {} run {} of {} (seed {seed}) -> {}",
                case.name,
                i + 1,
                opts.runs,
                dir.display()
            );
            let out = Command::new(&me)
                .arg("run")
                .args(["--nodes", &opts.nodes.to_string()])
                .args(["--seed", &seed.to_string()])
                .args(["--duration", &format!("{}s", opts.duration.as_secs())])
                .args(["--workload", case.workload.name()])
                .args(["--faults", case.faults.name()])
                .arg(case.flag)
                .arg("--report-dir")
                .arg(&dir)
                .arg("--binary")
                .arg(&opts.binary)
                .arg("--quiet")
                .output()
                .context("cannot run raftkv-chaos run")?;
            let summary = String::from_utf8_lossy(&out.stdout).trim().to_string();
            eprintln!("  {summary}");
            if out.status.code() == Some(RunResult::Violation.exit_code()) {
                caught = Some(i + 1);
                break;
            }
        }
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        let line = match caught {
            Some(run) => format!(
                "caught     {} ({}): violation in run {run} of {} ({minutes:.1} min)",
                case.name, case.flag, opts.runs
            ),
            None => {
                all_caught = false;
                format!(
                    "NOT CAUGHT {} ({}): no violation in {} runs ({minutes:.1} min)",
                    case.name, case.flag, opts.runs
                )
            }
        };
        lines.push(line);
    }
    std::fs::write(
        opts.report_dir.join("selftest.txt"),
        format!("{}\n", lines.join("\n")),
    )?;
    Ok((lines, all_caught))
}
