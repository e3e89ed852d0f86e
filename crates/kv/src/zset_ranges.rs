//! Sorted-set range commands: ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES) ZRANGESTORE ZREVRANGE
//! ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZCOUNT ZLEXCOUNT ZREMRANGEBYRANK
//! ZREMRANGEBYSCORE ZREMRANGEBYLEX, as in Redis 7.0 (`t_zset.c`).
//!
//! A [`RangeQuery`] is what one of these commands selects: a rank range (`0 -1`, negative from
//! the end), a score range (`1 (5`, `-inf +inf`; `(` excludes the bound) or a lex range (`[a
//! (c`, `-` and `+` for the ends), in either direction, with an optional `LIMIT offset count`
//! (a negative offset selects nothing, a negative count means all). Redis's legacy commands are
//! ZRANGE with some options fixed: ZREVRANGEBYSCORE is `ZRANGE key max min BYSCORE REV`, so it
//! refuses REV and BYLEX as ZRANGE would refuse a second one.
//!
//! Lex ranges assume every member has the same score, as Redis documents; with mixed scores
//! the result is the one Redis gives for small sets (see [`Walk`]), which a differential fuzz
//! against redis-server 7.0.15 confirmed. `LIMIT offset -1` is accepted with a rank range and
//! ignored, because Redis reads a count of -1 as "no LIMIT". Score ranges find their start in
//! O(log n); rank ranges and lex ranges walk from an end of the set (O(n) where Redis's
//! skiplist is O(log n)).

use crate::aggregate::{self, check_reply, int, is};
use crate::keyspace::Keyspace;
use crate::limits::MAX_REPLY_ELEMENTS;
use crate::op::Op;
use crate::value::ZSet;
use crate::zsets::members_reply;
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, Reply};

/// A score range: `min max` where `(` makes a bound exclusive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    /// The lower bound.
    min: f64,
    /// The upper bound.
    max: f64,
    /// True if `min` itself is excluded.
    min_ex: bool,
    /// True if `max` itself is excluded.
    max_ex: bool,
}

impl ScoreRange {
    /// Parses `min max` (`1.5`, `(1.5`, `-inf`, `+inf`): `ERR min or max is not a float`.
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
        // C's strtod reads an empty string as 0 and Redis accepts that, so `(` is "above 0".
        let number = |text: &[u8]| {
            if text.is_empty() {
                Some(0.0)
            } else {
                parse_f64(text)
            }
        };
        let bound = |arg: &[u8]| match arg.strip_prefix(b"(") {
            Some(rest) => number(rest).map(|v| (v, true)),
            None => number(arg).map(|v| (v, false)),
        };
        let ((min, min_ex), (max, max_ex)) =
            bound(min).zip(bound(max)).ok_or(Error::MinMaxNotFloat)?;
        Ok(ScoreRange {
            min,
            max,
            min_ex,
            max_ex,
        })
    }

    /// True if `score` is not below the range.
    fn above_min(&self, score: f64) -> bool {
        if self.min_ex {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// True if `score` is not above the range.
    fn below_max(&self, score: f64) -> bool {
        if self.max_ex {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
enum LexBound {
    /// `-`: below every member.
    Lowest,
    /// `+`: above every member.
    Highest,
    /// `[x`: x itself included.
    Inclusive(Bytes),
    /// `(x`: x itself excluded.
    Exclusive(Bytes),
}

/// A lex range: `min max`, each `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
pub(crate) struct LexRange {
    /// The lower bound.
    min: LexBound,
    /// The upper bound.
    max: LexBound,
}

impl LexRange {
    /// Parses `min max`: `ERR min or max not valid string range item`.
    pub(crate) fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, Error> {
        let bound = |arg: &Bytes| match arg.first() {
            Some(b'-') if arg.len() == 1 => Some(LexBound::Lowest),
            Some(b'+') if arg.len() == 1 => Some(LexBound::Highest),
            Some(b'[') => Some(LexBound::Inclusive(arg.slice(1..))),
            Some(b'(') => Some(LexBound::Exclusive(arg.slice(1..))),
            _ => None,
        };
        let (min, max) = bound(min).zip(bound(max)).ok_or(Error::MinMaxNotLex)?;
        Ok(LexRange { min, max })
    }

    /// True if no member can be in the range: min above max, or equal with one excluded
    /// (`-` is below and `+` above everything).
    fn is_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        let rank = |b: &LexBound| match b {
            LexBound::Lowest => 0,
            LexBound::Inclusive(_) | LexBound::Exclusive(_) => 1,
            LexBound::Highest => 2,
        };
        let value = |b: &LexBound| match b {
            LexBound::Inclusive(x) | LexBound::Exclusive(x) => Some(x.clone()),
            _ => None,
        };
        let order = rank(&self.min)
            .cmp(&rank(&self.max))
            .then_with(|| value(&self.min).cmp(&value(&self.max)));
        let excluded = |b: &LexBound| matches!(b, LexBound::Exclusive(_));
        match order {
            Greater => true,
            Equal => excluded(&self.min) || excluded(&self.max),
            Less => false,
        }
    }

    /// True if `member` is not below the range.
    fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Lowest => true,
            LexBound::Highest => false,
            LexBound::Inclusive(x) => member >= x.as_ref(),
            LexBound::Exclusive(x) => member > x.as_ref(),
        }
    }

    /// True if `member` is not above the range.
    fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(x) => member <= x.as_ref(),
            LexBound::Exclusive(x) => member < x.as_ref(),
        }
    }
}

