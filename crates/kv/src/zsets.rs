//! Sorted-set commands on members and scores: ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZRANK
//! ZREVRANK ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN, as in Redis 7.0 (`t_zset.c`). The range
//! commands are in [`crate::zset_ranges`], the set algebra (ZUNION ZINTER ZDIFF ZINTERCARD and
//! the STORE forms) in [`crate::zset_algebra`].
//!
//! # Invariants and choices
//!
//! - A score is never NaN: arguments that are NaN are `ERR value is not a valid float`, and an
//!   increment that would make one (`inf` plus `-inf`) is `ERR resulting score is not a number
//!   (NaN)` and changes nothing. `-0` is stored as `0` (as Redis's small sorted sets store it),
//!   though ZINCRBY and ZADD INCR answer the `-0` they computed, as Redis does.
//! - Scores are replied as [`Reply::Score`]: in RESP2 a bulk string in Redis 7.0's `%.17g`
//!   form ([`resp::format_score`]: `0.1` is `0.10000000000000001`, `1e20` is `1e+20`), in RESP3
//!   a double, as Redis 7 does; ZSCAN sends the text in both, as Redis does.
//! - Members with scores (WITHSCORES, ZPOPMIN/ZPOPMAX with a count, ZRANDMEMBER) are
//!   [`Reply::Pairs`]: a flat `[member, score, ...]` array in RESP2, `[member, score]` pairs in
//!   RESP3; ZPOPMIN/ZPOPMAX without a count answer one flat `[member, score]`, and ZMPOP nests
//!   pairs in both protocols, as Redis does.
//! - ZRANDMEMBER draws from the replicated generator ([`crate::random`]), so every replica picks
//!   the same members. ZSCAN's cursor is an index in (score, member) order.
//! - Removing the last member deletes the key.

use crate::aggregate::{self, bulk, check_reply, is, positive, ScanArgs};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::random::Rng;
use crate::value::ZSet;
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, Reply};

/// A score as Redis 7.0 replies with it: a bulk string in `%.17g` form in RESP2, a double in
/// RESP3.
pub(crate) fn score_reply(score: f64) -> Reply {
    Reply::Score(score)
}

/// Members, with their scores if `withscores`: in RESP2 one flat array, in RESP3 an array of
/// (member, score) pairs ([`Reply::Pairs`]).
pub(crate) fn members_reply(items: &[(Bytes, f64)], withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            items
                .iter()
                .map(|(member, score)| (bulk(member), score_reply(*score)))
                .collect(),
        )
    } else {
        Reply::Array(items.iter().map(|(member, _)| bulk(member)).collect())
    }
}

/// A score or increment argument: a float that is not NaN, else `ERR value is not a valid
/// float`.
pub(crate) fn score_arg(arg: &[u8]) -> Result<f64, Error> {
    parse_f64(arg).ok_or(Error::NotFloat)
}

/// Read-only sorted-set operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    use Op::*;
    let scan = if op == ZScan {
        Some(ScanArgs::parse(&args[1..], false)?)
    } else {
        None
    };
    let zset = aggregate::get::<ZSet>(ks, now, &args[0])?;
    let empty = ZSet::default();
    let z = zset.unwrap_or(&empty);
    Ok(match op {
        ZScore => z.score(&args[1]).map_or(Reply::Null, score_reply),
        ZMScore => Reply::Array(
            args[1..]
                .iter()
                .map(|m| z.score(m).map_or(Reply::Null, score_reply))
                .collect(),
        ),
        ZCard => Reply::Integer(z.len() as i64),
        ZRank | ZRevRank => match z.rank(&args[1]) {
            Some(rank) if op == ZRank => Reply::Integer(rank as i64),
            Some(rank) => Reply::Integer((z.len() - 1 - rank) as i64),
            None => Reply::Null,
        },
        ZScan => {
            let scan = scan.expect("parsed above");
            let (page, next) = scan.page(z.len());
            let mut items = Vec::new();
            for (member, score) in z.iter().skip(page.start).take(page.len()) {
                if scan.wanted(member) {
                    // ZSCAN sends scores as text in RESP3 too, as Redis 7 does.
                    items.push(bulk(member));
                    items.push(Reply::Bulk(Bytes::from(resp::format_score(score))));
                }
            }
            aggregate::scan_reply(next, items)
        }
        _ => return Err(Error::NotReadOnly(op.name())),
    })
}

