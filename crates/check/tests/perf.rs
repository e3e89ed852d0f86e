//! Checker throughput on large simulated histories. Ignored by default; run with
//! `cargo test -p raftkv-check --release -- --ignored --nocapture` and read the printed numbers.

mod common;

use std::time::{Duration, Instant};

use check::{check, CheckOptions, Command, History, Model, Outcome, Value, Verdict};
use common::gen::{simulate, Sim};

fn options(model: Model) -> CheckOptions {
    CheckOptions {
        model,
        time_limit: Duration::from_secs(600),
        shrink_time_limit: Duration::from_secs(60),
        ..CheckOptions::default()
    }
}

/// Times JSONL encoding and decoding of `history`, returning the decoded copy.
fn round_trip(name: &str, history: &History) -> History {
    let started = Instant::now();
    let mut bytes = Vec::new();
    history.write_jsonl(&mut bytes).unwrap();
    let written = started.elapsed();
    let started = Instant::now();
    let back = History::read_jsonl(bytes.as_slice()).unwrap();
    println!(
        "{name}: {} ops, {:.1} MiB of JSONL, write {:.2}s, read+validate {:.2}s",
        history.len(),
        bytes.len() as f64 / (1 << 20) as f64,
        written.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(&back, history);
    back
}

fn timed(name: &str, history: &History, model: Model) -> Verdict {
    let started = Instant::now();
    let verdict = check(history, &options(model)).unwrap();
    println!(
        "{name}: {} in {:.2}s",
        verdict.summary(),
        started.elapsed().as_secs_f64()
    );
    verdict
}

fn register_sim() -> Sim {
    Sim {
        ops: 100_000,
        keys: 50,
        clients: 8,
        append: false,
        skew: 2.0,
        info_per_mille: 10,
        fail_per_mille: 5,
        seed: 7,
    }
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn register_100k() {
    let history = round_trip("register history", &simulate(&register_sim()));
    let by_key = history.by_key();
    let hottest = by_key.values().map(Vec::len).max().unwrap_or(0);
    println!(
        "register history: {} keys, hottest key has {hottest} ops",
        by_key.len()
    );
    assert!(timed("register model", &history, Model::Register).is_linearizable());
    // Same history with one read broken: find, shrink and explain the violation.
    let victim = history
        .ops()
        .iter()
        .position(|op| {
            op.key == "k0"
                && op.command.is_read()
                && op.call_ns > 1_000_000_000
                && matches!(op.outcome.value(), Some(Value::Str(_)))
        })
        .expect("a read on the hot key");
    // A stale read: the value of a write on the same key that finished long before.
    let old_write = history
        .ops()
        .iter()
        .filter(|op| op.key == "k0" && matches!(op.command, Command::Set(_)))
        .filter(|op| op.outcome.value().is_some())
        .find(|op| {
            op.ret_ns
                .is_some_and(|r| r + 100_000_000 < history.ops()[victim].call_ns)
        })
        .expect("an old write");
    let stale = old_write.command.arg().unwrap().to_string();
    for (what, value) in [
        ("a value never written", "never"),
        ("a stale value", &stale),
    ] {
        let mut ops = history.ops().to_vec();
        ops[victim].outcome = Outcome::ok(Value::from(value));
        let broken = History::from_ops(ops);
        match timed(
            &format!("register model, one read of {what}"),
            &broken,
            Model::Register,
        ) {
            Verdict::Violation { window, .. } => println!("  window: {} ops", window.len()),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn append_100k() {
    let sim = Sim {
        keys: 200,
        append: true,
        skew: 1.0,
        ..register_sim()
    };
    let history = round_trip("append history", &simulate(&sim));
    assert!(timed("append model", &history, Model::Append).is_linearizable());
    let small: History = history
        .ops()
        .iter()
        .filter(|op| op.key.len() == 2)
        .cloned()
        .collect();
    let started = Instant::now();
    assert!(timed("append model, keys k0..k9", &small, Model::Append).is_linearizable());
    let linear = started.elapsed();
    let started = Instant::now();
    assert!(timed("register model, keys k0..k9", &small, Model::Register).is_linearizable());
    println!(
        "  register search / append checker on the same {} ops: {:.0}x",
        small.len(),
        started.elapsed().as_secs_f64() / linear.as_secs_f64().max(1e-9)
    );
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn register_100k_one_key() {
    // The worst case for the memo: every operation on one key, and a contended pair of keys.
    for (keys, clients, info_per_mille) in [(1, 8, 10), (2, 16, 30)] {
        let sim = Sim {
            keys,
            clients,
            info_per_mille,
            skew: 1.0,
            ..register_sim()
        };
        let name = format!("register model, {keys} key(s), {clients} clients");
        assert!(timed(&name, &simulate(&sim), Model::Register).is_linearizable());
    }
}
