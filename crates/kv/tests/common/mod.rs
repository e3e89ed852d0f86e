//! Shared proptest generators: random client commands over a small keyspace, so that commands
//! collide on keys and exercise overwrites, TTLs, expiry and errors.

#![allow(dead_code)]

use bytes::Bytes;
use kv::{Command, Store};
use proptest::prelude::*;

/// A key from a small set (plus the occasional odd one).
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["a", "b", "c", "d", "e", "k1", "k2", ""]).prop_map(String::from),
        1 => "[a-z\\x00\\xff]{0,4}",
    ]
}

/// A value: short text, a number, or a float.
pub fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,6}",
        (-1000i64..1000).prop_map(|n| n.to_string()),
        (-100.0f64..100.0).prop_map(|f| format!("{f:.3}")),
    ]
}

/// A time or TTL number, mostly small, sometimes extreme.
pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-5i64..3000).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "-1", "9223372036854775807", "-9223372036854775808", "abc", "1.5",
        ])
        .prop_map(String::from),
    ]
}

/// One client command as raw arguments (possibly invalid).
pub fn args() -> impl Strategy<Value = Vec<String>> {
    let set_opts = prop::collection::vec(
        prop::sample::select(vec![
            "NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT",
        ]),
        0..3,
    );
    let expire_opts =
        prop::collection::vec(prop::sample::select(vec!["NX", "XX", "GT", "LT"]), 0..2);
    let ttl_cmd = prop::sample::select(vec!["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]);
    let read_cmd = prop::sample::select(vec![
        "GET",
        "TTL",
        "PTTL",
        "EXPIRETIME",
        "PEXPIRETIME",
        "STRLEN",
        "TYPE",
        "EXISTS",
    ]);
    let write1 = prop::sample::select(vec!["INCR", "DECR", "GETDEL", "DEL", "PERSIST", "UNLINK"]);
    prop_oneof![
        (key(), value(), set_opts, number()).prop_map(|(k, v, opts, n)| {
            let mut args = vec!["SET".to_string(), k, v];
            for opt in opts {
                args.push(opt.to_string());
                if matches!(opt, "EX" | "PX" | "EXAT" | "PXAT") {
                    args.push(n.clone());
                }
            }
            args
        }),
        (ttl_cmd, key(), number(), expire_opts).prop_map(|(c, k, n, opts)| {
            let mut args = vec![c.to_string(), k, n];
            args.extend(opts.into_iter().map(String::from));
            args
        }),
        (read_cmd, key()).prop_map(|(c, k)| vec![c.to_string(), k]),
        (write1, key()).prop_map(|(c, k)| vec![c.to_string(), k]),
        (key(), number()).prop_map(|(k, n)| vec!["INCRBY".into(), k, n]),
        (key(), value()).prop_map(|(k, v)| vec!["INCRBYFLOAT".into(), k, v]),
        (key(), value()).prop_map(|(k, v)| vec!["APPEND".into(), k, v]),
        (key(), number(), value()).prop_map(|(k, n, v)| vec!["SETRANGE".into(), k, n, v]),
        (key(), number(), number()).prop_map(|(k, a, b)| vec!["GETRANGE".into(), k, a, b]),
        (key(), key()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (key(), key()).prop_map(|(a, b)| vec!["RENAMENX".into(), a, b]),
        (key(), value(), key(), value()).prop_map(|(a, x, b, y)| vec!["MSET".into(), a, x, b, y]),
        (key(), value(), key(), value()).prop_map(|(a, x, b, y)| vec!["MSETNX".into(), a, x, b, y]),
        (key(), key()).prop_map(|(a, b)| vec!["MGET".into(), a, b]),
        (key(), value()).prop_map(|(k, v)| vec!["GETSET".into(), k, v]),
        (key(), number(), value()).prop_map(|(k, n, v)| vec!["PSETEX".into(), k, n, v]),
        (
            key(),
            prop::sample::select(vec!["EX", "PX", "EXAT", "PXAT", "PERSIST"]),
            number()
        )
            .prop_map(|(k, o, n)| {
                let mut args = vec!["GETEX".into(), k, o.to_string()];
                if o != "PERSIST" {
                    args.push(n);
                }
                args
            }),
        (0u64..u64::MAX, 1u64..5).prop_map(|(c, n)| vec![
            "SCAN".into(),
            c.to_string(),
            "COUNT".into(),
            n.to_string()
        ]),
        Just(vec!["KEYS".to_string(), "*".to_string()]),
        zset_args(),
        aggregate_args(),
        // DBSIZE, and rarely FLUSHDB (it wipes what the other commands built).
        (0u8..10).prop_map(|n| vec![if n == 0 { "FLUSHDB" } else { "DBSIZE" }.to_string()]),
    ]
}

/// One step: a timestamp (mostly increasing, sometimes going backwards) and a command, or the
/// internal ExpireDue.
pub fn step() -> impl Strategy<Value = (u64, Command)> {
    let command = prop_oneof![
        9 => args().prop_filter_map("unparseable", |args| {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            Command::parse(&args).ok()
        }),
        4 => zset_args().prop_filter_map("unparseable", |args| {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            Command::parse(&args).ok()
        }),
        8 => aggregate_args().prop_filter_map("unparseable", |args| {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            Command::parse(&args).ok()
        }),
        1 => (0u32..4).prop_map(|max_keys| Command::ExpireDue { max_keys }),
        1 => watch_command(),
    ];
    (0u64..6000, command)
}

/// WATCH's read of key versions, or EXEC's guard with versions that are sometimes current
/// (small numbers, as the versions of a short log are) and sometimes not.
pub fn watch_command() -> impl Strategy<Value = Command> {
    let keys = || prop::collection::vec(key().prop_map(Bytes::from), 1..3);
    prop_oneof![
        keys().prop_map(|keys| Command::KeyVersions { keys }),
        prop::collection::vec((key().prop_map(Bytes::from), -1i64..40), 1..3)
            .prop_map(|watched| Command::WatchGuard { watched }),
    ]
}

/// Fills a command shape: each word that names a slot (`k`, `k2`, `m`, `m2`, `v`, `n`, `n2`)
/// is replaced by its value, the other words are kept.
fn fill(shape: &str, slots: &[(&str, &str)]) -> Vec<String> {
    shape
        .split(' ')
        .map(|word| {
            slots
                .iter()
                .find(|(name, _)| *name == word)
                .map_or_else(|| word.to_string(), |(_, value)| value.to_string())
        })
        .collect()
}

/// A list, hash, set, stream or generic-key command (RANDOMKEY, COPY, OBJECT) as raw
/// arguments: writes, reads and random draws, mostly on two keys of the command's own type
/// (so aggregates grow), sometimes on the shared keys (so they meet strings, sorted sets and
/// each other: WRONGTYPE).
pub fn aggregate_args() -> impl Strategy<Value = Vec<String>> {
    let family = |keys: &'static [&'static str], shapes: Vec<&'static str>| {
        let k = move || {
            prop_oneof![
                4 => prop::sample::select(keys).prop_map(String::from),
                1 => key(),
            ]
        };
        (prop::sample::select(shapes), k(), k())
    };
    let lists = family(
        &["l1", "l2"],
        vec![
            "LPUSH k m m2",
            "RPUSH k m",
            "LPUSHX k m2",
            "RPUSHX k m",
            "LPOP k",
            "RPOP k n",
            "LLEN k",
            "LRANGE k n n2",
            "LINDEX k n",
            "LSET k n m",
            "LINSERT k BEFORE m m2",
            "LREM k n m",
            "LTRIM k n n2",
            "LPOS k m RANK n COUNT 0 MAXLEN 3",
            "LMOVE k k2 LEFT RIGHT",
            "RPOPLPUSH k k2",
            "LMPOP 2 k k2 RIGHT COUNT 2",
        ],
    );
    let hashes = family(
        &["h1", "h2"],
        vec![
            "HSET k m v m2 n",
            "HSETNX k m v",
            "HMSET k m2 v",
            "HDEL k m m2",
            "HINCRBY k m n",
            "HINCRBYFLOAT k m2 1.5",
            "HGET k m",
            "HMGET k m m2",
            "HLEN k",
            "HSTRLEN k m",
            "HEXISTS k m",
            "HKEYS k",
            "HVALS k",
            "HGETALL k",
            "HRANDFIELD k",
            "HRANDFIELD k n WITHVALUES",
            "HSCAN k 0 COUNT 2",
        ],
    );
    let sets = family(
        &["s1", "s2"],
        vec![
            "SADD k m m2",
            "SADD k v",
            "SREM k m",
            "SISMEMBER k m",
            "SMISMEMBER k m m2",
            "SMEMBERS k",
            "SCARD k",
            "SPOP k",
            "SPOP k n",
            "SRANDMEMBER k",
            "SRANDMEMBER k n",
            "SMOVE k k2 m",
            "SINTER k k2",
            "SUNIONSTORE k2 k k2",
            "SDIFFSTORE k k2 k",
            "SINTERCARD 2 k k2 LIMIT 1",
            "SSCAN k 0",
        ],
    );
    let streams = family(
        // Mostly one key, so that groups and entries meet.
        &["x1", "x1", "x1", "x2"],
        vec![
            "XADD k * m v",
            "XADD k * m v m2 n",
            "XADD k MAXLEN n * m v",
            "XADD k MINID n * m v",
            "XADD k NOMKSTREAM * m v",
            "XADD k n-* m v",
            "XADD k n-n2 m v",
            "XDEL k n-0 n2-1",
            "XTRIM k MAXLEN n",
            "XLEN k",
            "XRANGE k - + COUNT n",
            "XREVRANGE k + (n",
            "XREAD COUNT 2 STREAMS k k2 0 0",
            // Groups are created often, so that the group commands find them.
            "XGROUP CREATE k g $ MKSTREAM",
            "XGROUP CREATE k g 0 MKSTREAM",
            "XGROUP CREATE k g2 0 MKSTREAM",
            "XGROUP CREATE k g2 0",
            "XGROUP CREATECONSUMER k g c3",
            "XREADGROUP GROUP g c COUNT 2 STREAMS k >",
            "XREADGROUP GROUP g2 c2 STREAMS k 0",
            "XACK k g n-0",
            "XPENDING k g",
            "XPENDING k g - + 5",
            "XCLAIM k g c2 0 n-0",
            "XAUTOCLAIM k g c2 0 0",
            "XINFO STREAM k",
            "XINFO GROUPS k",
            "XGROUP SETID k g 0",
            "XGROUP DELCONSUMER k g c",
            "XGROUP DESTROY k g2",
        ],
    );
    let keys = family(
        &["l1", "h1", "s1", "x1"],
        vec![
            "RANDOMKEY",
            "COPY k k2",
            "COPY k k2 REPLACE",
            "TYPE k",
            "OBJECT ENCODING k",
            "DEL k",
            "EXPIRE k n",
        ],
    );
    let member = || prop::sample::select(vec!["m1", "m2", "m3", ""]).prop_map(String::from);
    let small = || prop_oneof![4 => -3i64..5, 1 => 0i64..2000].prop_map(|n| n.to_string());
    (
        // Streams have the most commands (and groups need a stream to exist): more weight.
        prop_oneof![2 => lists, 2 => hashes, 2 => sets, 5 => streams, 1 => keys],
        member(),
        member(),
        small(),
        small(),
    )
        .prop_map(|((shape, k, k2), m, m2, n, n2)| {
            let v = format!("{m}{n}");
            fill(
                shape,
                &[
                    ("k", &k),
                    ("k2", &k2),
                    ("m", &m),
                    ("m2", &m2),
                    ("v", &v),
                    ("n", &n),
                    ("n2", &n2),
                ],
            )
        })
}

/// A sorted-set, bit or LCS command (or TIME) as raw arguments: writes, reads and random draws,
/// on the shared keys (so they meet strings and WRONGTYPE too).
pub fn zset_args() -> impl Strategy<Value = Vec<String>> {
    let score = prop_oneof![
        6 => (-20i64..20).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec!["inf", "-inf", "(1", "1.5", "x"]).prop_map(String::from),
    ];
    let member = prop::sample::select(vec!["m1", "m2", "m3", "m4"]).prop_map(String::from);
    let shape = prop::sample::select(vec![
        "ZADD k s m",
        "ZADD k s m s2 m2 0 m3",
        "ZADD k XX CH s m s2 m2",
        "ZADD k NX INCR s m",
        "ZADD k GT s m",
        "ZINCRBY k s m",
        "ZREM k m m2",
        "ZSCORE k m",
        "ZMSCORE k m m2",
        "ZCARD k",
        "ZRANK k m",
        "ZREVRANK k m",
        "ZCOUNT k s s2",
        "ZLEXCOUNT k - +",
        "ZRANGE k 0 -1 WITHSCORES",
        "ZRANGE k s s2 BYSCORE LIMIT 0 2",
        "ZRANGE k + - BYLEX REV",
        "ZRANGEBYSCORE k s s2",
        "ZREVRANGE k 0 1",
        "ZRANGESTORE k2 k 0 s",
        "ZPOPMIN k",
        "ZPOPMAX k 2",
        "ZMPOP 2 k k2 MIN COUNT 2",
        "ZREMRANGEBYRANK k 0 0",
        "ZREMRANGEBYSCORE k s s2",
        "ZREMRANGEBYLEX k - (m3",
        "ZUNION 2 k k2 WITHSCORES",
        "ZINTERSTORE k2 2 k k2 AGGREGATE MAX",
        "ZDIFFSTORE k2 2 k k2",
        "ZRANDMEMBER k",
        "ZRANDMEMBER k s WITHSCORES",
        "ZSCAN k 0 COUNT 2",
        "SETBIT k s 1",
        "GETBIT k s",
        "BITCOUNT k 0 s BIT",
        "BITPOS k 0 s",
        "BITOP XOR k2 k k2",
        "LCS k k2 IDX WITHMATCHLEN",
        "TIME",
    ]);
    // Mostly two keys of their own, so sorted sets grow; sometimes a shared one.
    let zkey = || {
        prop_oneof![
            4 => prop::sample::select(vec!["z1", "z2"]).prop_map(String::from),
            1 => key(),
        ]
    };
    (
        shape,
        zkey(),
        zkey(),
        score.clone(),
        score,
        member.clone(),
        member,
    )
        .prop_map(|(shape, k, k2, s, s2, m, m2)| {
            shape
                .split(' ')
                .map(|word| match word {
                    "k" => k.clone(),
                    "k2" => k2.clone(),
                    "s" => s.clone(),
                    "s2" => s2.clone(),
                    "m" => m.clone(),
                    "m2" => m2.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
}

/// The error every cross-type use answers.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// The string key the model tests keep beside their aggregates, to check WRONGTYPE.
pub const STRING_KEY: &str = "str";

/// The value under [`STRING_KEY`].
pub const STRING_VALUE: &str = "x";

/// Applies a command given as text arguments at `now`, parsing it as a client's would.
pub fn run_at(store: &mut kv::Store, now: u64, args: &[String]) -> resp::Reply {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
    match Command::parse(&args) {
        Ok(cmd) => store.apply(now, &cmd),
        Err(e) => e.to_reply(),
    }
}

/// [`run_at`] at time 1000, with `&str` arguments.
pub fn run(store: &mut kv::Store, args: &[&str]) -> resp::Reply {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_at(store, 1000, &args)
}

/// The text of a bulk reply (None for nil).
pub fn text(reply: &resp::Reply) -> Option<String> {
    match reply {
        resp::Reply::Bulk(b) => Some(String::from_utf8(b.to_vec()).unwrap()),
        resp::Reply::Null => None,
        other => panic!("not a bulk string: {other:?}"),
    }
}

/// The bulk strings of an array, set or map reply, flattened in order (nil elements are
/// skipped).
pub fn texts(reply: &resp::Reply) -> Vec<String> {
    use resp::Reply::*;
    match reply {
        Array(items) | Set(items) => items.iter().filter_map(text).collect(),
        Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [text(k), text(v)])
            .flatten()
            .collect(),
        NullArray => Vec::new(),
        other => panic!("not an aggregate: {other:?}"),
    }
}

/// Checks cross-type use around an aggregate test: `key`, if it exists and holds `own` (the
/// TYPE name), answers WRONGTYPE to a read of every other type; and every read of type `own`
/// on [`STRING_KEY`] answers WRONGTYPE too, leaving the string as it was.
pub fn check_wrongtype(store: &mut kv::Store, key: &str, own: &str) {
    let reads: [(&str, &[&str]); 6] = [
        ("string", &["GET", key]),
        ("list", &["LRANGE", key, "0", "-1"]),
        ("hash", &["HGETALL", key]),
        ("set", &["SMEMBERS", key]),
        ("zset", &["ZRANGE", key, "0", "-1"]),
        ("stream", &["XRANGE", key, "-", "+"]),
    ];
    let exists = run(store, &["EXISTS", key]) == resp::Reply::Integer(1);
    for (kind, args) in reads {
        if exists && kind != own {
            let reply = run(store, args);
            assert_eq!(reply, resp::Reply::Error(WRONGTYPE.into()), "{args:?}");
        }
        if kind == own {
            let mut args = args.to_vec();
            args[1] = STRING_KEY;
            let reply = run(store, &args);
            assert_eq!(reply, resp::Reply::Error(WRONGTYPE.into()), "{args:?}");
        }
    }
    if exists {
        let kind = run(store, &["TYPE", key]);
        assert_eq!(
            kind,
            resp::Reply::Simple(own.to_string().into()),
            "TYPE {key}"
        );
    }
    let value = run(store, &["GET", STRING_KEY]);
    assert_eq!(
        text(&value).as_deref(),
        Some(STRING_VALUE),
        "string changed"
    );
}

/// The TTL the model tests give with their Expire step, in milliseconds.
pub const TTL_MS: &str = "100000";

/// Checks `key`'s PTTL at time 1000 against a model that says whether the key exists and
/// whether it was given [`TTL_MS`] since it was created (changes keep a TTL; emptying the key
/// deletes it with its TTL; the STORE commands replace it without one).
pub fn check_ttl(store: &mut kv::Store, key: &str, exists: bool, ttl: bool) {
    let got = run(store, &["PTTL", key]);
    let resp::Reply::Integer(ms) = got else {
        panic!("PTTL {key}: {got:?}");
    };
    match (exists, ttl) {
        (false, _) => assert_eq!(ms, -2, "PTTL of missing {key}"),
        (true, false) => assert_eq!(ms, -1, "PTTL of {key} without a TTL"),
        (true, true) => assert!(ms > 0, "{key} lost its TTL: PTTL {ms}"),
    }
}

/// The snapshot bytes of a store.
pub fn snapshot(store: &Store) -> Vec<u8> {
    let mut bytes = Vec::new();
    store.write_snapshot(&mut bytes).unwrap();
    bytes
}

/// A store restored from its own snapshot.
pub fn restart(store: &Store) -> Store {
    Store::read_snapshot(&mut snapshot(store).as_slice()).unwrap()
}
