//! Why a snapshot could not be read.
//!
//! Every variant says what was wrong and where: the byte offset from the start of the snapshot
//! at which the bad field starts (or, for truncation, where the data ended). A reader that gets
//! any of these has learned nothing usable from the snapshot; no partial store is returned.

/// A snapshot could not be read; [`crate::snapshot`] describes the format.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The underlying reader failed (other than by ending).
    #[error("snapshot I/O error at byte offset {offset}: {source}")]
    Io {
        /// Bytes successfully read before the failure.
        offset: u64,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// The data ended early.
    #[error("snapshot truncated: data ends at byte offset {offset}, inside the {what}")]
    Truncated {
        /// Total bytes present.
        offset: u64,
        /// The field being read.
        what: &'static str,
    },
    /// The first bytes are not a raftkv snapshot's magic.
    #[error("not a raftkv snapshot: bad magic at byte offset 0")]
    BadMagic,
    /// A version this code cannot read.
    #[error("unsupported snapshot version {version} at byte offset {offset}")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
        /// Where the version field starts.
        offset: u64,
    },
    /// A stored checksum does not match the data.
    #[error(
        "snapshot checksum mismatch in the {what} at byte offset {offset}: \
         stored {stored:#010x}, computed {computed:#010x}"
    )]
    Checksum {
        /// Which part: `header`, `chunk N` (counting from 0), or `snapshot` for the whole.
        what: String,
        /// Where that part starts; for the whole snapshot, where its checksum field is.
        offset: u64,
        /// The checksum in the snapshot.
        stored: u32,
        /// The checksum of the data as read.
        computed: u32,
    },
    /// A field holds an impossible value (bad tag, count, length, order, encoding).
    #[error("malformed snapshot at byte offset {offset}: {reason}")]
    Malformed {
        /// Where the bad field starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Bytes follow the trailer.
    #[error("trailing data after the snapshot trailer at byte offset {offset}")]
    TrailingData {
        /// Where the extra data starts.
        offset: u64,
    },
}
