//! The string commands: GET, SET and its variants, MGET/MSET, counters, APPEND, ranges.
//!
//! Each function is one command's semantics over a [`Keyspace`] at the time `now` (the store's
//! clock, already advanced for this command). They follow Redis 7's `t_string.c` step by step,
//! including the order in which errors are detected, so that replies match Redis exactly.
//!
//! Rules shared by all of them:
//!
//! - an expired entry is treated as absent; overwriting it replaces its deadline too;
//! - commands that replace the value wholesale (SET without KEEPTTL, GETSET, MSET, SETNX)
//!   discard the TTL; commands that modify the value (INCR*, APPEND, SETRANGE) keep it;
//! - a deadline at or before `now` deletes the key instead of storing it;
//! - results that grow a value are checked against [`MAX_VALUE_BYTES`].

use crate::keyspace::Keyspace;
use crate::limits::MAX_VALUE_BYTES;
use crate::numbers::format_float;
use crate::options::{GetExTtl, SetCondition, SetTtl};
use crate::record::Record;
use crate::ttl::is_past;
use crate::value::Value;
use crate::Error;
use bytes::{Bytes, BytesMut};
use resp::Reply;
use resp::{parse_f64, parse_i64};

/// A bulk reply with a string value, or nil.
fn value_reply(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Null, Reply::Bulk)
}

/// Stores `value` under `key` with `deadline` (a deadline already past deletes the key). The
/// record copies the bytes, so the caller keeps (and drops) its own handle.
fn put(ks: &mut Keyspace, now: u64, key: &Bytes, value: &[u8], deadline: Option<i64>) {
    match deadline {
        Some(deadline) if is_past(deadline, now) => {
            ks.remove(key);
        }
        _ => {
            ks.insert_string(key, value, deadline.map(|d| d as u64));
        }
    }
}

/// Replaces the value of `key`, keeping its deadline if it is live, else creating it.
pub(crate) fn modify(ks: &mut Keyspace, now: u64, key: &Bytes, value: Bytes) {
    if ks.live(key, now).is_some() {
        ks.set_value(key, Value::Str(value));
    } else {
        put(ks, now, key, &value, None);
    }
}

/// `GET key`.
pub(crate) fn get(ks: &Keyspace, now: u64, key: &Bytes) -> Result<Reply, Error> {
    Ok(value_reply(ks.live_str_bytes(key, now)?))
}

/// `SET key value ...`: OK, or nil when NX/XX prevents it; with GET, the old value either way.
pub(crate) fn set(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    value: &Bytes,
    condition: SetCondition,
    get: bool,
    ttl: SetTtl,
) -> Result<Reply, Error> {
    set_as(ks, now, "set", key, value, condition, get, ttl)
}

/// SET's semantics with the command name used in its expire-time error (SETEX, PSETEX).
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_as(
    ks: &mut Keyspace,
    now: u64,
    command: &'static str,
    key: &Bytes,
    value: &Bytes,
    condition: SetCondition,
    get: bool,
    ttl: SetTtl,
) -> Result<Reply, Error> {
    let new_deadline = match ttl {
        SetTtl::Expire(expiry) => Some(expiry.deadline_ms(now, command)?),
        SetTtl::Clear | SetTtl::Keep => None,
    };
    if condition == SetCondition::Always && !get && ttl != SetTtl::Keep {
        // The common case needs nothing from the old entry: one tree walk instead of two.
        put(ks, now, key, value, new_deadline);
        return Ok(Reply::ok());
    }
    let old = ks.live(key, now).cloned();
    let reply = if get {
        value_reply(old.as_ref().map(Record::as_str_bytes).transpose()?)
    } else {
        Reply::ok()
    };
    let blocked = match condition {
        SetCondition::Always => false,
        SetCondition::IfAbsent => old.is_some(),
        SetCondition::IfPresent => old.is_none(),
    };
    if blocked {
        return Ok(if get { reply } else { Reply::Null });
    }
    let deadline = match ttl {
        SetTtl::Keep => old.and_then(|old| old.deadline_ms()).map(|d| d as i64),
        _ => new_deadline,
    };
    put(ks, now, key, value, deadline);
    Ok(reply)
}

/// `SETNX key value`: 1 if set, 0 if the key existed.
pub(crate) fn setnx(ks: &mut Keyspace, now: u64, key: &Bytes, value: &Bytes) -> Reply {
    if ks.live(key, now).is_some() {
        return Reply::Integer(0);
    }
    put(ks, now, key, value, None);
    Reply::Integer(1)
}

/// `GETSET key value`: the old value (or nil); the new value has no TTL.
pub(crate) fn getset(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    value: &Bytes,
) -> Result<Reply, Error> {
    let reply = value_reply(ks.live_str_bytes(key, now)?);
    put(ks, now, key, value, None);
    Ok(reply)
}

/// `GETDEL key`: the value (or nil), and the key is gone.
pub(crate) fn getdel(ks: &mut Keyspace, now: u64, key: &Bytes) -> Result<Reply, Error> {
    let reply = value_reply(ks.live_str_bytes(key, now)?);
    ks.remove(key);
    Ok(reply)
}

