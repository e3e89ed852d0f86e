//! The data directory's file system: free space, a start-up write probe, and the shared
//! [`DiskStatus`] that `INFO persistence`, `/metrics`, `/readyz` and the low-space leadership
//! hand-off read.
//!
//! A node whose disk fills up cannot append to its Raft log, and then it must stop (see
//! `docs/operations.md`, "Storage faults"). This module is what lets an operator see that
//! coming and lets the node refuse work it could not persist:
//!
//! - [`probe_writable`] runs once at start: it writes and fsyncs a [`STARTUP_PROBE_BYTES`] file
//!   in the data dir and removes it. A node that cannot do that refuses to start, naming the
//!   path and the OS error, instead of limping until its first log append fails.
//! - The node samples [`free_bytes`] (`statvfs`) and the Raft log's size every
//!   [`DISK_SAMPLE_INTERVAL`] into a [`DiskStatus`]. Below `--min-free-space` the node is
//!   *low*: `/readyz` fails and a leader hands leadership to a follower (at most once per low
//!   period, so nodes sharing one low disk do not pass leadership round in circles).
//!
//! - [`ReservingFile`] is how snapshots, backups and received snapshots are written: each write
//!   fails rather than leave less than [`SNAPSHOT_LOG_RESERVE_BYTES`] free for the Raft log.
//!
//! Sizes on the command line and in the config file are parsed by [`parse_size`]
//! (`256MiB`, `1GB`, `0`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Bytes the start-up probe writes and fsyncs in the data dir: enough to fail on a disk that is
/// full or nearly so (a few log appends would not fit either), small enough to cost nothing.
pub const STARTUP_PROBE_BYTES: usize = 1024 * 1024;
/// Name of the start-up probe file in the data dir (removed right after the probe).
pub const STARTUP_PROBE_FILE: &str = ".raftkv-space-probe";
/// How often free space and the Raft log size are sampled.
pub const DISK_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Free space a snapshot (or a backup) being written leaves on its file system for the Raft
/// log: a write that would leave less fails instead. 4 MiB is a quarter of a log chunk file,
/// room for thousands of appends while the failed snapshot waits to be retried.
pub const SNAPSHOT_LOG_RESERVE_BYTES: u64 = 4 * 1024 * 1024;

/// Write and fsync a [`STARTUP_PROBE_BYTES`] file in `dir` (created if missing), then remove
/// it. The error names the path and the OS error.
pub fn probe_writable(dir: &Path) -> io::Result<()> {
    let path = dir.join(STARTUP_PROBE_FILE);
    let attempt = || -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut f = File::create(&path)?;
        f.write_all(&vec![0u8; STARTUP_PROBE_BYTES])?;
        f.sync_all()?;
        Ok(())
    };
    let result = attempt();
    let removed = match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    result.and(removed).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "the data dir {} is not writable: cannot write and fsync a {STARTUP_PROBE_BYTES}-byte probe file {}: {e}",
                dir.display(),
                path.display()
            ),
        )
    })
}

/// Bytes available to this (unprivileged) process on the file system holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let s = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64))
}

/// A file being written (a snapshot, a backup, a received snapshot) that keeps
/// [`SNAPSHOT_LOG_RESERVE_BYTES`] free on its file system: each write checks `statvfs` first and
/// fails with `StorageFull` if it would leave less. (Where `statvfs` itself fails, the write
/// goes ahead and the OS has the last word.)
#[derive(Debug)]
pub struct ReservingFile {
    /// The file.
    file: File,
    /// The file's directory, for `statvfs`.
    dir: PathBuf,
    /// Bytes to leave free.
    reserve: u64,
}

impl ReservingFile {
    /// Create (or truncate) `path` for writing.
    pub fn create(path: &Path) -> io::Result<ReservingFile> {
        Self::with_reserve(path, SNAPSHOT_LOG_RESERVE_BYTES)
    }

    /// [`ReservingFile::create`] with another reserve.
    fn with_reserve(path: &Path, reserve: u64) -> io::Result<ReservingFile> {
        Ok(ReservingFile {
            file: File::create(path)?,
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            reserve,
        })
    }

    /// Flush the file's data and metadata to the disk.
    pub fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl Write for ReservingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(free) = free_bytes(&self.dir) {
            if free < self.reserve.saturating_add(buf.len() as u64) {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!(
                        "No space left on device: {free} bytes free, and writing {} more would \
                         leave less than the {} bytes kept for the Raft log",
                        buf.len(),
                        self.reserve
                    ),
                ));
            }
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Parse a size: a number of bytes with an optional unit, case-insensitive: `B`, binary
/// `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024) or decimal `KB`/`MB`/`GB`/`TB` (powers of 1000).
/// `256MiB`, `1 GB` and `4096` are sizes; `-1`, `1.5GiB`, `12XB` are not.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || {
        format!("invalid size {text:?}: expected bytes with an optional unit, like 256MiB or 1GB")
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// What the node last sampled about its data dir's disk. Shared; read by INFO, `/metrics`,
/// `/readyz`; written by the sampling task.
#[derive(Debug)]
pub struct DiskStatus {
    /// The data dir whose file system is sampled.
    pub dir: PathBuf,
    /// `--min-free-space`, in bytes (0: never low).
    pub min_free_bytes: u64,
    free_bytes: AtomicU64,
    sampled: AtomicBool,
    low: AtomicBool,
    log_bytes: AtomicU64,
    log_growth_bytes_per_sec: AtomicI64,
}

