//! Snapshots: exact round trips, and every corruption detected with a precise error.

mod common;

use bytes::Bytes;
use kv::{Command, SnapshotError, Store};
use proptest::prelude::*;

/// The snapshot bytes of a store.
fn snapshot(store: &Store) -> Vec<u8> {
    let mut bytes = Vec::new();
    store.write_snapshot(&mut bytes).unwrap();
    bytes
}

/// Applies a client command given as text.
fn apply(store: &mut Store, now: u64, args: &[&str]) {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
    let reply = store.apply(now, &Command::parse(&args).unwrap());
    assert!(!reply.is_error(), "{args:?}: {reply:?}");
}

/// A small store with values, TTLs (one already expired) and binary data.
fn small_store() -> Store {
    let mut store = Store::new();
    apply(&mut store, 1000, &["SET", "a", "1"]);
    apply(&mut store, 1000, &["SET", "b", "two", "PX", "500"]);
    apply(&mut store, 1000, &["SET", "c", "\0\u{ff}", "EX", "100"]);
    apply(&mut store, 1000, &["SET", "", "empty key"]);
    apply(&mut store, 2000, &["APPEND", "d", "x"]);
    store
}

/// A store with `n` keys.
fn big_store(n: usize) -> Store {
    let mut store = Store::new();
    for i in 0..n {
        let key = format!("key:{i}");
        let value = format!("value-{i}-{}", "x".repeat(i % 50));
        apply(
            &mut store,
            1000,
            &["SET", &key, &value, "PX", &(1 + i % 7000).to_string()],
        );
    }
    store
}

#[test]
fn empty_store_round_trips() {
    let store = Store::new();
    let bytes = snapshot(&store);
    assert_eq!(bytes.len(), 52 + 21, "header and trailer only");
    assert_eq!(Store::read_snapshot(&mut bytes.as_slice()).unwrap(), store);
}

#[test]
fn small_store_round_trips_with_clock() {
    let store = small_store();
    let loaded = Store::read_snapshot(&mut snapshot(&store).as_slice()).unwrap();
    assert_eq!(loaded, store);
    assert_eq!(loaded.clock_ms(), 2000);
    assert_eq!(loaded.next_expiry_ms(), Some(1500));
    assert_eq!(loaded.stats(2000), store.stats(2000));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = snapshot(&small_store());
    for len in 0..bytes.len() {
        match Store::read_snapshot(&mut &bytes[..len]) {
            Err(SnapshotError::Truncated { offset, .. }) => assert_eq!(offset, len as u64),
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn every_flipped_bit_is_an_error() {
    let bytes = snapshot(&small_store());
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << bit;
            let result = Store::read_snapshot(&mut bad.as_slice());
            assert!(
                result.is_err(),
                "flipping bit {bit} of byte {i} went unnoticed"
            );
        }
    }
}

/// The keyspace notification setting (version 6's settings chunk) round-trips, and every
/// truncation or flipped bit of a snapshot that has it is caught.
#[test]
fn the_notification_setting_round_trips_and_is_checked() {
    let mut store = small_store();
    apply(&mut store, 2000, &["SET", "e", "v"]);
    let args: Vec<Bytes> = ["CONFIG", "SET", "notify-keyspace-events", "KEAn"]
        .iter()
        .map(|a| Bytes::from(a.to_string()))
        .collect();
    store.apply(2000, &kv::notify::parse_config(&args).unwrap().unwrap());
    let bytes = snapshot(&store);
    let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(loaded, store);
    assert_eq!(loaded.notify_flags().canonical(), "AKE");
    assert_ne!(
        bytes,
        snapshot(&small_store_plus_e()),
        "the setting is in the snapshot"
    );
    for len in 0..bytes.len() {
        assert!(Store::read_snapshot(&mut &bytes[..len]).is_err());
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << bit;
            assert!(
                Store::read_snapshot(&mut bad.as_slice()).is_err(),
                "bit {bit} of byte {i}"
            );
        }
    }
}

/// The ACL users (version 7's users chunks, after the settings chunk) round-trip, and every
/// truncation or flipped bit of a snapshot that has them is caught.
#[test]
fn the_acl_users_round_trip_and_are_checked() {
    let mut store = small_store();
    let change = |line: &str| {
        let args: Vec<Bytes> = line
            .split(' ')
            .map(|a| Bytes::from(a.to_string()))
            .collect();
        kv::acl::AclCommand::parse(&args).unwrap().unwrap()
    };
    let notify: Vec<Bytes> = ["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        .iter()
        .map(|a| Bytes::from(a.to_string()))
        .collect();
    store.apply(2000, &kv::notify::parse_config(&notify).unwrap().unwrap());
    store.apply(
        2000,
        &change("ACL SETUSER alice on >pw ~k* &c* +@read -keys"),
    );
    store.apply(2000, &change("ACL SETUSER default resetpass >secret"));
    let bytes = snapshot(&store);
    let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(loaded, store);
    assert_eq!(loaded.acl().len(), 2);
    for len in 0..bytes.len() {
        assert!(Store::read_snapshot(&mut &bytes[..len]).is_err());
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << bit;
            assert!(
                Store::read_snapshot(&mut bad.as_slice()).is_err(),
                "bit {bit} of byte {i}"
            );
        }
    }
}

/// [`small_store`] plus the key the notification test sets, without the setting.
fn small_store_plus_e() -> Store {
    let mut store = small_store();
    apply(&mut store, 2000, &["SET", "e", "v"]);
    store
}

