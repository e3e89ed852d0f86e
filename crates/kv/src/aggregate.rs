//! What the commands on hashes, lists, sets and sorted sets share: reading a key as one type,
//! changing it with copy-on-write (so a failed command changes nothing), deleting it when it
//! becomes empty, Redis's index arithmetic, and the reply-size limit.

use crate::keyspace::{Entry, Keyspace};
use crate::limits::MAX_REPLY_ELEMENTS;
use crate::value::Value;
use crate::Error;
use bytes::Bytes;
use resp::{parse_i64, Reply};

/// How to see a [`Value`] as one aggregate type `T`.
pub(crate) trait Kind: Clone + Default {
    /// The value as this type, or None if it is another type.
    fn of(value: &Value) -> Option<&Self>;
    /// Wraps this type back into a value.
    fn wrap(self) -> Value;
    /// Number of elements.
    fn size(&self) -> usize;
}

/// The live aggregate under `key`: None if absent, WRONGTYPE if another type.
pub(crate) fn get<'a, T: Kind>(
    ks: &'a Keyspace,
    now: u64,
    key: &Bytes,
) -> Result<Option<&'a T>, Error> {
    match ks.live(key, now) {
        None => Ok(None),
        Some(record) => record
            .aggregate()
            .and_then(T::of)
            .map(Some)
            .ok_or(Error::WrongType),
    }
}

/// Runs `f` on (a copy of) the aggregate under `key` and stores the result: created if absent
/// and `create`, deleted if left empty. If `f` fails nothing changes. Returns None without
/// calling `f` if the key is absent and not to be created.
pub(crate) fn update<T: Kind, R>(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    create: bool,
    f: impl FnOnce(&mut T) -> Result<R, Error>,
) -> Result<Option<R>, Error> {
    let existing = get::<T>(ks, now, key)?.cloned();
    let present = existing.is_some();
    if !present && !create {
        return Ok(None);
    }
    let mut value = existing.unwrap_or_default();
    let result = f(&mut value)?;
    put(ks, key, present, value);
    Ok(Some(result))
}

/// Stores `value` under `key` (keeping the deadline if the key was `present`), or deletes the
/// key if `value` is empty.
pub(crate) fn put<T: Kind>(ks: &mut Keyspace, key: &Bytes, present: bool, value: T) {
    if value.size() == 0 {
        if present {
            ks.remove(key);
        }
    } else if present {
        ks.set_value(key, value.wrap());
    } else {
        let entry = Entry {
            value: value.wrap(),
            deadline_ms: None,
            version: 0,
        };
        ks.insert(key, entry);
    }
}

/// Replaces whatever is under `key` by `value` without a deadline (the STORE commands), or
/// deletes the key if `value` is empty. Returns the new size.
pub(crate) fn store<T: Kind>(ks: &mut Keyspace, key: &Bytes, value: T) -> usize {
    let size = value.size();
    ks.remove(key);
    put(ks, key, false, value);
    size
}

/// Redis's `start stop` range over `len` elements (negative counts from the end, both ends
/// inclusive, clamped): the half-open index range, empty if nothing is selected.
pub(crate) fn range(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        return 0..0;
    }
    start as usize..stop as usize + 1
}

/// Checks that a reply of `n` elements is within [`MAX_REPLY_ELEMENTS`].
pub(crate) fn check_reply(n: usize) -> Result<(), Error> {
    if n > MAX_REPLY_ELEMENTS {
        return Err(Error::ReplyTooLarge);
    }
    Ok(())
}

/// A bulk reply.
pub(crate) fn bulk(b: &Bytes) -> Reply {
    Reply::Bulk(b.clone())
}

/// An array of bulk replies.
pub(crate) fn bulks<'a>(items: impl IntoIterator<Item = &'a Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(bulk).collect())
}

/// A strict integer argument.
pub(crate) fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NotInteger)
}

/// True if `arg` is `name`, ignoring ASCII case.
pub(crate) fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// A COUNT-style argument that must be positive: `ERR value is out of range, must be positive`.
pub(crate) fn positive(arg: &[u8]) -> Result<usize, Error> {
    let n = int(arg).map_err(|_| Error::NotPositive)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(Error::NotPositive)
}

