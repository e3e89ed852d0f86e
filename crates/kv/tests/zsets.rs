//! Sorted sets against a model: random ZADD (with its flags), ZINCRBY, ZREM, ZPOPMIN/ZPOPMAX
//! and ZREMRANGEBYSCORE on a few keys, checked after every step against a `BTreeMap` of member
//! → score, through ZRANGE (by rank, by score, reversed, with LIMIT), ZCARD, ZSCORE, ZRANK,
//! ZREVRANK and ZCOUNT; and a snapshot round trip at the end.

use bytes::Bytes;
use kv::{Command, Store};
use proptest::prelude::*;
use resp::Reply;
use std::collections::BTreeMap;

/// The model of one sorted set.
type Model = BTreeMap<String, f64>;

/// Applies a command to the store, parsing it like a client's.
fn apply(store: &mut Store, args: &[String]) -> Reply {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
    match Command::parse(&args) {
        Ok(cmd) => store.apply(1000, &cmd),
        Err(e) => e.to_reply(),
    }
}

/// A score argument: small integers and halves, sometimes an infinity.
fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-8i32..8).prop_map(|n| f64::from(n) / 2.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// A score as an argument.
fn arg(score: f64) -> String {
    if score == f64::INFINITY {
        "+inf".into()
    } else if score == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        score.to_string()
    }
}

/// A member from a small set, so that commands collide.
fn member() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "aa", ""]).prop_map(String::from)
}

