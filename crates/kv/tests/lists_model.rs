//! Lists against a model: random LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP/RPOP (with and without a
//! count), LSET, LINSERT, LREM, LTRIM, LMOVE and LMPOP on two keys, each a `VecDeque`; after
//! every step LRANGE (whole and a random range), LLEN, LINDEX at every index and LPOS with a
//! random RANK, COUNT and MAXLEN agree with the model, an emptied list no longer exists, and
//! the same command on a string key answers WRONGTYPE.

mod common;

use bytes::Bytes;
use common::{
    check_ttl, check_wrongtype, run, run_at, texts, STRING_KEY, STRING_VALUE, TTL_MS, WRONGTYPE,
};
use kv::Store;
use proptest::prelude::*;
use resp::Reply;
use std::collections::VecDeque;

/// The model of one list.
type Model = VecDeque<String>;

/// The list keys.
const KEYS: [&str; 2] = ["l1", "l2"];

/// An element from a small set, so that LREM, LINSERT and LPOS find matches.
fn elem() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", ""]).prop_map(String::from)
}

/// One step; `usize` fields are key indexes into [`KEYS`].
#[derive(Clone, Debug)]
enum Step {
    /// LPUSH/RPUSH (left, create) or LPUSHX/RPUSHX.
    Push(usize, bool, bool, Vec<String>),
    /// LPOP/RPOP, with an optional count.
    Pop(usize, bool, Option<usize>),
    /// LSET.
    Set(usize, i64, String),
    /// LINSERT BEFORE (true) or AFTER.
    Insert(usize, bool, String, String),
    /// LREM count element.
    Rem(usize, i64, String),
    /// LTRIM start stop.
    Trim(usize, i64, i64),
    /// LMOVE src dst (from left, to left).
    Move(usize, usize, bool, bool),
    /// LMPOP over the keys in this order, from the left or right, with an optional COUNT.
    MPop(Vec<usize>, bool, Option<usize>),
    /// PEXPIRE key TTL_MS (kept by every later change, until the list is emptied).
    Expire(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let k = || 0usize..2;
    prop_oneof![
        6 => (k(), any::<bool>(), prop::bool::weighted(0.8), prop::collection::vec(elem(), 1..4))
            .prop_map(|(k, l, c, items)| Step::Push(k, l, c, items)),
        3 => (k(), any::<bool>(), prop::option::of(0usize..4))
            .prop_map(|(k, l, n)| Step::Pop(k, l, n)),
        2 => (k(), -5i64..5, elem()).prop_map(|(k, i, v)| Step::Set(k, i, v)),
        2 => (k(), any::<bool>(), elem(), elem()).prop_map(|(k, b, p, v)| Step::Insert(k, b, p, v)),
        2 => (k(), -3i64..3, elem()).prop_map(|(k, n, v)| Step::Rem(k, n, v)),
        1 => (k(), -6i64..6, -6i64..6).prop_map(|(k, a, b)| Step::Trim(k, a, b)),
        3 => (k(), k(), any::<bool>(), any::<bool>()).prop_map(|(a, b, l, r)| Step::Move(a, b, l, r)),
        2 => (prop::sample::select(vec![vec![0], vec![1], vec![0, 1], vec![1, 0]]),
              any::<bool>(), prop::option::of(1usize..4))
            .prop_map(|(keys, l, n)| Step::MPop(keys, l, n)),
        1 => k().prop_map(Step::Expire),
    ]
}

/// `LEFT` or `RIGHT`.
fn side(left: bool) -> &'static str {
    if left {
        "LEFT"
    } else {
        "RIGHT"
    }
}

/// The command for a step, with the key names given (so a key can be swapped for another).
fn command(keys: [&str; 2], step: &Step) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    match step {
        Step::Push(k, left, create, items) => {
            let name = match (left, create) {
                (true, true) => "LPUSH",
                (false, true) => "RPUSH",
                (true, false) => "LPUSHX",
                (false, false) => "RPUSHX",
            };
            args.extend([name.to_string(), keys[*k].to_string()]);
            args.extend(items.iter().cloned());
        }
        Step::Pop(k, left, count) => {
            let name = if *left { "LPOP" } else { "RPOP" };
            args.extend([name.to_string(), keys[*k].to_string()]);
            args.extend(count.map(|n| n.to_string()));
        }
        Step::Set(k, i, v) => {
            args.extend(["LSET".into(), keys[*k].into(), i.to_string(), v.clone()]);
        }
        Step::Insert(k, before, pivot, v) => {
            let at = if *before { "BEFORE" } else { "AFTER" };
            args.extend(["LINSERT", keys[*k], at, pivot, v].map(String::from));
        }
        Step::Rem(k, n, v) => {
            args.extend(["LREM".into(), keys[*k].into(), n.to_string(), v.clone()]);
        }
        Step::Trim(k, a, b) => {
            args.extend([
                "LTRIM".into(),
                keys[*k].into(),
                a.to_string(),
                b.to_string(),
            ]);
        }
        Step::Move(a, b, from, to) => {
            args.extend(["LMOVE", keys[*a], keys[*b], side(*from), side(*to)].map(String::from));
        }
        Step::MPop(order, left, count) => {
            args.extend(["LMPOP".to_string(), order.len().to_string()]);
            args.extend(order.iter().map(|k| keys[*k].to_string()));
            args.push(side(*left).into());
            if let Some(n) = count {
                args.extend(["COUNT".to_string(), n.to_string()]);
            }
        }
        Step::Expire(k) => args.extend(["PEXPIRE", keys[*k], TTL_MS].map(String::from)),
    }
    args
}

