//! Snapshot files: Raft metadata plus the kv state, checksummed, one file per snapshot.
//!
//! Layout: the 8-byte magic `RKVSNAP1`, a little-endian `u32` metadata length, the postcard
//! encoding of the [`SnapshotHeader`] (snapshot id, last included log id, membership), the CRC32 of
//! those metadata bytes, then the kv store's own snapshot stream (which carries its own chunk
//! checksums and trailer). The same bytes are what travels to a lagging follower, so the receiver
//! verifies exactly what the sender built.
//!
//! A file is written under a temporary name, fsynced, then renamed into place and the directory
//! fsynced, so a crash never leaves a half-written file under a final name. It is written through
//! [`ReservingFile`], so every write first checks the file system's free space and fails
//! (`StorageFull`) rather than leave less than [`crate::disk::SNAPSHOT_LOG_RESERVE_BYTES`]: a
//! snapshot shares the disk with the Raft log, and a snapshot that took the last bytes would make
//! the next log append fail, which stops the node (see `docs/operations.md`, "Storage faults"),
//! where a failed snapshot only waits and retries. Reading verifies every checksum; any mismatch
//! is an error naming the file and the byte offset in it of the damaged part, never partial
//! state. A node whose newest snapshot is damaged refuses to start:
//! older snapshots are deleted once a newer one is in place and the log behind a snapshot is
//! purged, so there is nothing correct to fall back to.

pub mod restore;

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::SnapshotMeta;
use crate::disk::ReservingFile;

/// The metadata block at the start of every snapshot file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Unique name of this snapshot (also its file name).
    pub id: String,
    /// Raft metadata: last included log id and membership.
    pub meta: SnapshotMeta,
}

/// A snapshot on disk, opened for reading from its start. This is the `SnapshotData` openraft
/// passes between the state machine and the transport.
#[derive(Debug)]
pub struct SnapshotFile {
    /// Where the file is.
    pub path: PathBuf,
    /// The open file, positioned at byte 0.
    pub file: File,
}

impl SnapshotFile {
    /// Open `path` for reading.
    pub fn open(path: PathBuf) -> io::Result<SnapshotFile> {
        let file = File::open(&path)?;
        Ok(SnapshotFile { path, file })
    }
}

const MAGIC: &[u8; 8] = b"RKVSNAP1";
/// Largest metadata block accepted (membership of a handful of nodes is a few hundred bytes).
const MAX_META_BYTES: u32 = 1024 * 1024;
/// File name suffix of finished snapshots.
const SUFFIX: &str = ".snap";

