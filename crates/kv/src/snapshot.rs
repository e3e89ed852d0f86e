//! Snapshots: the whole store as a checksummed byte stream.
//!
//! A snapshot lets Raft drop its log prefix and lets a new or lagging node catch up. It is
//! written by [`Store::write_snapshot`](crate::Store::write_snapshot), usually from an O(1) clone
//! of the store on another thread, and streamed: the writer holds one chunk (about
//! [`SNAPSHOT_CHUNK_TARGET_BYTES`]) in memory, never the whole encoding, so a store with millions of
//! keys is fine. [`Store::read_snapshot`](crate::Store::read_snapshot) reads it back and returns
//! either the exact store that was written or a [`SnapshotError`] naming what is wrong and at
//! which byte offset. It never panics on bad input and never returns partial data.
//!
//! # Format, version 7
//!
//! Version 7 is version 6 (below) with the ACL user table (see [`crate::acl`]): when it is
//! not empty, one or more users chunks after the settings chunk (or where it would be) and
//! before the trailer, framed as a script chunk with tag `'U'`, a count of users, and as
//! payload each user postcard-encoded as `(name: bytes, rules: [string])`, the rules being
//! what `ACL LIST` shows for it (password digests, never passwords). The reader rebuilds each
//! user by applying its rules to a fresh user, as `ACL SETUSER` would; names must be strictly
//! increasing. Only users chunks or the trailer may follow a users chunk. Users chunks are not
//! counted in the trailer's `entries` and `chunks`; the trailer's CRC-32 covers them.
//!
//! # Format, version 6 (read, never written)
//!
//! Version 6 is version 5 (below) with the keyspace notification setting (see
//! [`crate::notify`]): when it is not empty, one settings chunk after the library chunks and
//! before the trailer, framed as a script chunk with tag `'N'`, a count of 1 and as payload the
//! setting's flag bits (Redis's `NOTIFY_*` values), postcard-encoded as a `u32`. Unknown bits,
//! a second settings chunk, or any other chunk after it are rejected. Like script chunks it is
//! not counted in the trailer's `entries` and `chunks`; the trailer's CRC-32 covers it.
//!
//! # Format, version 5 (read, never written)
//!
//! Version 5 is version 4 (below) with the store's function libraries (see
//! [`crate::script::function`]) in zero or more library chunks after the script chunks and
//! before the trailer. A library chunk is framed as a script chunk, with tag `'F'`; its payload
//! is libraries' code (the `#!lua name=...` line included), each postcard-encoded as bytes.
//! Only the code is stored: the reader loads each library as FUNCTION LOAD would (which names
//! it and learns its functions), so the registry can never disagree with the code. Libraries
//! appear in name order, strictly increasing (the reader checks it), and may not register a
//! function another library has. Library chunks are not counted in the trailer's `entries`
//! and `chunks`; the trailer's CRC-32 covers them.
//!
//! # Format, version 4 (read, never written)
//!
//! Version 4 is version 3 (below) with the store's script cache (see [`crate::script`]) in
//! zero or more script chunks between the last data chunk and the trailer:
//!
//! ```text
//! script chunk (13 bytes + payload)
//!   0   tag        u8  'S'
//!   1   scripts    u32 number of scripts in the payload, at least 1
//!   5   length     u32 payload length in bytes, at most MAX_SNAPSHOT_CHUNK_BYTES
//!   9   payload    script bodies back to back, each postcard-encoded as bytes
//!   ..  crc32      u32 CRC-32 of the tag, scripts, length and payload
//! ```
//!
//! A script's name (its SHA-1) is not stored: the reader computes it, so a cache entry can
//! never name the wrong body. Scripts appear in SHA-1 order, strictly increasing (the reader
//! checks it); script chunks are not counted in the trailer's `entries` and `chunks`, which
//! stay the data's, but the trailer's whole-stream CRC-32 covers them.
//!
//! # Format, version 3 (read, never written)
//!
//! All integers are little-endian. Offsets are from the start of the snapshot.
//!
//! ```text
//! header   (52 bytes)
//!   0   magic      8   "RKVSNAP\0"
//!   8   version    u32 3 (4, 5, 6, 7)
//!   12  flags      u32 0 (reserved; anything else is rejected)
//!   16  clock_ms   u64 the store's clock
//!   24  rand_seq   u64 random draws made so far (the seed of SPOP, RANDOMKEY, ...)
//!   32  mod_seq    u64 modifications so far (WATCH versions, see the keyspace module)
//!   40  delete_seq u64 mod_seq at the latest deletion of any key
//!   48  crc32      u32 CRC-32 (IEEE) of bytes 0..48
//! chunk    (zero or more; 13 bytes + payload)
//!   0   tag        u8  'C'
//!   1   entries    u32 number of entries in the payload, at least 1
//!   5   length     u32 payload length in bytes, at most MAX_SNAPSHOT_CHUNK_BYTES
//!   9   payload    entries back to back, each postcard-encoded as
//!                  (key: bytes, deadline_ms: Option<u64>, value: Value, more: bool,
//!                   version: u64)
//!                  Value = Str(bytes) | Hash([(field, value)]) | List([item])
//!                        | Set([member]) | ZSet([(member, score: f64)])
//!                        | Stream(meta: Option<StreamMeta>, [(id, [field, value, ...])])
//!                  StreamMeta = (last_id, entries_added: u64, max_deleted_id,
//!                                [(group, last_delivered_id, entries_read: Option<u64>,
//!                                  [(consumer, seen_ms)], [(id, consumer, delivery_ms, count)])])
//!                  id = (ms: u64, seq: u64)
//!   ..  crc32      u32 CRC-32 of the tag, entries, length and payload
//! trailer  (21 bytes)
//!   0   tag        u8  'E'
//!   1   entries    u64 total entries in all chunks
//!   9   chunks     u64 number of chunks
//!   17  crc32      u32 CRC-32 of every byte of the snapshot before this field
//! end of stream: any byte after the trailer is an error
//! ```
//!
//! An aggregate is written in pieces of about [`SNAPSHOT_CHUNK_TARGET_BYTES`] each, so a set of
//! a million members never needs one huge entry: every piece but the last has `more = true`,
//! and the next entry must then be the same key, with the same deadline and type, whose
//! elements are added to it. A stream's first piece carries its metadata and consumer groups
//! (`meta` is `Some` there and `None` in later pieces); its entry IDs must increase and not
//! pass the last ID, every PEL entry must name a consumer of its group, and a stream may be
//! empty. `Stream` is the last variant of `Value`, added after version 2 was released: the
//! variants before it keep their indexes, so version-2 snapshots read unchanged (and code older
//! than streams rejects a snapshot holding one as malformed, never misreads it). Hash fields,
//! set members and sorted-set members may not repeat, scores may not be NaN, and an aggregate
//! may not be empty.
//!
//! # Version 2 (read, never written)
//!
//! Version 2, written before WATCH existed, has a 36-byte header without `mod_seq` and
//! `delete_seq` (bytes 32..36 are the header CRC-32) and entries without `version`. The reader
//! loads it with every version and both counters 0.
//!
//! # Version 1 (read, never written)
//!
//! Version 1, written before the aggregate types existed, has a 28-byte header without
//! `rand_seq` (bytes 24..28 are the header CRC-32) and entries `(key: bytes, value: bytes,
//! deadline_ms: Option<u64>)`, all strings. The reader still loads it, with `rand_seq` 0;
//! `tests/compat.rs` checks this against a file written by that code.
//!
//! Entries appear in keyspace order, `(key_hash(key), key)` strictly increasing; the reader
//! checks the order, which also rules out duplicate keys. Expired entries not yet reclaimed are
//! included: they are part of the state, and the clock in the header keeps them expired.
//!
//! # What the checks catch
//!
//! Every single flipped bit and every truncation is detected: the header, each chunk and the
//! whole stream carry CRC-32s (which detect all single-bit errors), tags and counts are
//! cross-checked, lengths are bounded before anything is allocated, and the reader insists on
//! the end of the stream right after the trailer. A new format gets a new version number; the
//! reader rejects versions it does not know.

