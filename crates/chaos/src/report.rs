//! The report directory of one run, and where each part of it lives.
//!
//! ```text
//! <report-dir>/
//!   summary.txt        the one-line summary (also printed on stdout)
//!   summary.json       the same, for scripts
//!   verdict.txt        the checker's verdict; on a violation its explanation and timeline
//!   timeline.html      on a violation: the failing window, drawn
//!   history.jsonl      every client operation (raftkv-check's format; re-check it with
//!                      `raftkv-check --model auto history.jsonl`)
//!   schedule.txt       the planned faults, from the seed
//!   events.log         what ran when: faults, targets, membership changes, surprises
//!   run.txt            the command line and settings
//!   nodes/slot<S>-n<ID>.log   each node's stdout and stderr, every start appended
//!   data/slot<S>-n<ID>/       each node's data directory, left as it ended
//!   clock/slot<S>.faketime    libfaketime offsets (runs with clock faults only)
//! ```
//!
//! A node identity is a slot (its network namespace and address) plus an id; a node removed and
//! re-added in the same slot gets a new id, so its logs and data never mix with its
//! predecessor's.

use std::path::{Path, PathBuf};

/// Paths inside one run's report directory.
#[derive(Clone, Debug)]
pub struct ReportDir {
    root: PathBuf,
}

impl ReportDir {
    /// Creates the directory and its `nodes/` and `data/` subdirectories. Fails if it already
    /// holds a history (reports are never overwritten by accident).
    pub fn create(root: &Path) -> anyhow::Result<ReportDir> {
        let dir = ReportDir {
            root: root.to_path_buf(),
        };
        anyhow::ensure!(
            !dir.history().exists(),
            "{} already holds a report; choose another --report-dir",
            root.display()
        );
        std::fs::create_dir_all(root.join("nodes"))?;
        std::fs::create_dir_all(root.join("data"))?;
        Ok(dir)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `summary.txt`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.txt")
    }

    /// `summary.json`.
    pub fn summary_json(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// `verdict.txt`.
    pub fn verdict(&self) -> PathBuf {
        self.root.join("verdict.txt")
    }

    /// `timeline.html`.
    pub fn timeline(&self) -> PathBuf {
        self.root.join("timeline.html")
    }

    /// `history.jsonl`.
    pub fn history(&self) -> PathBuf {
        self.root.join("history.jsonl")
    }

    /// `schedule.txt`.
    pub fn schedule(&self) -> PathBuf {
        self.root.join("schedule.txt")
    }

    /// `events.log`.
    pub fn events(&self) -> PathBuf {
        self.root.join("events.log")
    }

    /// `run.txt`.
    pub fn run_info(&self) -> PathBuf {
        self.root.join("run.txt")
    }

    /// `clock/`.
    pub fn clock_dir(&self) -> PathBuf {
        self.root.join("clock")
    }

    /// The log of node `id` in `slot`.
    pub fn node_log(&self, slot: usize, id: u64) -> PathBuf {
        self.root
            .join("nodes")
            .join(format!("slot{slot}-n{id}.log"))
    }

    /// The data directory of node `id` in `slot`.
    pub fn data_dir(&self, slot: usize, id: u64) -> PathBuf {
        self.root.join("data").join(format!("slot{slot}-n{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_no_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ReportDir::create(&tmp.path().join("r")).unwrap();
        assert!(dir.root().join("nodes").is_dir() && dir.root().join("data").is_dir());
        assert!(dir.node_log(2, 7).ends_with("nodes/slot2-n7.log"));
        assert!(dir.data_dir(0, 1).ends_with("data/slot0-n1"));
        std::fs::write(dir.history(), "").unwrap();
        assert!(ReportDir::create(dir.root()).is_err());
    }
}