/// `GETEX key [option]`: the value (or nil), changing the TTL as asked.
pub(crate) fn getex(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    ttl: GetExTtl,
) -> Result<Reply, Error> {
    let Some(value) = ks.live_str_bytes(key, now)? else {
        return Ok(Reply::Null);
    };
    let reply = Reply::Bulk(value);
    match ttl {
        GetExTtl::Keep => {}
        GetExTtl::Persist => ks.set_deadline(key, None),
        GetExTtl::NotInteger => return Err(Error::NotInteger),
        GetExTtl::Expire(expiry) => {
            let deadline = expiry.deadline_ms(now, "getex")?;
            if is_past(deadline, now) {
                ks.remove(key);
            } else {
                ks.set_deadline(key, Some(deadline as u64));
            }
        }
    }
    Ok(reply)
}

/// `MGET key...`: one value or nil per key (nil for a key of another type, as in Redis).
pub(crate) fn mget(ks: &Keyspace, now: u64, keys: &[Bytes]) -> Reply {
    Reply::Array(
        keys.iter()
            .map(|key| value_reply(ks.live_str_bytes(key, now).ok().flatten()))
            .collect(),
    )
}

/// `MSET key value ...`: OK; every key loses its TTL.
pub(crate) fn mset(ks: &mut Keyspace, now: u64, pairs: &[(Bytes, Bytes)]) -> Reply {
    for (key, value) in pairs {
        put(ks, now, key, value, None);
    }
    Reply::ok()
}

/// `MSETNX key value ...`: 1 and all set if none of the keys exists, else 0 and nothing set.
pub(crate) fn msetnx(ks: &mut Keyspace, now: u64, pairs: &[(Bytes, Bytes)]) -> Reply {
    if pairs.iter().any(|(key, _)| ks.live(key, now).is_some()) {
        return Reply::Integer(0);
    }
    mset(ks, now, pairs);
    Reply::Integer(1)
}

/// `INCR`/`DECR`/`INCRBY`/`DECRBY`: the new value; the TTL is kept.
pub(crate) fn incr_by(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    delta: i64,
) -> Result<Reply, Error> {
    let current = match ks.live_str(key, now)? {
        Some(value) => parse_i64(value).ok_or(Error::NotInteger)?,
        None => 0,
    };
    let new = current.checked_add(delta).ok_or(Error::IncrOverflow)?;
    modify(ks, now, key, Bytes::from(new.to_string()));
    Ok(Reply::Integer(new))
}

/// `INCRBYFLOAT key delta`: the new value as a bulk string; the TTL is kept.
pub(crate) fn incr_by_float(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    delta: f64,
) -> Result<Reply, Error> {
    let current = match ks.live_str(key, now)? {
        Some(value) => parse_f64(value).ok_or(Error::NotFloat)?,
        None => 0.0,
    };
    if delta.is_nan() {
        return Err(Error::NotFloat);
    }
    let new = current + delta;
    if !new.is_finite() {
        return Err(Error::NanOrInfinity);
    }
    let text = Bytes::from(format_float(new));
    modify(ks, now, key, text.clone());
    Ok(Reply::Bulk(text))
}

/// `APPEND key value`: the new length; the TTL is kept.
pub(crate) fn append(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    value: &Bytes,
) -> Result<Reply, Error> {
    let Some(old) = ks.live_str(key, now)? else {
        put(ks, now, key, value, None);
        return Ok(Reply::Integer(value.len() as i64));
    };
    let total = old.len() + value.len();
    if total > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge);
    }
    let mut joined = BytesMut::with_capacity(total);
    joined.extend_from_slice(old);
    joined.extend_from_slice(value);
    ks.set_value(key, Value::Str(joined.freeze()));
    Ok(Reply::Integer(total as i64))
}

/// `STRLEN key`: the value's length, 0 if absent.
pub(crate) fn strlen(ks: &Keyspace, now: u64, key: &Bytes) -> Result<Reply, Error> {
    let len = ks.live_str(key, now)?.map_or(0, |value| value.len());
    Ok(Reply::Integer(len as i64))
}

/// `GETRANGE key start end`: the inclusive byte range, negative indexes from the end; empty
/// if absent or out of range.
pub(crate) fn getrange(
    ks: &Keyspace,
    now: u64,
    key: &Bytes,
    start: i64,
    end: i64,
) -> Result<Reply, Error> {
    let empty = Ok(Reply::Bulk(Bytes::new()));
    let Some(value) = ks.live_str(key, now)? else {
        return empty;
    };
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return empty;
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return empty;
    }
    Ok(Reply::Bulk(Bytes::copy_from_slice(
        &value[start as usize..=end as usize],
    )))
}

/// `SETRANGE key offset value`: the new length; the value is zero-padded up to `offset`.
pub(crate) fn setrange(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    offset: u64,
    value: &Bytes,
) -> Result<Reply, Error> {
    let old = ks.live_str(key, now)?;
    if value.is_empty() {
        return Ok(Reply::Integer(old.map_or(0, |old| old.len() as i64)));
    }
    let end = offset
        .checked_add(value.len() as u64)
        .filter(|&end| end <= MAX_VALUE_BYTES as u64)
        .ok_or(Error::ValueTooLarge)? as usize;
    let offset = offset as usize;
    let old = old.unwrap_or_default();
    let mut new = BytesMut::from(old);
    if new.len() < end {
        new.resize(end, 0);
    }
    new[offset..end].copy_from_slice(value);
    let len = new.len();
    modify(ks, now, key, new.freeze());
    Ok(Reply::Integer(len as i64))
}