mod error;
mod reader;
mod writer;

pub use error::SnapshotError;

use crate::limits::SNAPSHOT_CHUNK_TARGET_BYTES;
use crate::stream::StreamId;

/// The first 8 bytes of every snapshot.
const MAGIC: [u8; 8] = *b"RKVSNAP\0";
/// The format version this code writes: version 6 plus the users chunks.
const VERSION: u32 = 7;
/// The format version before the ACL users, which this code still reads.
const VERSION_6: u32 = 6;
/// The format version before the notification setting, which this code still reads.
const VERSION_5: u32 = 5;
/// The format version before function libraries, which this code still reads.
const VERSION_4: u32 = 4;
/// The format version before scripts, which this code still reads (same header and entries).
const VERSION_3: u32 = 3;
/// The format version before WATCH versions, which this code still reads.
const VERSION_2: u32 = 2;
/// The strings-only format version this code still reads.
const VERSION_1: u32 = 1;
/// Header length in bytes (version 3).
const HEADER_LEN: usize = 52;
/// Header length in bytes (version 2).
const HEADER_LEN_V2: usize = 36;
/// Header length in bytes (version 1).
const HEADER_LEN_V1: usize = 28;
/// Chunk tag.
const CHUNK_TAG: u8 = b'C';
/// Chunk header length (tag, entries, length) in bytes.
const CHUNK_HEADER_LEN: usize = 9;
/// Script chunk tag (version 4).
const SCRIPT_TAG: u8 = b'S';
/// Library chunk tag (version 5).
const FUNCTION_TAG: u8 = b'F';
/// Settings chunk tag (version 6): the keyspace notification setting.
const NOTIFY_TAG: u8 = b'N';
/// Users chunk tag (version 7): the ACL user table.
const USERS_TAG: u8 = b'U';
/// Trailer tag.
const TRAILER_TAG: u8 = b'E';

