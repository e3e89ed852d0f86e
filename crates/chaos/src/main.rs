//! `raftkv-chaos`: fault runs on real raftkv clusters. See the crate docs and
//! docs/fault-testing.md.

use std::process::ExitCode;

use chaos::{RunOptions, SelftestOptions};
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
    Run(RunOptions),
    /// Delete namespaces (and kill their processes) left by runs that died.
    Cleanup {
        /// Also those of runs that are still going.
        #[arg(long)]
        all: bool,
    },
    /// Prove the suite catches raftkv's unsafe test switches; exit 0 only if every one is caught.
    Selftest(SelftestOptions),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run(opts) => match chaos::run(&opts) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::from(summary.result().exit_code() as u8)
            }
            Err(e) => {
                eprintln!("raftkv-chaos: {e:#}");
                ExitCode::from(EXIT_SETUP)
            }
        },
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
        Cmd::Selftest(opts) => match chaos::selftest::selftest(&opts) {
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
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_ci_uses_parse() {
        let cli = Cli::try_parse_from([
            "raftkv-chaos",
            "run",
            "--nodes",
            "3",
            "--seed",
            "2",
            "--duration",
            "150s",
            "--workload",
            "append",
            "--faults",
            "mixed",
            "--quiet",
            "--report-dir",
            "/tmp/r",
            "--binary",
            "target/debug/raftkv",
        ])
        .expect("run flags");
        let Cmd::Run(run) = cli.command else {
            panic!("not a run")
        };
        assert_eq!((run.nodes, run.seed, run.duration.as_secs()), (3, 2, 150));
        assert!(run.quiet && !run.unsafe_no_fsync && run.clients_per_node == 2);
        let cli = Cli::try_parse_from([
            "raftkv-chaos",
            "selftest",
            "--report-dir",
            "/tmp/s",
            "--duration",
            "40s",
            "--binary",
            "target/debug/raftkv",
        ])
        .expect("selftest flags");
        let Cmd::Selftest(st) = cli.command else {
            panic!("not a selftest")
        };
        assert_eq!((st.duration.as_secs(), st.seed, st.nodes), (40, 1, 3));
        assert!(Cli::try_parse_from([
            "raftkv-chaos",
            "run",
            "--report-dir",
            "r",
            "--duration",
            "3x"
        ])
        .is_err());
    }
}