/// Which members a range selects, before direction and LIMIT.
#[derive(Clone, Debug)]
pub(crate) enum Span {
    /// `start stop` ranks, inclusive, negative from the end (of the direction's order).
    Rank(i64, i64),
    /// A score range.
    Score(ScoreRange),
    /// A lex range.
    Lex(LexRange),
}

/// An element of a sorted set as walked: the member and its score.
type Item<'a> = (&'a Bytes, f64);

/// Where a range starts and how far it goes, as Redis walks a small sorted set
/// (`zzlFirstInRange`, `zzlFirstInLexRange` and their `Last` twins): `start` yields the first
/// member inside the range and every member after it in the direction of the walk, unfiltered;
/// the range goes on while `inside` holds. LIMIT's offset skips members before `inside` is
/// tested, as in Redis. For score and rank ranges this is simply the members in range; for lex
/// ranges over mixed scores it reproduces Redis's answer.
struct Walk<'a> {
    /// The first member in range and all after it.
    start: Box<dyn Iterator<Item = Item<'a>> + 'a>,
    /// True while a member is still in range.
    inside: Box<dyn Fn(&Item<'a>) -> bool + 'a>,
}

impl<'a> Walk<'a> {
    /// The walk of `span` over `z`, ascending (descending if `rev`).
    fn new(z: &'a ZSet, span: &'a Span, rev: bool) -> Walk<'a> {
        let empty = || Walk {
            start: Box::new(std::iter::empty()),
            inside: Box::new(|_| false),
        };
        match span {
            Span::Rank(start, stop) => {
                let range = aggregate::range(*start, *stop, z.len());
                let start: Box<dyn Iterator<Item = Item<'a>>> = if rev {
                    Box::new(z.iter().rev().skip(range.start).take(range.len()))
                } else {
                    Box::new(z.iter().skip(range.start).take(range.len()))
                };
                Walk {
                    start,
                    inside: Box::new(|_| true),
                }
            }
            Span::Score(r) => {
                if r.min > r.max || (r.min == r.max && (r.min_ex || r.max_ex)) {
                    return empty();
                }
                if rev {
                    Walk {
                        start: Box::new(
                            z.up_to_score(r.max)
                                .rev()
                                .skip_while(|(_, s)| !r.below_max(*s)),
                        ),
                        inside: Box::new(|(_, s)| r.above_min(*s)),
                    }
                } else {
                    Walk {
                        start: Box::new(
                            z.at_least_score(r.min)
                                .skip_while(|(_, s)| !r.above_min(*s)),
                        ),
                        inside: Box::new(|(_, s)| r.below_max(*s)),
                    }
                }
            }
            Span::Lex(r) => {
                // Redis's quick rejections: an empty range, a last member below the range or a
                // first member above it.
                let last_ok = z.iter().next_back().is_some_and(|(m, _)| r.above_min(m));
                let first_ok = z.iter().next().is_some_and(|(m, _)| r.below_max(m));
                if r.is_empty() || !last_ok || !first_ok {
                    return empty();
                }
                if rev {
                    let mut it = z
                        .iter()
                        .rev()
                        .skip_while(|(m, _)| !r.below_max(m))
                        .peekable();
                    if !it.peek().is_some_and(|(m, _)| r.above_min(m)) {
                        return empty();
                    }
                    Walk {
                        start: Box::new(it),
                        inside: Box::new(|(m, _)| r.above_min(m)),
                    }
                } else {
                    let mut it = z.iter().skip_while(|(m, _)| !r.above_min(m)).peekable();
                    if !it.peek().is_some_and(|(m, _)| r.below_max(m)) {
                        return empty();
                    }
                    Walk {
                        start: Box::new(it),
                        inside: Box::new(|(m, _)| r.below_max(m)),
                    }
                }
            }
        }
    }

    /// The members in range, after skipping `offset` members (in range or not).
    fn members(self, offset: usize) -> impl Iterator<Item = Item<'a>> {
        let inside = self.inside;
        self.start.skip(offset).take_while(move |item| inside(item))
    }
}

