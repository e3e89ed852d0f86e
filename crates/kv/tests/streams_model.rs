//! Streams against a model: random XADD (explicit IDs, `ms-*` and `*`, with MAXLEN or MINID
//! trimming and NOMKSTREAM), XDEL and XTRIM on two keys, each a `BTreeMap` of ID → fields plus
//! the last ID given (which XDEL does not lower); after every step XLEN, XRANGE - + and an
//! XRANGE and XREVRANGE with random inclusive or exclusive bounds and COUNT agree with the
//! model, a stream emptied by XDEL or XTRIM still exists (as in Redis), and the same command on
//! a string key answers WRONGTYPE.

mod common;

use common::{
    check_ttl, check_wrongtype, run, run_at, text, STRING_KEY, STRING_VALUE, TTL_MS, WRONGTYPE,
};
use kv::Store;
use proptest::prelude::*;
use resp::Reply;
use std::collections::BTreeMap;

/// A stream entry ID.
type Id = (u64, u64);

/// The model of one stream.
#[derive(Clone, Debug, Default)]
struct Model {
    /// The entries.
    entries: BTreeMap<Id, Vec<String>>,
    /// The greatest ID ever added.
    last: Id,
}

/// The stream keys.
const KEYS: [&str; 2] = ["x1", "x2"];

/// The first time of a case; each step moves the clock forward by 0 to 3 ms.
const START_MS: u64 = 1000;

/// XADD's ID argument.
#[derive(Clone, Copy, Debug)]
enum AddId {
    /// `*`.
    Auto,
    /// `ms-*`.
    AutoSeq(u64),
    /// `ms-seq`.
    Exact(u64, u64),
}

/// A trimming strategy.
#[derive(Clone, Copy, Debug)]
enum Trim {
    MaxLen(usize),
    MinId(Id),
}

/// One step: the key index, then the command.
#[derive(Clone, Debug)]
enum Step {
    /// XADD key [NOMKSTREAM] [trim] id field value ...
    Add(usize, bool, Option<Trim>, AddId, Vec<(String, String)>),
    /// XDEL key id ...
    Del(usize, Vec<Id>),
    /// XTRIM key MAXLEN|MINID threshold
    Trim(usize, Trim),
    /// PEXPIRE key TTL_MS (kept by every later change: a stream is never deleted by them).
    Expire(usize),
}

/// Milliseconds around the clock, so that explicit IDs and `*` interleave.
fn ms() -> impl Strategy<Value = u64> {
    prop_oneof![3 => START_MS - 2..START_MS + 40, 1 => 1u64..4]
}

fn id() -> impl Strategy<Value = Id> {
    (ms(), 0u64..3)
}

fn trim() -> impl Strategy<Value = Trim> {
    prop_oneof![
        (0usize..5).prop_map(Trim::MaxLen),
        id().prop_map(Trim::MinId),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let k = || 0usize..2;
    let add_id = prop_oneof![
        3 => Just(AddId::Auto),
        1 => ms().prop_map(AddId::AutoSeq),
        3 => id().prop_map(|(ms, seq)| AddId::Exact(ms, seq)),
    ];
    let field = prop::sample::select(vec!["f", "g", ""]).prop_map(String::from);
    let value = prop::sample::select(vec!["1", "v", ""]).prop_map(String::from);
    prop_oneof![
        6 => (
            k(),
            prop::bool::weighted(0.2),
            prop::option::weighted(0.3, trim()),
            add_id,
            prop::collection::vec((field, value), 1..3),
        )
            .prop_map(|(k, nomk, trim, id, fields)| Step::Add(k, nomk, trim, id, fields)),
        2 => (k(), prop::collection::vec(id(), 1..3)).prop_map(|(k, ids)| Step::Del(k, ids)),
        1 => (k(), trim()).prop_map(|(k, t)| Step::Trim(k, t)),
        1 => k().prop_map(Step::Expire),
    ]
}

/// An ID as an argument.
fn show((ms, seq): Id) -> String {
    format!("{ms}-{seq}")
}

/// Trim arguments.
fn trim_args(trim: Trim) -> [String; 2] {
    match trim {
        Trim::MaxLen(n) => ["MAXLEN".into(), n.to_string()],
        Trim::MinId(id) => ["MINID".into(), show(id)],
    }
}

/// The command for a step on `key`.
fn command(key: &str, step: &Step) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    match step {
        Step::Add(_, nomkstream, trim, id, fields) => {
            args.extend(["XADD".to_string(), key.to_string()]);
            if *nomkstream {
                args.push("NOMKSTREAM".into());
            }
            if let Some(t) = trim {
                args.extend(trim_args(*t));
            }
            args.push(match id {
                AddId::Auto => "*".into(),
                AddId::AutoSeq(ms) => format!("{ms}-*"),
                AddId::Exact(ms, seq) => show((*ms, *seq)),
            });
            for (f, v) in fields {
                args.extend([f.clone(), v.clone()]);
            }
        }
        Step::Del(_, ids) => {
            args.extend(["XDEL".to_string(), key.to_string()]);
            args.extend(ids.iter().map(|id| show(*id)));
        }
        Step::Trim(_, t) => {
            args.extend(["XTRIM".to_string(), key.to_string()]);
            args.extend(trim_args(*t));
        }
        Step::Expire(_) => args.extend(["PEXPIRE", key, TTL_MS].map(String::from)),
    }
    args
}

