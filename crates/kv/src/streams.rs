//! Stream commands without consumer groups: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XREAD and
//! XINFO, as in Redis 7.0 (`t_stream.c`). The group commands are in [`crate::stream_groups`].
//!
//! # Choices and differences from Redis
//!
//! - `*` IDs come from the log entry's `now` (the leader's timestamp), so every replica makes
//!   the same ID; if `now` is not above the last ID's milliseconds the sequence is incremented,
//!   as Redis does when its clock goes backwards.
//! - `~` (approximate trimming) trims exactly, like `=`: Redis trims whole radix-tree nodes
//!   only, so with `~` it may keep more entries than raftkv. `LIMIT` (only allowed with `~`)
//!   caps the entries one trim removes; there is no default cap.
//! - BLOCK is parsed and checked here but never waits: the state machine answers at once, as
//!   Redis does inside MULTI. The node waits (see [`BlockingRead`] and the node's `blocking`
//!   module) and runs the read again when the stream changes.
//! - XINFO STREAM's `radix-tree-keys` and `radix-tree-nodes` describe no real tree here: they
//!   are what Redis would report for entries packed 100 per node (`ceil(len / 100)` and one
//!   more), which matches Redis for small streams built by XADD alone. XINFO STREAM FULL is
//!   not served.
//! - XREAD's reply is RESP2's array of `[key, entries]` pairs in both protocols (Redis 7.0
//!   sends a map in RESP3).

use crate::aggregate::{self, check_reply, get, int, is};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::stream::{entry_reply, Fields, Stream, StreamId};
use crate::Error;
use bytes::Bytes;
use resp::Reply;
use std::ops::Bound;

/// Entries Redis packs into one radix-tree node by default (`stream-node-max-entries`), used
/// to imitate XINFO STREAM's tree counters.
const ENTRIES_PER_NODE: usize = 100;

/// A trimming strategy with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this ID.
    MinId(StreamId),
}

/// Trim options as XADD and XTRIM take them.
#[derive(Default)]
struct TrimArgs {
    /// The strategy, if any.
    trim: Option<Trim>,
    /// `~` was given.
    approx: bool,
    /// LIMIT, if given.
    limit: Option<u64>,
}

impl TrimArgs {
    /// Parses one trim option at `args[i]` if it is one; returns how many arguments it took
    /// (0 if `args[i]` is not a trim option).
    fn parse_one(&mut self, args: &[Bytes], i: usize) -> Result<usize, Error> {
        let arg = &args[i];
        let more = args.len() - i - 1;
        if (is(arg, "maxlen") || is(arg, "minid")) && more >= 1 {
            let minid = is(arg, "minid");
            if self.trim.is_some() {
                return Err(Error::StreamMaxLenAndMinId);
            }
            let mut j = i + 1;
            if (args[j].as_ref() == b"~" || args[j].as_ref() == b"=") && more >= 2 {
                self.approx = args[j].as_ref() == b"~";
                j += 1;
            }
            self.trim = Some(if minid {
                Trim::MinId(StreamId::parse(&args[j], 0)?)
            } else {
                let n = int(&args[j])?;
                Trim::MaxLen(u64::try_from(n).map_err(|_| Error::StreamMaxLenNegative)?)
            });
            Ok(j + 1 - i)
        } else if is(arg, "limit") && more >= 1 {
            let n = int(&args[i + 1])?;
            self.limit = Some(u64::try_from(n).map_err(|_| Error::StreamLimitNegative)?);
            Ok(2)
        } else {
            Ok(0)
        }
    }

    /// Checks the combination once all options are read.
    fn finish(&self) -> Result<(), Error> {
        if self.limit.is_some() && !self.approx {
            return Err(Error::StreamLimitWithoutTilde);
        }
        Ok(())
    }
}

