//! Consumer-group commands: XGROUP (CREATE DESTROY CREATECONSUMER DELCONSUMER SETID)
//! XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM, and XINFO (STREAM GROUPS CONSUMERS), as in
//! Redis 7.0 (`t_stream.c`).
//!
//! # Choices and differences from Redis
//!
//! - XREADGROUP and XCLAIM change state (the PEL, delivery counts, consumers), so they go
//!   through the log. Idle times and delivery times use the log entry's `now`; XPENDING and
//!   XINFO CONSUMERS, served as reads, measure idle time against the read's `now`.
//! - BLOCK never waits here (see [`crate::streams::BlockingRead`]: the node waits);
//!   XINFO STREAM FULL is refused with `ERR XINFO STREAM FULL is not supported`.
//! - Replies that Redis 7.0 sends as maps in RESP3 (XINFO) are [`Reply::Map`]; XREADGROUP's
//!   reply is RESP2's array of `[key, entries]` pairs in both protocols.

use crate::aggregate::{self, check_reply, get, int, is};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::stream::{entry_reply, Consumer, Group, Pending, Stream, StreamId};
use crate::streams::{entries_reply, info_stream, range, ReadArgs};
use crate::Error;
use bytes::Bytes;
use resp::Reply;
use std::ops::Bound;

/// XAUTOCLAIM's default COUNT.
const AUTOCLAIM_DEFAULT_COUNT: usize = 100;
/// XAUTOCLAIM scans at most this many PEL entries per claimed entry asked for.
const AUTOCLAIM_ATTEMPTS_FACTOR: usize = 10;

/// Text of a key or group name for an error.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bulk reply of a fixed text.
fn text(t: &str) -> Reply {
    Reply::Bulk(Bytes::from(t.to_string()))
}

/// The group operations that may change state.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    use Op::*;
    match op {
        XGroup => xgroup(ks, now, args),
        XReadGroup => xreadgroup(ks, now, args),
        XAck => {
            // No key or group: nothing to acknowledge, before the IDs are parsed (as Redis).
            if get::<Stream>(ks, now, &args[0])?.is_none_or(|s| !s.groups.contains_key(&args[1])) {
                return Ok(Reply::Integer(0));
            }
            let ids = args[2..]
                .iter()
                .map(|a| StreamId::parse(a, 0))
                .collect::<Result<Vec<_>, _>>()?;
            let acked = aggregate::update::<Stream, _>(ks, now, &args[0], false, |s| {
                let g = s.groups.get_mut(&args[1]).expect("checked above");
                Ok(ids.iter().filter(|id| unpend(g, **id).is_some()).count())
            })?;
            Ok(Reply::Integer(acked.unwrap_or(0) as i64))
        }
        XClaim => xclaim(ks, now, args),
        XAutoClaim => xautoclaim(ks, now, args),
        _ => crate::streams::read(op, ks, now, args),
    }
}

/// Removes `id` from the group's PEL and its consumer's list.
fn unpend(g: &mut Group, id: StreamId) -> Option<Pending> {
    let p = g.pel.remove(&id)?;
    if let Some(c) = g.consumers.get_mut(&p.consumer) {
        c.pending.remove(&id);
    }
    Some(p)
}

/// Puts `id` in the PEL for `consumer` (moving it from another consumer if needed).
fn pend(g: &mut Group, id: StreamId, consumer: &Bytes, delivery_ms: u64, deliveries: u64) {
    unpend(g, id);
    g.pel.insert(
        id,
        Pending {
            consumer: consumer.clone(),
            delivery_ms,
            deliveries,
        },
    );
    g.consumers
        .entry(consumer.clone())
        .or_default()
        .pending
        .insert(id);
}

/// The consumer `name` of `g`, created (seen now) if missing.
fn consumer<'a>(g: &'a mut Group, name: &Bytes, now: u64) -> &'a mut Consumer {
    g.consumers.entry(name.clone()).or_insert_with(|| Consumer {
        seen_ms: now,
        pending: Default::default(),
    })
}

