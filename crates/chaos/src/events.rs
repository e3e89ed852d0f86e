//! The run's event log: what the suite did and saw, with the time since the run started.
//!
//! Every fault start and end, every target resolved, every membership change and its answer, and
//! every surprise (a node that exited on its own, an admin call that failed) goes here, to
//! `events.log` in the report and to stderr. The runner creates the history's recorder right
//! after this log, so an operation's `call_ns` and an event's time count from the same moment:
//! side by side they tell what the cluster was going through when an operation misbehaved.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Timestamped lines to a file and to stderr.
#[derive(Debug)]
pub struct EventLog {
    start: Instant,
    file: Mutex<File>,
    echo: bool,
}

impl EventLog {
    /// A log in `path` whose clock starts now; `echo` also prints each line to stderr.
    pub fn create(path: &Path, echo: bool) -> std::io::Result<EventLog> {
        Ok(EventLog {
            start: Instant::now(),
            file: Mutex::new(File::create(path)?),
            echo,
        })
    }

    /// Time since the log was created.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The instant the log (and the run) started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Writes one line.
    pub fn log(&self, message: impl AsRef<str>) {
        let line = format!(
            "[{:>8.3}s] {}",
            self.elapsed().as_secs_f64(),
            message.as_ref()
        );
        if self.echo {
            eprintln!("{line}");
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(file, "{line}");
    }
}
