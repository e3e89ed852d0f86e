//! Telling a torn WAL tail from corruption, so a damaged log never silently loses committed
//! entries.
//!
//! `raft-log` (0.4.6) recovers on open by cutting the last chunk file at the first record that
//! ends early (or at a run of zero bytes). That is right for a torn write: the partial last
//! record of a batch that never fully reached the disk was never fsynced, so never acknowledged.
//! But a flipped bit in the length field of a record in the *middle* of the last chunk makes that
//! record end early too (past the end of the file), and `raft-log` then drops it and every record
//! after it, committed entries included, without an error. (A flipped bit anywhere else fails the
//! record's CRC and the open; a damaged record in an earlier chunk always fails the open.)
//!
//! So [`super::LogStore`] opens the WAL with that recovery off, and when the open fails it calls
//! [`repair_after_failed_open`]: [`find_damage`] decodes every chunk with `raft-log`'s own
//! record codec and classifies the first record that does not decode:
//! - in a chunk before the last: **corruption**;
//! - in the last chunk, a record that ends early or a tail of zero bytes, with no intact record
//!   at any byte offset after it: a **torn tail**, cut off (truncate + fsync), after which the
//!   caller opens the WAL again;
//! - anything else (a CRC mismatch, an undecodable record, or an intact record somewhere after
//!   the bad one, which proves the bad record was not the last one written): **corruption**.
//!
//! Everything here runs under the WAL directory's lock ([`lock`]), never beside a running node.
//! Corruption is reported with the chunk file's path and the byte offset of the bad record in it,
//! and the node refuses to start. [`check_last_chunk_start`] covers the one other place where
//! `raft-log` drops data on its own: a last chunk whose *first* record ends early is deleted whole
//! (an interrupted chunk rotation), so a damaged length there must be caught before the open.
//!
//! The search for an intact record tries every byte offset after the damage; records start with
//! a type in 0..=5 and every length field is bounded per type (see `wal_types`), so almost every
//! offset is rejected after a few bytes. It runs only after an open has failed.
//!
//! Limit: a flipped length bit in the very last record of the log is indistinguishable from a
//! torn write of that record, and is cut off like one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use raft_log::codeq::Decode;

use super::super::power_loss;
use super::super::wal_types::WalTypes;

/// One WAL record as `raft-log` frames it on disk.
type Record = raft_log::RaftLogRecord<WalTypes>;

/// Highest record type tag `raft-log` writes (0..=4 actions, 5 checkpoint).
const MAX_RECORD_TYPE: u32 = 5;