/// An ENTRIESREAD argument: a non-negative count or -1 (unknown).
fn entries_read_arg(arg: &[u8]) -> Result<Option<u64>, Error> {
    match int(arg)? {
        -1 => Ok(None),
        n => u64::try_from(n).map(Some).map_err(|_| Error::EntriesRead),
    }
}

/// `XGROUP CREATE|DESTROY|CREATECONSUMER|DELCONSUMER|SETID ...`.
fn xgroup(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let sub = &args[0];
    // Redis's subcommand arities, without the command name: (exact?, count).
    let arity = match () {
        _ if is(sub, "create") => Some((false, 4, "xgroup|create")),
        _ if is(sub, "setid") => Some((false, 4, "xgroup|setid")),
        _ if is(sub, "destroy") => Some((true, 3, "xgroup|destroy")),
        _ if is(sub, "createconsumer") => Some((true, 4, "xgroup|createconsumer")),
        _ if is(sub, "delconsumer") => Some((true, 4, "xgroup|delconsumer")),
        _ => None,
    };
    let Some((exact, n, name)) = arity else {
        return Err(Error::UnknownSubcommand {
            sub: lossy(sub),
            command: "XGROUP",
        });
    };
    if args.len() < n || (exact && args.len() != n) {
        return Err(Error::WrongArity(name));
    }
    let (key, group) = (&args[1], &args[2]);
    let mut mkstream = false;
    let mut entries_read = None;
    if is(sub, "create") || is(sub, "setid") {
        let mut i = 4;
        while i < args.len() {
            if is(sub, "create") && is(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = entries_read_arg(&args[i + 1])?;
                i += 2;
            } else {
                return Err(Error::XGroupSyntax(lossy(sub)));
            }
        }
    }
    let stream = get::<Stream>(ks, now, key)?;
    let no_group = || Error::NoGroup {
        key: lossy(key),
        group: lossy(group),
    };
    if stream.is_none() && !mkstream {
        return Err(Error::XGroupNoKey);
    }
    let id_arg = |s: &Stream| -> Result<StreamId, Error> {
        match args[3].as_ref() {
            b"$" => Ok(s.last_id),
            id => StreamId::parse(id, 0),
        }
    };
    let reply = aggregate::update::<Stream, _>(ks, now, key, true, |s| {
        Ok(match () {
            _ if is(sub, "create") => {
                let last_delivered = id_arg(s)?;
                if s.groups.contains_key(group) {
                    return Err(Error::BusyGroup);
                }
                s.groups.insert(
                    group.clone(),
                    Group {
                        last_delivered,
                        entries_read,
                        ..Group::default()
                    },
                );
                Reply::ok()
            }
            _ if is(sub, "setid") => {
                // A missing group is reported before a bad ID, as in Redis.
                if !s.groups.contains_key(group) {
                    return Err(no_group());
                }
                let last_delivered = id_arg(s)?;
                let g = s.groups.get_mut(group).expect("checked above");
                g.last_delivered = last_delivered;
                g.entries_read = entries_read;
                Reply::ok()
            }
            _ if is(sub, "destroy") => Reply::Integer(s.groups.remove(group).is_some() as i64),
            _ if is(sub, "createconsumer") => {
                let g = s.groups.get_mut(group).ok_or_else(no_group)?;
                let created = !g.consumers.contains_key(&args[3]);
                consumer(g, &args[3], now);
                Reply::Integer(created as i64)
            }
            _ => {
                let g = s.groups.get_mut(group).ok_or_else(no_group)?;
                let Some(c) = g.consumers.remove(&args[3]) else {
                    return Ok(Reply::Integer(0));
                };
                for id in c.pending.iter() {
                    g.pel.remove(id);
                }
                Reply::Integer(c.pending.len() as i64)
            }
        })
    })?;
    Ok(reply.expect("created if missing"))
}

