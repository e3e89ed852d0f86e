//! Where a run's output goes: the live progress line and the final summary.
//!
//! The progress line is for people: it is drawn once a second on stdout, overwritten in
//! place, only when stdout is a terminal and the summary is text (so `--output json` and
//! redirected output stay clean for scripts), and erased before the summary is printed.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::Shared;
use super::options::{Output, Plan};
use super::summary::Summary;

/// How often the progress line is redrawn.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The live progress line.
pub struct Progress {
    shared: Arc<Shared>,
    started: Instant,
}

impl Progress {
    /// A progress line for this run, if there should be one.
    pub fn new(plan: &Plan, shared: Arc<Shared>) -> Option<Progress> {
        (plan.output == Output::Text && std::io::stdout().is_terminal()).then(|| Progress {
            shared,
            started: Instant::now(),
        })
    }

    /// Redraw once a second until the task is aborted.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        let mut last = (0u64, Instant::now());
        loop {
            tick.tick().await;
            let now = Instant::now();
            let ok = self.shared.ok.load(Ordering::Relaxed);
            let errors = self.shared.errors.load(Ordering::Relaxed);
            let rate = (ok - last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-9);
            last = (ok, now);
            let phase = if now < self.shared.measure_from {
                "warm-up"
            } else {
                "measuring"
            };
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "\r\x1b[K{:>5.0}s {phase}: {ok} ok, {errors} errors, {rate:.0} req/s",
                now.duration_since(self.started).as_secs_f64()
            );
            let _ = out.flush();
        }
    }

    /// Erase the line (call after stopping the task).
    pub fn clear() {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[K");
        let _ = out.flush();
    }
}

/// Print the summary in the chosen format.
pub fn print_summary(plan: &Plan, summary: &Summary) {
    match plan.output {
        Output::Text => print!("{}", summary.to_text(plan)),
        Output::Json => println!("{}", summary.to_json(plan)),
    }
}
