//! `raftkv-chaos`: fault runs on real raftkv clusters. See the crate docs and
//! docs/fault-testing.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chaos::{FaultSet, RunOptions, SelftestOptions, Workload};
use clap::{Parser, Subcommand};

/// Exit code for bad options and set-up failures (not root, missing tools).
const EXIT_SETUP: u8 = 3;

/// Fault-injection suite for raftkv: real processes, network namespaces, a linearizability
/// checker. Needs root.
#[derive(Parser, Debug)]
#[command(name = "raftkv-chaos", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One run: start a cluster, run clients, inject faults, heal, check. Exit code 0 pass,
    /// 1 linearizability violation, 2 other failure, 3 set-up error.
    Run {
        /// Initial cluster size (spare slots for growing are added).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Seed of the fault schedule and the clients [default: from the clock, printed].
        #[arg(long)]
        seed: Option<u64>,
        /// Client time: 10 s warm-up, faults, 10 s after healing (e.g. 180s, 3m).
        #[arg(long, default_value = "180s", value_parser = parse_duration)]
        duration: Duration,
        /// register or append.
        #[arg(long, default_value = "register")]
        workload: Workload,
        /// mixed, kill, pause, partition, clock, membership, or powerloss.
        #[arg(long, default_value = "mixed")]
        faults: FaultSet,
        /// Self-test: start nodes with --unsafe-no-fsync (power loss then loses acknowledged writes).
        #[arg(long)]
        unsafe_no_fsync: bool,
        /// Self-test: start nodes with --unsafe-stale-reads.
        #[arg(long)]
        unsafe_stale_reads: bool,
        /// Report directory (must not hold a report yet).
        #[arg(long)]
        report_dir: PathBuf,
        /// The raftkv binary.
        #[arg(long, default_value = "target/release/raftkv")]
        binary: PathBuf,
        /// Recording clients per node slot.
        #[arg(long, default_value_t = 2)]
        clients_per_node: usize,
        /// Do not echo events on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Delete namespaces (and kill their processes) left by runs that died.
    Cleanup {
        /// Also those of runs that are still going.
        #[arg(long)]
        all: bool,
    },
    /// Prove the suite catches raftkv's unsafe test switches; exit 0 only if every one is caught.
    Selftest {
        /// The raftkv binary.
        #[arg(long, default_value = "target/release/raftkv")]
        binary: PathBuf,
        /// Parent directory of the runs' reports.
        #[arg(long)]
        report_dir: PathBuf,
        /// Seed of the first run of each case.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Most runs per case.
        #[arg(long, default_value_t = chaos::selftest::DEFAULT_RUNS)]
        runs: u32,
        /// Duration of each run.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        /// Nodes per run.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
    },
}

/// `90`, `90s`, `3m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 90s, 3m)"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration unit in {s:?} (s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run {
            nodes,
            seed,
            duration,
            workload,
            faults,
            unsafe_no_fsync,
            unsafe_stale_reads,
            report_dir,
            binary,
            clients_per_node,
            quiet,
        } => {
            let seed = seed.unwrap_or_else(|| {
                let s = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                eprintln!("raftkv-chaos: seed {s}");
                s
            });
            let opts = RunOptions {
                nodes,
                seed,
                duration,
                workload,
                faults,
                unsafe_no_fsync,
                unsafe_stale_reads,
                report_dir,
                binary,
                clients_per_node,
                quiet,
            };
            match chaos::run(&opts) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::from(summary.result().exit_code() as u8)
                }
                Err(e) => {
                    eprintln!("raftkv-chaos: {e:#}");
                    ExitCode::from(EXIT_SETUP)
                }
            }
        }
        Cmd::Cleanup { all } => match chaos::net::cleanup_stale(all) {
            Ok(deleted) => {
                for ns in &deleted {
                    println!("deleted namespace {ns}");
                }
                println!("{} namespaces deleted", deleted.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("raftkv-chaos cleanup: {e:#}");
                ExitCode::from(EXIT_SETUP)
            }
        },
        Cmd::Selftest {
            binary,
            report_dir,
            seed,
            runs,
            duration,
            nodes,
        } => {
            let opts = SelftestOptions {
                binary,
                report_dir,
                seed,
                runs,
                duration,
                nodes,
            };
            match chaos::selftest::selftest(&opts) {
                Ok((lines, all_caught)) => {
                    for line in lines {
                        println!("{line}");
                    }
                    if all_caught {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("raftkv-chaos selftest: {e:#}");
                    ExitCode::from(EXIT_SETUP)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("180s"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
