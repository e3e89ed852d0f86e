//! Size limits: exceeding one is a clear error, at parse time and again at apply time.

use bytes::Bytes;
use kv::limits::{MAX_KEY_BYTES, MAX_PATTERN_BYTES, MAX_VALUE_BYTES};
use kv::{Command, Error, SetCondition, SetTtl, Store};

/// Parses arguments.
fn parse(args: &[Bytes]) -> Result<Command, Error> {
    Command::parse(args)
}

/// `n` bytes of `b`.
fn bytes(b: u8, n: usize) -> Bytes {
    Bytes::from(vec![b; n])
}

#[test]
fn long_keys_are_rejected_everywhere() {
    let ok = bytes(b'k', MAX_KEY_BYTES);
    let long = bytes(b'k', MAX_KEY_BYTES + 1);
    let v = Bytes::from("v");
    assert!(parse(&[Bytes::from("SET"), ok, v.clone()]).is_ok());
    for args in [
        vec![Bytes::from("SET"), long.clone(), v.clone()],
        vec![Bytes::from("GET"), long.clone()],
        vec![Bytes::from("DEL"), Bytes::from("a"), long.clone()],
        vec![
            Bytes::from("MSET"),
            Bytes::from("a"),
            v.clone(),
            long.clone(),
            v.clone(),
        ],
        vec![Bytes::from("RENAME"), Bytes::from("a"), long.clone()],
        vec![Bytes::from("EXPIRE"), long.clone(), Bytes::from("10")],
    ] {
        assert_eq!(parse(&args), Err(Error::KeyTooLarge), "{:?}", &args[0]);
    }
    assert_eq!(
        Error::KeyTooLarge.to_string(),
        "ERR key exceeds maximum allowed size (65536 bytes)"
    );
}

#[test]
fn long_patterns_are_rejected() {
    let ok = bytes(b'*', MAX_PATTERN_BYTES);
    let long = bytes(b'*', MAX_PATTERN_BYTES + 1);
    assert!(parse(&[Bytes::from("KEYS"), ok]).is_ok());
    let scan = |pattern: &Bytes| {
        let args = [
            Bytes::from("SCAN"),
            Bytes::from("0"),
            Bytes::from("MATCH"),
            pattern.clone(),
        ];
        parse(&args)
    };
    assert_eq!(scan(&long), Err(Error::PatternTooLarge));
    assert_eq!(
        parse(&[Bytes::from("KEYS"), long]),
        Err(Error::PatternTooLarge)
    );
    assert_eq!(
        Error::PatternTooLarge.to_string(),
        "ERR pattern exceeds maximum allowed size (1024 bytes)"
    );
}

#[test]
fn long_values_are_rejected() {
    let ok = bytes(b'v', MAX_VALUE_BYTES);
    let long = bytes(b'v', MAX_VALUE_BYTES + 1);
    let k = Bytes::from("k");
    assert!(parse(&[Bytes::from("SET"), k.clone(), ok.clone()]).is_ok());
    for args in [
        vec![Bytes::from("SET"), k.clone(), long.clone()],
        vec![Bytes::from("SETNX"), k.clone(), long.clone()],
        vec![Bytes::from("GETSET"), k.clone(), long.clone()],
        vec![Bytes::from("APPEND"), k.clone(), long.clone()],
        vec![Bytes::from("MSETNX"), k.clone(), long.clone()],
        vec![
            Bytes::from("SETEX"),
            k.clone(),
            Bytes::from("10"),
            long.clone(),
        ],
    ] {
        assert_eq!(parse(&args), Err(Error::ValueTooLarge), "{:?}", &args[0]);
    }

    let mut store = Store::new();
    store.apply(0, &parse(&[Bytes::from("SET"), k.clone(), ok]).unwrap());
    let append = parse(&[Bytes::from("APPEND"), k.clone(), Bytes::from("x")]).unwrap();
    assert_eq!(store.apply(0, &append), Error::ValueTooLarge.to_reply());
}

#[test]
fn apply_rechecks_hand_built_commands() {
    let mut store = Store::new();
    let cmd = Command::Set {
        key: bytes(b'k', MAX_KEY_BYTES + 1),
        value: Bytes::from("v"),
        condition: SetCondition::Always,
        get: false,
        ttl: SetTtl::Clear,
    };
    assert_eq!(store.apply(0, &cmd), Error::KeyTooLarge.to_reply());
    let cmd = Command::Set {
        key: Bytes::from("k"),
        value: bytes(b'v', MAX_VALUE_BYTES + 1),
        condition: SetCondition::Always,
        get: false,
        ttl: SetTtl::Expire(kv::Expiry::Ex(-5)),
    };
    assert_eq!(store.apply(0, &cmd), Error::ValueTooLarge.to_reply());
    let cmd = Command::SetEx {
        key: Bytes::from("k"),
        seconds: -5,
        value: Bytes::from("v"),
    };
    assert_eq!(
        store.apply(0, &cmd),
        Error::InvalidExpireTime("setex").to_reply()
    );
    assert_eq!(store.stats(0).keys, 0);
}

#[test]
fn scan_count_is_clamped_not_refused() {
    let mut store = Store::new();
    let set = parse(&[Bytes::from("SET"), Bytes::from("a"), Bytes::from("1")]).unwrap();
    store.apply(0, &set);
    let scan = parse(&[
        Bytes::from("SCAN"),
        Bytes::from("0"),
        Bytes::from("COUNT"),
        Bytes::from("9223372036854775807"),
    ])
    .unwrap();
    let reply = store.query(0, &scan);
    assert!(!reply.is_error(), "{reply:?}");
}

/// What a log-entry cache charges for a command: every argument, not just the key.
#[test]
fn approx_bytes_counts_every_argument() {
    let arg = |s: &str| Bytes::from(s.to_string());
    let mut hset = vec![arg("HSET"), arg("h")];
    for i in 0..1000 {
        hset.push(arg(&format!("field:{i:05}")));
        hset.push(bytes(b'v', 100));
    }
    let big = parse(&hset).unwrap().approx_bytes();
    assert!(big >= 1000 * (11 + 100), "{big}");
    let set = parse(&[arg("SET"), arg("k"), bytes(b'v', 1000)]).unwrap();
    assert!(set.approx_bytes() >= 1001, "{}", set.approx_bytes());
    let get = parse(&[arg("GET"), arg("k")]).unwrap();
    assert!(get.approx_bytes() < 64);
}

/// The write path asks every command for its keys and values several times (size checks, the
/// log cache's accounting): for the common commands the answer lives inline, not on the heap.
#[test]
fn keys_and_values_of_common_commands_are_inline() {
    let arg = |s: &str| Bytes::from(s.to_string());
    let set = parse(&[arg("SET"), arg("k"), arg("v")]).unwrap();
    assert_eq!(set.keys().as_slice(), [&arg("k")]);
    assert!(!set.keys().spilled());
    let rename = parse(&[arg("RENAME"), arg("a"), arg("b")]).unwrap();
    assert_eq!(rename.keys().as_slice(), [&arg("a"), &arg("b")]);
    assert!(!rename.keys().spilled());
    let del = parse(&[arg("DEL"), arg("a"), arg("b"), arg("c")]).unwrap();
    assert_eq!(del.keys().len(), 3);
}