/// `XREADGROUP GROUP group consumer [COUNT n] [NOACK] STREAMS key ... id ...`.
fn xreadgroup(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    if !is(&args[0], "group") {
        return Err(Error::Syntax);
    }
    let (group, name) = (&args[1], &args[2]);
    let mut noack = false;
    let read = ReadArgs::parse(args, 3, |a| {
        let hit = is(a, "noack");
        noack |= hit;
        hit
    })?;
    let mut after = Vec::with_capacity(read.ids.len());
    for (key, id) in read.keys.iter().zip(read.ids) {
        if get::<Stream>(ks, now, key)?.is_none_or(|s| !s.groups.contains_key(group)) {
            return Err(Error::NoGroupRead {
                key: lossy(key),
                group: lossy(group),
            });
        }
        after.push(match id.as_ref() {
            b">" => None,
            b"$" => return Err(Error::XReadGroupDollar),
            _ => Some(StreamId::parse(id, 0)?),
        });
    }
    let mut out = Vec::new();
    let mut total = 0;
    for (key, after) in read.keys.iter().zip(after) {
        let reply = aggregate::update::<Stream, _>(ks, now, key, false, |s| {
            let mut g = s.groups.get(group).expect("checked above").clone();
            let reply = match after {
                None => {
                    let start = g.last_delivered.next();
                    let entries = start.map_or_else(Vec::new, |start| {
                        range(s, start, StreamId::MAX, read.count, false)
                    });
                    // With `>` the consumer is created (or seen) only if there is something
                    // to deliver, as in Redis 7.0.
                    if !entries.is_empty() {
                        consumer(&mut g, name, now).seen_ms = now;
                    }
                    for (id, _) in &entries {
                        deliver(s, &mut g, *id);
                        if !noack {
                            pend(&mut g, *id, name, now, 1);
                        }
                    }
                    (!entries.is_empty()).then(|| entries_reply(&entries))
                }
                Some(after) => {
                    let c = consumer(&mut g, name, now);
                    c.seen_ms = now;
                    let ids: Vec<StreamId> = after.next().map_or_else(Vec::new, |start| {
                        c.pending
                            .range(start..)
                            .take(read.count.unwrap_or(usize::MAX))
                            .copied()
                            .collect()
                    });
                    let mut items = Vec::with_capacity(ids.len());
                    for id in ids {
                        let p = g.pel.get_mut(&id).expect("consumer lists only PEL IDs");
                        p.delivery_ms = now;
                        p.deliveries += 1;
                        items.push(match s.entries.get(&id) {
                            Some(f) => entry_reply(id, f),
                            None => Reply::Array(vec![id.reply(), Reply::NullArray]),
                        });
                    }
                    Some(Reply::Array(items))
                }
            };
            s.groups.insert(group.clone(), g);
            Ok(reply)
        })?;
        if let Some(Some(entries)) = reply {
            if let Reply::Array(items) = &entries {
                total += items.len();
            }
            check_reply(total)?;
            out.push((Reply::Bulk(key.clone()), entries));
        }
    }
    Ok(if out.is_empty() {
        Reply::NullArray
    } else {
        Reply::Keyed(out)
    })
}

/// Moves the group's last-delivered ID to `id` (above it) and its read counter with it.
fn deliver(s: &Stream, g: &mut Group, id: StreamId) {
    if id <= g.last_delivered {
        return;
    }
    g.entries_read = match g.entries_read {
        Some(n) if !has_tombstones(s, id) => Some(n + 1),
        _ if s.entries_added > 0 => s.entries_read_at(id),
        other => other,
    };
    g.last_delivered = id;
}

/// Redis's `streamRangeHasTombstones(s, from, +)`: an XDEL may have removed an entry at or
/// above `from`. A deletion below the first entry left (trimmed away since) is no tombstone.
fn has_tombstones(s: &Stream, from: StreamId) -> bool {
    s.len() > 0
        && s.max_deleted != StreamId::MIN
        && s.first_id().is_some_and(|first| first <= s.max_deleted)
        && from <= s.max_deleted
}