/// Trims `s` by `trim`, removing at most `limit` entries; returns how many were removed.
pub(crate) fn trim(s: &mut Stream, trim: Trim, limit: Option<u64>) -> u64 {
    let mut removed = 0;
    while limit.is_none_or(|l| removed < l) {
        let Some(first) = s.first_id() else { break };
        let drop = match trim {
            Trim::MaxLen(n) => s.len() as u64 > n,
            Trim::MinId(min) => first < min,
        };
        if !drop {
            break;
        }
        s.remove(first);
        removed += 1;
    }
    removed
}

/// Read-only stream operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    use Op::*;
    match op {
        XLen => Ok(Reply::Integer(
            get::<Stream>(ks, now, &args[0])?.map_or(0, |s| s.len()) as i64,
        )),
        XRange | XRevRange => xrange(op == XRevRange, ks, now, args),
        XRead => xread(ks, now, args),
        _ => Err(Error::NotReadOnly(op.name())),
    }
}

/// Stream operations that may change state.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    use Op::*;
    match op {
        XAdd => xadd(ks, now, args),
        XDel => {
            // A missing key answers 0 before the IDs are parsed, as in Redis.
            if get::<Stream>(ks, now, &args[0])?.is_none() {
                return Ok(Reply::Integer(0));
            }
            let ids = args[1..]
                .iter()
                .map(|a| StreamId::parse(a, 0))
                .collect::<Result<Vec<_>, _>>()?;
            let deleted = aggregate::update::<Stream, _>(ks, now, &args[0], false, |s| {
                let mut n = 0;
                for id in ids {
                    if s.remove(id) {
                        n += 1;
                        s.max_deleted = s.max_deleted.max(id);
                    }
                }
                Ok(n)
            })?;
            Ok(Reply::Integer(deleted.unwrap_or(0)))
        }
        XTrim => {
            let mut opts = TrimArgs::default();
            let mut i = 1;
            while i < args.len() {
                match opts.parse_one(args, i)? {
                    0 => return Err(Error::Syntax),
                    n => i += n,
                }
            }
            opts.finish()?;
            let Some(how) = opts.trim else {
                return Err(Error::Syntax);
            };
            let removed = aggregate::update::<Stream, _>(ks, now, &args[0], false, |s| {
                Ok(trim(s, how, opts.limit))
            })?;
            Ok(Reply::Integer(removed.unwrap_or(0) as i64))
        }
        XSetId => xsetid(ks, now, args),
        _ => Err(Error::NotReadOnly(op.name())),
    }
}

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`, with Redis 7.0's checks in its
/// order: the arguments, then the key, then the new last ID against the stream's top entry.
/// As in Redis, the maximal deleted ID may be set above the new last ID only by an earlier
/// XDEL, never by this command.
fn xsetid(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let id = StreamId::parse(&args[1], 0)?;
    let (mut added, mut max_deleted) = (None, None);
    let mut rest = args[2..].iter();
    while let Some(opt) = rest.next() {
        let value = rest.next().ok_or(Error::Syntax)?;
        if opt.eq_ignore_ascii_case(b"entriesadded") {
            let n = resp::parse_i64(value).ok_or(Error::NotInteger)?;
            added = Some(u64::try_from(n).map_err(|_| Error::XSetIdEntriesAdded)?);
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") {
            let max = StreamId::parse(value, 0)?;
            if id < max {
                return Err(Error::XSetIdBelowMaxDeleted);
            }
            max_deleted = Some(max);
        } else {
            return Err(Error::Syntax);
        }
    }
    let Some(stream) = aggregate::get::<Stream>(ks, now, &args[0])? else {
        return Err(Error::NoSuchKey);
    };
    if let Some((top, _)) = stream.entries.get_max() {
        if id < *top {
            return Err(Error::XSetIdTooSmall);
        }
        if added.is_some_and(|n| n < stream.len() as u64) {
            return Err(Error::XSetIdEntriesBelowLength);
        }
    }
    aggregate::update::<Stream, _>(ks, now, &args[0], false, |s| {
        s.last_id = id;
        if let Some(n) = added {
            s.entries_added = n;
        }
        if let Some(max) = max_deleted {
            s.max_deleted = max;
        }
        Ok(())
    })?;
    Ok(Reply::ok())
}

/// The ID argument of XADD.
enum AddId {
    /// `*`.
    Auto,
    /// `ms-*`.
    AutoSeq(u64),
    /// An explicit ID.
    Exact(StreamId),
}

/// The ID XADD gives a new entry after `last`, at time `now`.
fn next_id(last: StreamId, id: &AddId, now: u64) -> Result<StreamId, Error> {
    if last == StreamId::MAX {
        return Err(Error::StreamExhausted);
    }
    match *id {
        AddId::Auto => {
            if now > last.ms {
                Ok(StreamId { ms: now, seq: 0 })
            } else {
                last.next().ok_or(Error::StreamExhausted)
            }
        }
        AddId::AutoSeq(ms) => {
            if ms > last.ms {
                Ok(StreamId { ms, seq: 0 })
            } else if ms == last.ms && last.seq < u64::MAX {
                Ok(StreamId {
                    ms,
                    seq: last.seq + 1,
                })
            } else {
                Err(Error::StreamIdTooSmall)
            }
        }
        AddId::Exact(id) if id > last => Ok(id),
        AddId::Exact(_) => Err(Error::StreamIdTooSmall),
    }
}

/// Parses XADD's ID argument: `*`, `ms-*` or an explicit ID.
fn add_id(arg: &[u8]) -> Result<AddId, Error> {
    Ok(match arg {
        b"*" => AddId::Auto,
        text => match text.strip_suffix(b"-*") {
            Some(ms) => {
                AddId::AutoSeq(crate::numbers::parse_u64(ms).ok_or(Error::StreamIdInvalid)?)
            }
            None => AddId::Exact(StreamId::parse(text, 0)?),
        },
    })
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...`.
fn xadd(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let mut opts = TrimArgs::default();
    let mut nomkstream = false;
    let mut i = 1;
    while i < args.len() {
        if is(&args[i], "nomkstream") {
            nomkstream = true;
            i += 1;
            continue;
        }
        match opts.parse_one(args, i)? {
            0 => break,
            n => i += n,
        }
    }
    let fields = &args[i.min(args.len())..];
    // Redis's order: the ID, then the trimming options, then the arity.
    let Some(id) = fields.first().map(|id| add_id(id)).transpose()? else {
        opts.finish()?;
        return Err(Error::WrongArity("xadd"));
    };
    opts.finish()?;
    if fields.len() < 3 || fields.len().is_multiple_of(2) {
        return Err(Error::WrongArity("xadd"));
    }
    if let AddId::Exact(StreamId::MIN) = id {
        return Err(Error::StreamIdZero);
    }
    let entry: Fields = std::sync::Arc::new(fields[1..].to_vec());
    let added = aggregate::update::<Stream, _>(ks, now, &args[0], !nomkstream, |s| {
        let new = next_id(s.last_id, &id, now)?;
        s.entries.insert(new, entry);
        s.last_id = new;
        s.entries_added += 1;
        if let Some(how) = opts.trim {
            trim(s, how, opts.limit);
        }
        Ok(new)
    })?;
    Ok(added.map_or(Reply::Null, StreamId::reply))
}

