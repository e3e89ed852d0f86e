//! List commands (the non-blocking ones): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
//! LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, as in Redis 7 (`t_list.c`).
//!
//! A list is a persistent vector ([`imbl::Vector`]): pushes and pops at either end are cheap,
//! indexing is O(log n). Popping the last element deletes the key. Blocking variants (BLPOP
//! and friends) belong to the node, which waits and then proposes these commands.

use crate::aggregate::{self, bulk, bulks, check_reply, int, is, positive, List};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::Error;
use bytes::Bytes;
use resp::Reply;

/// Read-only list operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    if op == Op::LPos {
        return lpos(ks, now, args);
    }
    let list = aggregate::get::<List>(ks, now, key)?;
    let empty = List::new();
    let l = list.unwrap_or(&empty);
    Ok(match op {
        Op::LLen => Reply::Integer(l.len() as i64),
        Op::LRange => {
            let (start, stop) = (int(&args[1])?, int(&args[2])?);
            let range = aggregate::range(start, stop, l.len());
            check_reply(range.len())?;
            bulks(l.iter().skip(range.start).take(range.len()))
        }
        // A missing key answers nil before the index is parsed, as in Redis.
        Op::LIndex if list.is_none() => Reply::Null,
        Op::LIndex => {
            let i = int(&args[1])?;
            index(i, l.len())
                .and_then(|i| l.get(i))
                .map_or(Reply::Null, bulk)
        }
        _ => return Err(Error::NotReadOnly(op.name())),
    })
}

/// A Redis list index (negative from the end) as a position, if inside the list.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// Which end of a list.
#[derive(Clone, Copy, PartialEq)]
enum End {
    /// The head (index 0).
    Left,
    /// The tail.
    Right,
}

/// Parses `LEFT` or `RIGHT`.
fn end(arg: &[u8]) -> Result<End, Error> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(Error::Syntax)
    }
}

/// Pops up to `count` elements from one end.
fn pop(l: &mut List, from: End, count: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    while out.len() < count {
        let item = match from {
            End::Left => l.pop_front(),
            End::Right => l.pop_back(),
        };
        match item {
            Some(item) => out.push(item),
            None => break,
        }
    }
    out
}

/// List operations that may change state.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::LPush | Op::RPush | Op::LPushX | Op::RPushX => {
            let create = matches!(op, Op::LPush | Op::RPush);
            let left = matches!(op, Op::LPush | Op::LPushX);
            let len = aggregate::update::<List, _>(ks, now, key, create, |l| {
                for item in &args[1..] {
                    if left {
                        l.push_front(item.clone());
                    } else {
                        l.push_back(item.clone());
                    }
                }
                Ok(l.len())
            })?;
            Ok(Reply::Integer(len.unwrap_or(0) as i64))
        }
        Op::LPop | Op::RPop => {
            let count = match args.get(1) {
                Some(n) => Some(
                    usize::try_from(int(n).map_err(|_| Error::NotPositive)?)
                        .map_err(|_| Error::NotPositive)?,
                ),
                None => None,
            };
            if args.len() > 2 {
                return Err(Error::WrongArity(op.name()));
            }
            if let Some(count) = count {
                check_reply(
                    count.min(aggregate::get::<List>(ks, now, key)?.map_or(0, |l| l.len())),
                )?;
            }
            let from = if op == Op::LPop {
                End::Left
            } else {
                End::Right
            };
            let popped = aggregate::update::<List, _>(ks, now, key, false, |l| {
                Ok(pop(l, from, count.unwrap_or(1)))
            })?;
            Ok(match (popped, count) {
                (None, None) => Reply::Null,
                (None, Some(_)) => Reply::NullArray,
                (Some(items), None) => items.first().map_or(Reply::Null, bulk),
                (Some(items), Some(_)) => bulks(&items),
            })
        }
        Op::LSet => {
            // A missing key is reported before a bad index, as in Redis.
            if aggregate::get::<List>(ks, now, key)?.is_none() {
                return Err(Error::NoSuchKey);
            }
            let i = int(&args[1])?;
            let done = aggregate::update::<List, _>(ks, now, key, false, |l| {
                let i = index(i, l.len()).ok_or(Error::IndexOutOfRange)?;
                l.set(i, args[2].clone());
                Ok(())
            })?;
            done.map(|()| Reply::ok()).ok_or(Error::NoSuchKey)
        }
        Op::LInsert => {
            let before = if is(&args[1], "before") {
                true
            } else if is(&args[1], "after") {
                false
            } else {
                return Err(Error::Syntax);
            };
            let len = aggregate::update::<List, _>(ks, now, key, false, |l| {
                let Some(at) = l.index_of(&args[2]) else {
                    return Ok(-1);
                };
                l.insert(if before { at } else { at + 1 }, args[3].clone());
                Ok(l.len() as i64)
            })?;
            Ok(Reply::Integer(len.unwrap_or(0)))
        }
        Op::LRem => {
            let count = int(&args[1])?;
            let removed = aggregate::update::<List, _>(ks, now, key, false, |l| {
                let limit = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let mut kept = List::new();
                let mut removed = 0;
                let items: Vec<Bytes> = if count < 0 {
                    l.iter().rev().cloned().collect()
                } else {
                    l.iter().cloned().collect()
                };
                for item in items {
                    if removed < limit && item == args[2] {
                        removed += 1;
                    } else if count < 0 {
                        kept.push_front(item);
                    } else {
                        kept.push_back(item);
                    }
                }
                *l = kept;
                Ok(removed)
            })?;
            Ok(Reply::Integer(removed.unwrap_or(0) as i64))
        }
        Op::LTrim => {
            let (start, stop) = (int(&args[1])?, int(&args[2])?);
            aggregate::update::<List, _>(ks, now, key, false, |l| {
                let range = aggregate::range(start, stop, l.len());
                *l = l.skip(range.start).take(range.len());
                Ok(())
            })?;
            Ok(Reply::ok())
        }
        Op::LMove | Op::RPopLPush => {
            let (from, to) = match op {
                Op::LMove => (end(&args[2])?, end(&args[3])?),
                _ => (End::Right, End::Left),
            };
            lmove(ks, now, key, &args[1], from, to)
        }
        Op::LMPop => lmpop(ks, now, args),
        _ => read(op, ks, now, args),
    }
}

/// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT` and `RPOPLPUSH src dst`: the moved element or nil.
fn lmove(
    ks: &mut Keyspace,
    now: u64,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Result<Reply, Error> {
    let Some(source) = aggregate::get::<List>(ks, now, src)? else {
        return Ok(Reply::Null);
    };
    // The destination's type is checked before anything moves, as in Redis.
    aggregate::get::<List>(ks, now, dst)?;
    let mut source = source.clone();
    let item = pop(&mut source, from, 1).remove(0);
    if src == dst {
        // A rotation: the key, and its TTL, stay even when it holds one element (Redis pushes
        // before it deletes an emptied source).
        match to {
            End::Left => source.push_front(item.clone()),
            End::Right => source.push_back(item.clone()),
        }
        aggregate::put(ks, src, true, source);
        return Ok(bulk(&item));
    }
    aggregate::put(ks, src, true, source);
    aggregate::update::<List, _>(ks, now, dst, true, |l| {
        match to {
            End::Left => l.push_front(item.clone()),
            End::Right => l.push_back(item.clone()),
        }
        Ok(())
    })?;
    Ok(bulk(&item))
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: `[key, [elements]]` from the first
/// non-empty list, or a null array.
fn lmpop(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let numkeys = positive(&args[0]).map_err(|_| Error::NumKeysNotPositive)?;
    // Redis 7.0 answers a syntax error when the keys leave no room for the direction.
    if numkeys >= args.len() - 1 {
        return Err(Error::Syntax);
    }
    let keys = &args[1..=numkeys];
    let rest = &args[numkeys + 1..];
    let (from, count) = match rest {
        [dir] => (end(dir)?, 1),
        [dir, opt, n] if is(opt, "count") => {
            (end(dir)?, positive(n).map_err(|_| Error::CountNotPositive)?)
        }
        _ => return Err(Error::Syntax),
    };
    for key in keys {
        if let Some(l) = aggregate::get::<List>(ks, now, key)? {
            check_reply(count.min(l.len()))?;
            let popped =
                aggregate::update::<List, _>(ks, now, key, false, |l| Ok(pop(l, from, count)))?;
            let items = popped.unwrap_or_default();
            return Ok(Reply::Array(vec![bulk(key), bulks(&items)]));
        }
    }
    Ok(Reply::NullArray)
}

/// `LPOS key element [RANK rank] [COUNT num] [MAXLEN len]`.
fn lpos(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(Error::Syntax);
        };
        if is(&args[i], "rank") {
            rank = int(value)?;
            if rank == 0 || rank == i64::MIN {
                return Err(Error::RankZero);
            }
        } else if is(&args[i], "count") {
            // Redis answers the "can't be negative" error to a non-integer too.
            let n = int(value).map_err(|_| Error::CountNegative)?;
            count = Some(usize::try_from(n).map_err(|_| Error::CountNegative)?);
        } else if is(&args[i], "maxlen") {
            let n = int(value).map_err(|_| Error::MaxLenNegative)?;
            maxlen = usize::try_from(n).map_err(|_| Error::MaxLenNegative)?;
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let Some(l) = aggregate::get::<List>(ks, now, &args[0])? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Null
        });
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let limit = if maxlen == 0 {
        l.len()
    } else {
        maxlen.min(l.len())
    };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found = Vec::new();
    let positions: Box<dyn Iterator<Item = usize>> = if rank > 0 {
        Box::new(0..limit)
    } else {
        Box::new((l.len() - limit..l.len()).rev())
    };
    for pos in positions {
        if l[pos] == args[1] {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(Reply::Integer(pos as i64));
            if found.len() >= want {
                break;
            }
        }
    }
    check_reply(found.len())?;
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Null),
    })
}
