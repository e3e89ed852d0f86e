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
    let name = ks.live(key, now).map_or("none", |entry| entry.type_name());
    Reply::Simple(name.into())
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
    if let Some(record) = ks.remove(from) {
        ks.insert_copy(to, &record);
    }
    Ok(done())
}

/// `KEYS pattern`: every live key matching the glob pattern.
pub(crate) fn keys(ks: &Keyspace, now: u64, pattern: &Bytes) -> Reply {
    let pattern = Pattern::new(pattern);
    let keys = ks
        .iter()
        .filter(|record| record.is_live(now) && pattern.matches(record.key()))
        .map(|record| Reply::Bulk(Bytes::copy_from_slice(record.key())))
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

/// `RANDOMKEY`: a live key drawn from the replicated generator, or nil. Costs O(keys): the
/// keyspace is walked to the drawn position.
pub(crate) fn random_key(ks: &Keyspace, now: u64, rng: &mut crate::random::Rng) -> Reply {
    let live = live_count(ks, now);
    if live == 0 {
        return Reply::Null;
    }
    let n = rng.below(live);
    ks.iter()
        .filter(|record| record.is_live(now))
        .nth(n)
        .map_or(Reply::Null, |record| {
            Reply::Bulk(Bytes::copy_from_slice(record.key()))
        })
}

/// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP [key]`. Encodings are fixed names per type (see
/// [`crate::value::Value::encoding`]); there is no LRU or LFU clock, so IDLETIME is always 0
/// and FREQ is refused as Redis refuses it without an LFU policy.
pub(crate) fn object(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let sub = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    if sub == "help" {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ];
        return Ok(Reply::Array(
            lines.iter().map(|l| Reply::Simple((*l).into())).collect(),
        ));
    }
    let arity_name = match sub.as_str() {
        "encoding" => "object|encoding",
        "refcount" => "object|refcount",
        "idletime" => "object|idletime",
        "freq" => "object|freq",
        _ => {
            return Err(Error::UnknownSubcommand {
                sub: String::from_utf8_lossy(&args[0]).into_owned(),
                command: "OBJECT",
            })
        }
    };
    if args.len() != 2 {
        return Err(Error::WrongArity(arity_name));
    }
    let Some(entry) = ks.live(&args[1], now) else {
        return Ok(Reply::Null);
    };
    Ok(match sub.as_str() {
        "encoding" => Reply::Bulk(Bytes::from_static(entry.encoding().as_bytes())),
        "refcount" => Reply::Integer(1),
        "idletime" => Reply::Integer(0),
        _ => return Err(Error::NoLfuPolicy),
    })
}

/// `COPY source destination [DB 0] [REPLACE]`: 1 if copied (value and deadline), 0 if the
/// source is missing or the destination exists without REPLACE. There is one database, so only
/// `DB 0` is accepted.
pub(crate) fn copy(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (src, dst) = (&args[0], &args[1]);
    let mut replace = false;
    let mut i = 2;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
        } else if args[i].eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let db = crate::aggregate::int(&args[i + 1])?;
            if db != 0 {
                return Err(Error::DbIndexOutOfRange);
            }
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    if src == dst {
        return Err(Error::SameObject);
    }
    let Some(entry) = ks.live(src, now).cloned() else {
        return Ok(Reply::Integer(0));
    };
    if ks.live(dst, now).is_some() && !replace {
        return Ok(Reply::Integer(0));
    }
    ks.insert_copy(dst, &entry);
    Ok(Reply::Integer(1))
}

/// `TIME`: the store's clock as `[unix seconds, microseconds]`. The clock has millisecond
/// resolution, so the microseconds are a multiple of 1000.
pub(crate) fn time(now_ms: u64) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from((now_ms / 1000).to_string())),
        Reply::Bulk(Bytes::from(((now_ms % 1000) * 1000).to_string())),
    ])
}