#[test]
fn trailing_data_is_an_error() {
    let mut bytes = snapshot(&small_store());
    let len = bytes.len() as u64;
    bytes.push(0);
    match Store::read_snapshot(&mut bytes.as_slice()) {
        Err(SnapshotError::TrailingData { offset }) => assert_eq!(offset, len),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_the_part_and_offset() {
    let bytes = snapshot(&small_store());

    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        Store::read_snapshot(&mut bad.as_slice()),
        Err(SnapshotError::BadMagic)
    ));

    let mut bad = bytes.clone();
    bad[8] = 8;
    let err = Store::read_snapshot(&mut bad.as_slice()).unwrap_err();
    assert!(matches!(
        err,
        SnapshotError::UnsupportedVersion {
            version: 8,
            offset: 8
        }
    ));

    let mut bad = bytes.clone();
    bad[20] ^= 1; // inside the clock
    let err = Store::read_snapshot(&mut bad.as_slice()).unwrap_err();
    assert!(matches!(&err, SnapshotError::Checksum { what, offset: 0, .. } if what == "header"));

    let mut bad = bytes.clone();
    bad[64] ^= 1; // inside the first chunk's payload
    let err = Store::read_snapshot(&mut bad.as_slice()).unwrap_err();
    assert!(matches!(&err, SnapshotError::Checksum { what, offset: 52, .. } if what == "chunk 0"));
    assert!(
        err.to_string().contains("chunk 0 at byte offset 52"),
        "{err}"
    );

    let mut bad = bytes.clone();
    bad[52] = b'Z';
    let err = Store::read_snapshot(&mut bad.as_slice()).unwrap_err();
    assert!(
        matches!(err, SnapshotError::Malformed { offset: 52, .. }),
        "{err}"
    );

    let last = bytes.len() - 1;
    let mut bad = bytes.clone();
    bad[last] ^= 0x80;
    let err = Store::read_snapshot(&mut bad.as_slice()).unwrap_err();
    let crc_offset = (bytes.len() - 4) as u64;
    assert!(
        matches!(&err, SnapshotError::Checksum { what, offset, .. } if what == "snapshot" && *offset == crc_offset),
        "{err}"
    );

    let err = Store::read_snapshot(&mut &b""[..]).unwrap_err();
    assert!(matches!(
        err,
        SnapshotError::Truncated {
            offset: 0,
            what: "header"
        }
    ));
}

#[test]
fn many_keys_use_many_chunks_and_stream() {
    /// A sink that records the largest single write.
    #[derive(Default)]
    struct Sink {
        bytes: Vec<u8>,
        largest_write: usize,
    }
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.largest_write = self.largest_write.max(buf.len());
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let store = big_store(20_000);
    let mut sink = Sink::default();
    store.write_snapshot(&mut sink).unwrap();
    let limit = kv::limits::SNAPSHOT_CHUNK_TARGET_BYTES + 1024;
    assert!(sink.bytes.len() > 10 * limit, "expected many chunks");
    assert!(
        sink.largest_write <= limit,
        "largest write {}",
        sink.largest_write
    );
    let loaded = Store::read_snapshot(&mut sink.bytes.as_slice()).unwrap();
    assert_eq!(loaded, store);
    // Corruption deep inside is still caught.
    for i in (0..sink.bytes.len()).step_by(49_999) {
        let mut bad = sink.bytes.clone();
        bad[i] ^= 0x10;
        assert!(
            Store::read_snapshot(&mut bad.as_slice()).is_err(),
            "byte {i}"
        );
        assert!(
            Store::read_snapshot(&mut &sink.bytes[..i]).is_err(),
            "cut at {i}"
        );
    }
}

#[test]
fn maximal_entries_fit_in_a_chunk() {
    let mut store = Store::new();
    let key = Bytes::from(vec![b'k'; kv::limits::MAX_KEY_BYTES]);
    let value = Bytes::from(vec![b'v'; kv::limits::MAX_VALUE_BYTES]);
    let set = Command::parse(&[Bytes::from("SET"), key.clone(), value]).unwrap();
    assert!(!store.apply(1, &set).is_error());
    let small = Command::parse(&[Bytes::from("SET"), Bytes::from("a"), Bytes::from("b")]).unwrap();
    store.apply(1, &small);
    let loaded = Store::read_snapshot(&mut snapshot(&store).as_slice()).unwrap();
    assert_eq!(loaded, store);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random stores round-trip exactly, and writing the loaded store gives the same bytes.
    #[test]
    fn random_stores_round_trip(steps in prop::collection::vec(common::step(), 0..120)) {
        let mut store = Store::new();
        for (now, cmd) in &steps {
            store.apply(*now, cmd);
        }
        let bytes = snapshot(&store);
        let loaded = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
        prop_assert_eq!(&loaded, &store);
        prop_assert_eq!(snapshot(&loaded), bytes);
    }

    /// Arbitrary bytes never panic the reader.
    #[test]
    fn garbage_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..200), valid in any::<bool>()) {
        if valid && bytes.len() >= 52 {
            let header = snapshot(&Store::new());
            bytes[..52].copy_from_slice(&header[..52]);
        }
        let _ = Store::read_snapshot(&mut bytes.as_slice());
    }
}

/// The loader puts entries into the tree a batch at a time, in a spread order: every key comes
/// back exactly once whatever the batch's size (one, a few, around a full batch of 256).
#[test]
fn stores_of_every_batch_size_round_trip() {
    for n in [1, 2, 3, 5, 255, 256, 257, 4097] {
        let store = big_store(n);
        let loaded = Store::read_snapshot(&mut snapshot(&store).as_slice()).unwrap();
        assert_eq!(loaded, store, "{n} keys");
    }
}