/// One sample of [`DiskStatus`], in plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskSample {
    /// Free bytes on the data dir's file system; `None` before the first sample or if
    /// `statvfs` failed.
    pub free_bytes: Option<u64>,
    /// `--min-free-space`, in bytes.
    pub min_free_bytes: u64,
    /// False while free space is below the minimum.
    pub ok: bool,
    /// Bytes the Raft log takes on disk.
    pub log_bytes: u64,
    /// How fast the Raft log grew between the last two samples, in bytes per second (negative
    /// after a purge).
    pub log_growth_bytes_per_sec: i64,
}

impl DiskStatus {
    /// A status for `dir` with the given minimum, before any sample.
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> DiskStatus {
        DiskStatus {
            dir,
            min_free_bytes,
            free_bytes: AtomicU64::new(0),
            sampled: AtomicBool::new(false),
            low: AtomicBool::new(false),
            log_bytes: AtomicU64::new(0),
            log_growth_bytes_per_sec: AtomicI64::new(0),
        }
    }

    /// Record a sample: free bytes (if `statvfs` worked), the log size and its growth. Returns
    /// true if this sample *entered* a low period (free space fell below the minimum).
    pub fn record(&self, free: Option<u64>, log_bytes: u64, growth_per_sec: i64) -> bool {
        crate::counters::DISK_SAMPLES.incr();
        self.log_bytes.store(log_bytes, Ordering::Relaxed);
        self.log_growth_bytes_per_sec
            .store(growth_per_sec, Ordering::Relaxed);
        let Some(free) = free else {
            return false;
        };
        self.free_bytes.store(free, Ordering::Relaxed);
        self.sampled.store(true, Ordering::Relaxed);
        let low = free < self.min_free_bytes;
        let was_low = self.low.swap(low, Ordering::Relaxed);
        low && !was_low
    }

    /// True while the last sample was below the minimum.
    pub fn is_low(&self) -> bool {
        self.low.load(Ordering::Relaxed)
    }

    /// The last sample.
    pub fn sample(&self) -> DiskSample {
        let sampled = self.sampled.load(Ordering::Relaxed);
        DiskSample {
            free_bytes: sampled.then(|| self.free_bytes.load(Ordering::Relaxed)),
            min_free_bytes: self.min_free_bytes,
            ok: !self.is_low(),
            log_bytes: self.log_bytes.load(Ordering::Relaxed),
            log_growth_bytes_per_sec: self.log_growth_bytes_per_sec.load(Ordering::Relaxed),
        }
    }

    /// Why `/readyz` must fail because of the disk, if it must.
    pub fn not_ready_reason(&self) -> Option<String> {
        let s = self.sample();
        if s.ok {
            return None;
        }
        Some(format!(
            "free space on the file system of {} is {} bytes, below --min-free-space ({} bytes)",
            self.dir.display(),
            s.free_bytes.unwrap_or(0),
            s.min_free_bytes
        ))
    }
}

/// Growth in bytes per second from `before` to `after` over `elapsed` (0 for no time).
pub fn growth_per_sec(before: u64, after: u64, elapsed: Duration) -> i64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0;
    }
    ((after as f64 - before as f64) / secs).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("256mib"), Ok(256 << 20));
        assert_eq!(parse_size("1 GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert_eq!(parse_size("3b"), Ok(3));
        for bad in [
            "",
            "-1",
            "1.5GiB",
            "12XB",
            "MiB",
            "99999999999999999999",
            "1 G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("20000000TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn a_low_period_is_entered_once_and_left_when_space_returns() {
        let s = DiskStatus::new(PathBuf::from("/data"), 100);
        assert_eq!(s.sample().free_bytes, None);
        assert!(s.sample().ok, "not low before any sample");
        assert!(!s.record(Some(500), 10, 0));
        assert!(s.record(Some(99), 10, 0), "entering the low period");
        assert!(!s.record(Some(50), 10, 0), "still the same low period");
        assert!(s.is_low());
        assert!(s
            .not_ready_reason()
            .unwrap()
            .contains("below --min-free-space"));
        assert!(!s.record(None, 10, 0), "a failed sample changes nothing");
        assert!(s.is_low());
        assert!(!s.record(Some(100), 10, 0));
        assert!(!s.is_low());
        assert_eq!(s.not_ready_reason(), None);
        assert!(s.record(Some(0), 10, 0), "a new low period");
        let never = DiskStatus::new(PathBuf::from("/data"), 0);
        assert!(!never.record(Some(0), 0, 0), "a minimum of 0 is never low");
    }

    #[test]
    fn growth_is_per_second_and_signed() {
        assert_eq!(growth_per_sec(100, 300, Duration::from_secs(2)), 100);
        assert_eq!(growth_per_sec(300, 100, Duration::from_secs(1)), -200);
        assert_eq!(growth_per_sec(1, 2, Duration::ZERO), 0);
    }

    #[test]
    fn the_probe_leaves_nothing_behind_and_names_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        probe_writable(&data).unwrap();
        assert_eq!(fs::read_dir(&data).unwrap().count(), 0);
        assert!(free_bytes(&data).unwrap() > 0);
        // A data dir path under a regular file cannot be created.
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let err = probe_writable(&file.join("data")).unwrap_err().to_string();
        assert!(
            err.contains("is not writable") && err.contains("file/data"),
            "{err}"
        );
    }

    #[test]
    fn a_write_that_would_eat_the_reserve_fails_and_one_that_leaves_it_goes_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.tmp");
        let mut roomy = ReservingFile::with_reserve(&path, 0).unwrap();
        roomy.write_all(b"snapshot bytes").unwrap();

        // A reserve larger than any disk: even one byte would cut into it.
        let mut tight = ReservingFile::with_reserve(&path, u64::MAX).unwrap();
        let err = tight.write(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let text = err.to_string();
        assert!(text.starts_with("No space left on device: "), "{text}");
        assert!(text.contains("kept for the Raft log"), "{text}");
        assert_eq!(fs::metadata(&path).unwrap().len(), 0, "nothing was written");
    }
}
