//! Hash commands: HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN HSTRLEN HKEYS HVALS HGETALL
//! HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, as in Redis 7 (`t_hash.c`).
//!
//! Fields are kept in byte order (see [`crate::value`]), so HKEYS, HVALS, HGETALL and HSCAN list
//! them sorted. HSCAN's cursor is the index of the next field in that order: a field present for
//! the whole iteration is returned unless fields before it are deleted meanwhile (Redis's
//! guarantee is stronger). HRANDFIELD draws from the replicated generator ([`crate::random`]);
//! with WITHVALUES it answers a flat array (RESP2's shape) in both protocols. The last field
//! deleted deletes the key.

use crate::aggregate::{self, bulk, bulks, check_reply, int, is, Hash, ScanArgs};
use crate::keyspace::Keyspace;
use crate::numbers::format_float;
use crate::op::Op;
use crate::random::Rng;
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, parse_i64, Reply};

/// Read-only hash operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    let hash = aggregate::get::<Hash>(ks, now, key)?;
    let empty = Hash::new();
    let h = hash.unwrap_or(&empty);
    Ok(match op {
        Op::HGet => h.get(&args[1]).map_or(Reply::Null, bulk),
        Op::HMGet => Reply::Array(
            args[1..]
                .iter()
                .map(|f| h.get(f).map_or(Reply::Null, bulk))
                .collect(),
        ),
        Op::HExists => Reply::Integer(i64::from(h.contains_key(&args[1]))),
        Op::HLen => Reply::Integer(h.len() as i64),
        Op::HStrLen => Reply::Integer(h.get(&args[1]).map_or(0, |v| v.len() as i64)),
        Op::HKeys => {
            check_reply(h.len())?;
            bulks(h.keys())
        }
        Op::HVals => {
            check_reply(h.len())?;
            bulks(h.values())
        }
        Op::HGetAll => {
            check_reply(h.len() * 2)?;
            Reply::Map(h.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
        }
        Op::HScan => {
            let scan = ScanArgs::parse(&args[1..], true)?;
            let (page, next) = scan.page(h.len());
            let mut items = Vec::new();
            for (f, v) in h.iter().skip(page.start).take(page.len()) {
                if scan.wanted(f) {
                    items.push(bulk(f));
                    if !scan.novalues {
                        items.push(bulk(v));
                    }
                }
            }
            aggregate::scan_reply(next, items)
        }
        _ => return Err(Error::NotReadOnly(op.name())),
    })
}

/// Hash operations that may change state.
pub(crate) fn write(
    op: Op,
    ks: &mut Keyspace,
    now: u64,
    args: &[Bytes],
    rng: &mut Rng,
) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::HSet | Op::HMSet => {
            if args.len().is_multiple_of(2) {
                return Err(Error::WrongArity(op.name()));
            }
            let added = aggregate::update::<Hash, _>(ks, now, key, true, |h| {
                let mut added = 0;
                for pair in args[1..].chunks_exact(2) {
                    if h.insert(pair[0].clone(), pair[1].clone()).is_none() {
                        added += 1;
                    }
                }
                Ok(added)
            })?;
            Ok(match op {
                Op::HSet => Reply::Integer(added.unwrap_or(0)),
                _ => Reply::ok(),
            })
        }
        Op::HSetNx => {
            let done = aggregate::update::<Hash, _>(ks, now, key, true, |h| {
                if h.contains_key(&args[1]) {
                    return Ok(false);
                }
                h.insert(args[1].clone(), args[2].clone());
                Ok(true)
            })?;
            Ok(Reply::Integer(i64::from(done == Some(true))))
        }
        Op::HDel => {
            let removed = aggregate::update::<Hash, _>(ks, now, key, false, |h| {
                Ok(args[1..].iter().filter(|f| h.remove(*f).is_some()).count())
            })?;
            Ok(Reply::Integer(removed.unwrap_or(0) as i64))
        }
        Op::HIncrBy => {
            let delta = int(&args[2])?;
            let new = aggregate::update::<Hash, _>(ks, now, key, true, |h| {
                let old = match h.get(&args[1]) {
                    Some(v) => parse_i64(v).ok_or(Error::HashNotInteger)?,
                    None => 0,
                };
                let new = old.checked_add(delta).ok_or(Error::IncrOverflow)?;
                h.insert(args[1].clone(), Bytes::from(new.to_string()));
                Ok(new)
            })?;
            Ok(Reply::Integer(new.unwrap_or_default()))
        }
        Op::HIncrByFloat => {
            let delta = parse_f64(&args[2]).ok_or(Error::NotFloat)?;
            if delta.is_infinite() {
                return Err(Error::NanOrInfinityArgument);
            }
            let new = aggregate::update::<Hash, _>(ks, now, key, true, |h| {
                let old = match h.get(&args[1]) {
                    Some(v) => parse_f64(v).ok_or(Error::HashNotFloat)?,
                    None => 0.0,
                };
                let new = old + delta;
                if !new.is_finite() {
                    return Err(Error::NanOrInfinity);
                }
                let text = Bytes::from(format_float(new));
                h.insert(args[1].clone(), text.clone());
                Ok(text)
            })?;
            Ok(new.map_or(Reply::Null, Reply::Bulk))
        }
        Op::HRandField => hrandfield(ks, now, args, rng),
        _ => read(op, ks, now, args),
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
fn hrandfield(ks: &Keyspace, now: u64, args: &[Bytes], rng: &mut Rng) -> Result<Reply, Error> {
    let (count, withvalues) = match args {
        [_] => (None, false),
        [_, count] => (Some(aggregate::rand_count(count)?), false),
        [_, count, flag] if is(flag, "withvalues") => (Some(aggregate::rand_count(count)?), true),
        _ => return Err(Error::Syntax),
    };
    let hash = aggregate::get::<Hash>(ks, now, &args[0])?;
    let Some((count, repeat)) = count else {
        let Some(h) = hash else {
            return Ok(Reply::Null);
        };
        let i = rng.below(h.len());
        return Ok(h.keys().nth(i).map_or(Reply::Null, bulk));
    };
    let Some(h) = hash else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picks = aggregate::pick(rng, h.len(), count, repeat);
    check_reply(picks.len() * if withvalues { 2 } else { 1 })?;
    let pairs: Vec<(&Bytes, &Bytes)> = h.iter().collect();
    let mut items = Vec::new();
    for i in picks {
        let (f, v) = pairs[i];
        items.push(bulk(f));
        if withvalues {
            items.push(bulk(v));
        }
    }
    Ok(Reply::Array(items))
}