/// A range bound of XRANGE: `-`, `+`, `id`, or `(id` (exclusive). `start` says which end it
/// is (a missing sequence is 0 at the start, the greatest at the end).
pub(crate) fn range_bound(arg: &[u8], start: bool) -> Result<StreamId, Error> {
    match arg {
        b"-" => return Ok(StreamId::MIN),
        b"+" => return Ok(StreamId::MAX),
        _ => {}
    }
    let missing_seq = if start { 0 } else { u64::MAX };
    match arg.strip_prefix(b"(") {
        Some(rest) => {
            let id = StreamId::parse(rest, missing_seq)?;
            if start {
                id.next().ok_or(Error::StreamInvalidStart)
            } else {
                id.prev().ok_or(Error::StreamInvalidEnd)
            }
        }
        None => StreamId::parse(arg, missing_seq),
    }
}

/// Entries of `s` from `start` to `end` (inclusive), at most `count` (None: all), backwards if
/// `rev`.
pub(crate) fn range(
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: Option<usize>,
    rev: bool,
) -> Vec<(StreamId, Fields)> {
    if start > end {
        return Vec::new();
    }
    let it = s
        .entries
        .range((Bound::Included(start), Bound::Included(end)))
        .map(|(id, f)| (*id, f.clone()));
    let limit = count.unwrap_or(usize::MAX);
    if rev {
        it.rev().take(limit).collect()
    } else {
        it.take(limit).collect()
    }
}