/// The group's lag as XINFO GROUPS reports it, or None if unknown.
/// It is negative when ENTRIESREAD claimed more entries than were added, as in Redis.
fn lag(s: &Stream, g: &Group) -> Option<i64> {
    if s.entries_added == 0 {
        return Some(0);
    }
    let read = match g.entries_read {
        Some(n) if !has_tombstones(s, g.last_delivered) => n,
        _ => s.entries_read_at(g.last_delivered)?,
    };
    Some((s.entries_added as i64).wrapping_sub(read as i64))
}

/// The stream under `key` and its group `group`, or the NOGROUP error `missing` makes.
fn group_of<'a>(
    ks: &'a Keyspace,
    now: u64,
    key: &Bytes,
    group: &Bytes,
) -> Result<Option<(&'a Stream, &'a Group)>, Error> {
    Ok(get::<Stream>(ks, now, key)?.and_then(|s| s.groups.get(group).map(|g| (s, g))))
}

/// `XPENDING key group [[IDLE min-idle] start end count [consumer]]`.
fn xpending(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (key, group) = (&args[0], &args[1]);
    let mut i = 2;
    let mut min_idle = 0u64;
    if args.len() > 2 && is(&args[2], "idle") {
        if args.len() < 7 {
            return Err(Error::Syntax);
        }
        min_idle = u64::try_from(int(&args[3])?).unwrap_or(0);
        i = 4;
    }
    let extended = if args.len() > i {
        if !(3..=4).contains(&(args.len() - i)) {
            return Err(Error::Syntax);
        }
        let start = range_arg(&args[i], true)?;
        let end = range_arg(&args[i + 1], false)?;
        let count = usize::try_from(int(&args[i + 2])?).unwrap_or(0);
        Some((start, end, count, args.get(i + 3)))
    } else {
        None
    };
    let Some((_, g)) = group_of(ks, now, key, group)? else {
        return Err(Error::NoGroupKey {
            key: lossy(key),
            group: lossy(group),
        });
    };
    let Some((start, end, count, who)) = extended else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Integer(0),
                Reply::Null,
                Reply::Null,
                Reply::NullArray,
            ]));
        }
        let mut per = Vec::new();
        for (name, c) in g.consumers.iter() {
            if !c.pending.is_empty() {
                per.push(Reply::Array(vec![
                    Reply::Bulk(name.clone()),
                    text(&c.pending.len().to_string()),
                ]));
            }
        }
        return Ok(Reply::Array(vec![
            Reply::Integer(g.pel.len() as i64),
            g.pel.get_min().expect("not empty").0.reply(),
            g.pel.get_max().expect("not empty").0.reply(),
            Reply::Array(per),
        ]));
    };
    if start > end || count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    check_reply(count.min(g.pel.len()))?;
    let items = g
        .pel
        .range((Bound::Included(start), Bound::Included(end)))
        .filter(|(_, p)| who.is_none_or(|w| *w == p.consumer))
        .filter(|(_, p)| now.saturating_sub(p.delivery_ms) >= min_idle)
        .take(count)
        .map(|(id, p)| {
            Reply::Array(vec![
                id.reply(),
                Reply::Bulk(p.consumer.clone()),
                Reply::Integer(now.saturating_sub(p.delivery_ms) as i64),
                Reply::Integer(p.deliveries as i64),
            ])
        })
        .collect();
    Ok(Reply::Array(items))
}

/// An XPENDING range end: `-`, `+`, `id`, `(id`.
fn range_arg(arg: &[u8], start: bool) -> Result<StreamId, Error> {
    crate::streams::range_bound(arg, start)
}

