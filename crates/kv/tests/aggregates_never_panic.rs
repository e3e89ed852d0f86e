//! Bad input never crashes a node: any arguments to the hash, list, set and stream commands,
//! drawn from a pool of option names, numbers, IDs and keys of every type, give a reply (often
//! an error) and never a panic; applying the same command to a clone gives the same reply and
//! state, and the store still round-trips through a snapshot. (`zsets.rs` does the same for
//! the sorted-set, bit and LCS commands.)

mod common;

use common::run_at;
use kv::Store;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10000))]

    #[test]
    fn aggregate_commands_never_panic(
        name in prop::sample::select(vec![
            "HSET", "HSETNX", "HMSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HGET", "HMGET", "HLEN",
            "HSTRLEN", "HEXISTS", "HKEYS", "HVALS", "HGETALL", "HRANDFIELD", "HSCAN",
            "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LRANGE", "LINDEX",
            "LSET", "LINSERT", "LREM", "LTRIM", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP",
            "SADD", "SREM", "SISMEMBER", "SMISMEMBER", "SMEMBERS", "SCARD", "SPOP",
            "SRANDMEMBER", "SMOVE", "SINTER", "SINTERCARD", "SINTERSTORE", "SUNION",
            "SUNIONSTORE", "SDIFF", "SDIFFSTORE", "SSCAN",
            "XADD", "XLEN", "XRANGE", "XREVRANGE", "XDEL", "XTRIM", "XREAD", "XGROUP",
            "XREADGROUP", "XACK", "XPENDING", "XCLAIM", "XAUTOCLAIM", "XINFO",
            "COPY", "RANDOMKEY", "TYPE", "OBJECT",
        ]),
        first in prop::sample::select(vec![
            "h", "l", "s", "x", "str", "none", "1", "2", "CREATE", "GROUP", "STREAMS", "COUNT",
        ]),
        args in prop::collection::vec(prop_oneof![
            3 => prop::sample::select(vec![
                "0", "1", "2", "3", "-1", "-2", "5", "-5", "40", "-40", "1.5", "inf", "-inf",
                "nan", "1-1", "2-0", "0-0", "1-*", "*", "$", ">", "-", "+", "(1-1", "(2",
                "18446744073709551615-18446744073709551615",
            ]),
            2 => prop::sample::select(vec![
                "h", "l", "s", "x", "str", "none", "f", "a", "b", "", "x", "g", "c",
                "9223372036854775807", "-9223372036854775808", "4294967295", "LEFT", "RIGHT",
                "BEFORE", "AFTER", "RANK", "COUNT", "MAXLEN", "MINID", "LIMIT", "~", "=",
                "NOMKSTREAM", "MKSTREAM", "ENTRIESREAD", "STREAMS", "GROUP", "NOACK", "BLOCK",
                "IDLE", "TIME", "RETRYCOUNT", "FORCE", "JUSTID", "LASTID", "WITHVALUES",
                "MATCH", "NOVALUES", "REPLACE", "DB", "ENCODING", "CREATE", "SETID", "DESTROY",
                "CREATECONSUMER", "DELCONSUMER", "STREAM", "GROUPS", "CONSUMERS", "FULL",
            ]),
        ], 0..8),
        now in 0u64..3000,
    ) {
        let mut store = Store::new();
        for setup in [
            "HSET h f 1 a x",
            "RPUSH l a b a c",
            "SADD s a b 1",
            "XADD x 1-1 f v",
            "XADD x 2-0 a b",
            "XGROUP CREATE x g 0",
            "XREADGROUP GROUP g c COUNT 1 STREAMS x >",
            "SET str abc",
        ] {
            let args: Vec<String> = setup.split(' ').map(String::from).collect();
            run_at(&mut store, 1000, &args);
        }
        let mut command = vec![name.to_string(), first.to_string()];
        command.extend(args.iter().map(|a| a.to_string()));
        let mut twin = store.clone();
        let reply = run_at(&mut store, now, &command);
        prop_assert_eq!(&reply, &run_at(&mut twin, now, &command));
        prop_assert!(store == twin);
        let mut bytes = Vec::new();
        store.write_snapshot(&mut bytes).unwrap();
        prop_assert!(Store::read_snapshot(&mut bytes.as_slice()).unwrap() == store);
    }
}