/// An array of entries.
pub(crate) fn entries_reply(entries: &[(StreamId, Fields)]) -> Reply {
    Reply::Array(entries.iter().map(|(id, f)| entry_reply(*id, f)).collect())
}

/// `XRANGE key start end [COUNT n]` and `XREVRANGE key end start [COUNT n]`.
fn xrange(rev: bool, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (lo, hi) = if rev {
        (&args[2], &args[1])
    } else {
        (&args[1], &args[2])
    };
    let start = range_bound(lo, true)?;
    let end = range_bound(hi, false)?;
    let mut count = None;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(usize::try_from(int(&args[i + 1])?).unwrap_or(0));
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let Some(s) = get::<Stream>(ks, now, &args[0])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        // Redis 7.0 answers a null array here (but an empty one for a missing key).
        return Ok(Reply::NullArray);
    }
    let entries = range(s, start, end, count, rev);
    check_reply(entries.len())?;
    Ok(entries_reply(&entries))
}

/// The `COUNT`, `BLOCK` and `STREAMS` arguments shared by XREAD and XREADGROUP, from `args[i]`
/// on; `group_opts` handles the extra options (NOACK) and says how many arguments it took.
pub(crate) struct ReadArgs<'a> {
    /// COUNT (None or 0: no limit).
    pub(crate) count: Option<usize>,
    /// BLOCK's milliseconds, if given (0: forever).
    pub(crate) block_ms: Option<u64>,
    /// Where the keys start in the arguments.
    pub(crate) keys_at: usize,
    /// The keys after STREAMS.
    pub(crate) keys: &'a [Bytes],
    /// The IDs after the keys.
    pub(crate) ids: &'a [Bytes],
}

impl<'a> ReadArgs<'a> {
    /// Parses from `args[i]`.
    pub(crate) fn parse(
        args: &'a [Bytes],
        mut i: usize,
        mut extra: impl FnMut(&[u8]) -> bool,
    ) -> Result<ReadArgs<'a>, Error> {
        let mut count = None;
        let mut block_ms = None;
        while i < args.len() {
            let more = args.len() - i - 1;
            if is(&args[i], "count") && more >= 1 {
                let n = int(&args[i + 1])?;
                count = usize::try_from(n).ok().filter(|&n| n > 0);
                i += 2;
            } else if is(&args[i], "block") && more >= 1 {
                let ms = int(&args[i + 1]).map_err(|_| Error::BlockTimeoutInvalid)?;
                block_ms = Some(u64::try_from(ms).map_err(|_| Error::BlockTimeoutNegative)?);
                i += 2;
            } else if is(&args[i], "streams") && more >= 1 {
                let rest = &args[i + 1..];
                if !rest.len().is_multiple_of(2) {
                    return Err(Error::StreamUnbalanced);
                }
                let (keys, ids) = rest.split_at(rest.len() / 2);
                return Ok(ReadArgs {
                    count,
                    block_ms,
                    keys_at: i + 1,
                    keys,
                    ids,
                });
            } else if extra(&args[i]) {
                i += 1;
            } else {
                return Err(Error::Syntax);
            }
        }
        Err(Error::Syntax)
    }
}