/// What a ZRANGE-family command asks for.
#[derive(Clone, Debug)]
pub(crate) struct RangeQuery {
    /// The members selected.
    span: Span,
    /// Descending order.
    rev: bool,
    /// `LIMIT offset count`.
    limit: Option<(i64, i64)>,
    /// `WITHSCORES`.
    withscores: bool,
}

/// How a range is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    /// Ranks.
    Rank,
    /// Scores (BYSCORE).
    Score,
    /// Members (BYLEX).
    Lex,
}

impl RangeQuery {
    /// Parses `min max [options]` for `op`: the options ZRANGE allows, minus those the legacy
    /// command fixes, scanned left to right with Redis's errors; then the bounds (swapped for
    /// REV by score or lex, whose bounds come as `max min`).
    pub(crate) fn parse(op: Op, min: &Bytes, max: &Bytes, opts: &[Bytes]) -> Result<Self, Error> {
        let (mut by, mut rev) = match op {
            Op::ZRevRange => (Some(By::Rank), Some(true)),
            Op::ZRangeByScore => (Some(By::Score), Some(false)),
            Op::ZRevRangeByScore => (Some(By::Score), Some(true)),
            Op::ZRangeByLex => (Some(By::Lex), Some(false)),
            Op::ZRevRangeByLex => (Some(By::Lex), Some(true)),
            _ => (None, None),
        };
        let (mut withscores, mut limit) = (false, None);
        let mut i = 0;
        while let Some(opt) = opts.get(i) {
            let left = opts.len() - i - 1;
            if op != Op::ZRangeStore && is(opt, "withscores") {
                withscores = true;
            } else if is(opt, "limit") && left >= 2 {
                limit = Some((int(&opts[i + 1])?, int(&opts[i + 2])?));
                i += 2;
            } else if rev.is_none() && is(opt, "rev") {
                rev = Some(true);
            } else if by.is_none() && is(opt, "bylex") {
                by = Some(By::Lex);
            } else if by.is_none() && is(opt, "byscore") {
                by = Some(By::Score);
            } else {
                return Err(Error::Syntax);
            }
            i += 1;
        }
        let (by, rev) = (by.unwrap_or(By::Rank), rev.unwrap_or(false));
        // Redis tells "no LIMIT" by a count of -1, so `LIMIT x -1` passes with a rank range,
        // where it changes nothing.
        if by == By::Rank {
            if limit.is_some_and(|(_, count)| count != -1) {
                return Err(Error::LimitNeedsByScoreOrLex);
            }
            limit = None;
        }
        if withscores && by == By::Lex {
            return Err(Error::WithScoresByLex);
        }
        let (min, max) = if rev && by != By::Rank {
            (max, min)
        } else {
            (min, max)
        };
        let span = match by {
            By::Rank => Span::Rank(int(min)?, int(max)?),
            By::Score => Span::Score(ScoreRange::parse(min, max)?),
            By::Lex => Span::Lex(LexRange::parse(min, max)?),
        };
        Ok(RangeQuery {
            span,
            rev,
            limit,
            withscores,
        })
    }