/// One entry (or piece of an aggregate) as written: borrowed from the store.
#[derive(serde::Serialize)]
struct EntryOut<'a> {
    /// The key.
    key: Raw<'a>,
    /// The deadline in milliseconds since the Unix epoch, if any.
    deadline_ms: Option<u64>,
    /// The value, or a piece of it.
    value: ValueOut<'a>,
    /// True if the next entry continues this key's value.
    more: bool,
    /// The key's WATCH version (see the keyspace module).
    version: u64,
}

/// Bytes written as serde bytes, as `Bytes` writes itself and `&[u8]` is read back (a plain
/// `&[u8]` would be written as a sequence).
struct Raw<'a>(&'a [u8]);

impl serde::Serialize for Raw<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// A value or a piece of an aggregate, as written.
#[derive(serde::Serialize)]
enum ValueOut<'a> {
    /// A string.
    Str(Raw<'a>),
    /// Hash fields and values.
    Hash(Vec<(&'a bytes::Bytes, &'a bytes::Bytes)>),
    /// List items, in order.
    List(Vec<&'a bytes::Bytes>),
    /// Set members.
    Set(Vec<&'a bytes::Bytes>),
    /// Sorted-set members and scores.
    ZSet(Vec<(&'a bytes::Bytes, f64)>),
    /// Stream entries, with the stream's metadata and groups in the first piece.
    Stream(Option<StreamMeta>, Vec<(StreamId, &'a [bytes::Bytes])>),
}

/// One entry as read (version 2): borrowed from the chunk payload.
#[derive(serde::Deserialize)]
struct EntryIn<'a> {
    /// The key.
    #[serde(borrow)]
    key: &'a [u8],
    /// The deadline in milliseconds since the Unix epoch, if any.
    deadline_ms: Option<u64>,
    /// The value, or a piece of it.
    #[serde(borrow)]
    value: ValueIn<'a>,
    /// True if the next entry continues this key's value.
    more: bool,
    /// The key's WATCH version (0 when read from version 2).
    version: u64,
}

/// One entry as read (version 2, no WATCH version): borrowed from the chunk payload.
#[derive(serde::Deserialize)]
struct EntryInV2<'a> {
    /// The key.
    #[serde(borrow)]
    key: &'a [u8],
    /// The deadline in milliseconds since the Unix epoch, if any.
    deadline_ms: Option<u64>,
    /// The value, or a piece of it.
    #[serde(borrow)]
    value: ValueIn<'a>,
    /// True if the next entry continues this key's value.
    more: bool,
}

/// A value or a piece of an aggregate, as read.
#[derive(serde::Deserialize)]
enum ValueIn<'a> {
    /// A string.
    Str(&'a [u8]),
    /// Hash fields and values.
    #[serde(borrow)]
    Hash(Vec<(&'a [u8], &'a [u8])>),
    /// List items, in order.
    #[serde(borrow)]
    List(Vec<&'a [u8]>),
    /// Set members.
    #[serde(borrow)]
    Set(Vec<&'a [u8]>),
    /// Sorted-set members and scores.
    #[serde(borrow)]
    ZSet(Vec<(&'a [u8], f64)>),
    /// Stream entries, with the stream's metadata and groups in the first piece.
    Stream(
        Option<StreamMeta>,
        #[serde(borrow)] Vec<(StreamId, Vec<&'a [u8]>)>,
    ),
}

/// A stream's state besides its entries, as written in its first piece.
#[derive(serde::Serialize, serde::Deserialize)]
struct StreamMeta {
    /// The greatest ID ever added.
    last_id: StreamId,
    /// Entries ever added.
    entries_added: u64,
    /// The greatest ID removed by XDEL.
    max_deleted: StreamId,
    /// The consumer groups, by name.
    groups: Vec<GroupMeta>,
}

/// One consumer group, as written.
#[derive(serde::Serialize, serde::Deserialize)]
struct GroupMeta {
    /// The group's name.
    name: bytes::Bytes,
    /// Its last-delivered ID.
    last_delivered: StreamId,
    /// Its read counter, if known.
    entries_read: Option<u64>,
    /// Its consumers: (name, seen time).
    consumers: Vec<(bytes::Bytes, u64)>,
    /// Its PEL: (ID, consumer, delivery time, deliveries).
    pel: Vec<(StreamId, bytes::Bytes, u64, u64)>,
}

/// One entry as read (version 1, strings only): borrowed from the chunk payload.
#[derive(serde::Deserialize)]
struct EntryInV1<'a> {
    /// The key.
    #[serde(borrow)]
    key: &'a [u8],
    /// The value.
    #[serde(borrow)]
    value: &'a [u8],
    /// The deadline in milliseconds since the Unix epoch, if any.
    deadline_ms: Option<u64>,
}