/// What is wrong with a WAL directory.
#[derive(Debug)]
pub enum Damage {
    /// The last chunk ends in a partly written record: cut `path` back to `offset` bytes.
    Torn {
        /// The chunk file.
        path: PathBuf,
        /// Byte offset in the file where the partial record starts.
        offset: u64,
        /// The file's current length in bytes.
        len: u64,
    },
    /// A record before the tail is damaged: the node must not start.
    Corrupt {
        /// The chunk file.
        path: PathBuf,
        /// Byte offset in the file where the damaged record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl Damage {
    /// The error a node refuses to start with.
    pub fn into_error(self) -> io::Error {
        let msg = match self {
            Damage::Corrupt {
                path,
                offset,
                reason,
            } => format!(
                "the Raft log is corrupt: {} at byte offset {offset}: {reason}; refusing to start \
                 rather than drop committed entries (wipe this node's data dir and add it to the \
                 cluster again, or restore from a backup)",
                path.display()
            ),
            Damage::Torn { path, offset, .. } => format!(
                "the Raft log {} has a torn record at byte offset {offset}",
                path.display()
            ),
        };
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }
}

/// Decode one record at the start of `bytes`; returns its length.
fn decode_at(bytes: &[u8]) -> io::Result<usize> {
    let mut r = bytes;
    Record::decode(&mut r)?;
    Ok(bytes.len() - r.len())
}

/// The first offset after `from` where an intact record starts, if any.
fn intact_record_after(bytes: &[u8], from: usize) -> Option<usize> {
    (from + 1..bytes.len()).find(|&at| {
        let plausible = bytes
            .get(at..at + 4)
            .and_then(|t| t.try_into().ok())
            .is_some_and(|t| u32::from_be_bytes(t) <= MAX_RECORD_TYPE);
        plausible && decode_at(&bytes[at..]).is_ok()
    })
}

/// Classify a record that failed to decode at `offset` of the chunk file `path`.
fn classify(path: &Path, bytes: &[u8], offset: usize, err: io::Error, last: bool) -> Damage {
    let corrupt = |reason: String| Damage::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if !last {
        return corrupt(format!("{err} (in a chunk before the last one)"));
    }
    let ends_early = err.kind() == io::ErrorKind::UnexpectedEof;
    let zeros = bytes[offset..].iter().all(|b| *b == 0);
    if !ends_early && !zeros {
        return corrupt(err.to_string());
    }
    if let Some(next) = intact_record_after(bytes, offset) {
        return corrupt(format!(
            "the record runs past the end of the file ({err}), but an intact record follows \
             at byte offset {next}, so its length field is damaged: this is not a torn write"
        ));
    }
    Damage::Torn {
        path: path.to_path_buf(),
        offset: offset as u64,
        len: bytes.len() as u64,
    }
}

/// Decode every record of every chunk in `wal_dir` and classify the first damaged one.
pub fn find_damage(wal_dir: &Path) -> io::Result<Option<Damage>> {
    let chunks = power_loss::chunks(wal_dir)?;
    for (i, (_, path)) in chunks.iter().enumerate() {
        let bytes = fs::read(path)?;
        let mut at = 0;
        while at < bytes.len() {
            match decode_at(&bytes[at..]) {
                Ok(n) => at += n,
                Err(e) => {
                    let last = i + 1 == chunks.len();
                    return Ok(Some(classify(path, &bytes, at, e, last)));
                }
            }
        }
    }
    Ok(None)
}

/// An open failure not caused by a damaged record, with the WAL directory named.
pub fn open_error(wal_dir: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot open the Raft log in {}: {e}", wal_dir.display()),
    )
}

/// After `raft-log` failed to open `wal_dir` with `open_err`: cut a torn tail off (the open can
/// then be retried), or return the error the node refuses to start with.
pub fn repair_after_failed_open(
    wal_dir: &Path,
    config: &raft_log::Config,
    open_err: io::Error,
) -> io::Result<()> {
    let _lock = lock(config).map_err(|e| open_error(wal_dir, e))?;
    match find_damage(wal_dir)? {
        Some(Damage::Torn { path, offset, len }) => cut_torn_tail(&path, offset, len),
        Some(corrupt) => Err(corrupt.into_error()),
        None => Err(open_error(wal_dir, open_err)),
    }
}

/// Before the WAL is opened: refuse if the last chunk's first record is damaged in a way that
/// `raft-log` would take for an interrupted chunk rotation and delete the whole chunk.
pub fn check_last_chunk_start(wal_dir: &Path, config: &raft_log::Config) -> io::Result<()> {
    let _lock = lock(config).map_err(|e| open_error(wal_dir, e))?;
    let Some((_, path)) = power_loss::chunks(wal_dir)?.pop() else {
        return Ok(());
    };
    let first = Record::decode(BufReader::new(File::open(&path)?));
    let Err(err) = first else {
        return Ok(());
    };
    match classify(&path, &fs::read(&path)?, 0, err, true) {
        Damage::Torn { .. } => Ok(()), // an interrupted rotation: raft-log removes the chunk
        corrupt => Err(corrupt.into_error()),
    }
}

/// Take the WAL directory's exclusive lock, the one `raft-log` holds while the WAL is open, so
/// nothing here reads or cuts a chunk that a running node is writing. Released on drop.
fn lock(config: &raft_log::Config) -> io::Result<raft_log::chunked_wal::WalLock> {
    raft_log::chunked_wal::ChunkedWal::<raft_log::RaftWalTypes<WalTypes>>::acquire_lock(&config.wal)
}

/// Cut a torn tail off (`Damage::Torn`) durably.
fn cut_torn_tail(path: &Path, offset: u64, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(offset)?;
    file.sync_all()?;
    tracing::warn!(
        chunk = %path.display(),
        offset,
        dropped_bytes = len - offset,
        "cut a torn record off the end of the Raft log (a write that never completed)"
    );
    crate::counters::TORN_RECORDS_CUT.incr();
    Ok(())
}