/// `XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ...` (BLOCK never waits here).
fn xread(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let read = ReadArgs::parse(args, 0, |_| false)?;
    let mut after = Vec::with_capacity(read.ids.len());
    for (key, id) in read.keys.iter().zip(read.ids) {
        after.push(match id.as_ref() {
            b"$" => get::<Stream>(ks, now, key)?.map_or(StreamId::MIN, |s| s.last_id),
            b">" => return Err(Error::XReadGreater),
            _ => StreamId::parse(id, 0)?,
        });
    }
    let mut out = Vec::new();
    let mut total = 0;
    for (key, after) in read.keys.iter().zip(after) {
        let Some(s) = get::<Stream>(ks, now, key)? else {
            continue;
        };
        let Some(start) = after.next() else { continue };
        let entries = range(s, start, StreamId::MAX, read.count, false);
        if entries.is_empty() {
            continue;
        }
        total += entries.len();
        check_reply(total)?;
        out.push((Reply::Bulk(key.clone()), entries_reply(&entries)));
    }
    Ok(if out.is_empty() {
        Reply::NullArray
    } else {
        Reply::Keyed(out)
    })
}

/// What a node needs to make XREAD or XREADGROUP with BLOCK wait: the state machine answers
/// them at once (nil when there is nothing to read), and the node runs the read again when
/// one of the streams changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockingRead {
    /// BLOCK's milliseconds (0: wait forever).
    pub block_ms: u64,
    /// Where the keys start in the arguments after the command name; the IDs follow them.
    pub keys_at: usize,
    /// How many streams are read (keys, then as many IDs).
    pub streams: usize,
}

/// The BLOCK option of XREAD or XREADGROUP (`args` after the command name), or None if there
/// is none or the arguments are invalid (the state machine then answers the error).
pub(crate) fn blocking_read(op: Op, args: &[Bytes]) -> Option<BlockingRead> {
    let read = match op {
        Op::XRead => ReadArgs::parse(args, 0, |_| false),
        Op::XReadGroup if args.len() > 3 && is(&args[0], "group") => {
            ReadArgs::parse(args, 3, |a| is(a, "noack"))
        }
        _ => return None,
    };
    let read = read.ok()?;
    Some(BlockingRead {
        block_ms: read.block_ms?,
        keys_at: read.keys_at,
        streams: read.keys.len(),
    })
}

/// The keys of XREAD and XREADGROUP: the first half of the arguments after STREAMS.
pub(crate) fn read_keys(args: &[Bytes]) -> Vec<&Bytes> {
    match args.iter().position(|a| is(a, "streams")) {
        Some(i) => {
            let rest = &args[i + 1..];
            rest[..rest.len() / 2].iter().collect()
        }
        None => Vec::new(),
    }
}

/// XINFO STREAM's map for `s` (without FULL).
pub(crate) fn info_stream(s: &Stream) -> Reply {
    let keys = s.len().div_ceil(ENTRIES_PER_NODE);
    let edge =
        |e: Option<(&StreamId, &Fields)>| e.map_or(Reply::Null, |(id, f)| entry_reply(*id, f));
    let text = |t: &str| Reply::Bulk(Bytes::from(t.to_string()));
    Reply::Map(vec![
        (text("length"), Reply::Integer(s.len() as i64)),
        (text("radix-tree-keys"), Reply::Integer(keys as i64)),
        (text("radix-tree-nodes"), Reply::Integer(keys as i64 + 1)),
        (text("last-generated-id"), s.last_id.reply()),
        (text("max-deleted-entry-id"), s.max_deleted.reply()),
        (
            text("entries-added"),
            Reply::Integer(s.entries_added as i64),
        ),
        (
            text("recorded-first-entry-id"),
            s.first_id().unwrap_or(StreamId::MIN).reply(),
        ),
        (text("groups"), Reply::Integer(s.groups.len() as i64)),
        (
            text("first-entry"),
            edge(s.entries.get_min().map(|(a, b)| (a, b))),
        ),
        (
            text("last-entry"),
            edge(s.entries.get_max().map(|(a, b)| (a, b))),
        ),
    ])
}
