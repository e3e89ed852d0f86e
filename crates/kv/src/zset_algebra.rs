//! Sorted-set algebra: ZUNION ZINTER ZDIFF and their STORE forms, with WEIGHTS and AGGREGATE
//! SUM|MIN|MAX, and ZINTERCARD, as in Redis 7.0 (`zunionInterDiffGenericCommand`,
//! `zinterCardCommand`).
//!
//! Inputs may be sorted sets or plain sets (every member of a set has score 1); an absent key
//! is empty; any other type is WRONGTYPE. Scores are combined as Redis combines them (see
//! [`compute`]): a weighted score that is NaN (`0 * inf`) and a SUM of `inf` and `-inf` count
//! as 0, and a `-0` shows in ZUNION/ZINTER replies (a stored score is never `-0`). A STORE with
//! an empty result deletes its destination.

use crate::aggregate::{self, int, is};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::record::Record;
use crate::value::{Value, ZSet};
use crate::zsets::members_reply;
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, Reply};
use std::collections::BTreeMap;

/// How scores of the same member in several inputs combine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Combine {
    /// Add them (the default).
    Sum,
    /// Keep the lowest.
    Min,
    /// Keep the highest.
    Max,
}

impl Combine {
    /// `a` combined with `b`.
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Combine::Sum => {
                let sum = a + b;
                if sum.is_nan() {
                    0.0
                } else {
                    sum
                }
            }
            // Redis's comparisons: a NaN `b` (a weighted `inf * 0`) keeps `a`, and so does a tie
            // between 0 and -0.
            Combine::Min => {
                if b < a {
                    b
                } else {
                    a
                }
            }
            Combine::Max => {
                if b > a {
                    b
                } else {
                    a
                }
            }
        }
    }
}

/// The parsed arguments after `numkeys`.
struct Algebra<'a> {
    /// The input keys.
    keys: &'a [Bytes],
    /// One weight per key (1 unless WEIGHTS).
    weights: Vec<f64>,
    /// AGGREGATE.
    combine: Combine,
    /// WITHSCORES (not for STORE forms).
    withscores: bool,
}