/// Trims the model; returns how many entries went.
fn trim_model(s: &mut Model, trim: Trim) -> usize {
    let doomed: Vec<Id> = match trim {
        Trim::MaxLen(n) => {
            let extra = s.entries.len().saturating_sub(n);
            s.entries.keys().take(extra).copied().collect()
        }
        Trim::MinId(min) => s.entries.range(..min).map(|(id, _)| *id).collect(),
    };
    for id in &doomed {
        s.entries.remove(id);
    }
    doomed.len()
}

/// The reply the model gives to a step at `now`, applying it (None: the key is absent).
fn model_step(stream: &mut Option<Model>, step: &Step, now: u64) -> Reply {
    let int = |n: usize| Reply::Integer(n as i64);
    let too_small = || {
        Reply::Error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                .into(),
        )
    };
    match step {
        Step::Add(_, nomkstream, trim, id, fields) => {
            if stream.is_none() && *nomkstream {
                return Reply::Null;
            }
            let last = stream.as_ref().map_or((0, 0), |s| s.last);
            let new = match *id {
                AddId::Auto if now > last.0 => (now, 0),
                AddId::Auto => (last.0, last.1 + 1),
                AddId::AutoSeq(ms) if ms > last.0 => (ms, 0),
                AddId::AutoSeq(ms) if ms == last.0 => (ms, last.1 + 1),
                AddId::AutoSeq(_) => return too_small(),
                AddId::Exact(ms, seq) if (ms, seq) > last => (ms, seq),
                AddId::Exact(..) => return too_small(),
            };
            let s = stream.get_or_insert_with(Model::default);
            let flat = fields.iter().flat_map(|(f, v)| [f.clone(), v.clone()]);
            s.entries.insert(new, flat.collect());
            s.last = new;
            if let Some(t) = trim {
                trim_model(s, *t);
            }
            Reply::Bulk(show(new).into())
        }
        Step::Del(_, ids) => {
            let Some(s) = stream else { return int(0) };
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            int(ids
                .iter()
                .filter(|id| s.entries.remove(id).is_some())
                .count())
        }
        Step::Trim(_, t) => int(stream.as_mut().map_or(0, |s| trim_model(s, *t))),
        Step::Expire(_) => int(usize::from(stream.is_some())),
    }
}

/// Entries from an XRANGE reply: `(id, fields)`.
fn entries(reply: &Reply) -> Vec<(String, Vec<String>)> {
    let Reply::Array(items) = reply else {
        panic!("not an array: {reply:?}");
    };
    items
        .iter()
        .map(|entry| match entry {
            Reply::Array(pair) => match &pair[..] {
                [id, Reply::Array(fields)] => (
                    text(id).unwrap(),
                    fields.iter().map(|f| text(f).unwrap()).collect(),
                ),
                other => panic!("bad entry {other:?}"),
            },
            other => panic!("bad entry {other:?}"),
        })
        .collect()
}

/// One end of a range probe: None for `-`/`+`, else milliseconds, an optional sequence and
/// whether it is exclusive.
type Bound = Option<(u64, Option<u64>, bool)>;

/// A bound as an argument.
fn bound_arg(bound: Bound, start: bool) -> String {
    match bound {
        None if start => "-".into(),
        None => "+".into(),
        Some((ms, seq, excl)) => {
            let open = if excl { "(" } else { "" };
            match seq {
                Some(seq) => format!("{open}{ms}-{seq}"),
                None => format!("{open}{ms}"),
            }
        }
    }
}

/// The inclusive ID a bound stands for (a missing sequence is 0 at the start and the greatest
/// at the end; an exclusive bound moves one ID inwards).
fn bound_id(bound: Bound, start: bool) -> Id {
    match bound {
        None if start => (0, 0),
        None => (u64::MAX, u64::MAX),
        Some((ms, seq, excl)) => {
            let seq = seq.unwrap_or(if start { 0 } else { u64::MAX });
            match (excl, start) {
                (false, _) => (ms, seq),
                (true, true) if seq == u64::MAX => (ms + 1, 0),
                (true, true) => (ms, seq + 1),
                (true, false) if seq == 0 => (ms - 1, u64::MAX),
                (true, false) => (ms, seq - 1),
            }
        }
    }
}