/// A millisecond argument of XCLAIM that must be a non-negative integer; `what` names it in
/// the error.
fn claim_ms(arg: &[u8], what: &'static str) -> Result<i64, Error> {
    resp::parse_i64(arg).ok_or(Error::XClaimArgument(what))
}

/// `XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]`.
fn xclaim(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (key, group, name) = (&args[0], &args[1], &args[2]);
    // The key and group are looked at before the arguments, as in Redis.
    if group_of(ks, now, key, group)?.is_none() {
        return Err(Error::NoGroupKey {
            key: lossy(key),
            group: lossy(group),
        });
    }
    let min_idle = claim_ms(&args[3], "min-idle-time")?.max(0) as u64;
    let mut ids = Vec::new();
    let mut i = 4;
    while i < args.len() {
        match StreamId::parse(&args[i], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        i += 1;
    }
    let (mut delivery_ms, mut retry, mut force, mut justid, mut lastid) =
        (now, None, false, false, None);
    while i < args.len() {
        let more = args.len() - i - 1;
        let a = &args[i];
        if is(a, "force") {
            force = true;
        } else if is(a, "justid") {
            justid = true;
        } else if is(a, "idle") && more >= 1 {
            i += 1;
            delivery_ms = now.saturating_sub(claim_ms(&args[i], "IDLE option")?.max(0) as u64);
        } else if is(a, "time") && more >= 1 {
            i += 1;
            delivery_ms = claim_ms(&args[i], "TIME option")?.max(0) as u64;
        } else if is(a, "retrycount") && more >= 1 {
            i += 1;
            retry = Some(u64::try_from(int(&args[i])?).unwrap_or(0));
        } else if is(a, "lastid") && more >= 1 {
            i += 1;
            lastid = Some(StreamId::parse(&args[i], 0)?);
        } else {
            return Err(Error::XClaimOption(lossy(a)));
        }
        i += 1;
    }
    let reply = aggregate::update::<Stream, _>(ks, now, key, false, |s| {
        let mut g = s.groups.get(group).expect("checked above").clone();
        if let Some(last) = lastid {
            g.last_delivered = g.last_delivered.max(last);
        }
        let mut out = Vec::new();
        for id in ids {
            let Some(fields) = s.entries.get(&id) else {
                unpend(&mut g, id);
                continue;
            };
            let deliveries = match g.pel.get(&id) {
                Some(p) if now.saturating_sub(p.delivery_ms) < min_idle => continue,
                Some(p) => p.deliveries,
                None if force => 0,
                None => continue,
            };
            let deliveries = retry.unwrap_or(if justid { deliveries } else { deliveries + 1 });
            // The consumer is created (or seen) only when it claims something, as in Redis.
            consumer(&mut g, name, now).seen_ms = now;
            pend(&mut g, id, name, delivery_ms, deliveries);
            out.push(if justid {
                id.reply()
            } else {
                entry_reply(id, fields)
            });
        }
        s.groups.insert(group.clone(), g);
        Ok(Reply::Array(out))
    })?;
    Ok(reply.expect("checked above"))
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`.
fn xautoclaim(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (key, group, name) = (&args[0], &args[1], &args[2]);
    let min_idle = claim_ms(&args[3], "min-idle-time")?.max(0) as u64;
    let start = range_arg(&args[4], true)?;
    let (mut count, mut justid) = (AUTOCLAIM_DEFAULT_COUNT, false);
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            let n = int(&args[i + 1])?;
            count = usize::try_from(n)
                .ok()
                .filter(|n| (1..=crate::limits::MAX_REPLY_ELEMENTS).contains(n))
                .ok_or(Error::XAutoClaimCount)?;
            i += 2;
        } else if is(&args[i], "justid") {
            justid = true;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    if group_of(ks, now, key, group)?.is_none() {
        return Err(Error::NoGroupKey {
            key: lossy(key),
            group: lossy(group),
        });
    }
    let reply = aggregate::update::<Stream, _>(ks, now, key, false, |s| {
        let mut g = s.groups.get(group).expect("checked above").clone();
        let mut attempts = count * AUTOCLAIM_ATTEMPTS_FACTOR;
        let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
        let mut next = StreamId::MIN;
        let candidates: Vec<(StreamId, u64, u64)> = g
            .pel
            .range(start..)
            .map(|(id, p)| (*id, p.delivery_ms, p.deliveries))
            .collect();
        let mut it = candidates.into_iter().peekable();
        // As in Redis, a deleted entry leaves the PEL whatever its idle time, and counts
        // against COUNT like a claimed one.
        while attempts > 0 && claimed.len() + deleted.len() < count {
            let Some((id, delivered, deliveries)) = it.next() else {
                break;
            };
            attempts -= 1;
            match s.entries.get(&id) {
                None => {
                    unpend(&mut g, id);
                    deleted.push(id.reply());
                }
                Some(_) if now.saturating_sub(delivered) < min_idle => {}
                Some(fields) => {
                    let deliveries = if justid { deliveries } else { deliveries + 1 };
                    // Created (or seen) only when it claims something, as in Redis.
                    consumer(&mut g, name, now).seen_ms = now;
                    pend(&mut g, id, name, now, deliveries);
                    claimed.push(if justid {
                        id.reply()
                    } else {
                        entry_reply(id, fields)
                    });
                }
            }
        }
        if let Some((id, _, _)) = it.peek() {
            next = *id;
        }
        s.groups.insert(group.clone(), g);
        Ok(Reply::Array(vec![
            next.reply(),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ]))
    })?;
    Ok(reply.expect("checked above"))
}

/// `XINFO STREAM key`, `XINFO GROUPS key`, `XINFO CONSUMERS key group`.
pub(crate) fn xinfo(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let sub = &args[0];
    let ok = match () {
        _ if is(sub, "stream") => args.len() == 2 || (args.len() >= 3 && is(&args[2], "full")),
        _ if is(sub, "groups") => args.len() == 2,
        _ if is(sub, "consumers") => args.len() == 3,
        _ => false,
    };
    if !ok {
        return Err(Error::UnknownSubcommand {
            sub: lossy(sub),
            command: "XINFO",
        });
    }
    if is(sub, "stream") && args.len() > 2 {
        return Err(Error::XInfoFull);
    }
    let s = get::<Stream>(ks, now, &args[1])?.ok_or(Error::NoSuchKey)?;
    if is(sub, "stream") {
        return Ok(info_stream(s));
    }
    if is(sub, "groups") {
        return Ok(Reply::Array(
            s.groups
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        (text("name"), Reply::Bulk(name.clone())),
                        (text("consumers"), Reply::Integer(g.consumers.len() as i64)),
                        (text("pending"), Reply::Integer(g.pel.len() as i64)),
                        (text("last-delivered-id"), g.last_delivered.reply()),
                        (
                            text("entries-read"),
                            g.entries_read
                                .map_or(Reply::Null, |n| Reply::Integer(n as i64)),
                        ),
                        (text("lag"), lag(s, g).map_or(Reply::Null, Reply::Integer)),
                    ])
                })
                .collect(),
        ));
    }
    let g = s.groups.get(&args[2]).ok_or_else(|| Error::NoGroup {
        key: lossy(&args[1]),
        group: lossy(&args[2]),
    })?;
    Ok(Reply::Array(
        g.consumers
            .iter()
            .map(|(name, c)| {
                Reply::Map(vec![
                    (text("name"), Reply::Bulk(name.clone())),
                    (text("pending"), Reply::Integer(c.pending.len() as i64)),
                    (
                        text("idle"),
                        Reply::Integer(now.saturating_sub(c.seen_ms) as i64),
                    ),
                ])
            })
            .collect(),
    ))
}

/// Read-only group operations (XPENDING).
pub(crate) fn read(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    xpending(ks, now, args)
}