/// Parses `numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` (ZDIFF:
/// only WITHSCORES; STORE forms: no WITHSCORES).
fn parse(op: Op, args: &[Bytes], store: bool) -> Result<Algebra<'_>, Error> {
    let numkeys = numkeys(op, args)?;
    let diff = matches!(op, Op::ZDiff | Op::ZDiffStore);
    let mut algebra = Algebra {
        keys: &args[1..=numkeys],
        weights: vec![1.0; numkeys],
        combine: Combine::Sum,
        withscores: false,
    };
    let opts = &args[numkeys + 1..];
    let mut i = 0;
    while let Some(opt) = opts.get(i) {
        let remaining = opts.len() - i;
        if !diff && remaining > numkeys && is(opt, "weights") {
            for (w, arg) in algebra.weights.iter_mut().zip(&opts[i + 1..]) {
                *w = parse_f64(arg).ok_or(Error::WeightNotFloat)?;
            }
            i += 1 + numkeys;
        } else if !diff && remaining >= 2 && is(opt, "aggregate") {
            let how = &opts[i + 1];
            algebra.combine = if is(how, "sum") {
                Combine::Sum
            } else if is(how, "min") {
                Combine::Min
            } else if is(how, "max") {
                Combine::Max
            } else {
                return Err(Error::Syntax);
            };
            i += 2;
        } else if !store && is(opt, "withscores") {
            algebra.withscores = true;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(algebra)
}

/// The `numkeys` argument (`args[0]`): at least 1, and no more than the arguments after it.
fn numkeys(op: Op, args: &[Bytes]) -> Result<usize, Error> {
    let numkeys = int(&args[0])?;
    if numkeys < 1 {
        return Err(Error::AtLeastOneKey(op.name()));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() - 1 {
        return Err(Error::Syntax);
    }
    Ok(numkeys)
}

/// The members and scores under `key`: a sorted set, a set (scores 1), or nothing.
fn input(ks: &Keyspace, now: u64, key: &Bytes) -> Result<Vec<(Bytes, f64)>, Error> {
    Ok(match ks.live(key, now).map(Record::aggregate) {
        None => Vec::new(),
        Some(Some(Value::ZSet(z))) => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
        Some(Some(Value::Set(s))) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
        Some(_) => return Err(Error::WrongType),
    })
}

/// Computes the union, intersection or difference: members and scores in (score, member)
/// order, scores exactly as Redis computes them (a `-0` included; storing makes it `0`).
///
/// As in Redis, union and intersection take the inputs from the smallest to the largest (a
/// stable sort, so equal sizes keep key order), which decides the order in which scores are
/// combined. A weighted score that is NaN counts as 0 for every input of a union but only for
/// the first input of an intersection: later ones are combined as NaN, which SUM turns into 0
/// and MIN and MAX ignore.
fn compute(op: Op, ks: &Keyspace, now: u64, algebra: &Algebra) -> Result<Vec<(Bytes, f64)>, Error> {
    let mut inputs = algebra
        .keys
        .iter()
        .zip(&algebra.weights)
        .map(|(key, weight)| Ok((input(ks, now, key)?, *weight)))
        .collect::<Result<Vec<_>, Error>>()?;
    let diff = !matches!(
        op,
        Op::ZUnion | Op::ZUnionStore | Op::ZInter | Op::ZInterStore
    );
    if !diff {
        inputs.sort_by_key(|(items, _)| items.len());
    }
    let no_nan = |score: f64| if score.is_nan() { 0.0 } else { score };
    let mut acc: BTreeMap<Bytes, f64> = BTreeMap::new();
    match op {
        Op::ZUnion | Op::ZUnionStore => {
            for (items, weight) in &inputs {
                for (member, score) in items {
                    let score = no_nan(score * weight);
                    acc.entry(member.clone())
                        .and_modify(|s| *s = algebra.combine.apply(*s, score))
                        .or_insert(score);
                }
            }
        }
        Op::ZInter | Op::ZInterStore | Op::ZInterCard => {
            let (first, weight) = &inputs[0];
            acc = first
                .iter()
                .map(|(m, s)| (m.clone(), no_nan(s * weight)))
                .collect();
            for (items, weight) in &inputs[1..] {
                let other: BTreeMap<&Bytes, f64> = items.iter().map(|(m, s)| (m, *s)).collect();
                acc.retain(|m, s| match other.get(m) {
                    Some(score) => {
                        *s = algebra.combine.apply(*s, score * weight);
                        true
                    }
                    None => false,
                });
            }
        }
        _ => {
            acc = inputs[0].0.iter().cloned().collect();
            for (items, _) in &inputs[1..] {
                for (member, _) in items {
                    acc.remove(member);
                }
            }
        }
    }
    let mut result: Vec<(Bytes, f64)> = acc.into_iter().collect();
    // Scores are never NaN here; -0 and 0 tie, and the member decides.
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(result)
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    if op == Op::ZInterCard {
        return zintercard(ks, now, args);
    }
    let algebra = parse(op, args, false)?;
    let result = compute(op, ks, now, &algebra)?;
    aggregate::check_reply(result.len() * if algebra.withscores { 2 } else { 1 })?;
    Ok(members_reply(&result, algebra.withscores))
}

/// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: `dst numkeys key ...`; replies with the stored size.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let algebra = parse(op, &args[1..], true)?;
    let mut result = ZSet::default();
    for (member, score) in compute(op, ks, now, &algebra)? {
        result.insert(member, score);
    }
    Ok(Reply::Integer(aggregate::store(ks, &args[0], result) as i64))
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting at
/// most `limit` (0: no limit).
fn zintercard(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let numkeys = numkeys(Op::ZInterCard, args)?;
    let limit = match &args[numkeys + 1..] {
        [] => 0,
        [opt, n] if is(opt, "limit") => int(n)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Error::LimitNegative)?,
        _ => return Err(Error::Syntax),
    };
    let algebra = Algebra {
        keys: &args[1..=numkeys],
        weights: vec![1.0; numkeys],
        combine: Combine::Sum,
        withscores: false,
    };
    let n = compute(Op::ZInterCard, ks, now, &algebra)?.len();
    Ok(Reply::Integer(
        if limit == 0 { n } else { n.min(limit) } as i64
    ))
}