/// Pops up to `n` elements from one end of `list`.
fn pop(list: &mut Model, left: bool, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        match if left {
            list.pop_front()
        } else {
            list.pop_back()
        } {
            Some(item) => out.push(item),
            None => break,
        }
    }
    out
}

/// Bulk strings as an array reply.
fn bulks(items: &[String]) -> Reply {
    Reply::Array(
        items
            .iter()
            .map(|i| Reply::Bulk(Bytes::from(i.clone())))
            .collect(),
    )
}

/// The bulk string reply of one element.
fn bulk(item: &str) -> Reply {
    Reply::Bulk(Bytes::from(item.to_string()))
}

/// Redis's clamped `start stop` range over a list of `len` as a half-open index range.
fn clamp(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    if start > stop || start >= len {
        0..0
    } else {
        start as usize..stop as usize + 1
    }
}

/// A Redis index (negative from the end) as a position inside a list of `len`.
fn position(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// The reply the model gives to a step, applying it.
fn model_step(models: &mut [Model; 2], step: &Step) -> Reply {
    let int = |n: usize| Reply::Integer(n as i64);
    match step {
        Step::Push(k, left, create, items) => {
            let list = &mut models[*k];
            if !create && list.is_empty() {
                return int(0);
            }
            for item in items {
                if *left {
                    list.push_front(item.clone());
                } else {
                    list.push_back(item.clone());
                }
            }
            int(list.len())
        }
        Step::Pop(k, left, count) => {
            let list = &mut models[*k];
            match count {
                None if list.is_empty() => Reply::Null,
                Some(_) if list.is_empty() => Reply::NullArray,
                None => bulk(&pop(list, *left, 1)[0]),
                Some(n) => bulks(&pop(list, *left, *n)),
            }
        }
        Step::Set(k, i, v) => {
            let list = &mut models[*k];
            if list.is_empty() {
                return Reply::Error("ERR no such key".into());
            }
            match position(*i, list.len()) {
                Some(at) => {
                    list[at] = v.clone();
                    Reply::ok()
                }
                None => Reply::Error("ERR index out of range".into()),
            }
        }
        Step::Insert(k, before, pivot, v) => {
            let list = &mut models[*k];
            if list.is_empty() {
                return int(0);
            }
            match list.iter().position(|x| x == pivot) {
                None => Reply::Integer(-1),
                Some(at) => {
                    list.insert(if *before { at } else { at + 1 }, v.clone());
                    int(list.len())
                }
            }
        }
        Step::Rem(k, n, v) => {
            let list = &mut models[*k];
            let limit = if *n == 0 {
                usize::MAX
            } else {
                n.unsigned_abs() as usize
            };
            let mut hits: Vec<usize> = (0..list.len()).filter(|&i| list[i] == *v).collect();
            if *n < 0 {
                hits.reverse();
            }
            hits.truncate(limit);
            hits.sort_unstable();
            for at in hits.iter().rev() {
                list.remove(*at);
            }
            int(hits.len())
        }
        Step::Trim(k, a, b) => {
            let list = &mut models[*k];
            let range = clamp(*a, *b, list.len());
            *list = list.range(range).cloned().collect();
            Reply::ok()
        }
        Step::Move(a, b, from, to) => {
            let Some(item) = pop(&mut models[*a], *from, 1).pop() else {
                return Reply::Null;
            };
            if *to {
                models[*b].push_front(item.clone());
            } else {
                models[*b].push_back(item.clone());
            }
            bulk(&item)
        }
        Step::MPop(order, left, count) => {
            for k in order {
                if !models[*k].is_empty() {
                    let items = pop(&mut models[*k], *left, count.unwrap_or(1));
                    return Reply::Array(vec![bulk(KEYS[*k]), bulks(&items)]);
                }
            }
            Reply::NullArray
        }
        Step::Expire(k) => int(usize::from(!models[*k].is_empty())),
    }
}

/// LPOS on the model: positions of `elem` in scan order (from the head if `rank > 0`, else
/// from the tail, looking at `maxlen` elements at most, 0 = all), skipping `|rank| - 1`
/// matches, at most `count` (0 = all; None: just the first, or nil).
fn lpos(list: &Model, elem: &str, rank: i64, count: Option<usize>, maxlen: usize) -> Reply {
    let len = list.len();
    let looked = if maxlen == 0 { len } else { maxlen.min(len) };
    let order: Vec<usize> = if rank > 0 {
        (0..looked).collect()
    } else {
        (len - looked..len).rev().collect()
    };
    let found: Vec<Reply> = order
        .into_iter()
        .filter(|&i| list[i] == elem)
        .skip(rank.unsigned_abs() as usize - 1)
        .take(match count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        })
        .map(|i| Reply::Integer(i as i64))
        .collect();
    match count {
        Some(_) => Reply::Array(found),
        None => found.into_iter().next().unwrap_or(Reply::Null),
    }
}

