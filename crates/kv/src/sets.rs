//! Set commands: SADD SREM SISMEMBER SMISMEMBER SMEMBERS SCARD SPOP SRANDMEMBER SMOVE SINTER
//! SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN, as in Redis 7 (`t_set.c`).
//!
//! Members are kept in byte order, so SMEMBERS and the set algebra list them sorted, the same on
//! every replica. SPOP and SRANDMEMBER draw from the replicated generator ([`crate::random`]).
//! SSCAN's cursor is an index, as for HSCAN. Removing the last member deletes the key; a STORE
//! command with an empty result deletes its destination.

use crate::aggregate::{self, bulk, bulks, check_reply, is, positive, ScanArgs, Set};
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::random::Rng;
use crate::Error;
use bytes::Bytes;
use resp::Reply;

/// The set under each key (an absent key is the empty set); WRONGTYPE if any is another type.
fn sets<'a>(ks: &'a Keyspace, now: u64, keys: &[Bytes]) -> Result<Vec<Option<&'a Set>>, Error> {
    keys.iter()
        .map(|k| aggregate::get::<Set>(ks, now, k))
        .collect()
}

/// SINTER, SUNION or SDIFF of the sets under `keys`.
fn algebra(op: Op, ks: &Keyspace, now: u64, keys: &[Bytes]) -> Result<Set, Error> {
    let all = sets(ks, now, keys)?;
    let empty = Set::new();
    let first = all[0].unwrap_or(&empty).clone();
    Ok(match op {
        Op::SInter | Op::SInterStore | Op::SInterCard => {
            if all.iter().any(Option::is_none) {
                return Ok(Set::new());
            }
            all[1..].iter().fold(first, |acc, s| {
                acc.intersection(s.unwrap_or(&empty).clone())
            })
        }
        Op::SUnion | Op::SUnionStore => all[1..]
            .iter()
            .fold(first, |acc, s| acc.union(s.unwrap_or(&empty).clone())),
        _ => all[1..].iter().fold(first, |acc, s| {
            acc.relative_complement(s.unwrap_or(&empty).clone())
        }),
    })
}

/// Read-only set operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::SInter | Op::SUnion | Op::SDiff => {
            let result = algebra(op, ks, now, args)?;
            check_reply(result.len())?;
            return Ok(Reply::Set(result.iter().map(bulk).collect()));
        }
        Op::SInterCard => return sintercard(ks, now, args),
        _ => {}
    }
    let set = aggregate::get::<Set>(ks, now, key)?;
    let empty = Set::new();
    let s = set.unwrap_or(&empty);
    Ok(match op {
        Op::SIsMember => Reply::Integer(i64::from(s.contains(&args[1]))),
        Op::SMIsMember => Reply::Array(
            args[1..]
                .iter()
                .map(|m| Reply::Integer(i64::from(s.contains(m))))
                .collect(),
        ),
        Op::SMembers => {
            check_reply(s.len())?;
            Reply::Set(s.iter().map(bulk).collect())
        }
        Op::SCard => Reply::Integer(s.len() as i64),
        Op::SScan => {
            let scan = ScanArgs::parse(&args[1..], false)?;
            let (page, next) = scan.page(s.len());
            let items = s
                .iter()
                .skip(page.start)
                .take(page.len())
                .filter(|m| scan.wanted(m))
                .map(bulk)
                .collect();
            aggregate::scan_reply(next, items)
        }
        _ => return Err(Error::NotReadOnly(op.name())),
    })
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
fn sintercard(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let numkeys = positive(&args[0]).map_err(|_| Error::NumKeysNotPositive)?;
    if numkeys > args.len() - 1 {
        return Err(Error::NumKeysTooMany);
    }
    let mut limit = 0usize;
    let rest = &args[numkeys + 1..];
    match rest {
        [] => {}
        [opt, n] if is(opt, "limit") => {
            limit = aggregate::int(n)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(Error::LimitNegative)?;
        }
        _ => return Err(Error::Syntax),
    }
    let result = algebra(Op::SInterCard, ks, now, &args[1..=numkeys])?;
    let n = if limit == 0 {
        result.len()
    } else {
        result.len().min(limit)
    };
    Ok(Reply::Integer(n as i64))
}

