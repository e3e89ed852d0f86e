//! Generic key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, KEYS, DBSIZE,
//! FLUSHDB, FLUSHALL.
//!
//! Like the string commands, these follow Redis 7's `db.c` and treat expired entries as absent.
//! Deleting an expired entry (DEL of a key whose deadline passed) removes it but does not count
//! it, as in Redis where the lookup expires it first. Counts with repeated keys follow Redis too:
//! `EXISTS k k` is 2, `DEL k k` is 1.
//!
//! KEYS and DBSIZE work on live keys only. KEYS lists them in keyspace order, which is the
//! deterministic `(hash, key)` order, not insertion order; Redis promises no order either.

use crate::glob::Pattern;
use crate::keyspace::Keyspace;
use crate::Error;
use bytes::Bytes;
use resp::Reply;

/// `DEL`/`UNLINK key...`: the number of live keys removed.
pub(crate) fn del(ks: &mut Keyspace, now: u64, keys: &[Bytes]) -> Reply {
    let mut removed = 0;
    for key in keys {
        if let Some(entry) = ks.remove(key) {
            if entry.is_live(now) {
                removed += 1;
            }
        }
    }
    Reply::Integer(removed)
}

/// `EXISTS`/`TOUCH key...`: how many of the keys (with repeats) are live.
pub(crate) fn exists(ks: &Keyspace, now: u64, keys: &[Bytes]) -> Reply {
    let count = keys
        .iter()
        .filter(|key| ks.live(key, now).is_some())
        .count();
    Reply::Integer(count as i64)
}

/// `TYPE key`: `string`, `hash`, `list`, `set`, `zset`, or `none`.
pub(crate) fn type_of(ks: &Keyspace, now: u64, key: &Bytes) -> Reply {
    let name = ks
        .live(key, now)
        .map_or("none", |entry| entry.value.type_name());
    Reply::Simple(name.to_string())
}

/// `RENAME`/`RENAMENX from to`: moves the value and its deadline. RENAME replies OK and
/// overwrites `to`; RENAMENX replies 1, or 0 if `to` exists. A missing `from` is an error, even
/// when `from == to`.
pub(crate) fn rename(
    ks: &mut Keyspace,
    now: u64,
    from: &Bytes,
    to: &Bytes,
    nx: bool,
) -> Result<Reply, Error> {
    let done = || {
        if nx {
            Reply::Integer(1)
        } else {
            Reply::ok()
        }
    };
    if ks.live(from, now).is_none() {
        return Err(Error::NoSuchKey);
    }
    if from == to {
        return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
    }
    if nx && ks.live(to, now).is_some() {
        return Ok(Reply::Integer(0));
    }
    if let Some(entry) = ks.remove(from) {
        ks.insert(to.clone(), entry);
    }
    Ok(done())
}

/// `KEYS pattern`: every live key matching the glob pattern.
pub(crate) fn keys(ks: &Keyspace, now: u64, pattern: &Bytes) -> Reply {
    let pattern = Pattern::new(pattern);
    let keys = ks
        .iter()
        .filter(|(slot, entry)| entry.is_live(now) && pattern.matches(&slot.key))
        .map(|(slot, _)| Reply::Bulk(slot.key.clone()))
        .collect();
    Reply::Array(keys)
}

/// The number of live keys: stored keys minus those already due. Costs O(due keys), which
/// ExpireDue keeps small.
pub(crate) fn live_count(ks: &Keyspace, now: u64) -> usize {
    ks.len() - ks.due(now).count()
}

/// `DBSIZE`: the number of live keys.
pub(crate) fn dbsize(ks: &Keyspace, now: u64) -> Reply {
    Reply::Integer(live_count(ks, now) as i64)
}

/// `FLUSHDB`/`FLUSHALL`: removes every key; OK.
pub(crate) fn flush(ks: &mut Keyspace) -> Reply {
    ks.clear();
    Reply::ok()
}
