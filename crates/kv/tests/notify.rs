//! Keyspace notifications are part of the replicated behaviour: replicas that apply the same
//! log publish the same messages in the same order, whether they applied every entry, restarted
//! from a snapshot part-way (the setting travels in it) or were cloned. The event table itself
//! is checked by the goldenscripts `tests/scripts/notify` and `notify_expiry` (against Redis
//! with `tests/tools/redis_check.py`).

mod common;

use bytes::Bytes;
use common::restart;
use kv::notify::{parse_config, NotifyFlags};
use kv::{Command, Store};
use proptest::prelude::*;

/// `CONFIG SET notify-keyspace-events <flags>` as the node parses it.
fn config_set(flags: &str) -> Command {
    let args: Vec<Bytes> = ["CONFIG", "SET", "notify-keyspace-events", flags]
        .iter()
        .map(|a| Bytes::from(a.to_string()))
        .collect();
    parse_config(&args).unwrap().unwrap()
}

/// A step of the log: mostly the data commands of the other determinism tests, sometimes a
/// change of the setting.
fn step() -> impl Strategy<Value = (u64, Command)> {
    let flags = prop::sample::select(vec!["KEA", "KEAn", "Kgx", "E$lshzt", "", "AKEm"]);
    prop_oneof![
        20 => common::step(),
        1 => (0u64..6000, flags.prop_map(config_set)),
    ]
}

/// Applies `cmd` and returns its reply and messages.
fn apply(store: &mut Store, now: u64, cmd: &Command) -> (resp::Reply, Vec<(Bytes, Bytes)>) {
    let mut messages = Vec::new();
    let reply = store.apply_publishing(now, cmd, &mut messages);
    (reply, messages)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Three replicas apply the same random log with notifications on: `a` all of it, `b`
    /// restarting from a snapshot at a random point, `c` cloned from `a` at another. Every
    /// command publishes the same messages on all three.
    #[test]
    fn replicas_publish_the_same_messages(
        steps in prop::collection::vec(step(), 0..150),
        cut in any::<prop::sample::Index>(),
        fork in any::<prop::sample::Index>(),
    ) {
        let (cut, fork) = (cut.index(steps.len() + 1), fork.index(steps.len() + 1));
        let mut a = Store::new();
        a.apply(0, &config_set("KEAn"));
        let mut b = a.clone();
        let mut c = None;
        for (i, (now, cmd)) in steps.iter().enumerate() {
            if i == cut {
                b = restart(&b);
            }
            if i == fork {
                c = Some(a.clone());
            }
            let from_a = apply(&mut a, *now, cmd);
            let from_b = apply(&mut b, *now, cmd);
            prop_assert_eq!(&from_a, &from_b, "command {:?} at {}", cmd, now);
            if let Some(c) = c.as_mut() {
                prop_assert_eq!(&from_a, &apply(c, *now, cmd), "command {:?} at {}", cmd, now);
            }
        }
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.notify_flags(), b.notify_flags());
    }
}

/// The log above does notify: a fixed log's messages, as a control that the property compares
/// something (and that `apply` outside a script drops messages without keeping them).
#[test]
fn a_fixed_log_notifies_and_plain_apply_keeps_nothing() {
    let mut store = Store::new();
    store.apply(1000, &config_set("KEA"));
    let set = |key: &str| {
        let args: Vec<Bytes> = ["SET", key, "v", "PX", "10"]
            .iter()
            .map(|a| Bytes::from(a.to_string()))
            .collect();
        Command::parse(&args).unwrap()
    };
    let mut plain = store.clone();
    plain.apply(1000, &set("k"));
    let (_, messages) = apply(&mut store, 1000, &set("k"));
    assert_eq!(plain, store, "no message is left behind in the store");
    let shown: Vec<String> = messages
        .iter()
        .map(|(c, m)| {
            format!(
                "{} {}",
                String::from_utf8_lossy(c),
                String::from_utf8_lossy(m)
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "__keyspace@0__:k set",
            "__keyevent@0__:set k",
            "__keyspace@0__:k expire",
            "__keyevent@0__:expire k",
        ]
    );
    // Past the deadline, the leader's expiry entry announces the key on every replica, and a
    // replica restarted from a snapshot still has the setting.
    let mut replica = restart(&store);
    let expire = Command::ExpireDue { max_keys: 10 };
    let (_, messages) = apply(&mut store, 2000, &expire);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(apply(&mut replica, 2000, &expire).1, messages);
    assert_eq!(store.notify_flags(), NotifyFlags::parse(b"AKE").unwrap());
}
