//! Redis 7 functions beyond the goldenscript (`tests/scripts/functions`): libraries in
//! snapshots (format version 5) and across restarts, FUNCTION DUMP / RESTORE round trips and
//! policies, FCALL_RO on the read path, and the instruction limit in functions.

mod common;

use bytes::Bytes;
use common::{restart, snapshot};
use kv::script::INSTRUCTION_LIMIT_ERROR;
use kv::{Command, Store};
use resp::Reply;

/// Parses a command from text arguments.
fn cmd(args: &[&str]) -> Command {
    let args: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    Command::parse(&args).unwrap()
}

/// Parses a command whose last argument is binary.
fn cmd_with(args: &[&str], last: &[u8]) -> Command {
    let mut all: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    all.push(Bytes::copy_from_slice(last));
    Command::parse(&all).unwrap()
}

/// A library `name` with one function `function` answering `answer` and a read-only `get`.
fn library(name: &str, function: &str, answer: &str) -> String {
    format!(
        "#!lua name={name}\n\
         redis.register_function('{function}', function(keys, args) redis.call('set', keys[1], '{answer}') return '{answer}' end)\n\
         redis.register_function{{function_name='{function}_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={{'no-writes'}}}}"
    )
}

/// Loads a library, expecting success.
fn load(store: &mut Store, code: &str) {
    let reply = store.apply(1, &cmd(&["FUNCTION", "LOAD", code]));
    assert!(!reply.is_error(), "{reply:?}");
}

#[test]
fn libraries_survive_snapshots_and_restarts() {
    let mut store = Store::new();
    store.apply(1, &cmd(&["SCRIPT", "LOAD", "return 1"]));
    load(&mut store, &library("alpha", "a", "one"));
    load(&mut store, &library("beta", "b", "two"));
    let bytes = snapshot(&store);
    assert_eq!(&bytes[8..12], &7u32.to_le_bytes(), "the current format");
    let mut restored = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(restored, store);
    assert_eq!(
        restored.apply(2, &cmd(&["FCALL", "b", "1", "k"])),
        Reply::bulk("two")
    );
    assert_eq!(
        restored.query(2, &cmd(&["FCALL_RO", "b_get", "1", "k"])),
        Reply::bulk("two")
    );
    // Every flipped byte of the library chunk (between the script chunk and the 21-byte
    // trailer) is caught.
    let mut without = store.clone();
    without.apply(1, &cmd(&["FUNCTION", "FLUSH"]));
    let start = snapshot(&without).len() - 21;
    assert_eq!(bytes[start], b'F');
    for i in start..bytes.len() - 21 {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(
            Store::read_snapshot(&mut bad.as_slice()).is_err(),
            "byte {i}"
        );
    }
    // Deleted, a library is gone after a restart too.
    store.apply(3, &cmd(&["FUNCTION", "DELETE", "alpha"]));
    let mut restored = restart(&store);
    assert_eq!(
        restored.apply(4, &cmd(&["FCALL", "a", "1", "k"])),
        Reply::error("ERR Function not found")
    );
    assert_eq!(
        restored.apply(4, &cmd(&["FCALL", "b", "1", "k"])),
        Reply::bulk("two")
    );
}