/// Where a node keeps its snapshots.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    /// Use (and create) `dir`. Leftover temporary files of an interrupted build are removed.
    pub fn open(dir: &Path) -> io::Result<SnapshotDir> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path)?;
            }
        }
        Ok(SnapshotDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The final path of a snapshot with this id.
    pub fn path_of(&self, snapshot_id: &str) -> PathBuf {
        self.dir.join(format!("{snapshot_id}{SUFFIX}"))
    }

    /// A fresh temporary path in this directory.
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.tmp"))
    }

    /// Write a snapshot: header, then `body` writes the kv state. Returns the final path.
    ///
    /// On failure (a full disk, EIO) the temporary file is removed, so a failed attempt takes
    /// no space and every older snapshot stays as it was; the error names the file.
    pub fn write(
        &self,
        header: &SnapshotHeader,
        body: impl FnOnce(&mut BufWriter<ReservingFile>) -> io::Result<()>,
    ) -> io::Result<PathBuf> {
        let tmp = self.temp_path(&header.id);
        let path = self.path_of(&header.id);
        let attempt = || -> io::Result<()> {
            let file = ReservingFile::create(&tmp)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            write_header(&mut w, header)?;
            body(&mut w)?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        attempt().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io::Error::new(
                e.kind(),
                format!("cannot write snapshot file {}: {e}", tmp.display()),
            )
        })?;
        Ok(path)
    }

    /// Move a verified received snapshot into place under its id.
    pub fn adopt(&self, received: &Path, header: &SnapshotHeader) -> io::Result<PathBuf> {
        let path = self.path_of(&header.id);
        File::open(received)?.sync_all()?;
        fs::rename(received, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }

    /// The newest snapshot file (highest last log index) with its metadata, if any.
    pub fn latest(&self) -> io::Result<Option<(SnapshotHeader, PathBuf)>> {
        let mut best: Option<(SnapshotHeader, PathBuf)> = None;
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if !path.to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            let header = read_header(&mut BufReader::new(File::open(&path)?)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("corrupt snapshot file {}: {e}", path.display()),
                )
            })?;
            let newer = match &best {
                None => true,
                Some((b, _)) => header.meta.last_log_id > b.meta.last_log_id,
            };
            if newer {
                best = Some((header, path));
            }
        }
        Ok(best)
    }

    /// Delete every snapshot file except `keep`.
    pub fn remove_others(&self, keep: &Path) -> io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path != keep && path.to_string_lossy().ends_with(SUFFIX) {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// Bytes taken by snapshot files.
    pub fn disk_bytes(&self) -> u64 {
        fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Write the magic and the checksummed metadata block.
pub fn write_header<W: Write>(w: &mut W, header: &SnapshotHeader) -> io::Result<()> {
    let bytes = postcard::to_allocvec(header).map_err(io::Error::other)?;
    w.write_all(MAGIC)?;
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(&bytes)?;
    w.write_all(&crc32fast::hash(&bytes).to_le_bytes())?;
    Ok(())
}

/// Byte offset of the metadata block in a snapshot file (after the magic and its length).
const META_OFFSET: u64 = 12;

/// `read_exact`, with running out of data reported as a truncation at `offset`.
fn read_field<R: Read>(r: &mut R, buf: &mut [u8], offset: u64, what: &str) -> io::Result<()> {
    r.read_exact(buf).map_err(|e| {
        let msg = if e.kind() == io::ErrorKind::UnexpectedEof {
            format!("snapshot file truncated inside the {what} at byte offset {offset}")
        } else {
            format!("reading the {what} at byte offset {offset}: {e}")
        };
        io::Error::new(e.kind(), msg)
    })
}

/// Read and verify the magic and metadata block, leaving `r` at the start of the kv state.
pub fn read_header<R: Read>(r: &mut R) -> io::Result<SnapshotHeader> {
    read_header_len(r).map(|(header, _)| header)
}

/// [`read_header`], also returning the header's length in bytes (the file offset of the kv
/// state).
fn read_header_len<R: Read>(r: &mut R) -> io::Result<(SnapshotHeader, u64)> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut magic = [0u8; 8];
    read_field(r, &mut magic, 0, "magic")?;
    if &magic != MAGIC {
        return Err(invalid(format!(
            "not a raftkv snapshot (magic {magic:?} at byte offset 0)"
        )));
    }
    let mut len = [0u8; 4];
    read_field(r, &mut len, 8, "metadata length")?;
    let len = u32::from_le_bytes(len);
    if len > MAX_META_BYTES {
        return Err(invalid(format!(
            "snapshot metadata length {len} at byte offset 8 exceeds {MAX_META_BYTES}"
        )));
    }
    let mut bytes = vec![0u8; len as usize];
    read_field(r, &mut bytes, META_OFFSET, "metadata")?;
    let crc_offset = META_OFFSET + u64::from(len);
    let mut crc = [0u8; 4];
    read_field(r, &mut crc, crc_offset, "metadata checksum")?;
    if crc32fast::hash(&bytes) != u32::from_le_bytes(crc) {
        return Err(invalid(format!(
            "snapshot metadata checksum mismatch at byte offset {META_OFFSET}"
        )));
    }
    let header = postcard::from_bytes(&bytes).map_err(|e| {
        invalid(format!(
            "snapshot metadata at byte offset {META_OFFSET}: {e}"
        ))
    })?;
    Ok((header, crc_offset + 4))
}

/// Where in the kv state stream a kv snapshot error is.
fn kv_error_offset(e: &kv::SnapshotError) -> u64 {
    use kv::SnapshotError as E;
    match e {
        E::Io { offset, .. }
        | E::Truncated { offset, .. }
        | E::UnsupportedVersion { offset, .. }
        | E::Checksum { offset, .. }
        | E::Malformed { offset, .. }
        | E::TrailingData { offset } => *offset,
        E::BadMagic => 0,
    }
}

/// Read a whole snapshot file: metadata and kv state, every checksum verified. Errors name the
/// file and the byte offset in it of the damaged part.
pub fn read_file(path: &Path) -> io::Result<(SnapshotHeader, kv::Store)> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let (header, kv_start) = read_header_len(&mut r).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("corrupt snapshot file {}: {e}", path.display()),
        )
    })?;
    let store = kv::Store::read_snapshot(&mut r).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "corrupt snapshot file {} at byte offset {}: {e} (offsets in the kv state count \
                 from byte {kv_start} of the file)",
                path.display(),
                kv_start + kv_error_offset(&e),
            ),
        )
    })?;
    Ok((header, store))
}
