//! Sets against a model: random SADD, SREM, SMOVE, SINTERSTORE/SUNIONSTORE/SDIFFSTORE, SPOP
//! and SRANDMEMBER (with and without a count) on two keys, each a `BTreeSet`; after every step
//! SMEMBERS, SCARD, SISMEMBER, SMISMEMBER, SINTER/SUNION/SDIFF (with a missing key among
//! them) and SINTERCARD with LIMIT agree with the model, random draws are members in the
//! counts Redis gives, an emptied set no longer exists, and the same command on a string key
//! answers WRONGTYPE.

mod common;

use common::{
    check_ttl, check_wrongtype, run, run_at, text, texts, STRING_KEY, STRING_VALUE, TTL_MS,
    WRONGTYPE,
};
use kv::Store;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use resp::Reply;
use std::collections::BTreeSet;

/// The model of one set.
type Model = BTreeSet<String>;

/// The set keys; the third is never written (a missing key in the algebra).
const KEYS: [&str; 3] = ["s1", "s2", "s3"];

/// The members the steps use.
const MEMBERS: &[&str] = &["a", "b", "c", "d", "e", ""];

fn member() -> impl Strategy<Value = String> {
    prop::sample::select(MEMBERS).prop_map(String::from)
}

/// Set algebra.
#[derive(Clone, Copy, Debug)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

impl Algebra {
    fn name(self) -> &'static str {
        match self {
            Algebra::Inter => "SINTER",
            Algebra::Union => "SUNION",
            Algebra::Diff => "SDIFF",
        }
    }

    /// The operation on the model's sets, in order.
    fn of(self, sets: &[&Model]) -> Model {
        let mut acc = sets[0].clone();
        for s in &sets[1..] {
            acc = match self {
                Algebra::Inter => acc.intersection(s).cloned().collect(),
                Algebra::Union => acc.union(s).cloned().collect(),
                Algebra::Diff => acc.difference(s).cloned().collect(),
            };
        }
        acc
    }
}

