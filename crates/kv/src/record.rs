//! One stored key in one allocation: its key, its value, its deadline and its WATCH version.
//!
//! A [`Record`] is a thin, reference-counted pointer (8 bytes) to one heap block:
//!
//! ```text
//! refcount | version | deadline_ms | aggregate | length | key length (u32 LE) | key | string value
//! ```
//!
//! A string's bytes sit right after the key, so a string key costs one allocation of about its
//! key and value plus 44 bytes, and the keyspace tree holds only the 8-byte pointer (with the
//! key's hash beside it, see [`crate::keyspace`]). An aggregate (hash, list, set, sorted set,
//! stream) is boxed in `aggregate` and the block holds only its key.
//!
//! Why: a tree slot that held a `Bytes` key, a [`Value`] and a deadline took 104 bytes, a B-tree
//! leaf keeps about a third of its slots empty, and the two `Bytes` pinned the client's request
//! buffer or made two allocations of their own: 345 bytes of memory per 100-byte string key on
//! a leader, 414 on a follower (docs/benchmarks.md, "Memory of string keys").
//!
//! Invariants:
//! - `aggregate` is never a [`Value::Str`]: [`Record::new`] stores strings inline;
//! - a record is never changed in place: a change builds a new record (the tree and a snapshot
//!   being written may share the old one).

use crate::value::{string_encoding, Value};
use crate::Error;
use bytes::Bytes;
use triomphe::ThinArc;

/// `deadline_ms` of a record without a deadline. No deadline reaches it: deadlines come from
/// `i64` milliseconds.
const NO_DEADLINE: u64 = u64::MAX;
/// Bytes before the key in a record's slice: the key's length as a little-endian `u32`.
const KEY_LEN_BYTES: usize = 4;
/// Records up to this many bytes of key and value are laid out on the stack when built.
const STACK_RECORD_BYTES: usize = 512;
/// Strings at least this long are answered by sharing the record ([`Record::string_bytes`]);
/// shorter ones are copied, which costs about what sharing costs and frees the record sooner.
const SHARE_STRING_BYTES: usize = 4096;

/// The fixed part of a record.
#[derive(Debug)]
struct Meta {
    /// The keyspace's `mod_seq` at the key's last change (see [`crate::keyspace`]).
    version: u64,
    /// Deadline in milliseconds since the Unix epoch, or [`NO_DEADLINE`].
    deadline_ms: u64,
    /// The value if it is not a string.
    aggregate: Option<Box<Value>>,
}

/// One stored key's data; see the module docs. Cloning is a reference-count increment.
#[derive(Clone, Debug)]
pub(crate) struct Record(ThinArc<Meta, u8>);

impl Record {
    /// A record of `key` holding `value`. Keys are at most [`crate::limits::MAX_KEY_BYTES`]
    /// long, far below `u32::MAX`.
    pub(crate) fn new(key: &[u8], value: Value, deadline_ms: Option<u64>, version: u64) -> Record {
        match value {
            Value::Str(s) => Record::of_string(key, &s, deadline_ms, version),
            other => Record::build(key, Some(Box::new(other)), &[], deadline_ms, version),
        }
    }

    /// A record of `key` holding the string `value`, copied in.
    pub(crate) fn of_string(
        key: &[u8],
        value: &[u8],
        deadline_ms: Option<u64>,
        version: u64,
    ) -> Record {
        Record::build(key, None, value, deadline_ms, version)
    }

    /// This record with another deadline and version, same key and value.
    pub(crate) fn with_deadline(&self, deadline_ms: Option<u64>, version: u64) -> Record {
        self.rebuilt(self.key(), deadline_ms, version)
    }

    /// This record under another key, same value and deadline.
    pub(crate) fn with_key(&self, key: &[u8], version: u64) -> Record {
        self.rebuilt(key, self.deadline_ms(), version)
    }

    /// A record of `key` with this record's value: its string copied once, straight from this
    /// record, or its aggregate cloned (O(1)).
    fn rebuilt(&self, key: &[u8], deadline_ms: Option<u64>, version: u64) -> Record {
        let aggregate = self.0.header.header.aggregate.clone();
        let string = self.string().unwrap_or_default();
        Record::build(key, aggregate, string, deadline_ms, version)
    }

    /// Lays out one record: `string` is empty when `aggregate` holds the value.
    fn build(
        key: &[u8],
        aggregate: Option<Box<Value>>,
        string: &[u8],
        deadline_ms: Option<u64>,
        version: u64,
    ) -> Record {
        let key_len = u32::try_from(key.len()).expect("a key longer than 4 GiB");
        let meta = Meta {
            version,
            deadline_ms: deadline_ms.map_or(NO_DEADLINE, |d| d.min(NO_DEADLINE - 1)),
            aggregate,
        };
        let len = KEY_LEN_BYTES + key.len() + string.len();
        let fill = |buf: &mut [u8]| {
            let (head, rest) = buf.split_at_mut(KEY_LEN_BYTES);
            head.copy_from_slice(&key_len.to_le_bytes());
            let (k, v) = rest.split_at_mut(key.len());
            k.copy_from_slice(key);
            v.copy_from_slice(string);
        };
        // Laid out in a buffer first and copied in once (a byte iterator was slower); small
        // records, the common case, on the stack.
        let record = if len <= STACK_RECORD_BYTES {
            let mut buf = [0u8; STACK_RECORD_BYTES];
            fill(&mut buf[..len]);
            ThinArc::from_header_and_slice(meta, &buf[..len])
        } else {
            let mut buf = vec![0u8; len];
            fill(&mut buf);
            ThinArc::from_header_and_slice(meta, &buf)
        };
        Record(record)
    }

