//! Limits on everything the state machine accepts.
//!
//! Every input that could make one command or one snapshot arbitrarily expensive has a ceiling
//! here, with the reason for its value. Exceeding a limit on client input is a clear `ERR` reply
//! (see [`crate::Error`]), never a crash and never a silent truncation. Exceeding a limit while
//! reading a snapshot means the snapshot is corrupt (see [`crate::SnapshotError`]).
//!
//! The limits are part of the replicated semantics: every replica must run with the same values,
//! or the same log could be accepted by one node and rejected by another. They are therefore
//! constants, not settings.

/// Largest key, in bytes (64 KiB).
///
/// Redis allows 512 MiB keys, but a key is copied into indexes (the expiry index, SCAN pages) and
/// compared often; no sane client needs more than a few hundred bytes. Commands naming a longer
/// key are rejected with
/// `ERR key exceeds maximum allowed size (65536 bytes)`.
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// Largest KEYS or SCAN MATCH pattern, in bytes (1 KiB).
///
/// Matching costs up to (pattern length × key length) steps per key, so the pattern is kept
/// far shorter than a key may be. Longer patterns get
/// `ERR pattern exceeds maximum allowed size (1024 bytes)`.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Largest string value, in bytes (8 MiB).
///
/// Applies to values given directly (SET, MSET, ...) and to values grown by APPEND or SETRANGE.
/// Exceeding it gives `ERR string exceeds maximum allowed size (8388608 bytes)`. A whole Raft log
/// entry must stay well below the transport's frame limit, which is why this is far below Redis's
/// 512 MiB `proto-max-bulk-len`.
pub const MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;

/// Most elements one reply may hold (1 million).
///
/// LRANGE 0 -1 of a huge list, HGETALL of a huge hash or SMEMBERS of a huge set would build the
/// whole reply in memory on the node and in the client. A command whose reply would exceed this
/// many elements (a hash's field and value count as two) is refused with
/// `ERR reply would exceed 1000000 elements; ask for a smaller range or COUNT`, before any
/// state changes (so SPOP and LPOP with a huge count pop nothing); HSCAN, SSCAN and ranges
/// iterate such values in pieces.
pub const MAX_REPLY_ELEMENTS: usize = 1_000_000;

/// Most arguments one command may carry, its name included (1 million).
///
/// HSET, SADD, RPUSH and friends with this many elements already make a log entry of tens of
/// megabytes at the least; more is refused with `ERR too many arguments: at most 1000000 per
/// command` when parsed, before anything is proposed.
pub const MAX_ARGUMENTS: usize = 1_000_000;

/// Largest table LCS may build, in cells of 4 bytes (16 Mi cells, 64 MiB).
///
/// LCS's dynamic program needs `(len1 + 1) × (len2 + 1)` cells, and every replica that applies
/// it (or answers it as a read) builds the table, so two 8 MiB strings would need hundreds of
/// terabytes. Beyond this ceiling (two strings of about 4 KiB each) LCS answers `ERR LCS of
/// these strings would need more than 16777216 table cells (two strings of about 4 KiB
/// each)`.
pub const MAX_LCS_CELLS: u64 = 16 * 1024 * 1024;

/// Default COUNT of SCAN when the client gives none, as in Redis.
pub const DEFAULT_SCAN_COUNT: u64 = 10;

/// Largest amount of work one SCAN call does, in entries visited.
///
/// COUNT is only a hint in Redis; a larger COUNT is clamped to this value, so one SCAN answers
/// in bounded time even on a huge keyspace. The iteration guarantees are unaffected: the cursor
/// simply advances less far.
pub const MAX_SCAN_COUNT: u64 = 100_000;

/// Target payload size of one snapshot chunk, in bytes (64 KiB).
///
/// The writer closes a chunk once its payload reaches this size, so the writer's buffer stays
/// around this size plus one entry.
pub const SNAPSHOT_CHUNK_TARGET_BYTES: usize = 64 * 1024;

/// Largest payload of one snapshot chunk the reader accepts, in bytes (32 MiB).
///
/// A chunk holds at least one entry, so it must admit the largest entry (one maximal key plus
/// one maximal value, or a hash field and its value, both maximal, plus a few bytes of framing)
/// on top of the target size. A larger length
/// field can only come from corruption, and rejecting it keeps a corrupt length from making the
/// reader allocate gigabytes.
pub const MAX_SNAPSHOT_CHUNK_BYTES: usize = 32 * 1024 * 1024;