/// One step.
#[derive(Clone, Debug)]
enum Step {
    /// ZADD with flags (a valid combination) and pairs.
    Add(Vec<&'static str>, Vec<(f64, String)>),
    /// ZINCRBY.
    Incr(f64, String),
    /// ZREM.
    Rem(Vec<String>),
    /// ZPOPMIN (false) or ZPOPMAX (true) with a count.
    Pop(bool, usize),
    /// ZREMRANGEBYSCORE min max (inclusive).
    RemByScore(f64, f64),
}

fn step() -> impl Strategy<Value = Step> {
    let flags = prop::sample::select(vec![
        vec![],
        vec!["NX"],
        vec!["XX"],
        vec!["GT"],
        vec!["LT"],
        vec!["CH"],
        vec!["XX", "GT", "CH"],
        vec!["NX", "CH"],
    ]);
    prop_oneof![
        4 => (flags, prop::collection::vec((score(), member()), 1..4))
            .prop_map(|(f, p)| Step::Add(f, p)),
        2 => (score(), member()).prop_map(|(s, m)| Step::Incr(s, m)),
        2 => prop::collection::vec(member(), 1..3).prop_map(Step::Rem),
        1 => (any::<bool>(), 0usize..3).prop_map(|(max, n)| Step::Pop(max, n)),
        1 => (score(), score()).prop_map(|(a, b)| Step::RemByScore(a, b)),
    ]
}

/// The model's members in (score, member) order.
fn ordered(model: &Model) -> Vec<(String, f64)> {
    let mut items: Vec<(String, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    items.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    items
}

/// Applies a step to the model and returns the reply the store should give.
fn model_step(model: &mut Model, step: &Step) -> Reply {
    let int = |n: usize| Reply::Integer(n as i64);
    match step {
        Step::Add(flags, pairs) => {
            let has = |f: &str| flags.contains(&f);
            let (mut added, mut changed) = (0, 0);
            for (score, member) in pairs {
                match model.get(member).copied() {
                    Some(_) if has("NX") => {}
                    Some(cur) => {
                        let skip = (has("GT") && *score <= cur) || (has("LT") && *score >= cur);
                        if !skip && *score != cur {
                            model.insert(member.clone(), *score);
                            changed += 1;
                        }
                    }
                    None if has("XX") => {}
                    None => {
                        model.insert(member.clone(), *score);
                        added += 1;
                    }
                }
            }
            int(if has("CH") { added + changed } else { added })
        }
        Step::Incr(by, member) => {
            let new = model.get(member).copied().unwrap_or(0.0) + by;
            if new.is_nan() {
                return Reply::Error("ERR resulting score is not a number (NaN)".into());
            }
            model.insert(member.clone(), new);
            Reply::Score(new)
        }
        Step::Rem(members) => {
            let mut seen = Vec::new();
            for m in members {
                if model.remove(m).is_some() {
                    seen.push(m);
                }
            }
            int(seen.len())
        }
        Step::Pop(max, count) => {
            let mut items = ordered(model);
            if *max {
                items.reverse();
            }
            let mut out = Vec::new();
            for (m, s) in items.into_iter().take(*count) {
                model.remove(&m);
                out.push((Reply::Bulk(Bytes::from(m)), Reply::Score(s)));
            }
            Reply::Pairs(out)
        }
        Step::RemByScore(min, max) => {
            let doomed: Vec<String> = model
                .iter()
                .filter(|(_, s)| **s >= *min && **s <= *max)
                .map(|(m, _)| m.clone())
                .collect();
            for m in &doomed {
                model.remove(m);
            }
            int(doomed.len())
        }
    }
}

/// The command for a step.
fn command(key: &str, step: &Step) -> Vec<String> {
    let mut args: Vec<String>;
    match step {
        Step::Add(flags, pairs) => {
            args = vec!["ZADD".into(), key.into()];
            args.extend(flags.iter().map(|f| f.to_string()));
            for (s, m) in pairs {
                args.push(arg(*s));
                args.push(m.clone());
            }
        }
        Step::Incr(by, m) => args = vec!["ZINCRBY".into(), key.into(), arg(*by), m.clone()],
        Step::Rem(members) => {
            args = vec!["ZREM".into(), key.into()];
            args.extend(members.iter().cloned());
        }
        Step::Pop(max, n) => {
            let name = if *max { "ZPOPMAX" } else { "ZPOPMIN" };
            args = vec![name.into(), key.into(), n.to_string()];
        }
        Step::RemByScore(min, max) => {
            args = vec!["ZREMRANGEBYSCORE".into(), key.into(), arg(*min), arg(*max)];
        }
    }
    args
}

/// A reply of members and scores as pairs (`WITHSCORES`: RESP3's shape, sent flat in RESP2).
fn pairs(reply: &Reply) -> Vec<(String, f64)> {
    let items = match reply {
        Reply::Pairs(items) => items,
        Reply::Array(items) if items.is_empty() => return Vec::new(), // a missing key
        _ => panic!("not members with scores: {reply:?}"),
    };
    items
        .iter()
        .map(|pair| match pair {
            (Reply::Bulk(m), Reply::Score(s)) => (String::from_utf8(m.to_vec()).unwrap(), *s),
            other => panic!("bad pair {other:?}"),
        })
        .collect()
}

/// Checks every read against the model.
fn check(store: &mut Store, key: &str, model: &Model, probe: (f64, f64, i64, i64)) {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let all = ordered(model);
    let got = apply(store, &s(&["ZRANGE", key, "0", "-1", "WITHSCORES"]));
    assert_eq!(pairs(&got), all, "ZRANGE");
    let card = apply(store, &s(&["ZCARD", key]));
    assert_eq!(card, Reply::Integer(all.len() as i64));
    let exists = apply(store, &s(&["EXISTS", key]));
    assert_eq!(
        exists,
        Reply::Integer(i64::from(!all.is_empty())),
        "empty key kept"
    );
    for (rank, (member, score)) in all.iter().enumerate() {
        let got = apply(store, &s(&["ZRANK", key, member]));
        assert_eq!(got, Reply::Integer(rank as i64), "ZRANK {member}");
        let got = apply(store, &s(&["ZREVRANK", key, member]));
        assert_eq!(got, Reply::Integer((all.len() - 1 - rank) as i64));
        let Reply::Score(got) = apply(store, &s(&["ZSCORE", key, member])) else {
            panic!("ZSCORE");
        };
        // The score, and the text RESP2 sends for it, read back exactly.
        assert_eq!(got, *score);
        assert_eq!(resp::format_score(got).parse::<f64>().unwrap(), *score);
    }
    let (min, max, offset, count) = probe;
    let in_range: Vec<(String, f64)> = all
        .iter()
        .filter(|(_, sc)| *sc > min && *sc <= max)
        .cloned()
        .collect();
    let (lo, hi) = (format!("({}", arg(min)), arg(max));
    let got = apply(store, &s(&["ZRANGEBYSCORE", key, &lo, &hi, "WITHSCORES"]));
    assert_eq!(pairs(&got), in_range, "ZRANGEBYSCORE {lo} {hi}");
    let got = apply(store, &s(&["ZCOUNT", key, &lo, &hi]));
    assert_eq!(got, Reply::Integer(in_range.len() as i64), "ZCOUNT");
    let mut reversed = in_range.clone();
    reversed.reverse();
    let (o, c) = (offset.to_string(), count.to_string());
    let limited: Vec<(String, f64)> = if offset < 0 {
        Vec::new()
    } else {
        let take = if count < 0 {
            usize::MAX
        } else {
            count as usize
        };
        reversed
            .into_iter()
            .skip(offset as usize)
            .take(take)
            .collect()
    };
    let args = [
        "ZRANGE",
        key,
        &hi,
        &lo,
        "BYSCORE",
        "REV",
        "LIMIT",
        &o,
        &c,
        "WITHSCORES",
    ];
    assert_eq!(pairs(&apply(store, &s(&args))), limited, "ZRANGE REV LIMIT");
    // Rank ranges with Redis's clamping, against plain slicing of the model.
    let len = all.len() as i64;
    let (start, stop) = (offset - 2, count);
    let (a, b) = (
        if start < 0 {
            (len + start).max(0)
        } else {
            start
        },
        if stop < 0 {
            len + stop
        } else {
            stop.min(len - 1)
        },
    );
    let expected: Vec<(String, f64)> = if a > b || a >= len {
        Vec::new()
    } else {
        all[a as usize..=b as usize].to_vec()
    };
    let (st, sp) = (start.to_string(), stop.to_string());
    let got = apply(store, &s(&["ZRANGE", key, &st, &sp, "WITHSCORES"]));
    assert_eq!(pairs(&got), expected, "ZRANGE {start} {stop}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sorted_sets_match_a_model(
        steps in prop::collection::vec((0usize..2, step()), 1..60),
        probe in (score(), score(), -1i64..4, -1i64..4),
    ) {
        let keys = ["z1", "z2"];
        let mut store = Store::new();
        let mut models = [Model::new(), Model::new()];
        for (k, step) in &steps {
            let expected = model_step(&mut models[*k], step);
            let got = apply(&mut store, &command(keys[*k], step));
            match (&expected, &got) {
                (Reply::Pairs(_), Reply::Pairs(_) | Reply::Array(_)) => {
                    prop_assert_eq!(pairs(&expected), pairs(&got), "{:?}", step);
                }
                _ => prop_assert_eq!(&expected, &got, "{:?}", step),
            }
            check(&mut store, keys[*k], &models[*k], probe);
        }
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert!(loaded == store, "snapshot round trip");
    }
}

/// Every sorted-set command (and the bit commands, LCS and TIME) is classified as it must be:
/// reads are answered by `query` without the log, writes (and ZRANDMEMBER, which advances the
/// replicated generator) must go through it, and `query` refuses them.
#[test]
fn reads_and_writes_are_classified() {
    let reads = [
        "ZSCORE z a",
        "ZMSCORE z a b",
        "ZCARD z",
        "ZCOUNT z 0 1",
        "ZLEXCOUNT z - +",
        "ZRANGE z 0 -1",
        "ZREVRANGE z 0 -1",
        "ZRANGEBYSCORE z 0 1",
        "ZREVRANGEBYSCORE z 1 0",
        "ZRANGEBYLEX z - +",
        "ZREVRANGEBYLEX z + -",
        "ZRANK z a",
        "ZREVRANK z a",
        "ZUNION 1 z",
        "ZINTER 1 z",
        "ZDIFF 1 z",
        "ZINTERCARD 1 z",
        "ZSCAN z 0",
        "GETBIT s 0",
        "BITCOUNT s",
        "BITPOS s 1",
        "LCS s z2",
        "TIME",
    ];
    let writes = [
        "ZADD z 1 a",
        "ZINCRBY z 1 a",
        "ZREM z a",
        "ZRANGESTORE d z 0 -1",
        "ZPOPMIN z",
        "ZPOPMAX z",
        "ZMPOP 1 z MIN",
        "ZREMRANGEBYRANK z 0 1",
        "ZREMRANGEBYSCORE z 0 1",
        "ZREMRANGEBYLEX z - +",
        "ZUNIONSTORE d 1 z",
        "ZINTERSTORE d 1 z",
        "ZDIFFSTORE d 1 z",
        "ZRANDMEMBER z",
        "SETBIT s 0 1",
        "BITOP AND d s",
    ];
    let mut store = Store::new();
    apply(
        &mut store,
        &["ZADD".into(), "z".into(), "1".into(), "a".into()],
    );
    let parse = |text: &str| {
        let args: Vec<Bytes> = text
            .split(' ')
            .map(|w| Bytes::from(w.to_string()))
            .collect();
        Command::parse(&args).unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    for text in reads {
        let cmd = parse(text);
        assert!(!cmd.is_write(), "{text} must be a read");
        let reply = store.query(1000, &cmd);
        assert!(!reply.is_error(), "{text}: {reply:?}");
        assert_eq!(reply, store.clone().apply(1000, &cmd), "{text}");
    }
    for text in writes {
        let cmd = parse(text);
        assert!(cmd.is_write(), "{text} must go through the log");
        assert!(
            store.query(1000, &cmd).is_error(),
            "{text} answered by query"
        );
    }
}

/// ZRANDMEMBER is the same on every replica for the same state and entry, and two draws in the
/// same millisecond differ (the draw counter advances).
#[test]
fn zrandmember_is_replicated_randomness() {
    let mut a = Store::new();
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut zadd = vec!["ZADD".to_string(), "z".to_string()];
    for m in &members {
        zadd.push("1".into());
        zadd.push(m.clone());
    }
    apply(&mut a, &zadd);
    let mut b = a.clone();
    let draw = ["ZRANDMEMBER", "z", "5"].map(String::from);
    let first = apply(&mut a, &draw);
    assert_eq!(first, apply(&mut b, &draw), "replicas disagree");
    let second = apply(&mut a, &draw);
    assert_eq!(second, apply(&mut b, &draw), "replicas disagree");
    assert_ne!(first, second, "the draw counter did not advance");
}

/// A sorted set larger than one snapshot chunk is written in pieces and read back whole.
#[test]
fn big_sorted_set_round_trips_in_pieces() {
    let mut store = Store::new();
    for batch in 0..30 {
        let mut args = vec!["ZADD".to_string(), "big".to_string()];
        for i in 0..1000 {
            let n = batch * 1000 + i;
            args.push(format!("{}", f64::from(n) / 7.0));
            args.push(format!("member-{n:06}"));
        }
        assert_eq!(apply(&mut store, &args), Reply::Integer(1000));
    }
    let mut bytes = Vec::new();
    store.write_snapshot(&mut bytes).unwrap();
    assert!(bytes.len() > 2 * kv::limits::SNAPSHOT_CHUNK_TARGET_BYTES);
    let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert!(loaded == store);
    let args = ["ZSCORE", "big", "member-029999"].map(String::from);
    let mut loaded = loaded;
    assert_eq!(apply(&mut loaded, &args), Reply::Score(29_999.0 / 7.0));
    assert_eq!(resp::format_score(29_999.0 / 7.0), "4285.5714285714284");
}

/// The resident set size of this process, in bytes (Linux).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Measurement, not a check: memory per member of a sorted set of 1 million members
/// (`member:0000000` .. with scores 0..), and the time ZADD takes to build it in batches of
/// 1000. Run with `cargo test --release -p raftkv-kv --test zsets -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_memory_per_member() {
    const MEMBERS: usize = 1_000_000;
    let mut store = Store::new();
    let before = rss_bytes();
    let started = std::time::Instant::now();
    for batch in 0..MEMBERS / 1000 {
        let mut args = vec![Bytes::from("ZADD"), Bytes::from("big")];
        for i in batch * 1000..(batch + 1) * 1000 {
            args.push(Bytes::from(i.to_string()));
            args.push(Bytes::from(format!("member:{i:07}")));
        }
        let cmd = Command::parse(&args).unwrap();
        assert_eq!(store.apply(1000, &cmd), Reply::Integer(1000));
    }
    let elapsed = started.elapsed();
    let after = rss_bytes();
    println!(
        "{MEMBERS} members: {:.0} bytes of RSS per member, ZADD {:.0} members/s",
        (after - before) as f64 / MEMBERS as f64,
        MEMBERS as f64 / elapsed.as_secs_f64()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20000))]