fn bound() -> impl Strategy<Value = Bound> {
    prop::option::weighted(
        0.8,
        (ms(), prop::option::weighted(0.7, 0u64..3), any::<bool>()),
    )
}

/// A probe: start and end bounds and a COUNT.
type Probe = (Bound, Bound, Option<i64>);

/// Checks every read of `key` against the model.
fn check(store: &mut Store, key: &str, stream: &Option<Model>, probe: &Probe) {
    let empty = Model::default();
    let s = stream.as_ref().unwrap_or(&empty);
    let all: Vec<(String, Vec<String>)> = s
        .entries
        .iter()
        .map(|(id, f)| (show(*id), f.clone()))
        .collect();
    assert_eq!(
        entries(&run(store, &["XRANGE", key, "-", "+"])),
        all,
        "XRANGE"
    );
    let len = run(store, &["XLEN", key]);
    assert_eq!(len, Reply::Integer(all.len() as i64), "XLEN");
    let exists = run(store, &["EXISTS", key]);
    assert_eq!(
        exists,
        Reply::Integer(i64::from(stream.is_some())),
        "EXISTS"
    );
    // Exclusive bounds at every entry: what follows it, and what precedes it backwards.
    for (i, (id, _)) in all.iter().enumerate() {
        let open = format!("({id}");
        let after = entries(&run(store, &["XRANGE", key, &open, "+"]));
        assert_eq!(after, all[i + 1..], "XRANGE {open} +");
        let before = entries(&run(store, &["XREVRANGE", key, &open, "-"]));
        let expected: Vec<_> = all[..i].iter().rev().cloned().collect();
        assert_eq!(before, expected, "XREVRANGE {open} -");
    }
    let (start, end, count) = *probe;
    let (lo, hi) = (bound_id(start, true), bound_id(end, false));
    let mut selected: Vec<(String, Vec<String>)> = if lo > hi {
        Vec::new()
    } else {
        s.entries
            .range(lo..=hi)
            .map(|(id, f)| (show(*id), f.clone()))
            .collect()
    };
    let (a, b) = (bound_arg(start, true), bound_arg(end, false));
    let mut forward = vec!["XRANGE", key, &a, &b];
    let mut backward = vec!["XREVRANGE", key, &b, &a];
    let n = count.map(|c| c.to_string());
    if let Some(n) = &n {
        forward.extend(["COUNT", n]);
        backward.extend(["COUNT", n]);
    }
    let got = [run(store, &forward), run(store, &backward)];
    if count.is_some_and(|c| c <= 0) && stream.is_some() {
        // Redis 7.0 answers a null array to COUNT 0 (and a negative COUNT) on a stream.
        assert_eq!(got, [Reply::NullArray, Reply::NullArray], "{forward:?}");
        return;
    }
    let take = count.map_or(usize::MAX, |c| c.max(0) as usize);
    let mut reversed = selected.clone();
    reversed.reverse();
    reversed.truncate(take);
    selected.truncate(take);
    assert_eq!(entries(&got[0]), selected, "{forward:?}");
    assert_eq!(entries(&got[1]), reversed, "{backward:?}");
    check_wrongtype(store, key, "stream");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn streams_match_a_model(
        steps in prop::collection::vec((0u64..4, step()), 1..40),
        probe in (bound(), bound(), prop::option::of(-1i64..4)),
    ) {
        let mut store = Store::new();
        run(&mut store, &["SET", STRING_KEY, STRING_VALUE]);
        let mut models: [Option<Model>; 2] = [None, None];
        let mut ttls = [false, false];
        let mut now = START_MS;
        for (tick, step) in &steps {
            now += tick;
            let k = match step {
                Step::Add(k, ..) | Step::Del(k, _) | Step::Trim(k, _) | Step::Expire(k) => *k,
            };
            if !matches!(step, Step::Expire(_)) {
                let wrong = run_at(&mut store, now, &command(STRING_KEY, step));
                prop_assert_eq!(wrong, Reply::Error(WRONGTYPE.into()), "{:?} on a string", step);
            }
            let got = run_at(&mut store, now, &command(KEYS[k], step));
            let expected = model_step(&mut models[k], step, now);
            prop_assert_eq!(&got, &expected, "{:?} at {}", step, now);
            ttls[k] |= matches!(step, Step::Expire(_)) && models[k].is_some();
            check(&mut store, KEYS[k], &models[k], &probe);
            check_ttl(&mut store, KEYS[k], models[k].is_some(), ttls[k]);
        }
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert!(loaded == store, "snapshot round trip");
    }
}