/// Set operations that may change state.
pub(crate) fn write(
    op: Op,
    ks: &mut Keyspace,
    now: u64,
    args: &[Bytes],
    rng: &mut Rng,
) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::SAdd => {
            let added = aggregate::update::<Set, _>(ks, now, key, true, |s| {
                Ok(args[1..]
                    .iter()
                    .filter(|m| s.insert((*m).clone()).is_none())
                    .count())
            })?;
            Ok(Reply::Integer(added.unwrap_or(0) as i64))
        }
        Op::SRem => {
            let removed = aggregate::update::<Set, _>(ks, now, key, false, |s| {
                Ok(args[1..].iter().filter(|m| s.remove(*m).is_some()).count())
            })?;
            Ok(Reply::Integer(removed.unwrap_or(0) as i64))
        }
        Op::SPop | Op::SRandMember => random(op, ks, now, args, rng),
        Op::SMove => {
            let (src, dst, member) = (&args[0], &args[1], &args[2]);
            // A missing source answers 0 whatever the destination holds, as in Redis.
            let Some(source) = aggregate::get::<Set>(ks, now, src)? else {
                return Ok(Reply::Integer(0));
            };
            aggregate::get::<Set>(ks, now, dst)?;
            if !source.contains(member) {
                return Ok(Reply::Integer(0));
            }
            if src == dst {
                return Ok(Reply::Integer(1));
            }
            aggregate::update::<Set, _>(ks, now, src, false, |s| Ok(s.remove(member)))?;
            aggregate::update::<Set, _>(ks, now, dst, true, |s| Ok(s.insert(member.clone())))?;
            Ok(Reply::Integer(1))
        }
        Op::SInterStore | Op::SUnionStore | Op::SDiffStore => {
            let result = algebra(op, ks, now, &args[1..])?;
            Ok(Reply::Integer(aggregate::store(ks, key, result) as i64))
        }
        _ => read(op, ks, now, args),
    }
}

/// `SPOP key [count]` and `SRANDMEMBER key [count]`.
fn random(
    op: Op,
    ks: &mut Keyspace,
    now: u64,
    args: &[Bytes],
    rng: &mut Rng,
) -> Result<Reply, Error> {
    let count = match args.get(1) {
        None => None,
        Some(n) if op == Op::SPop => {
            let n = aggregate::int(n).map_err(|_| Error::NotPositive)?;
            Some((usize::try_from(n).map_err(|_| Error::NotPositive)?, false))
        }
        Some(n) => Some(aggregate::rand_count(n)?),
    };
    if args.len() > 2 {
        return Err(Error::Syntax);
    }
    let Some(set) = aggregate::get::<Set>(ks, now, &args[0])? else {
        return Ok(match count {
            None => Reply::Null,
            // An empty set (`~0` in RESP3) for SPOP, an empty array for SRANDMEMBER, as Redis.
            Some(_) if op == Op::SPop => Reply::Set(Vec::new()),
            Some(_) => Reply::Array(Vec::new()),
        });
    };
    let members: Vec<Bytes> = set.iter().cloned().collect();
    let (n, repeat) = count.unwrap_or((1, false));
    let picks = aggregate::pick(rng, members.len(), n, repeat);
    check_reply(picks.len())?;
    let chosen: Vec<Bytes> = picks.into_iter().map(|i| members[i].clone()).collect();
    if op == Op::SPop {
        aggregate::update::<Set, _>(ks, now, &args[0], false, |s| {
            for m in &chosen {
                s.remove(m);
            }
            Ok(())
        })?;
    }
    Ok(match count {
        None => chosen.first().map_or(Reply::Null, bulk),
        Some(_) if op == Op::SPop => Reply::Set(chosen.iter().map(bulk).collect()),
        Some(_) => bulks(&chosen),
    })
}