#[test]
fn dump_and_restore_round_trip() {
    let mut store = Store::new();
    load(&mut store, &library("alpha", "a", "one"));
    load(&mut store, &library("beta", "b", "two"));
    let Reply::Bulk(payload) = store.query(1, &cmd(&["FUNCTION", "DUMP"])) else {
        panic!("DUMP answers a bulk string");
    };
    let list = store.query(1, &cmd(&["FUNCTION", "LIST", "WITHCODE"]));

    // Into an empty store: the same libraries.
    let mut other = Store::new();
    let restore = |policy: &[&str]| {
        let mut args = vec!["FUNCTION", "RESTORE"];
        args.extend_from_slice(policy);
        let mut all: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        all.insert(2, payload.clone());
        Command::parse(&all).unwrap()
    };
    assert_eq!(other.apply(1, &restore(&[])), Reply::ok());
    assert_eq!(
        other.query(1, &cmd(&["FUNCTION", "LIST", "WITHCODE"])),
        list
    );
    assert_eq!(
        other.apply(1, &cmd(&["FCALL", "a", "1", "k"])),
        Reply::bulk("one")
    );

    // APPEND (the default) refuses a library already there and changes nothing.
    assert_eq!(
        other.apply(1, &restore(&["APPEND"])),
        Reply::error("ERR Library alpha already exists")
    );
    // REPLACE takes the payload's version.
    load(&mut other, &library("gamma", "c", "three"));
    other.apply(
        1,
        &cmd(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            &library("alpha", "a", "changed"),
        ]),
    );
    assert_eq!(other.apply(1, &restore(&["REPLACE"])), Reply::ok());
    assert_eq!(
        other.apply(1, &cmd(&["FCALL", "a", "1", "k"])),
        Reply::bulk("one")
    );
    assert_eq!(
        other.apply(1, &cmd(&["FCALL", "c", "1", "k"])),
        Reply::bulk("three")
    );
    // FLUSH drops what was there first.
    assert_eq!(other.apply(1, &restore(&["FLUSH"])), Reply::ok());
    assert_eq!(
        other.query(1, &cmd(&["FUNCTION", "LIST", "WITHCODE"])),
        list
    );
    // A payload whose library takes a function another library has is refused whole.
    let mut clash = Store::new();
    load(&mut clash, &library("delta", "a", "four"));
    assert_eq!(
        clash.apply(1, &restore(&[])),
        Reply::error("ERR Function a already exists")
    );
    let mut only_delta = Store::new();
    load(&mut only_delta, &library("delta", "a", "four"));
    assert_eq!(
        clash.query(1, &cmd(&["FUNCTION", "LIST", "WITHCODE"])),
        only_delta.query(1, &cmd(&["FUNCTION", "LIST", "WITHCODE"]))
    );
    assert_eq!(
        clash.apply(1, &cmd(&["FCALL", "b", "1", "k"])),
        Reply::error("ERR Function not found")
    );

    // Any flipped bit of the payload is refused.
    for i in 0..payload.len() {
        let mut bad = payload.to_vec();
        bad[i] ^= 0x04;
        let reply = Store::new().apply(1, &cmd_with(&["FUNCTION", "RESTORE"], &bad));
        assert_eq!(
            reply,
            Reply::error("ERR DUMP payload version or checksum are wrong"),
            "byte {i}"
        );
    }
}

#[test]
fn fcall_ro_is_a_read_and_refuses_writes() {
    let mut store = Store::new();
    load(&mut store, &library("alpha", "a", "one"));
    store.apply(1, &cmd(&["SET", "k", "v"]));
    let ro = cmd(&["FCALL_RO", "a_get", "1", "k"]);
    assert!(!ro.is_write());
    assert!(cmd(&["FCALL", "a_get", "1", "k"]).is_write());
    assert!(!cmd(&["FUNCTION", "LIST"]).is_write());
    assert!(cmd(&["FUNCTION", "LOAD", "x"]).is_write());
    let before = store.clone();
    assert_eq!(store.query(2, &ro), Reply::bulk("v"));
    assert_eq!(store, before);
    assert_eq!(
        store.query(2, &cmd(&["FCALL_RO", "a", "1", "k"])),
        Reply::error("ERR Can not execute a script with write flag using *_ro command.")
    );
    // A no-writes function that tries to write, queried or applied, is refused.
    load(
        &mut store,
        "#!lua name=sneaky\nredis.register_function{function_name='w', callback=function() return redis.call('set', 'k', 'x') end, flags={'no-writes'}}",
    );
    for reply in [
        store.query(2, &cmd(&["FCALL_RO", "w", "0"])),
        store.apply(2, &cmd(&["FCALL", "w", "0"])),
    ] {
        let Reply::Error(text) = reply else {
            panic!("{reply:?}");
        };
        assert!(text.starts_with("ERR Write commands are not allowed from read-only scripts."));
    }
    assert_eq!(store.query(2, &cmd(&["GET", "k"])), Reply::bulk("v"));
}

#[test]
fn the_instruction_limit_applies_to_functions_and_their_loading() {
    let mut store = Store::new();
    load(
        &mut store,
        "#!lua name=spin\nredis.register_function('spin', function(keys) redis.call('set', keys[1], 'before') while true do end end)",
    );
    let reply = store.apply(1, &cmd(&["FCALL", "spin", "1", "k"]));
    let Reply::Error(text) = reply else {
        panic!("{reply:?}");
    };
    assert!(text.starts_with(INSTRUCTION_LIMIT_ERROR), "{text}");
    assert!(
        text.ends_with("script: spin, on @user_function:2."),
        "{text}"
    );
    // Writes before the limit stay, as for scripts.
    assert_eq!(store.query(1, &cmd(&["GET", "k"])), Reply::bulk("before"));
    // A library whose loading code never ends is refused.
    let reply = store.apply(
        1,
        &cmd(&["FUNCTION", "LOAD", "#!lua name=forever\nwhile true do end"]),
    );
    assert_eq!(
        reply,
        Reply::Error(format!(
            "ERR Error registering functions: {INSTRUCTION_LIMIT_ERROR}"
        ))
    );
}
