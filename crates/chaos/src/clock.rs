//! Wall-clock faults through libfaketime.
//!
//! When a run's schedule has clock faults, every node starts with libfaketime preloaded and its
//! own timestamp file (`FAKETIME_TIMESTAMP_FILE`, re-read on every call with
//! `FAKETIME_NO_CACHE=1`). The file holds an offset such as `+0.000` or `-3600.250` seconds; the
//! monotonic clock is left alone (`FAKETIME_DONT_FAKE_MONOTONIC=1`), so only the wall clock
//! jumps: that is the clock raftkv stamps writes with, and the one an operator's NTP mistake
//! moves. A jump writes one offset; a strobe flips between `+0` and a positive offset every few
//! milliseconds until stopped. Files are replaced by rename, so a node never reads half a value.
//!
//! raftkv must stay linearizable whatever the wall clock does: Raft's timers and leases run on
//! the monotonic clock, and the state machine takes time only from the log.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

/// Longest a strobe may run if nobody stops it.
pub const STROBE_MAX: Duration = Duration::from_secs(120);

/// The timestamp files of every slot, and the running strobes.
#[derive(Debug)]
pub struct Clocks {
    dir: PathBuf,
    slots: usize,
    strobes: HashMap<usize, (Arc<AtomicBool>, JoinHandle<()>)>,
}

/// The file content for an offset in milliseconds: signed seconds with three decimals.
pub fn offset_text(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let abs = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}\n", abs / 1000, abs % 1000)
}

fn write_offset(path: &Path, offset_ms: i64) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, offset_text(offset_ms))?;
    std::fs::rename(&tmp, path)
}

impl Clocks {
    /// Timestamp files live in `dir`, one per slot, all starting at `+0`.
    pub fn new(dir: &Path, slots: usize) -> io::Result<Clocks> {
        std::fs::create_dir_all(dir)?;
        let clocks = Clocks {
            dir: dir.to_path_buf(),
            slots,
            strobes: HashMap::new(),
        };
        for slot in 0..slots {
            write_offset(&clocks.file(slot), 0)?;
        }
        Ok(clocks)
    }

    /// The timestamp file of a slot.
    pub fn file(&self, slot: usize) -> PathBuf {
        self.dir.join(format!("slot{slot}.faketime"))
    }

    /// Sets a slot's wall-clock offset.
    pub fn set(&self, slot: usize, offset_ms: i64) -> io::Result<()> {
        write_offset(&self.file(slot), offset_ms)
    }

    /// Starts flipping a slot's clock between `+0` and `+delta_ms` every `period_ms`.
    pub fn start_strobe(&mut self, slot: usize, delta_ms: u64, period_ms: u64) {
        self.stop_strobe(slot);
        let stop = Arc::new(AtomicBool::new(false));
        let file = self.file(slot);
        let flag = stop.clone();
        let period = Duration::from_millis(period_ms.max(1));
        let handle = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut ahead = false;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < STROBE_MAX {
                ahead = !ahead;
                let offset = if ahead { delta_ms as i64 } else { 0 };
                if write_offset(&file, offset).is_err() {
                    break;
                }
                tokio::time::sleep(period).await;
            }
            let _ = write_offset(&file, 0);
        });
        self.strobes.insert(slot, (stop, handle));
    }

    fn stop_strobe(&mut self, slot: usize) -> Option<JoinHandle<()>> {
        let (stop, handle) = self.strobes.remove(&slot)?;
        stop.store(true, Ordering::Relaxed);
        Some(handle)
    }

    /// Stops every strobe and sets every slot's clock right.
    pub async fn reset_all(&mut self) -> io::Result<()> {
        let running: Vec<usize> = self.strobes.keys().copied().collect();
        for slot in running {
            if let Some(handle) = self.stop_strobe(slot) {
                let _ = handle.await;
            }
        }
        for slot in 0..self.slots {
            write_offset(&self.file(slot), 0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_signed_seconds() {
        assert_eq!(offset_text(0), "+0.000\n");
        assert_eq!(offset_text(1500), "+1.500\n");
        assert_eq!(offset_text(-86_400_000), "-86400.000\n");
        assert_eq!(offset_text(-7), "-0.007\n");
    }

    #[test]
    fn files_start_at_zero_and_change() {
        let dir = tempfile::tempdir().unwrap();
        let clocks = Clocks::new(dir.path(), 2).unwrap();
        assert_eq!(std::fs::read_to_string(clocks.file(1)).unwrap(), "+0.000\n");
        clocks.set(1, -2500).unwrap();
        assert_eq!(std::fs::read_to_string(clocks.file(1)).unwrap(), "-2.500\n");
    }
}
