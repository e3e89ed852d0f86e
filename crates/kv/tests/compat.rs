//! Compatibility: data written by raftkv before the aggregate types (snapshot format version 1,
//! and the log's postcard encoding of commands) still loads. The files in `tests/fixtures/` were
//! written by that code and must never be regenerated (see `tests/fixtures/README.md`).

use bytes::Bytes;
use kv::{Command, Store};
use resp::Reply;

/// A fixture's bytes.
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap()
}

/// Answers a read at the fixture's clock.
fn read(store: &Store, args: &[&str]) -> Reply {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
    store.query(store.clock_ms(), &Command::parse(&args).unwrap())
}

#[test]
fn version_1_snapshot_still_loads() {
    let bytes = fixture("snapshot-v1.bin");
    assert_eq!(
        &bytes[8..12],
        &1u32.to_le_bytes(),
        "the fixture is version 1"
    );
    let store = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(store.clock_ms(), 1_700_000_000_100);
    let bulk = |s: &str| Reply::Bulk(Bytes::from(s.to_string()));
    assert_eq!(read(&store, &["GET", "plain"]), bulk("value"));
    assert_eq!(read(&store, &["GET", ""]), bulk("empty key"));
    assert_eq!(
        read(&store, &["GET", "bin\0"]),
        Reply::Bulk(Bytes::from_static(b"\0\xc3\xbf\r\n"))
    );
    assert_eq!(read(&store, &["GET", "counter"]), bulk("42"));
    assert_eq!(
        read(&store, &["TYPE", "counter"]),
        Reply::Simple("string".into())
    );
    assert_eq!(read(&store, &["PTTL", "ttl"]), Reply::Integer(3_599_900));
    assert_eq!(
        read(&store, &["GET", "gone"]),
        Reply::Null,
        "expired stays expired"
    );
    assert_eq!(read(&store, &["GET", "key:199"]), bulk(&"x".repeat(199)));
    // 206 stored entries, the expired one among them.
    assert_eq!(store.stats(store.clock_ms()).keys, 206);
    assert_eq!(read(&store, &["DBSIZE"]), Reply::Integer(205));

    // Written again, it becomes the current version (4) and round-trips.
    let mut again = Vec::new();
    store.write_snapshot(&mut again).unwrap();
    assert_eq!(&again[8..12], &4u32.to_le_bytes());
    assert_eq!(Store::read_snapshot(&mut again.as_slice()).unwrap(), store);
}

#[test]
fn version_1_log_commands_still_decode() {
    let bytes = fixture("commands-v1.bin");
    let commands: Vec<Command> = postcard::from_bytes(&bytes).unwrap();
    let text = String::from_utf8(fixture("commands-v1.txt")).unwrap();
    assert_eq!(format!("{commands:#?}\n"), text);
    // And the same commands encode to the same bytes: new variants only ever go at the end.
    assert_eq!(postcard::to_allocvec(&commands).unwrap(), bytes);
}
