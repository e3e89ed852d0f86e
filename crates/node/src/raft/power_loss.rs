//! Test-only simulated power loss for the Raft log.
//!
//! A real power cut loses whatever the kernel had not yet written to the disk: every WAL byte
//! written since the last completed fsync may vanish. `kill -9` cannot show that (the page cache
//! survives the process), so durability tests need this simulation to prove they would catch a
//! missing fsync.
//!
//! [`DurableMark`] tracks the WAL's durable end: the global byte offset up to which an fsync has
//! completed (at open, everything on disk counts as durable). With `--unsafe-no-fsync` it never
//! advances. [`DurableMark::crash`] writes the durable end into a marker file beside the WAL and
//! exits the process at once; the next [`apply_pending`] (run before the WAL is opened) cuts
//! every chunk file back to that offset, exactly as if the unsynced bytes never reached the disk.
//! The cut happens on restart because the WAL's flush thread may still be writing when the
//! signal arrives; everything it writes after the mark is discarded then.
//!
//! Invariant: nothing the cut discards is ever acknowledged. The process lives on for a moment
//! after the mark is taken, and a flush that completes in that moment must not tell openraft
//! (which would tell the leader, which would count it toward a commit that then outlives the
//! data). So taking the mark also closes a gate, and [`DurableMark::synced_to`] reports whether a
//! flush may still be acknowledged: a flush that advanced the mark before the gate closed is
//! within the mark; one that did not is held back.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Exit status of a process that simulated a power loss.
pub const POWER_LOSS_EXIT_CODE: i32 = 99;

/// The WAL's durable end, shared with flush callbacks.
#[derive(Clone, Debug)]
pub struct DurableMark {
    wal_dir: PathBuf,
    end: Arc<AtomicU64>,
    /// Set once the cut is taken: no flush may be acknowledged after it.
    cut: Arc<AtomicBool>,
}

fn marker_path(wal_dir: &Path) -> PathBuf {
    wal_dir.with_extension("power-loss")
}

/// Chunk files of the WAL with their global start offsets, in order.
pub(crate) fn chunks(wal_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(wal_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(digits) = name.strip_prefix("r-").and_then(|n| n.strip_suffix(".wal")) {
            if let Ok(start) = digits.replace('_', "").parse::<u64>() {
                out.push((start, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl DurableMark {
    /// Everything currently in `wal_dir` counts as durable.
    pub fn at_open(wal_dir: &Path) -> io::Result<DurableMark> {
        let mut end = 0;
        for (start, path) in chunks(wal_dir)? {
            end = end.max(start + fs::metadata(&path)?.len());
        }
        Ok(DurableMark {
            wal_dir: wal_dir.to_path_buf(),
            end: Arc::new(AtomicU64::new(end)),
            cut: Arc::default(),
        })
    }

    /// Record that an fsync covering everything up to global offset `end` completed. Returns
    /// whether the flush may be acknowledged: false once a simulated cut has been taken, which
    /// may not have counted it.
    ///
    /// Both sides use `SeqCst` in opposite orders (here: advance, then read the gate; in
    /// `take_cut`: close the gate, then read the end), so either the cut's end includes
    /// this flush or this call sees the gate closed.
    #[must_use]
    pub fn synced_to(&self, end: u64) -> bool {
        self.end.fetch_max(end, Ordering::SeqCst);
        !self.cut.load(Ordering::SeqCst)
    }

    /// The durable end.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::SeqCst)
    }

    /// Close the gate (see [`Self::synced_to`]) and return the durable end the cut keeps.
    fn take_cut(&self) -> u64 {
        self.cut.store(true, Ordering::SeqCst);
        self.end()
    }

    /// Simulate a power cut: remember the durable end and exit immediately.
    pub fn crash(&self) -> ! {
        let end = self.take_cut();
        let result = (|| {
            let path = marker_path(&self.wal_dir);
            fs::write(&path, end.to_string())?;
            OpenOptions::new().read(true).open(&path)?.sync_all()
        })();
        if let Err(e) = result {
            eprintln!("raftkv: could not record the simulated power loss: {e}");
        }
        eprintln!("raftkv: simulated power loss: WAL bytes after offset {end} are lost");
        std::process::exit(POWER_LOSS_EXIT_CODE);
    }
}

/// If a simulated power loss is pending for `wal_dir`, cut the WAL back to its durable end.
pub fn apply_pending(wal_dir: &Path) -> io::Result<()> {
    let marker = marker_path(wal_dir);
    let Ok(text) = fs::read_to_string(&marker) else {
        return Ok(());
    };
    let end: u64 = text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad marker {}", marker.display()),
        )
    })?;
    for (start, path) in chunks(wal_dir)? {
        if start >= end {
            fs::remove_file(&path)?;
        } else {
            let file = OpenOptions::new().write(true).open(&path)?;
            if file.metadata()?.len() > end - start {
                file.set_len(end - start)?;
            }
            file.sync_all()?;
        }
    }
    fs::remove_file(&marker)?;
    tracing::warn!(wal = %wal_dir.display(), durable_end = end, "applied a simulated power loss to the WAL");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flush that completes after the cut was taken is beyond the kept end, so it must not be
    /// acknowledged: the cut would drop what a leader had counted toward a commit (a three-node
    /// power cut in tests/durability.rs once lost a committed entry this way).
    #[test]
    fn a_flush_completing_after_the_cut_is_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mark = DurableMark::at_open(dir.path()).unwrap();
        assert!(
            mark.synced_to(100),
            "before the cut a flush is acknowledged"
        );
        assert_eq!(mark.take_cut(), 100);
        assert!(!mark.synced_to(200), "after the cut it is held back");
        assert!(!mark.synced_to(50));
    }
}
