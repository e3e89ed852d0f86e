//! Hashes against a model: random HSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT and HRANDFIELD on
//! two keys, each checked against a `BTreeMap` of field → value; after every step HGET, HMGET,
//! HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS and HGETALL (compared as sets) agree with the model, an
//! emptied hash no longer exists, and the same command on a string key answers WRONGTYPE.

mod common;

use common::{
    check_ttl, check_wrongtype, run, run_at, text, texts, STRING_KEY, STRING_VALUE, TTL_MS,
    WRONGTYPE,
};
use kv::Store;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use resp::Reply;
use std::collections::{BTreeMap, BTreeSet};

/// The model of one hash.
type Model = BTreeMap<String, String>;

/// The fields the steps use, so that they collide.
const FIELDS: &[&str] = &["a", "b", "c", "dd", ""];

/// A field.
fn field() -> impl Strategy<Value = String> {
    prop::sample::select(FIELDS).prop_map(String::from)
}

/// A value: integers (one at the edge of the range), a float, text, empty.
fn value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1",
        "-3",
        "10",
        "2.5",
        "abc",
        "",
        "9223372036854775807",
    ])
    .prop_map(String::from)
}

/// One step.
#[derive(Clone, Debug)]
enum Step {
    /// HSET with pairs.
    Set(Vec<(String, String)>),
    /// HSETNX.
    SetNx(String, String),
    /// HDEL.
    Del(Vec<String>),
    /// HINCRBY.
    IncrBy(String, i64),
    /// HINCRBYFLOAT, the increment in quarters (exact in binary).
    IncrByFloat(String, i32),
    /// HRANDFIELD with no count, or a count and WITHVALUES.
    RandField(Option<(i64, bool)>),
    /// PEXPIRE key TTL_MS (kept by every later change, until the hash is emptied).
    Expire,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((field(), value()), 1..4).prop_map(Step::Set),
        2 => (field(), value()).prop_map(|(f, v)| Step::SetNx(f, v)),
        3 => prop::collection::vec(field(), 1..4).prop_map(Step::Del),
        2 => (field(), prop_oneof![4 => -5i64..5, 1 => Just(i64::MAX), 1 => Just(i64::MIN)])
            .prop_map(|(f, n)| Step::IncrBy(f, n)),
        2 => (field(), -8i32..8).prop_map(|(f, q)| Step::IncrByFloat(f, q)),
        2 => prop::option::of((-7i64..7, any::<bool>())).prop_map(Step::RandField),
        1 => Just(Step::Expire),
    ]
}

/// The command for a step.
fn command(key: &str, step: &Step) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut push = |s: &str| args.push(s.to_string());
    match step {
        Step::Set(pairs) => {
            push("HSET");
            push(key);
            for (f, v) in pairs {
                push(f);
                push(v);
            }
        }
        Step::SetNx(f, v) => ["HSETNX", key, f, v].into_iter().for_each(push),
        Step::Del(fields) => {
            push("HDEL");
            push(key);
            fields.iter().for_each(|f| push(f));
        }
        Step::IncrBy(f, n) => ["HINCRBY", key, f, &n.to_string()]
            .into_iter()
            .for_each(push),
        Step::IncrByFloat(f, q) => ["HINCRBYFLOAT", key, f, &quarters(*q).to_string()]
            .into_iter()
            .for_each(push),
        Step::RandField(count) => {
            push("HRANDFIELD");
            push(key);
            if let Some((n, withvalues)) = count {
                push(&n.to_string());
                if *withvalues {
                    push("WITHVALUES");
                }
            }
        }
        Step::Expire => ["PEXPIRE", key, TTL_MS].into_iter().for_each(push),
    }
    args
}

/// `q` quarters as a float.
fn quarters(q: i32) -> f64 {
    f64::from(q) / 4.0
}

