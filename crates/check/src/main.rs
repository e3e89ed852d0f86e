//! `raftkv-check`: check a recorded JSON Lines history for linearizability.
//!
//! Prints a one-line verdict, then details (the failing window as a timeline and an
//! explanation). Exit codes: 0 linearizable, 1 violation, 2 undecided (time or memory limit; a
//! failure), 3 bad input (unreadable or malformed history, or keys that do not fit the model).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use check::{check, timeline, CheckOptions, History, Model, Verdict};
use clap::Parser;

/// Exit code for bad input.
const EXIT_BAD_INPUT: u8 = 3;

/// Checks a recorded raftkv client history (JSON Lines) for linearizability.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Model: register (search, every command), append (linear time, get/append of unique
    /// tokens), or auto (append for get/append-only keys, register otherwise).
    #[arg(long, default_value = "auto", env = "RAFTKV_CHECK_MODEL")]
    model: Model,
    /// Seconds the checker may take to decide; past it the verdict is "undecided" (exit 2).
    #[arg(long, default_value_t = 60, env = "RAFTKV_CHECK_TIMEOUT_SECS")]
    timeout_secs: u64,
    /// Extra seconds to shrink a violation to a small window.
    #[arg(long, default_value_t = 10)]
    shrink_secs: u64,
    /// Memory the search memo may use per key, in MiB; past it the verdict is "undecided".
    #[arg(long, default_value_t = 4096)]
    memo_mib: usize,
    /// On a violation, write the failing window's timeline here (HTML if the name ends in
    /// .html, text otherwise).
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// The history file, one JSON operation per line.
    history: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            println!("bad input: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<u8> {
    let history = History::load(&args.history)?;
    let options = CheckOptions {
        model: args.model,
        time_limit: Duration::from_secs(args.timeout_secs),
        shrink_time_limit: Duration::from_secs(args.shrink_secs),
        memo_bytes_max: args.memo_mib.saturating_mul(1 << 20),
    };
    let started = Instant::now();
    let verdict = check(&history, &options)?;
    let elapsed = started.elapsed();
    println!(
        "{} ({:.2}s, model {})",
        verdict.summary(),
        elapsed.as_secs_f64(),
        args.model
    );
    if let Verdict::Violation {
        key,
        window,
        explanation,
    } = &verdict
    {
        println!("\n{explanation}\n");
        print!("{}", timeline::render_text(window));
        if let Some(path) = &args.timeline {
            let title = format!("raftkv-check: key {key:?} is not linearizable");
            match timeline::write_timeline(path, &title, window, explanation) {
                Ok(()) => println!("\ntimeline written to {}", path.display()),
                Err(e) => eprintln!("could not write timeline {}: {e}", path.display()),
            }
        }
    }
    Ok(u8::try_from(verdict.exit_code()).expect("exit codes are small"))
}