/// Sorted-set operations that may change state.
pub(crate) fn write(
    op: Op,
    ks: &mut Keyspace,
    now: u64,
    args: &[Bytes],
    rng: &mut Rng,
) -> Result<Reply, Error> {
    use Op::*;
    match op {
        ZAdd | ZIncrBy => zadd(op, ks, now, args),
        ZRem => {
            let removed = aggregate::update::<ZSet, _>(ks, now, &args[0], false, |z| {
                Ok(args[1..].iter().filter(|m| z.remove(m).is_some()).count())
            })?;
            Ok(Reply::Integer(removed.unwrap_or(0) as i64))
        }
        ZPopMin | ZPopMax => zpop(op, ks, now, args),
        ZMPop => zmpop(ks, now, args),
        ZRandMember => zrandmember(ks, now, args, rng),
        _ => read(op, ks, now, args),
    }
}

/// ZADD's flags.
#[derive(Default)]
struct AddFlags {
    /// Only add new members.
    nx: bool,
    /// Only update existing members.
    xx: bool,
    /// Only update to a greater score.
    gt: bool,
    /// Only update to a lower score.
    lt: bool,
    /// Count changed members too, not only added ones.
    ch: bool,
    /// Add the score to the current one and reply with the new score (ZINCRBY).
    incr: bool,
}

/// A score and the member it is for.
type Pair<'a> = (f64, &'a Bytes);

/// Parses ZADD's flags and pairs (ZINCRBY is ZADD INCR with one pair), in Redis's order:
/// flags, pair count, flag conflicts, then the scores.
fn add_args(op: Op, args: &[Bytes]) -> Result<(AddFlags, Vec<Pair<'_>>), Error> {
    let mut flags = AddFlags::default();
    if op == Op::ZIncrBy {
        flags.incr = true;
        return Ok((flags, vec![(score_arg(&args[1])?, &args[2])]));
    }
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let flag = match arg.to_ascii_lowercase().as_slice() {
            b"nx" => &mut flags.nx,
            b"xx" => &mut flags.xx,
            b"gt" => &mut flags.gt,
            b"lt" => &mut flags.lt,
            b"ch" => &mut flags.ch,
            b"incr" => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let elements = &args[i..];
    if elements.is_empty() || !elements.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(Error::XxAndNx);
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Error::GtLtNx);
    }
    if flags.incr && elements.len() > 2 {
        return Err(Error::IncrSinglePair);
    }
    let pairs = elements
        .chunks_exact(2)
        .map(|pair| Ok((score_arg(&pair[0])?, &pair[1])))
        .collect::<Result<_, Error>>()?;
    Ok((flags, pairs))
}

/// What ZADD did: members added, members whose score changed, members it acted on (not
/// skipped by NX/XX/GT/LT), and the last score set.
#[derive(Default)]
struct AddOutcome {
    /// New members.
    added: i64,
    /// Existing members with a new score.
    updated: i64,
    /// Members not skipped.
    processed: i64,
    /// The score of the last member processed (ZADD INCR's reply).
    score: f64,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]` and `ZINCRBY key
/// increment member`.
fn zadd(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let (flags, pairs) = add_args(op, args)?;
    let outcome = aggregate::update::<ZSet, _>(ks, now, &args[0], !flags.xx, |z| {
        let mut out = AddOutcome::default();
        for (score, member) in pairs {
            let new = match z.score(member) {
                Some(_) if flags.nx => continue,
                Some(current) => {
                    let new = if flags.incr { current + score } else { score };
                    if new.is_nan() {
                        return Err(Error::ScoreNaN);
                    }
                    if (flags.lt && new >= current) || (flags.gt && new <= current) {
                        continue;
                    }
                    if new != current {
                        out.updated += 1;
                    }
                    new
                }
                None if flags.xx => continue,
                None => {
                    out.added += 1;
                    score
                }
            };
            z.insert(member.clone(), new);
            out.processed += 1;
            out.score = new;
        }
        Ok(out)
    })?
    .unwrap_or_default();
    Ok(if flags.incr {
        if outcome.processed > 0 {
            score_reply(outcome.score)
        } else {
            Reply::Null
        }
    } else if flags.ch {
        Reply::Integer(outcome.added + outcome.updated)
    } else {
        Reply::Integer(outcome.added)
    })
}