/// The `cursor [MATCH pattern] [COUNT count]` arguments of HSCAN, SSCAN and ZSCAN (the
/// `NOVALUES` flag of HSCAN is returned as `novalues`).
pub(crate) struct ScanArgs {
    /// Index of the first element to visit.
    pub(crate) cursor: usize,
    /// Only elements matching this pattern.
    pub(crate) pattern: Option<crate::glob::Pattern>,
    /// How many elements to visit.
    pub(crate) count: usize,
    /// HSCAN's NOVALUES.
    pub(crate) novalues: bool,
}

impl ScanArgs {
    /// Parses `cursor [MATCH p] [COUNT n] [NOVALUES]` (NOVALUES only if `novalues_ok`).
    pub(crate) fn parse(args: &[Bytes], novalues_ok: bool) -> Result<ScanArgs, Error> {
        let cursor = crate::numbers::parse_u64(&args[0]).ok_or(Error::InvalidCursor)?;
        let mut scan = ScanArgs {
            cursor: usize::try_from(cursor).unwrap_or(usize::MAX),
            pattern: None,
            count: 10,
            novalues: false,
        };
        let mut i = 1;
        while i < args.len() {
            if novalues_ok && is(&args[i], "novalues") {
                scan.novalues = true;
                i += 1;
                continue;
            }
            let Some(value) = args.get(i + 1) else {
                return Err(Error::Syntax);
            };
            if is(&args[i], "count") {
                let n = int(value)?;
                scan.count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(Error::Syntax)?;
            } else if is(&args[i], "match") {
                if value.len() > crate::limits::MAX_PATTERN_BYTES {
                    return Err(Error::PatternTooLarge);
                }
                scan.pattern = Some(crate::glob::Pattern::new(value));
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
        scan.count = scan.count.min(crate::limits::MAX_SCAN_COUNT as usize);
        Ok(scan)
    }

    /// The page of `len` elements to visit and the next cursor (0 at the end).
    pub(crate) fn page(&self, len: usize) -> (std::ops::Range<usize>, usize) {
        let start = self.cursor.min(len);
        let end = start.saturating_add(self.count).min(len);
        (start..end, if end >= len { 0 } else { end })
    }

    /// True if `element` passes MATCH.
    pub(crate) fn wanted(&self, element: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| p.matches(element))
    }
}

/// The reply of a *SCAN: `[cursor, [elements...]]`.
pub(crate) fn scan_reply(next: usize, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(items),
    ])
}

/// A hash.
pub(crate) type Hash = imbl::OrdMap<Bytes, Bytes>;
/// A list.
pub(crate) type List = imbl::Vector<Bytes>;
/// A set.
pub(crate) type Set = imbl::OrdSet<Bytes>;

impl Kind for Hash {
    fn of(value: &Value) -> Option<&Hash> {
        match value {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Hash(self)
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl Kind for List {
    fn of(value: &Value) -> Option<&List> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::List(Box::new(self))
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl Kind for Set {
    fn of(value: &Value) -> Option<&Set> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Set(self)
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl Kind for crate::value::ZSet {
    fn of(value: &Value) -> Option<&crate::value::ZSet> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::ZSet(Box::new(self))
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl Kind for crate::stream::Stream {
    fn of(value: &Value) -> Option<&crate::stream::Stream> {
        match value {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Stream(Box::new(self))
    }
    /// Never 0: an empty stream is kept (see the invariants in `stream`).
    fn size(&self) -> usize {
        self.len() + 1
    }
}

/// The count argument of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: positive asks for distinct
/// elements, negative allows repeats. Redis refuses magnitudes beyond ±(i64::MAX / 2).
pub(crate) fn rand_count(arg: &[u8]) -> Result<(usize, bool), Error> {
    let n = int(arg)?;
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(Error::OutOfRange);
    }
    let count = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
    if n < 0 {
        check_reply(count)?;
    }
    Ok((count, n < 0))
}

/// Which elements (by index among `len`) a random pick of `count` returns: distinct ones if
/// not `repeat` (at most `len`), else `count` independent draws.
pub(crate) fn pick(
    rng: &mut crate::random::Rng,
    len: usize,
    count: usize,
    repeat: bool,
) -> Vec<usize> {
    if repeat {
        (0..count).map(|_| rng.below(len)).collect()
    } else {
        rng.distinct(len, count)
    }
}
