//! The value stored under a key: a string or one of the aggregate types.
//!
//! Every aggregate lives in a persistent collection from [`imbl`], so cloning a [`Value`] (and
//! with it the whole store, for a snapshot) is O(1) and a change copies only a path of the tree.
//!
//! # Invariants
//!
//! - An aggregate is never empty: the command that removes its last element deletes the key
//!   (Redis's rule, which EXISTS, TYPE and DBSIZE make visible).
//! - A sorted set's two indexes (member → score, and (score, member) in order) always hold the
//!   same pairs, and no score is NaN.
//!
//! # Order
//!
//! Hash fields and set members are kept in byte order, so HGETALL, HKEYS, SMEMBERS and their
//! SCAN cursors are the same on every replica. Redis promises no order for them (small ones come
//! out in insertion order, large ones in hash-table order); clients may not rely on either.

use bytes::Bytes;
use imbl::{OrdMap, OrdSet, Vector};
use std::ops::Bound;

/// A sorted-set score: an `f64` that is never NaN, ordered totally (`-0.0 == 0.0`, as Redis
/// compares them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Score(pub(crate) f64);

impl PartialEq for Score {
    fn eq(&self, other: &Score) -> bool {
        self.0 == other.0
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Score) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Score) -> std::cmp::Ordering {
        self.0
            .partial_cmp(&other.0)
            .expect("a NaN score reached a sorted set")
    }
}

/// A sorted set: each member once with its score, ordered by (score, member).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ZSet {
    /// Member → score.
    pub(crate) scores: OrdMap<Bytes, Score>,
    /// (score, member) in ascending order.
    pub(crate) order: OrdSet<(Score, Bytes)>,
}

impl ZSet {
    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    /// Adds or moves `member` to `score` (never NaN; `-0` is stored as `0`, which Redis
    /// prints as `0` too); returns the previous score.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        let score = score + 0.0;
        let old = self.scores.insert(member.clone(), Score(score));
        if let Some(old) = old {
            self.order.remove(&(old, member.clone()));
        }
        self.order.insert((Score(score), member));
        old.map(|s| s.0)
    }

    /// Removes `member`; returns its score.
    pub(crate) fn remove(&mut self, member: &Bytes) -> Option<f64> {
        let old = self.scores.remove(member)?;
        self.order.remove(&(old, member.clone()));
        Some(old.0)
    }

    /// The score of `member`.
    pub(crate) fn score(&self, member: &Bytes) -> Option<f64> {
        self.scores.get(member).map(|s| s.0)
    }

    /// The 0-based rank of `member` in ascending order. Linear in the rank: the ordered set
    /// keeps no subtree sizes (Redis's skiplist answers in O(log n)).
    pub(crate) fn rank(&self, member: &Bytes) -> Option<usize> {
        let score = *self.scores.get(member)?;
        Some(self.order.range(..(score, member.clone())).count())
    }

    /// Members whose score is at least `min`, ascending (from the first such member).
    pub(crate) fn at_least_score(
        &self,
        min: f64,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let start = (Score(min), Bytes::new());
        self.order
            .range((Bound::Included(start), Bound::Unbounded))
            .map(|(score, member)| (member, score.0))
    }

    /// Members whose score is at most `max`, ascending (iterate backwards from the last such
    /// member with `rev`).
    pub(crate) fn up_to_score(&self, max: f64) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let end = if max == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded((Score(max.next_up()), Bytes::new()))
        };
        self.order
            .range((Bound::Unbounded, end))
            .map(|(score, member)| (member, score.0))
    }

    /// Members in (score, member) order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_ {
        self.order.iter().map(|(score, member)| (member, score.0))
    }
}

/// What a key holds.
///
/// Commands build values of this type to store them. The keyspace keeps a string's bytes
/// inline in the key's record and boxes any other value there ([`crate::record`]), so every
/// aggregate key pays for the size of `Value`: the larger collections (a list's `Vector` is 64
/// bytes, a stream 88) are boxed in turn so that a value is 40 bytes (a test keeps it so).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// A binary-safe string.
    Str(Bytes),
    /// A hash: field → value, never empty.
    Hash(OrdMap<Bytes, Bytes>),
    /// A list, never empty.
    List(Box<Vector<Bytes>>),
    /// A set of members, never empty.
    Set(OrdSet<Bytes>),
    /// A sorted set, never empty.
    ZSet(Box<ZSet>),
    /// A stream (may be empty: see [`crate::stream`]).
    Stream(Box<crate::stream::Stream>),
}

impl Value {
    /// The name TYPE answers (`string`, `hash`, `list`, `set`, `zset`, `stream`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The number of elements of an aggregate (1 for a string), for limits and OBJECT.
    pub(crate) fn len(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::Hash(h) => h.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len(),
        }
    }

    /// The name OBJECT ENCODING answers. The representation is the same whatever the size, so
    /// these are fixed names: `embstr`/`int`/`raw` for strings as Redis reports them, and the
    /// large encodings for aggregates (`hashtable`, `quicklist`, `hashtable`, `skiplist`).
    pub(crate) fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => string_encoding(s),
            Value::Hash(_) => "hashtable",
            Value::List(_) => "quicklist",
            Value::Set(_) => "hashtable",
            Value::ZSet(_) => "skiplist",
            Value::Stream(_) => "stream",
        }
    }
}

/// The name OBJECT ENCODING answers for a string: `int`, `embstr` or `raw`, as Redis reports it.
pub(crate) fn string_encoding(s: &[u8]) -> &'static str {
    if s.len() <= 20 && resp::parse_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most a [`Value`] may take inline: 1M string keys took about 80 B of memory per key
    /// more when it was 88 and the keyspace tree held values inline.
    const VALUE_MAX_BYTES: usize = 40;

    #[test]
    fn a_value_stays_small_inline() {
        assert!(std::mem::size_of::<Value>() <= VALUE_MAX_BYTES);
    }
}