/// Checks the store's reply to a step against the model, and applies the step to the model.
fn model_step(model: &mut Model, step: &Step, got: &Reply) -> Result<(), TestCaseError> {
    let int = |n: usize| Reply::Integer(n as i64);
    let err = |e: &str| Reply::Error(e.to_string());
    match step {
        Step::Set(pairs) => {
            let mut added = 0;
            for (f, v) in pairs {
                if model.insert(f.clone(), v.clone()).is_none() {
                    added += 1;
                }
            }
            prop_assert_eq!(got, &int(added));
        }
        Step::SetNx(f, v) => {
            let new = !model.contains_key(f);
            if new {
                model.insert(f.clone(), v.clone());
            }
            prop_assert_eq!(got, &int(usize::from(new)));
        }
        Step::Del(fields) => {
            let removed = fields.iter().filter(|f| model.remove(*f).is_some()).count();
            prop_assert_eq!(got, &int(removed));
        }
        Step::IncrBy(f, n) => {
            let old = model.get(f).map_or(Some(0), |v| v.parse::<i64>().ok());
            let expected = match old {
                None => err("ERR hash value is not an integer"),
                Some(old) => match old.checked_add(*n) {
                    None => err("ERR increment or decrement would overflow"),
                    Some(new) => {
                        model.insert(f.clone(), new.to_string());
                        Reply::Integer(new)
                    }
                },
            };
            prop_assert_eq!(got, &expected);
        }
        Step::IncrByFloat(f, q) => {
            let old = model.get(f).map_or(Some(0.0), |v| v.parse::<f64>().ok());
            match old {
                None => prop_assert_eq!(got, &err("ERR hash value is not a float")),
                Some(old) => {
                    let new = old + quarters(*q);
                    let answer = text(got);
                    let answer = answer.as_deref().unwrap_or("nil");
                    // Results keep 15 significant digits (see the `numbers` module).
                    let value: f64 = answer.parse().unwrap_or(f64::NAN);
                    let close = (value - new).abs() <= 1e-14 * new.abs().max(1.0);
                    prop_assert!(close, "{} answered, {} expected", answer, new);
                    prop_assert!(answer != "-0", "HINCRBYFLOAT answered -0");
                    model.insert(f.clone(), answer.to_string());
                }
            }
        }
        Step::RandField(None) => match text(got) {
            None => prop_assert!(model.is_empty()),
            Some(f) => prop_assert!(model.contains_key(&f), "{} not in the hash", f),
        },
        Step::RandField(Some((count, withvalues))) => {
            let items = texts(got);
            let fields: Vec<&String> = if *withvalues {
                for pair in items.chunks(2) {
                    prop_assert_eq!(model.get(&pair[0]), Some(&pair[1]), "pair {:?}", pair);
                }
                items.iter().step_by(2).collect()
            } else {
                items.iter().collect()
            };
            for f in &fields {
                prop_assert!(model.contains_key(*f), "{} not in the hash", f);
            }
            if *count >= 0 {
                let distinct: BTreeSet<&&String> = fields.iter().collect();
                prop_assert_eq!(distinct.len(), fields.len(), "repeated fields");
                prop_assert_eq!(fields.len(), (*count as usize).min(model.len()));
            } else if model.is_empty() {
                prop_assert!(fields.is_empty());
            } else {
                prop_assert_eq!(fields.len(), count.unsigned_abs() as usize);
            }
        }
        Step::Expire => prop_assert_eq!(got, &int(usize::from(!model.is_empty()))),
    }
    Ok(())
}

/// Checks every read of `key` against the model.
fn check(store: &mut Store, key: &str, model: &Model) {
    let len = run(store, &["HLEN", key]);
    assert_eq!(len, Reply::Integer(model.len() as i64), "HLEN");
    let exists = run(store, &["EXISTS", key]);
    assert_eq!(
        exists,
        Reply::Integer(i64::from(!model.is_empty())),
        "EXISTS"
    );
    let all = texts(&run(store, &["HGETALL", key]));
    let pairs: BTreeMap<String, String> = all
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    assert_eq!(all.len(), model.len() * 2, "HGETALL repeats a field");
    assert_eq!(&pairs, model, "HGETALL");
    let keys: BTreeSet<String> = texts(&run(store, &["HKEYS", key])).into_iter().collect();
    assert_eq!(keys, model.keys().cloned().collect(), "HKEYS");
    let mut vals = texts(&run(store, &["HVALS", key]));
    vals.sort();
    let mut expected: Vec<String> = model.values().cloned().collect();
    expected.sort();
    assert_eq!(vals, expected, "HVALS");
    let mut hmget = vec!["HMGET", key];
    hmget.extend(FIELDS);
    let Reply::Array(got) = run(store, &hmget) else {
        panic!("HMGET")
    };
    for (f, reply) in FIELDS.iter().zip(&got) {
        let value = model.get(*f);
        assert_eq!(text(reply).as_ref(), value, "HMGET {f}");
        assert_eq!(text(&run(store, &["HGET", key, f])).as_ref(), value, "HGET");
        let exists = run(store, &["HEXISTS", key, f]);
        assert_eq!(
            exists,
            Reply::Integer(i64::from(value.is_some())),
            "HEXISTS"
        );
        let strlen = run(store, &["HSTRLEN", key, f]);
        assert_eq!(strlen, Reply::Integer(value.map_or(0, |v| v.len() as i64)));
    }
    check_wrongtype(store, key, "hash");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn hashes_match_a_model(steps in prop::collection::vec((0usize..2, step()), 1..40)) {
        let keys = ["h1", "h2"];
        let mut store = Store::new();
        run(&mut store, &["SET", STRING_KEY, STRING_VALUE]);
        let mut models = [Model::new(), Model::new()];
        let mut ttls = [false, false];
        for (k, step) in &steps {
            let got = run_at(&mut store, 1000, &command(keys[*k], step));
            model_step(&mut models[*k], step, &got)?;
            if !matches!(step, Step::Expire) {
                let wrong = run_at(&mut store, 1000, &command(STRING_KEY, step));
                prop_assert_eq!(wrong, Reply::Error(WRONGTYPE.into()), "{:?} on a string", step);
            }
            ttls[*k] = (ttls[*k] || matches!(step, Step::Expire)) && !models[*k].is_empty();
            check(&mut store, keys[*k], &models[*k]);
            check_ttl(&mut store, keys[*k], !models[*k].is_empty(), ttls[*k]);
        }
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert!(loaded == store, "snapshot round trip");
    }
}