    /// The key's length and the rest of the slice.
    fn split(&self) -> (usize, &[u8]) {
        let (len, rest) = self.0.slice.split_at(KEY_LEN_BYTES);
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        (len, rest)
    }

    /// The key.
    pub(crate) fn key(&self) -> &[u8] {
        let (len, rest) = self.split();
        &rest[..len]
    }

    /// The string value, or None for an aggregate.
    pub(crate) fn string(&self) -> Option<&[u8]> {
        if self.0.header.header.aggregate.is_some() {
            return None;
        }
        let (len, rest) = self.split();
        Some(&rest[len..])
    }

    /// The aggregate value, or None for a string.
    pub(crate) fn aggregate(&self) -> Option<&Value> {
        self.0.header.header.aggregate.as_deref()
    }

    /// The string value, or WRONGTYPE.
    pub(crate) fn as_str(&self) -> Result<&[u8], Error> {
        self.string().ok_or(Error::WrongType)
    }

    /// The string value as [`Bytes`] for a reply, or WRONGTYPE.
    pub(crate) fn as_str_bytes(&self) -> Result<Bytes, Error> {
        self.string_bytes().ok_or(Error::WrongType)
    }

    /// The string value as [`Bytes`] for a reply (long ones share the record), or None for an
    /// aggregate.
    pub(crate) fn string_bytes(&self) -> Option<Bytes> {
        let s = self.string()?;
        if s.len() < SHARE_STRING_BYTES {
            return Some(Bytes::copy_from_slice(s));
        }
        Some(Bytes::from_owner(StringOf(self.clone())))
    }

    /// Deadline in milliseconds since the Unix epoch; None if the key never expires.
    pub(crate) fn deadline_ms(&self) -> Option<u64> {
        let d = self.0.header.header.deadline_ms;
        (d != NO_DEADLINE).then_some(d)
    }

    /// The keyspace's `mod_seq` at the key's last change.
    pub(crate) fn version(&self) -> u64 {
        self.0.header.header.version
    }

    /// True if the key is still alive at `now_ms` (its deadline, if any, is later).
    pub(crate) fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.0.header.header.deadline_ms
    }

    /// The name TYPE answers.
    pub(crate) fn type_name(&self) -> &'static str {
        self.aggregate().map_or("string", Value::type_name)
    }

    /// The name OBJECT ENCODING answers.
    pub(crate) fn encoding(&self) -> &'static str {
        match self.aggregate() {
            Some(value) => value.encoding(),
            None => string_encoding(self.string().unwrap_or_default()),
        }
    }

    /// True if both hold the same value and deadline (keys and versions aside).
    pub(crate) fn same_data(&self, other: &Record) -> bool {
        self.deadline_ms() == other.deadline_ms()
            && self.aggregate() == other.aggregate()
            && self.string() == other.string()
    }
}

/// A record's string value as the owner of a [`Bytes`].
struct StringOf(Record);

impl AsRef<[u8]> for StringOf {
    fn as_ref(&self) -> &[u8] {
        self.0.string().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_record_keeps_key_value_deadline_and_version() {
        let r = Record::new(b"k:1", Value::Str(Bytes::from_static(b"hello")), Some(5), 7);
        assert_eq!(r.key(), b"k:1");
        assert_eq!(r.string(), Some(&b"hello"[..]));
        assert!(r.aggregate().is_none());
        assert_eq!(r.deadline_ms(), Some(5));
        assert_eq!(r.version(), 7);
        assert!(r.is_live(4));
        assert!(!r.is_live(5));
        assert_eq!(r.type_name(), "string");
        assert_eq!(r.string_bytes().unwrap(), "hello");

        let moved = r.with_deadline(None, 8);
        assert_eq!((moved.key(), moved.string()), (r.key(), r.string()));
        assert_eq!((moved.deadline_ms(), moved.version()), (None, 8));
        assert!(moved.is_live(u64::MAX - 1));
        let renamed = r.with_key(b"", 9);
        assert_eq!((renamed.key(), renamed.string()), (&b""[..], r.string()));
        assert_eq!(renamed.deadline_ms(), Some(5));
    }

    #[test]
    fn an_aggregate_record_holds_only_its_key_inline() {
        let set: imbl::OrdSet<Bytes> = [Bytes::from_static(b"m")].into_iter().collect();
        let r = Record::new(b"s", Value::Set(set.clone()), None, 1);
        assert_eq!(r.key(), b"s");
        assert_eq!(r.string(), None);
        assert!(matches!(r.as_str(), Err(Error::WrongType)));
        assert_eq!(r.aggregate(), Some(&Value::Set(set)));
        assert_eq!(r.type_name(), "set");
        assert_eq!(r.string_bytes(), None);

        let moved = r.with_deadline(Some(9), 2).with_key(b"t", 3);
        assert_eq!((moved.key(), moved.aggregate()), (&b"t"[..], r.aggregate()));
        assert_eq!((moved.deadline_ms(), moved.version()), (Some(9), 3));
        assert_eq!(moved.string(), None);
    }

    #[test]
    fn long_strings_are_shared_and_short_ones_copied_into_replies() {
        let long = vec![b'x'; SHARE_STRING_BYTES];
        let r = Record::new(b"k", Value::Str(Bytes::from(long.clone())), None, 1);
        let reply = r.string_bytes().unwrap();
        assert_eq!(reply, long);
        assert_eq!(reply.as_ptr(), r.string().unwrap().as_ptr(), "shared");
        let short = Record::new(b"k", Value::Str(Bytes::from_static(b"v")), None, 1);
        assert_ne!(
            short.string_bytes().unwrap().as_ptr(),
            short.string().unwrap().as_ptr(),
            "copied"
        );
    }

    #[test]
    fn a_record_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Record>(), 8);
    }
}
