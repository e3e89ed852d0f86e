//! Determinism: replicas that apply the same log end in the same state with the same replies,
//! whether they applied every entry themselves, restarted from a snapshot part-way, or were
//! cloned; and commands survive the trip through the log encoding.

mod common;

use common::{restart, snapshot};
use kv::{Command, Store};
use proptest::prelude::*;
use resp::Reply;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two replicas apply the same random log; one restarts from a snapshot at a random point.
    /// Every reply and the final state agree, byte for byte.
    #[test]
    fn replicas_agree(
        steps in prop::collection::vec(common::step(), 0..150),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(steps.len() + 1);
        let mut a = Store::new();
        let mut b = Store::new();
        let mut frozen = None;
        for (i, (now, cmd)) in steps.iter().enumerate() {
            if i == cut {
                b = restart(&b);
                frozen = Some((a.clone(), snapshot(&a)));
            }
            let reply_a = a.apply(*now, cmd);
            let reply_b = b.apply(*now, cmd);
            prop_assert_eq!(&reply_a, &reply_b, "command {:?} at {}", cmd, now);
        }
        prop_assert_eq!(snapshot(&a), snapshot(&b));
        prop_assert_eq!(&a, &b);
        // A clone taken mid-way is unaffected by everything applied to the original since.
        if let Some((clone, bytes)) = frozen {
            prop_assert_eq!(snapshot(&clone), bytes);
        }
    }

    /// Reads answered by `query` match `apply`, never change the store, and are never refused;
    /// the clock never goes backwards.
    #[test]
    fn queries_match_applies(steps in prop::collection::vec(common::step(), 0..150)) {
        let mut store = Store::new();
        for (now, cmd) in &steps {
            let clock = store.clock_ms();
            if cmd.is_write() {
                prop_assert!(store.query(*now, cmd).is_error());
                store.apply(*now, cmd);
            } else {
                let before = store.clone();
                let queried = store.query(*now, cmd);
                prop_assert_eq!(&before, &store);
                if let Reply::Error(text) = &queried {
                    prop_assert!(!text.contains("through the log"), "{} refused", cmd.name());
                }
                let applied = store.apply(*now, cmd);
                // TIME queried answers the last applied clock, applied the entry's time.
                if cmd.name() != "time" {
                    prop_assert_eq!(queried, applied);
                }
            }
            prop_assert_eq!(store.clock_ms(), clock.max(*now));
        }
    }

    /// Commands survive the log encoding (postcard) unchanged.
    #[test]
    fn commands_round_trip_through_postcard(args in common::args()) {
        let args: Vec<bytes::Bytes> = args.into_iter().map(bytes::Bytes::from).collect();
        if let Ok(cmd) = Command::parse(&args) {
            let encoded = postcard::to_allocvec(&cmd).unwrap();
            let decoded: Command = postcard::from_bytes(&encoded).unwrap();
            prop_assert_eq!(decoded, cmd);
        }
    }
}