    /// The selected members with their scores, in reply order. With `bounded`, more than
    /// [`MAX_REPLY_ELEMENTS`] reply elements is an error, found without collecting them all.
    pub(crate) fn select(&self, z: &ZSet, bounded: bool) -> Result<Vec<(Bytes, f64)>, Error> {
        let (offset, count) = match self.limit {
            None => (0, usize::MAX),
            Some((offset, _)) if offset < 0 => return Ok(Vec::new()),
            Some((offset, count)) => (
                usize::try_from(offset).unwrap_or(usize::MAX),
                usize::try_from(count).unwrap_or(usize::MAX),
            ),
        };
        let per = if self.withscores { 2 } else { 1 };
        let cap = if bounded {
            MAX_REPLY_ELEMENTS / per + 1
        } else {
            usize::MAX
        };
        let out: Vec<(Bytes, f64)> = Walk::new(z, &self.span, self.rev)
            .members(offset)
            .take(count)
            .take(cap)
            .map(|(m, s)| (m.clone(), s))
            .collect();
        if bounded {
            check_reply(out.len() * per)?;
        }
        Ok(out)
    }
}

/// Read-only range operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::ZCount | Op::ZLexCount => {
            let span = if op == Op::ZCount {
                Span::Score(ScoreRange::parse(&args[1], &args[2])?)
            } else {
                Span::Lex(LexRange::parse(&args[1], &args[2])?)
            };
            let n = aggregate::get::<ZSet>(ks, now, key)?
                .map_or(0, |z| Walk::new(z, &span, false).members(0).count());
            Ok(Reply::Integer(n as i64))
        }
        _ => {
            let query = RangeQuery::parse(op, &args[1], &args[2], &args[3..])?;
            let Some(z) = aggregate::get::<ZSet>(ks, now, key)? else {
                return Ok(Reply::Array(Vec::new()));
            };
            let items = query.select(z, true)?;
            Ok(members_reply(&items, query.withscores))
        }
    }
}

/// Range operations that change state: ZRANGESTORE and ZREMRANGEBY*.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    let span = match op {
        Op::ZRangeStore => {
            let query = RangeQuery::parse(op, &args[2], &args[3], &args[4..])?;
            let result = match aggregate::get::<ZSet>(ks, now, &args[1])? {
                Some(z) => query.select(z, false)?,
                None => Vec::new(),
            };
            let mut stored = ZSet::default();
            for (member, score) in result {
                stored.insert(member, score);
            }
            return Ok(Reply::Integer(aggregate::store(ks, key, stored) as i64));
        }
        Op::ZRemRangeByRank => Span::Rank(int(&args[1])?, int(&args[2])?),
        Op::ZRemRangeByScore => Span::Score(ScoreRange::parse(&args[1], &args[2])?),
        Op::ZRemRangeByLex => Span::Lex(LexRange::parse(&args[1], &args[2])?),
        _ => return read(op, ks, now, args),
    };
    let removed = aggregate::update::<ZSet, _>(ks, now, key, false, |z| {
        let doomed: Vec<Bytes> = Walk::new(z, &span, false)
            .members(0)
            .map(|(m, _)| m.clone())
            .collect();
        for member in &doomed {
            z.remove(member);
        }
        Ok(doomed.len())
    })?;
    Ok(Reply::Integer(removed.unwrap_or(0) as i64))
}
