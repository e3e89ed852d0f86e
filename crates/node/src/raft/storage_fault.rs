//! The first storage failure of the Raft log, kept so the node can say what broke.
//!
//! When a WAL write, fsync, truncation or purge fails (a full disk, EIO, a read-only file
//! system), openraft stops its Raft core with a `Fatal` storage error whose text is meant for
//! logs (it holds Rust debug syntax such as `LogId { .. }`). The log store records the first
//! such failure here, with the WAL directory and the OS error, before it hands the error to
//! openraft. From then on:
//!
//! - clients get `-MISCONF raftkv cannot write its Raft log: <OS error>` for writes not yet
//!   proposed, and `-TRYAGAIN` for reads (see `crate::errors`);
//! - the node logs one ERROR naming the path and the OS error and exits with
//!   [`EXIT_STORAGE_FAILURE`] so a supervisor restarts it (`crate::node`).
//!
//! Only the first failure is kept: later ones are consequences (the WAL's flush worker stops
//! after its first error and every later request fails with a derived error).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Process exit status of a node whose Raft log could not be written (`EX_IOERR` of
/// `sysexits.h`). A supervisor should restart the node, after freeing space if the disk is
/// full; the restart cuts off a torn last record and the node catches up from the leader.
pub const EXIT_STORAGE_FAILURE: i32 = 74;
/// Process exit status when the Raft core stopped for any other reason than a storage failure
/// or a shutdown (a panic in it): `EX_SOFTWARE` of `sysexits.h`.
pub const EXIT_RAFT_STOPPED: i32 = 70;

/// One storage failure, in plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageFault {
    /// The file or directory the failed operation was on.
    pub path: PathBuf,
    /// What was being done, in words ("write or fsync the Raft log").
    pub operation: &'static str,
    /// The OS error as the OS words it, without Rust syntax or the errno suffix
    /// (`No space left on device`).
    pub error: String,
    /// The error's kind (`StorageFull`, ...).
    pub kind: io::ErrorKind,
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} in {}: {}",
            self.operation,
            self.path.display(),
            self.error
        )
    }
}

/// The OS's words for `e`: its message without the ` (os error N)` suffix Rust appends.
pub fn os_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Where the first storage failure is kept. Cheap to clone; clones share one slot.
#[derive(Clone, Debug, Default)]
pub struct FaultSlot(Arc<OnceLock<StorageFault>>);

impl FaultSlot {
    /// Record `e` as a failure to do `operation` on `path`, unless one was recorded already.
    /// Not logged here: the node logs the one ERROR about it as it exits.
    pub fn record(&self, path: &Path, operation: &'static str, e: &io::Error) {
        let _ = self.0.set(StorageFault {
            path: path.to_path_buf(),
            operation,
            error: os_text(e),
            kind: e.kind(),
        });
    }

    /// The first failure, if any.
    pub fn get(&self) -> Option<&StorageFault> {
        self.0.get()
    }

    /// Pass `r` through, recording its error.
    pub fn check<T>(
        &self,
        path: &Path,
        operation: &'static str,
        r: io::Result<T>,
    ) -> io::Result<T> {
        if let Err(e) = &r {
            self.record(path, operation, e);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_failure_is_kept_and_its_text_is_the_os_text() {
        let slot = FaultSlot::default();
        assert!(slot.get().is_none());
        let full = io::Error::from_raw_os_error(28);
        assert!(full.to_string().ends_with("(os error 28)"));
        slot.record(Path::new("/data/raft-log"), "write the Raft log", &full);
        slot.record(
            Path::new("/elsewhere"),
            "write the Raft log",
            &io::Error::other("later"),
        );
        let f = slot.clone().get().cloned().unwrap();
        assert_eq!(f.error, "No space left on device");
        assert_eq!(f.kind, io::ErrorKind::StorageFull);
        assert_eq!(
            f.to_string(),
            "cannot write the Raft log in /data/raft-log: No space left on device"
        );
        assert_eq!(os_text(&io::Error::other("plain")), "plain");
    }
}
