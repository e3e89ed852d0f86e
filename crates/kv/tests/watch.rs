//! WATCH versions as properties over random logs: an unchanged version means an unchanged key
//! (so EXEC never misses a change), and replicas decide WATCH guards alike, also after one of
//! them restarts from a snapshot.

mod common;

use bytes::Bytes;
use kv::{Command, Store};
use proptest::prelude::*;
use resp::Reply;

/// The keys the generators in `common` use most.
const KEYS: &[&str] = &["a", "b", "c", "d", "e", "k1", "k2", ""];

/// Parses a command that must parse.
fn cmd(args: &[&str]) -> Command {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
    Command::parse(&args).unwrap()
}

/// Everything a client can see of `key` at `now`: type, deadline and contents.
fn observe(store: &Store, now: u64, key: &str) -> Vec<Reply> {
    let kind = store.query(now, &cmd(&["TYPE", key]));
    let contents = match &kind {
        Reply::Simple(t) if t == "string" => cmd(&["GET", key]),
        Reply::Simple(t) if t == "list" => cmd(&["LRANGE", key, "0", "-1"]),
        Reply::Simple(t) if t == "hash" => cmd(&["HGETALL", key]),
        Reply::Simple(t) if t == "set" => cmd(&["SMEMBERS", key]),
        Reply::Simple(t) if t == "zset" => cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        _ => cmd(&["EXISTS", key]),
    };
    vec![
        kind,
        store.query(now, &cmd(&["PEXPIRETIME", key])),
        store.query(now, &contents),
    ]
}

/// The current version of every key in [`KEYS`].
fn versions(store: &Store, now: u64) -> Vec<(Bytes, i64)> {
    KEYS.iter()
        .map(|key| {
            let key = Bytes::from(key.to_string());
            let version = store.watch_version(now, &key);
            (key, version)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Soundness of WATCH: after any random log, a key whose version is the one recorded at
    /// WATCH time looks exactly as it did then. (The store's clock never goes back, so a read
    /// at the clock is what EXEC's guard sees.)
    #[test]
    fn unchanged_version_means_unchanged_key(
        steps in prop::collection::vec(common::step(), 1..150),
        watch_at in any::<prop::sample::Index>(),
    ) {
        let watch_at = watch_at.index(steps.len());
        let mut store = Store::new();
        let mut watched: Vec<(i64, Vec<Reply>)> = Vec::new();
        for (i, (now, command)) in steps.iter().enumerate() {
            if i == watch_at {
                let clock = store.clock_ms();
                watched = KEYS
                    .iter()
                    .map(|key| {
                        let version = store.watch_version(clock, &Bytes::from(key.to_string()));
                        (version, observe(&store, clock, key))
                    })
                    .collect();
            }
            store.apply(*now, command);
            if i >= watch_at {
                let clock = store.clock_ms();
                for (key, (version, seen)) in KEYS.iter().zip(&watched) {
                    if store.watch_version(clock, &Bytes::from(key.to_string())) == *version {
                        prop_assert_eq!(
                            &observe(&store, clock, key), seen,
                            "key {:?} changed after {:?} but kept version {}", key, command, version
                        );
                    }
                }
            }
        }
    }

    /// Two replicas apply the same log, in which some entries are EXECs guarded by versions
    /// read a few entries earlier; one replica restarts from a snapshot part-way. Every guard
    /// is decided alike and the states agree.
    #[test]
    fn replicas_decide_guards_alike(
        steps in prop::collection::vec(common::step(), 0..150),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(steps.len() + 1);
        let mut a = Store::new();
        let mut b = Store::new();
        let mut seen = versions(&a, 0);
        for (i, (now, command)) in steps.iter().enumerate() {
            if i == cut {
                b = Store::read_snapshot(&mut {
                    let mut bytes = Vec::new();
                    b.write_snapshot(&mut bytes).unwrap();
                    bytes
                }.as_slice()).unwrap();
            }
            if i % 5 == 0 {
                seen = versions(&a, a.clock_ms());
            }
            let batch = if i % 3 == 0 {
                vec![Command::WatchGuard { watched: seen.clone() }, command.clone()]
            } else {
                vec![command.clone()]
            };
            let replies_a = a.apply_batch(*now, &batch);
            let replies_b = b.apply_batch(*now, &batch);
            prop_assert_eq!(&replies_a, &replies_b, "batch {:?} at {}", batch, now);
            if batch.len() == 2 && replies_a[0] == kv::WATCH_ABORTED {
                prop_assert_eq!(&replies_a[1], &kv::WATCH_ABORTED, "skipped after the guard");
            }
        }
        prop_assert_eq!(&a, &b);
    }
}

/// A watched key changed by an unrelated-looking path (RENAME onto it, a flush) is caught; a
/// write to another key is not a change.
#[test]
fn rename_and_flush_change_versions() {
    let mut store = Store::new();
    store.apply(1, &cmd(&["SET", "x", "1"]));
    store.apply(1, &cmd(&["SET", "y", "2"]));
    let x = Bytes::from("x");
    let before = store.watch_version(1, &x);
    store.apply(1, &cmd(&["SET", "z", "3"]));
    assert_eq!(store.watch_version(1, &x), before, "another key's write");
    store.apply(1, &cmd(&["RENAME", "y", "x"]));
    let renamed = store.watch_version(1, &x);
    assert_ne!(renamed, before, "RENAME onto the key");
    store.apply(1, &cmd(&["FLUSHDB"]));
    assert_ne!(store.watch_version(1, &x), renamed, "FLUSHDB");
}