/// A probe of the reads: a range, and LPOS arguments.
type Probe = (i64, i64, String, i64, Option<usize>, usize);

fn probe() -> impl Strategy<Value = Probe> {
    (
        -6i64..6,
        -6i64..6,
        elem(),
        prop_oneof![(-3i64..0), (1i64..4)],
        prop::option::of(0usize..3),
        0usize..4,
    )
}

/// Checks every read of `key` against the model.
fn check(store: &mut Store, key: &str, list: &Model, probe: &Probe) {
    let all: Vec<String> = list.iter().cloned().collect();
    assert_eq!(
        texts(&run(store, &["LRANGE", key, "0", "-1"])),
        all,
        "LRANGE"
    );
    let len = run(store, &["LLEN", key]);
    assert_eq!(len, Reply::Integer(all.len() as i64), "LLEN");
    let exists = run(store, &["EXISTS", key]);
    assert_eq!(exists, Reply::Integer(i64::from(!all.is_empty())), "EXISTS");
    let n = all.len() as i64;
    for i in -n - 1..=n {
        let expected = position(i, all.len()).map_or(Reply::Null, |at| bulk(&all[at]));
        let got = run(store, &["LINDEX", key, &i.to_string()]);
        assert_eq!(got, expected, "LINDEX {i}");
    }
    let (start, stop, elem, rank, count, maxlen) = probe;
    let range = clamp(*start, *stop, all.len());
    let (a, b) = (start.to_string(), stop.to_string());
    let got = texts(&run(store, &["LRANGE", key, &a, &b]));
    assert_eq!(got, all[range].to_vec(), "LRANGE {a} {b}");
    let (r, m) = (rank.to_string(), maxlen.to_string());
    let mut args = vec!["LPOS", key, elem, "RANK", &r, "MAXLEN", &m];
    let c = count.map(|c| c.to_string());
    if let Some(c) = &c {
        args.extend(["COUNT", c]);
    }
    let expected = lpos(list, elem, *rank, *count, *maxlen);
    assert_eq!(run(store, &args), expected, "{args:?}");
    check_wrongtype(store, key, "list");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn lists_match_a_model(steps in prop::collection::vec(step(), 1..50), probe in probe()) {
        let mut store = Store::new();
        run(&mut store, &["SET", STRING_KEY, STRING_VALUE]);
        let mut models = [Model::new(), Model::new()];
        let mut ttls = [false, false];
        for step in &steps {
            if !matches!(step, Step::Expire(_)) {
                // The string key in place of the first key: WRONGTYPE, nothing changes.
                let wrong = run_at(&mut store, 1000, &command([STRING_KEY, STRING_KEY], step));
                prop_assert_eq!(wrong, Reply::Error(WRONGTYPE.into()), "{:?} on a string", step);
            }
            if let Step::Move(a, _, from, to) = step {
                // ... and in place of LMOVE's destination when there is something to move.
                let mut keys = KEYS;
                keys[1 - *a] = STRING_KEY;
                let wrong = run_at(&mut store, 1000, &command(keys, &Step::Move(*a, 1 - *a, *from, *to)));
                let expected = if models[*a].is_empty() {
                    Reply::Null
                } else {
                    Reply::Error(WRONGTYPE.into())
                };
                prop_assert_eq!(wrong, expected, "LMOVE into a string");
            }
            let got = run_at(&mut store, 1000, &command(KEYS, step));
            let expected = model_step(&mut models, step);
            prop_assert_eq!(&got, &expected, "{:?}", step);
            if let Step::Expire(k) = step {
                ttls[*k] |= !models[*k].is_empty();
            }
            for (k, key) in KEYS.iter().enumerate() {
                ttls[k] &= !models[k].is_empty();
                check(&mut store, key, &models[k], &probe);
                check_ttl(&mut store, key, !models[k].is_empty(), ttls[k]);
            }
        }
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert!(loaded == store, "snapshot round trip");
    }
}
