//! SCAN's guarantee under concurrent change: a key present for the whole iteration is returned,
//! the iteration ends, and cursors are never 0 before the end.

use bytes::Bytes;
use kv::{Command, Store};
use proptest::prelude::*;
use resp::Reply;
use std::collections::BTreeSet;

/// Runs one SCAN; returns the next cursor and the keys.
fn scan(store: &Store, cursor: &Bytes, count: u64) -> (Bytes, Vec<Bytes>) {
    let args = [
        Bytes::from("SCAN"),
        cursor.clone(),
        Bytes::from("COUNT"),
        Bytes::from(count.to_string()),
    ];
    let reply = store.query(0, &Command::parse(&args).unwrap());
    let Reply::Array(parts) = reply else {
        panic!("{reply:?}")
    };
    let [Reply::Bulk(next), Reply::Array(keys)] = parts.as_slice() else {
        panic!("{parts:?}")
    };
    let keys = keys
        .iter()
        .map(|k| match k {
            Reply::Bulk(k) => k.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    (next.clone(), keys)
}

/// Applies a command given as text.
fn apply(store: &mut Store, args: &[String]) {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
    store.apply(0, &Command::parse(&args).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn stable_keys_are_always_returned(
        stable in prop::collection::btree_set(0u32..300, 0..60),
        volatile in prop::collection::btree_set(300u32..600, 0..60),
        changes in prop::collection::vec((any::<bool>(), 300u32..700), 0..200),
        count in 1u64..8,
    ) {
        let mut store = Store::new();
        for n in stable.iter().chain(&volatile) {
            apply(&mut store, &["SET".into(), format!("k{n}"), "v".into()]);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = Bytes::from("0");
        let mut changes = changes.into_iter();
        let mut calls = 0;
        loop {
            let (next, keys) = scan(&store, &cursor, count);
            seen.extend(keys);
            calls += 1;
            prop_assert!(calls < 10_000, "SCAN does not end");
            if next.as_ref() == b"0" {
                break;
            }
            let next_value: u64 = std::str::from_utf8(&next).unwrap().parse().unwrap();
            let this_value: u64 = std::str::from_utf8(&cursor).unwrap().parse().unwrap();
            prop_assert!(next_value > this_value, "cursor went from {this_value} to {next_value}");
            cursor = next;
            // Between calls, add or delete some non-stable keys.
            for (add, n) in changes.by_ref().take(3) {
                let cmd = if add { "SET" } else { "DEL" };
                let mut args = vec![cmd.to_string(), format!("k{n}")];
                if add {
                    args.push("v".into());
                }
                apply(&mut store, &args);
            }
        }
        for n in &stable {
            let key = Bytes::from(format!("k{n}"));
            prop_assert!(seen.contains(&key), "stable key {n} missed");
        }
    }
}