/// Removes and returns up to `count` members from the low end (or the high end if `max`).
pub(crate) fn pop(z: &mut ZSet, max: bool, count: usize) -> Vec<(Bytes, f64)> {
    let mut out = Vec::new();
    while out.len() < count {
        let next = if max {
            z.iter().next_back()
        } else {
            z.iter().next()
        };
        let Some((member, score)) = next.map(|(m, s)| (m.clone(), s)) else {
            break;
        };
        z.remove(&member);
        out.push((member, score));
    }
    out
}

/// `ZPOPMIN key [count]` and `ZPOPMAX key [count]`: `[member, score]` without a count; with
/// one, members with their scores ([`members_reply`]: flat in RESP2, pairs in RESP3), as Redis 7.
fn zpop(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    if args.len() > 2 {
        return Err(Error::Syntax);
    }
    let count = match args.get(1) {
        Some(n) => aggregate::int(n)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Error::NotPositive)?,
        None => 1,
    };
    let Some(z) = aggregate::get::<ZSet>(ks, now, &args[0])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    check_reply(count.min(z.len()).saturating_mul(2))?;
    let popped = aggregate::update::<ZSet, _>(ks, now, &args[0], false, |z| {
        Ok(pop(z, op == Op::ZPopMax, count))
    })?
    .unwrap_or_default();
    if args.len() == 1 {
        let flat = popped
            .iter()
            .flat_map(|(member, score)| [bulk(member), score_reply(*score)]);
        return Ok(Reply::Array(flat.collect()));
    }
    Ok(members_reply(&popped, true))
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: `[key, [[member, score], ...]]` from the
/// first non-empty sorted set, or a null array.
fn zmpop(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let numkeys = positive(&args[0]).map_err(|_| Error::NumKeysNotPositive)?;
    if numkeys >= args.len() - 1 {
        return Err(Error::Syntax);
    }
    let keys = &args[1..=numkeys];
    let end = |arg: &[u8]| {
        if is(arg, "min") {
            Ok(false)
        } else if is(arg, "max") {
            Ok(true)
        } else {
            Err(Error::Syntax)
        }
    };
    let (max, count) = match &args[numkeys + 1..] {
        [dir] => (end(dir)?, 1),
        [dir, opt, n] if is(opt, "count") => {
            (end(dir)?, positive(n).map_err(|_| Error::CountNotPositive)?)
        }
        _ => return Err(Error::Syntax),
    };
    for key in keys {
        if let Some(z) = aggregate::get::<ZSet>(ks, now, key)? {
            check_reply(count.min(z.len()).saturating_mul(2))?;
            let popped =
                aggregate::update::<ZSet, _>(ks, now, key, false, |z| Ok(pop(z, max, count)))?
                    .unwrap_or_default();
            let pairs = popped
                .iter()
                .map(|(m, s)| Reply::Array(vec![bulk(m), score_reply(*s)]))
                .collect();
            return Ok(Reply::Array(vec![bulk(key), Reply::Array(pairs)]));
        }
    }
    Ok(Reply::NullArray)
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`.
fn zrandmember(ks: &Keyspace, now: u64, args: &[Bytes], rng: &mut Rng) -> Result<Reply, Error> {
    let (count, withscores) = match args {
        [_] => (None, false),
        [_, count] => (Some(aggregate::rand_count(count)?), false),
        [_, count, flag] if is(flag, "withscores") => (Some(aggregate::rand_count(count)?), true),
        _ => return Err(Error::Syntax),
    };
    let zset = aggregate::get::<ZSet>(ks, now, &args[0])?;
    let Some((count, repeat)) = count else {
        let Some(z) = zset else {
            return Ok(Reply::Null);
        };
        let i = rng.below(z.len());
        return Ok(z.iter().nth(i).map_or(Reply::Null, |(m, _)| bulk(m)));
    };
    let Some(z) = zset else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picks = aggregate::pick(rng, z.len(), count, repeat);
    check_reply(picks.len() * if withscores { 2 } else { 1 })?;
    let all: Vec<(&Bytes, f64)> = z.iter().collect();
    let chosen: Vec<(Bytes, f64)> = picks
        .into_iter()
        .map(|i| (all[i].0.clone(), all[i].1))
        .collect();
    Ok(members_reply(&chosen, withscores))
}