    /// Any arguments to the new commands, from a pool of option names, numbers, bounds and
    /// keys of every type, give a reply (often an error) and never a panic; a failed command
    /// leaves the store as it was or changes it the same way twice.
    #[test]
    fn new_commands_never_panic(
        name in prop::sample::select(vec![
            "ZADD", "ZINCRBY", "ZREM", "ZSCORE", "ZMSCORE", "ZCARD", "ZCOUNT", "ZLEXCOUNT",
            "ZRANGE", "ZRANGESTORE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE",
            "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZRANK", "ZREVRANK", "ZPOPMIN", "ZPOPMAX", "ZMPOP",
            "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX", "ZUNION", "ZINTER",
            "ZDIFF", "ZINTERCARD", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZRANDMEMBER",
            "ZSCAN", "SETBIT", "GETBIT", "BITCOUNT", "BITPOS", "BITOP", "LCS", "TIME",
        ]),
        first in prop::sample::select(vec!["z", "s", "h", "str", "none", "1", "2", "AND"]),
        args in prop::collection::vec(prop_oneof![
            3 => prop::sample::select(vec![
                "0", "1", "2", "3", "-1", "-2", "5", "-5", "7", "-7", "40", "-40", "100",
                "inf", "-inf", "(1",
            ]),
            2 => prop::sample::select(vec![
                "z", "s", "str", "none", "[a", "(a", "-", "+", "nan", "x", "",
                "9223372036854775807", "-9223372036854775808", "4294967295", "NX", "XX", "GT",
                "LT", "CH", "INCR", "WITHSCORES", "LIMIT", "REV", "BYSCORE", "BYLEX", "WEIGHTS",
                "AGGREGATE", "SUM", "MIN", "MAX", "COUNT", "MATCH", "BIT", "BYTE", "AND", "OR",
                "XOR", "NOT", "LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN", "a", "b",
            ]),
        ], 0..7),
    ) {
        let mut store = Store::new();
        for setup in [
            "ZADD z 1 a 2 b 3 c inf d",
            "SADD s a b",
            "HSET h f v",
            "SET str abcdef",
        ] {
            apply(&mut store, &setup.split(' ').map(String::from).collect::<Vec<_>>());
        }
        let mut command = vec![name.to_string(), first.to_string()];
        command.extend(args.iter().map(|a| a.to_string()));
        let mut twin = store.clone();
        let reply = apply(&mut store, &command);
        prop_assert_eq!(&reply, &apply(&mut twin, &command));
        prop_assert!(store == twin);
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        prop_assert!(Store::read_snapshot(&mut bytes.as_slice()).unwrap() == store);
    }
}
