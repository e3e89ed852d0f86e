//! Compatibility: data written by earlier raftkv code still loads: snapshot format version 1
//! (strings only), version 2 (hashes, lists, sets, sorted sets; before WATCH) and version 3
//! (streams, WATCH versions), version 4 (the script cache), version 5 (function libraries),
//! version 6 (the keyspace notification setting), version 7 (the ACL users), and the log's postcard encoding of commands
//! at the times of versions 1 to 3, of the scripting and function commands at version 5 and of
//! the notification setting at version 6 and of the ACL changes at version 7. The files in `tests/fixtures/` were written by that code and must never be
//! regenerated (see `tests/fixtures/README.md`).

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

    // Written again, it becomes the current version (7) and round-trips.
    let mut again = Vec::new();
    store.write_snapshot(&mut again).unwrap();
    assert_eq!(&again[8..12], &7u32.to_le_bytes());
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

/// The clock of the version 2 and 3 fixtures' writes.
const NOW: u64 = 1_700_000_000_000;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::from(s.to_string()))
}

fn bulks(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|s| bulk(s)).collect())
}

/// The keys both fixtures hold (see tests/fixtures/README.md), read back.
fn check_aggregates(store: &Store) {
    assert_eq!(store.clock_ms(), NOW + 100);
    assert_eq!(read(store, &["GET", "plain"]), bulk("value"));
    assert_eq!(read(store, &["GET", "counter"]), bulk("42"));
    assert_eq!(read(store, &["PTTL", "ttl"]), Reply::Integer(3_599_900));
    assert_eq!(read(store, &["GET", "deleted"]), Reply::Null);
    let pair = |f: &str, v: &str| (bulk(f), bulk(v));
    assert_eq!(
        read(store, &["HGETALL", "h"]),
        Reply::Map(vec![
            pair("", "empty field"),
            pair("f1", "v1"),
            pair("f2", "v2")
        ])
    );
    assert_eq!(read(store, &["TTL", "h"]), Reply::Integer(7200));
    assert_eq!(
        read(store, &["LRANGE", "l", "0", "-1"]),
        bulks(&["a", "b", "c", "a"])
    );
    assert_eq!(read(store, &["SCARD", "s"]), Reply::Integer(3));
    assert_eq!(
        read(store, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        Reply::Pairs(vec![
            (bulk("bottom"), Reply::Score(f64::NEG_INFINITY)),
            (bulk("one"), Reply::Score(1.0)),
            (bulk("two"), Reply::Score(2.5)),
            (bulk("top"), Reply::Score(f64::INFINITY)),
        ])
    );
    assert_eq!(read(store, &["HLEN", "bighash"]), Reply::Integer(5000));
    assert_eq!(
        read(store, &["HGET", "bighash", "field:04999"]),
        bulk("value:4999")
    );
    assert_eq!(
        read(store, &["ZSCORE", "bigz", "member:01234"]),
        Reply::Score(1234.0)
    );
    assert_eq!(read(store, &["LLEN", "biglist"]), Reply::Integer(5000));
    assert_eq!(
        read(store, &["LINDEX", "biglist", "-1"]),
        bulk("item:04999")
    );
    assert_eq!(read(store, &["TYPE", "bigz"]), Reply::Simple("zset".into()));
}

/// Loads a fixture snapshot of `version`, checks what it holds, and writes it again in
/// today's format, which must round-trip.
fn load(name: &str, version: u32) -> Store {
    let bytes = fixture(name);
    assert_eq!(
        &bytes[8..12],
        &version.to_le_bytes(),
        "{name} is version {version}"
    );
    let store = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    check_aggregates(&store);
    let mut again = Vec::new();
    store.write_snapshot(&mut again).unwrap();
    assert_eq!(Store::read_snapshot(&mut again.as_slice()).unwrap(), store);
    store
}

#[test]
fn version_2_snapshot_still_loads() {
    let store = load("snapshot-v2.bin", 2);
    // Written before WATCH: every key loads with version 0 and the counters at 0.
    let now = store.clock_ms();
    assert_eq!(store.mod_seq(), 0);
    assert_eq!(store.watch_version(now, &Bytes::from("plain")), 0);
}

#[test]
fn version_3_snapshot_still_loads() {
    let store = load("snapshot-v3.bin", 3);
    let now = store.clock_ms();
    assert!(store.mod_seq() > 0, "WATCH versions are kept");
    assert!(store.watch_version(now, &Bytes::from("plain")) > 0);
    assert_eq!(read(&store, &["XLEN", "st"]), Reply::Integer(2));
    let Reply::Array(entries) = read(&store, &["XRANGE", "st", "-", "+"]) else {
        panic!("XRANGE answers an array");
    };
    assert_eq!(
        entries[0],
        Reply::Array(vec![bulk("1-1"), bulks(&["f", "v"])])
    );
    assert_eq!(
        entries[1],
        Reply::Array(vec![bulk("1700000000000-0"), bulks(&["k", "v"])])
    );
    // alice read 1-1 and 2-0 (since deleted): both stay pending.
    let Reply::Array(summary) = read(&store, &["XPENDING", "st", "grp"]) else {
        panic!("XPENDING answers an array");
    };
    assert_eq!(summary[0], Reply::Integer(2));
}

/// The SHA-1 of `return 1`, which the version 4 and 5 fixtures' script caches hold.
const RETURN_1_SHA: &str = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";

#[test]
fn version_4_snapshot_still_loads() {
    let mut store = load("snapshot-v4.bin", 4);
    assert_eq!(read(&store, &["XLEN", "st"]), Reply::Integer(2));
    // Both cached scripts (SCRIPT LOAD and EVAL) are there; there are no functions.
    assert_eq!(
        read(
            &store,
            &[
                "EVALSHA_RO",
                "4e6d8fc8bb01276962cce5371fa795a7763657ae",
                "1",
                "plain"
            ]
        ),
        bulk("value")
    );
    assert_eq!(
        store.apply(NOW + 200, &parse(&["EVALSHA", RETURN_1_SHA, "0"])),
        Reply::Integer(1)
    );
    assert_eq!(
        store.apply(NOW + 200, &parse(&["FUNCTION", "LIST"])),
        Reply::Array(vec![])
    );
}

#[test]
fn version_5_snapshot_still_loads() {
    let mut store = load("snapshot-v5.bin", 5);
    assert_eq!(
        store.apply(NOW + 200, &parse(&["EVALSHA", RETURN_1_SHA, "0"])),
        Reply::Integer(1)
    );
    assert_eq!(
        store.apply(NOW + 200, &parse(&["FCALL", "bump", "1", "counter", "8"])),
        Reply::Integer(50)
    );
    assert_eq!(
        read(&store, &["FCALL_RO", "peek", "1", "counter"]),
        bulk("50")
    );
    assert_eq!(
        read(&store, &["FCALL", "hello", "0", "raft"]),
        Reply::error("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        store.apply(NOW + 200, &parse(&["FCALL", "hello", "0", "raft"])),
        bulk("hello raft")
    );
}

#[test]
fn version_6_snapshot_still_loads() {
    let mut store = load("snapshot-v6.bin", 6);
    // Everything of version 5, and the notification setting.
    assert_eq!(
        store.apply(NOW + 300, &parse(&["FCALL", "bump", "1", "counter", "8"])),
        Reply::Integer(50)
    );
    assert_eq!(store.notify_flags().canonical(), "g$xK");
    assert_eq!(
        store.query(
            NOW + 300,
            &kv::Command::Notify(kv::notify::NotifyCommand::Get)
        ),
        Reply::Map(vec![(bulk("notify-keyspace-events"), bulk("g$xK"))])
    );
    let mut messages = Vec::new();
    store.apply_publishing(NOW + 300, &parse(&["SET", "plain", "v"]), &mut messages);
    assert_eq!(
        messages,
        [(Bytes::from("__keyspace@0__:plain"), Bytes::from("set"))]
    );
}

/// Parses a command.
fn parse(args: &[&str]) -> Command {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
    Command::parse(&args).unwrap()
}

/// A log fixture decodes to what it decoded to when written, and encodes back to its bytes.
fn check_log(name: &str) {
    let bytes = fixture(&format!("{name}.bin"));
    let commands: Vec<Command> = postcard::from_bytes(&bytes).unwrap();
    let text = String::from_utf8(fixture(&format!("{name}.txt"))).unwrap();
    assert_eq!(format!("{commands:#?}\n"), text);
    assert_eq!(postcard::to_allocvec(&commands).unwrap(), bytes);
}

#[test]
fn version_2_and_3_log_commands_still_decode() {
    check_log("commands-v2");
    check_log("commands-v3");
}

#[test]
fn scripting_and_function_log_commands_still_decode() {
    check_log("commands-v5");
}

#[test]
fn notification_setting_log_commands_still_decode() {
    check_log("commands-v6");
}

#[test]
fn version_7_snapshot_still_loads() {
    let mut store = load("snapshot-v7.bin", 7);
    // The current version writes exactly what version 7's code wrote for the same state.
    let mut again = Vec::new();
    store.write_snapshot(&mut again).unwrap();
    assert!(
        again == fixture("snapshot-v7.bin"),
        "snapshot bytes changed"
    );
    // Everything of version 6, and the ACL users.
    assert_eq!(store.notify_flags().canonical(), "g$xK");
    assert_eq!(
        store.apply(NOW + 300, &parse(&["FCALL", "bump", "1", "counter", "8"])),
        Reply::Integer(50)
    );
    let acl = store.acl().clone();
    let alice = acl.user(b"alice").expect("alice is in the table");
    assert_eq!(
        alice.rules().join(" "),
        "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~k* %R~r* \
         resetchannels &ch* -@all +@read -@dangerous +set"
    );
    assert!(alice.password_matches(b"p1") && !alice.password_matches(b"p2"));
    let default = acl.user(b"default").expect("default was configured");
    assert!(default.password_matches(b"secret") && !default.nopass);
    assert_eq!(acl.len(), 2);
}

#[test]
fn acl_log_commands_still_decode() {
    check_log("commands-v7");
}