/// One step; `usize` fields are key indexes into [`KEYS`].
#[derive(Clone, Debug)]
enum Step {
    Add(usize, Vec<String>),
    Rem(usize, Vec<String>),
    /// SMOVE src dst member.
    Move(usize, usize, String),
    /// The STORE form: destination (0 or 1) and sources.
    Store(Algebra, usize, Vec<usize>),
    /// SPOP with an optional count.
    Pop(usize, Option<usize>),
    /// SRANDMEMBER with an optional count.
    RandMember(usize, Option<i64>),
    /// PEXPIRE key TTL_MS (kept by every later change, until the set is emptied or replaced
    /// by a STORE).
    Expire(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let k = || 0usize..2;
    let algebra = prop::sample::select(vec![Algebra::Inter, Algebra::Union, Algebra::Diff]);
    prop_oneof![
        5 => (k(), prop::collection::vec(member(), 1..4)).prop_map(|(k, m)| Step::Add(k, m)),
        3 => (k(), prop::collection::vec(member(), 1..3)).prop_map(|(k, m)| Step::Rem(k, m)),
        2 => (k(), k(), member()).prop_map(|(a, b, m)| Step::Move(a, b, m)),
        2 => (algebra, k(), prop::collection::vec(0usize..3, 1..4))
            .prop_map(|(op, d, src)| Step::Store(op, d, src)),
        2 => (k(), prop::option::of(0usize..4)).prop_map(|(k, n)| Step::Pop(k, n)),
        2 => (k(), prop::option::of(-7i64..7)).prop_map(|(k, n)| Step::RandMember(k, n)),
        1 => k().prop_map(Step::Expire),
    ]
}

/// The command for a step, and the index of its first source key among the arguments.
fn command(step: &Step) -> (Vec<String>, usize) {
    let mut args: Vec<String> = Vec::new();
    let mut source = 1;
    match step {
        Step::Add(k, members) | Step::Rem(k, members) => {
            let name = if matches!(step, Step::Add(..)) {
                "SADD"
            } else {
                "SREM"
            };
            args.extend([name.to_string(), KEYS[*k].to_string()]);
            args.extend(members.iter().cloned());
        }
        Step::Move(a, b, m) => args.extend(["SMOVE", KEYS[*a], KEYS[*b], m].map(String::from)),
        Step::Store(op, dst, sources) => {
            args.extend([format!("{}STORE", op.name()), KEYS[*dst].to_string()]);
            args.extend(sources.iter().map(|k| KEYS[*k].to_string()));
            source = 2;
        }
        Step::Pop(k, count) => {
            args.extend(["SPOP".to_string(), KEYS[*k].to_string()]);
            args.extend(count.map(|n| n.to_string()));
        }
        Step::RandMember(k, count) => {
            args.extend(["SRANDMEMBER".to_string(), KEYS[*k].to_string()]);
            args.extend(count.map(|n| n.to_string()));
        }
        Step::Expire(k) => args.extend(["PEXPIRE", KEYS[*k], TTL_MS].map(String::from)),
    }
    (args, source)
}

/// Checks the store's reply to a step against the model, and applies the step to the model.
fn model_step(models: &mut [Model; 3], step: &Step, got: &Reply) -> Result<(), TestCaseError> {
    let int = |n: usize| Reply::Integer(n as i64);
    match step {
        Step::Add(k, members) => {
            let added = members
                .iter()
                .filter(|m| models[*k].insert(m.to_string()))
                .count();
            prop_assert_eq!(got, &int(added));
        }
        Step::Rem(k, members) => {
            let removed = members.iter().filter(|m| models[*k].remove(*m)).count();
            prop_assert_eq!(got, &int(removed));
        }
        Step::Move(a, b, m) => {
            let moved = models[*a].remove(m);
            if moved {
                models[*b].insert(m.clone());
            }
            prop_assert_eq!(got, &int(usize::from(moved)));
        }
        Step::Store(op, dst, sources) => {
            let sets: Vec<&Model> = sources.iter().map(|k| &models[*k]).collect();
            let result = op.of(&sets);
            prop_assert_eq!(got, &int(result.len()));
            models[*dst] = result;
        }
        Step::Pop(k, None) => match text(got) {
            None => prop_assert!(models[*k].is_empty()),
            Some(m) => prop_assert!(models[*k].remove(&m), "{:?} popped, not a member", m),
        },
        Step::Pop(k, Some(n)) => {
            let popped = texts(got);
            let expected = (*n).min(models[*k].len());
            prop_assert_eq!(popped.len(), expected, "SPOP count");
            for m in &popped {
                prop_assert!(models[*k].remove(m), "{:?} popped twice or not a member", m);
            }
        }
        Step::RandMember(k, None) => match text(got) {
            None => prop_assert!(models[*k].is_empty()),
            Some(m) => prop_assert!(models[*k].contains(&m), "{:?} not a member", m),
        },
        Step::RandMember(k, Some(n)) => {
            let drawn = texts(got);
            let set = &models[*k];
            for m in &drawn {
                prop_assert!(set.contains(m), "{:?} not a member", m);
            }
            if *n >= 0 {
                let distinct: BTreeSet<&String> = drawn.iter().collect();
                prop_assert_eq!(distinct.len(), drawn.len(), "repeated members");
                prop_assert_eq!(drawn.len(), (*n as usize).min(set.len()));
            } else if set.is_empty() {
                prop_assert!(drawn.is_empty());
            } else {
                prop_assert_eq!(drawn.len(), n.unsigned_abs() as usize);
            }
        }
        Step::Expire(k) => prop_assert_eq!(got, &int(usize::from(!models[*k].is_empty()))),
    }
    Ok(())
}

/// A sorted list of members from a reply.
fn sorted(reply: &Reply) -> Vec<String> {
    let mut items = texts(reply);
    items.sort();
    items
}

/// Checks every read against the models (both keys and the algebra between them).
fn check(store: &mut Store, models: &[Model; 3], limit: usize) {
    for (key, set) in KEYS.iter().zip(models) {
        let all: Vec<String> = set.iter().cloned().collect();
        assert_eq!(sorted(&run(store, &["SMEMBERS", key])), all, "SMEMBERS");
        let card = run(store, &["SCARD", key]);
        assert_eq!(card, Reply::Integer(all.len() as i64), "SCARD");
        let exists = run(store, &["EXISTS", key]);
        assert_eq!(exists, Reply::Integer(i64::from(!all.is_empty())), "EXISTS");
        let mut smismember = vec!["SMISMEMBER", key];
        smismember.extend(MEMBERS);
        let Reply::Array(flags) = run(store, &smismember) else {
            panic!("SMISMEMBER")
        };
        assert_eq!(flags.len(), MEMBERS.len());
        for (m, flag) in MEMBERS.iter().zip(flags) {
            let expected = Reply::Integer(i64::from(set.contains(*m)));
            assert_eq!(flag, expected, "SMISMEMBER {m}");
            assert_eq!(run(store, &["SISMEMBER", key, m]), expected, "SISMEMBER");
        }
        check_wrongtype(store, key, "set");
    }
    for keys in [[0, 1, 2], [1, 0, 2], [2, 0, 1]] {
        for n in 2..=3 {
            let names: Vec<&str> = keys[..n].iter().map(|k| KEYS[*k]).collect();
            let sets: Vec<&Model> = keys[..n].iter().map(|k| &models[*k]).collect();
            for op in [Algebra::Inter, Algebra::Union, Algebra::Diff] {
                let mut args = vec![op.name()];
                args.extend(&names);
                let expected: Vec<String> = op.of(&sets).into_iter().collect();
                assert_eq!(sorted(&run(store, &args)), expected, "{args:?}");
            }
            let count = n.to_string();
            let lim = limit.to_string();
            let mut args = vec!["SINTERCARD", &count];
            args.extend(&names);
            args.extend(["LIMIT", &lim]);
            let size = Algebra::Inter.of(&sets).len();
            let expected = if limit == 0 { size } else { size.min(limit) };
            let got = run(store, &args);
            assert_eq!(got, Reply::Integer(expected as i64), "{args:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sets_match_a_model(steps in prop::collection::vec(step(), 1..40), limit in 0usize..3) {
        let mut store = Store::new();
        run(&mut store, &["SET", STRING_KEY, STRING_VALUE]);
        let mut models = [Model::new(), Model::new(), Model::new()];
        let mut ttls = [false; 3];
        for step in &steps {
            if !matches!(step, Step::Expire(_)) {
                // The string key in place of the first source: WRONGTYPE, nothing changes.
                let (mut args, source) = command(step);
                args[source] = STRING_KEY.to_string();
                let wrong = run_at(&mut store, 1000, &args);
                prop_assert_eq!(wrong, Reply::Error(WRONGTYPE.into()), "{:?} on a string", args);
            }
            if let Step::Move(a, _, m) = step {
                // SMOVE into a string: WRONGTYPE, unless the source is missing (Redis answers
                // 0 then, without looking at the destination).
                let args = ["SMOVE", KEYS[*a], STRING_KEY, m].map(String::from);
                let expected = if models[*a].is_empty() {
                    Reply::Integer(0)
                } else {
                    Reply::Error(WRONGTYPE.into())
                };
                prop_assert_eq!(run_at(&mut store, 1000, &args), expected, "SMOVE into a string");
            }
            let got = run_at(&mut store, 1000, &command(step).0);
            model_step(&mut models, step, &got)?;
            match step {
                Step::Expire(k) => ttls[*k] |= !models[*k].is_empty(),
                Step::Store(_, dst, _) => ttls[*dst] = false,
                _ => {}
            }
            check(&mut store, &models, limit);
            for (k, key) in KEYS.iter().enumerate() {
                ttls[k] &= !models[k].is_empty();
                check_ttl(&mut store, key, !models[k].is_empty(), ttls[k]);
            }
        }
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert!(loaded == store, "snapshot round trip");
    }
}

/// SPOP with a count answers a set (RESP3 `~`), even for a missing key or a count of 0;
/// SRANDMEMBER with a count answers an array (it may repeat members), as Redis 7.0 does.
#[test]
fn spop_with_a_count_answers_a_set() {
    let mut store = Store::new();
    let empty_set = Reply::Set(Vec::new());
    assert_eq!(run(&mut store, &["SPOP", "missing", "2"]), empty_set);
    assert_eq!(
        run(&mut store, &["SRANDMEMBER", "missing", "2"]),
        Reply::Array(Vec::new())
    );
    run(&mut store, &["SADD", "s", "a"]);
    assert_eq!(run(&mut store, &["SPOP", "s", "0"]), empty_set);
    assert_eq!(
        run(&mut store, &["SRANDMEMBER", "s", "0"]),
        Reply::Array(Vec::new())
    );
    assert!(matches!(run(&mut store, &["SPOP", "s", "1"]), Reply::Set(m) if m.len() == 1));
}
