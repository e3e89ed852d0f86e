//! Lua scripts beyond the goldenscript (`tests/scripts/lua`): determinism on three replicas
//! (TIME, math.random, SPOP, the instruction limit, random scripts from a small grammar), the
//! sandbox's limits, and the script cache in snapshots (format version 5). The random
//! scripts also run as functions (FUNCTION LOAD, FCALL); `tests/functions.rs` has the rest.

mod common;

use bytes::Bytes;
use common::{restart, snapshot};
use kv::script::{INSTRUCTION_LIMIT_ERROR, NOSCRIPT_ERROR};
use kv::{Command, Store};
use proptest::prelude::*;
use resp::Reply;

/// Parses a command from text arguments.
fn cmd(args: &[&str]) -> Command {
    let args: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    Command::parse(&args).unwrap()
}

/// `EVAL body 0`.
fn eval(body: &str) -> Command {
    cmd(&["EVAL", body, "0"])
}

/// Applies `log` to three fresh stores (the second restarted from a snapshot half-way, the
/// third fed the commands after a trip through the log encoding); checks that every reply
/// and the final snapshots agree, and returns the replies and one store.
fn three_replicas(log: &[(u64, Command)]) -> (Vec<Reply>, Store) {
    let mut stores = [Store::new(), Store::new(), Store::new()];
    let mut replies = Vec::new();
    for (i, (now, command)) in log.iter().enumerate() {
        if i == log.len() / 2 {
            stores[1] = restart(&stores[1]);
        }
        let encoded = postcard::to_allocvec(command).unwrap();
        let decoded: Command = postcard::from_bytes(&encoded).unwrap();
        assert_eq!(&decoded, command);
        let a = stores[0].apply(*now, command);
        let b = stores[1].apply(*now, command);
        let c = stores[2].apply(*now, &decoded);
        assert_eq!(a, b, "entry {i}: {command:?}");
        assert_eq!(a, c, "entry {i}: {command:?}");
        replies.push(a);
    }
    let first = snapshot(&stores[0]);
    assert_eq!(first, snapshot(&stores[1]));
    assert_eq!(first, snapshot(&stores[2]));
    let [store, _, _] = stores;
    (replies, store)
}

#[test]
fn time_random_and_spop_agree_on_three_replicas() {
    let log = vec![
        (1_000, cmd(&["SADD", "s", "a", "b", "c", "d", "e", "f", "g", "h"])),
        (1_700_000_000_123, eval("return redis.call('TIME')")),
        (1_700_000_000_124, eval("return {math.random(1000000), math.random(1000000), tostring(math.random())}")),
        (1_700_000_000_124, eval("return {math.random(1000000), math.random(1000000)}")),
        (1_700_000_000_125, eval("return {redis.call('SPOP', 's'), redis.call('SRANDMEMBER', 's'), math.random(5, 9)}")),
        (1_700_000_000_126, eval("math.randomseed(42); return math.random(1000000)")),
        (1_700_000_000_127, eval("math.randomseed(42); return math.random(1000000)")),
        (1_700_000_000_128, eval("redis.call('SET', 'before', '1'); while true do end")),
        (1_700_000_000_129, eval("local t = redis.call('TIME'); redis.call('SET', 'at', t[1] .. '.' .. t[2]); return t")),
    ];
    let (replies, store) = three_replicas(&log);
    // TIME is the entry's timestamp, not any node's clock.
    assert_eq!(
        replies[1],
        Reply::Array(vec![Reply::bulk("1700000000"), Reply::bulk("123000")])
    );
    // Two entries in the same millisecond draw different numbers (the sequence advances).
    assert_ne!(replies[2], replies[3]);
    // math.randomseed makes a run repeatable.
    assert_eq!(replies[5], replies[6]);
    // The instruction limit stops the script with the same error everywhere; the write made
    // before it stays (Redis's behaviour: no rollback).
    let Reply::Error(text) = &replies[7] else {
        panic!("not an error: {:?}", replies[7]);
    };
    assert!(text.starts_with(INSTRUCTION_LIMIT_ERROR), "{text}");
    assert_eq!(store.query(0, &cmd(&["GET", "before"])), Reply::bulk("1"));
    assert_eq!(
        store.query(0, &cmd(&["GET", "at"])),
        Reply::bulk("1700000000.129000")
    );
}

#[test]
fn a_script_cannot_catch_the_end_of_its_budget() {
    let mut store = Store::new();
    for body in [
        "while true do pcall(function() while true do end end) end",
        "while true do pcall(function() end) end",
        "local ok = false; while not ok do ok = xpcall(function() while true do end end, function(e) return e end) end; return 'caught'",
        "local function f() return f() end return f()",
        "local n = 0 while true do pcall(function() for i = 1, 1e12 do end end) n = n + 1 if n > 3 then return 'caught' end end",
    ] {
        let reply = store.apply(1, &eval(body));
        let Reply::Error(text) = &reply else {
            panic!("{body}: not an error: {reply:?}");
        };
        assert!(text.starts_with(INSTRUCTION_LIMIT_ERROR), "{body}: {text}");
    }
}

#[test]
fn memory_and_recursion_limits_are_errors() {
    let mut store = Store::new();
    let grow =
        "local t = {} for i = 1, 100000000 do t[i] = string.rep('x', 100) .. i end return #t";
    let reply = store.apply(1, &eval(grow));
    assert!(reply.is_error(), "{reply:?}");
    // Deep recursion is a Lua error, not a crash.
    let reply = store.apply(
        1,
        &eval("local function f(n) return 1 + f(n + 1) end return f(1)"),
    );
    assert!(reply.is_error(), "{reply:?}");
    // A table that contains itself cannot be returned.
    let reply = store.apply(1, &eval("local t = {} t[1] = t return t"));
    assert_eq!(reply, Reply::error("ERR reached lua stack limit"));
    // The store still works.
    assert_eq!(store.apply(1, &eval("return 7")), Reply::Integer(7));
}

#[test]
fn the_sandbox_refuses_bytecode_and_unsafe_libraries() {
    let mut store = Store::new();
    let reply = store.apply(
        1,
        &eval("local f, e = loadstring(string.dump(function() return 1 end)); return e"),
    );
    assert_eq!(reply, Reply::bulk("loading bytecode is not allowed"));
    for name in [
        "os",
        "io",
        "debug",
        "require",
        "dofile",
        "loadfile",
        "package",
        "coroutine",
        "print",
    ] {
        let reply = store.apply(1, &eval(&format!("return {name}")));
        let Reply::Error(text) = &reply else {
            panic!("{name}: {reply:?}");
        };
        assert!(
            text.contains(&format!(
                "Script attempted to access nonexistent global variable '{name}'"
            )),
            "{text}"
        );
    }
    // Memory figures are not observable (they could differ between replicas).
    assert_eq!(
        store.apply(1, &eval("return {collectgarbage('count'), gcinfo()}")),
        Reply::Array(vec![Reply::Integer(0), Reply::Integer(0)])
    );
    // No memory addresses: they differ between replicas.
    assert_eq!(
        store.apply(1, &eval("return {tostring({}), tostring(string.len), tostring(cjson.null), tostring(setmetatable({}, {__tostring = function() return 'mine' end}))}")),
        Reply::Array(vec![
            Reply::bulk("table"),
            Reply::bulk("function"),
            Reply::bulk("userdata"),
            Reply::bulk("mine")
        ])
    );
    // A script cannot leave anything behind for the next one.
    let reply = store.apply(1, &eval("rawset(_G, 'leak', 1) return 1"));
    assert_eq!(reply, Reply::Integer(1));
    let reply = store.apply(1, &eval("return leak"));
    assert!(reply.is_error(), "{reply:?}");
}

#[test]
fn a_failing_script_keeps_its_earlier_writes() {
    let mut store = Store::new();
    let reply = store.apply(
        1,
        &eval("redis.call('SET', 'a', '1'); redis.call('INCR', 'a'); redis.call('HSET', 'a', 'f', 'v'); redis.call('SET', 'b', '1')"),
    );
    assert!(reply.is_error(), "{reply:?}");
    assert_eq!(store.query(1, &cmd(&["GET", "a"])), Reply::bulk("2"));
    assert_eq!(store.query(1, &cmd(&["EXISTS", "b"])), Reply::Integer(0));
}

#[test]
fn scripts_survive_snapshots() {
    let mut store = Store::new();
    let loaded = store.apply(1, &cmd(&["SCRIPT", "LOAD", "return 'one'"]));
    let Reply::Bulk(sha) = loaded else {
        panic!("{loaded:?}");
    };
    let sha = String::from_utf8(sha.to_vec()).unwrap();
    store.apply(1, &eval("return redis.call('SET', 'k', 'v')"));
    let bytes = snapshot(&store);
    assert_eq!(&bytes[8..12], &6u32.to_le_bytes());
    let mut restored = Store::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(restored, store);
    assert_eq!(
        restored.apply(2, &cmd(&["EVALSHA", &sha, "0"])),
        Reply::bulk("one")
    );
    // Every flipped byte in the script chunk (between the data and the 21-byte trailer) is
    // caught.
    let mut without = store.clone();
    without.apply(1, &cmd(&["SCRIPT", "FLUSH"]));
    let start = snapshot(&without).len() - 21;
    assert_eq!(bytes[start], b'S');
    for i in start..bytes.len() - 21 {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(
            Store::read_snapshot(&mut bad.as_slice()).is_err(),
            "byte {i}"
        );
    }
    // After SCRIPT FLUSH the snapshot holds no scripts and EVALSHA fails after a restart.
    store.apply(3, &cmd(&["SCRIPT", "FLUSH"]));
    let mut restored = restart(&store);
    assert_eq!(
        restored.apply(4, &cmd(&["EVALSHA", &sha, "0"])),
        Reply::error(NOSCRIPT_ERROR)
    );
}

/// One statement of the random-script grammar.
fn statement() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "redis.call('INCR', KEYS[1])",
        "redis.call('SADD', 's', math.random(1, 20))",
        "redis.call('SPOP', 's')",
        "redis.call('RPUSH', 'l', math.random())",
        "redis.call('SET', 't', redis.call('TIME')[2])",
        "redis.call('HSET', 'h', ARGV[1], math.random(100))",
        "redis.pcall('INCR', 'h')",
        "if math.random(4) == 1 then error('unlucky') end",
        "redis.call('ZADD', 'z', math.random(10), redis.call('SRANDMEMBER', 's') or 'none')",
        "local r = redis.call('LPOP', 'l')",
    ])
}

/// A random script, its keys and arguments, and the entry's time.
fn entry() -> impl Strategy<Value = (u64, Command)> {
    (
        1_000u64..1_010,
        prop::collection::vec(statement(), 1..6),
        prop::sample::select(vec!["k1", "k2"]),
        prop::sample::select(vec!["f1", "f2", "f3"]),
        0..4,
    )
        .prop_map(|(now, statements, key, field, kind)| {
            let body = format!("{}\nreturn redis.call('DBSIZE')", statements.join("\n"));
            // A function's parameters named KEYS and ARGV run the same statements.
            let library = format!(
                "#!lua name=rnd\nredis.register_function('rnd', function(KEYS, ARGV)\n{body}\nend)"
            );
            let command = match kind {
                0 => cmd(&["SCRIPT", "LOAD", &body]),
                1 => cmd(&["EVAL", &body, "1", key, field]),
                2 => cmd(&["FUNCTION", "LOAD", "REPLACE", &library]),
                _ => cmd(&["FCALL", "rnd", "1", key, field]),
            };
            (now, command)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random scripts applied on three replicas (one restarted from a snapshot half-way) give
    /// the same replies and the same state, byte for byte.
    #[test]
    fn random_scripts_agree(log in prop::collection::vec(entry(), 1..12)) {
        three_replicas(&log);
    }
}

/// Rough costs, printed (not asserted): `cargo test -p raftkv-kv --test lua -- --ignored
/// --nocapture`. A script run against the plain command it wraps, and the instruction hook
/// against the same loop without it. Numbers depend on the build profile and the machine.
#[test]
#[ignore]
fn measure_script_costs() {
    use std::time::Instant;
    const RUNS: u32 = 2_000;
    let mut store = Store::new();
    let incr = cmd(&["INCR", "n"]);
    let start = Instant::now();
    for _ in 0..RUNS {
        store.apply(1, &incr);
    }
    let plain = start.elapsed() / RUNS;
    let script = cmd(&["EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"]);
    let start = Instant::now();
    for _ in 0..RUNS {
        store.apply(1, &script);
    }
    let scripted = start.elapsed() / RUNS;
    println!("INCR applied: {plain:?}; EVAL of an INCR script: {scripted:?}");
    // FCALL runs the library's top level again on every call: a one-function library costs
    // about what EVAL does; each further register_function adds a little.
    store.apply(1, &cmd(&["FUNCTION", "LOAD", "#!lua name=one\nredis.register_function('incr1', function(keys) return redis.call('INCR', keys[1]) end)"]));
    let mut big = String::from("#!lua name=many");
    for i in 0..50 {
        big.push_str(&format!("\nredis.register_function('f{i}', function(keys) return redis.call('INCR', keys[1]) end)"));
    }
    store.apply(1, &cmd(&["FUNCTION", "LOAD", &big]));
    for (label, function) in [
        ("1-function library", "incr1"),
        ("50-function library", "f49"),
    ] {
        let call = cmd(&["FCALL", function, "1", "n"]);
        let start = Instant::now();
        for _ in 0..RUNS {
            store.apply(1, &call);
        }
        println!(
            "FCALL of an INCR function in a {label}: {:?}",
            start.elapsed() / RUNS
        );
    }

    let body = "local x = 0 for i = 1, 20000000 do x = x + i end return x";
    let lua = mlua::Lua::new();
    let start = Instant::now();
    lua.load(body).exec().unwrap();
    let bare = start.elapsed();
    let lua = mlua::Lua::new();
    let counted = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let hook_count = counted.clone();
    let triggers =
        mlua::HookTriggers::new().every_nth_instruction(kv::script::SCRIPT_HOOK_INSTRUCTIONS);
    lua.set_hook(triggers, move |_, _| {
        hook_count.set(hook_count.get() + 1);
        Ok(mlua::VmState::Continue)
    })
    .unwrap();
    let start = Instant::now();
    lua.load(body).exec().unwrap();
    let hooked = start.elapsed();
    println!(
        "20M-iteration loop: {bare:?} bare, {hooked:?} with the hook every {} instructions ({} calls)",
        kv::script::SCRIPT_HOOK_INSTRUCTIONS,
        counted.get()
    );
}

/// A random Lua value as source text: numbers (integers of every encoding width, floats),
/// strings, booleans, and arrays and maps of them, nested.
fn lua_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| format!("{n}")),
        (-100_000i64..100_000).prop_map(|n| format!("{n}")),
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{:e}", f64::from(f))),
        (-1e300f64..1e300).prop_map(|f| format!("{f:e}")),
        "[a-z0-9 ]{0,40}".prop_map(|s| format!("'{s}'")),
        prop::sample::select(vec![
            "true",
            "false",
            "''",
            "string.rep('x', 300)",
            "string.rep('y', 70000)"
        ])
        .prop_map(String::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20)
                .prop_map(|items| format!("{{{}}}", items.join(", "))),
            prop::collection::vec(("[a-z]{1,6}", inner), 1..20).prop_map(|pairs| {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("[{k:?}] = {v}"))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
}

/// Structural equality of two Lua values, in Lua.
const DEEP_EQ: &str = "local function eq(a, b) \
    if type(a) ~= type(b) then return false end \
    if type(a) ~= 'table' then return a == b end \
    for k, v in pairs(a) do if not eq(v, b[k]) then return false end end \
    for k in pairs(b) do if a[k] == nil then return false end end \
    return true end ";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// cmsgpack.unpack(cmsgpack.pack(v)) is v (deep equality), and packing the result again
    /// gives bytes of the same length.
    #[test]
    fn cmsgpack_round_trips(value in lua_value()) {
        let body = format!(
            "{DEEP_EQ} local v = {value} local packed = cmsgpack.pack(v) local back = cmsgpack.unpack(packed) \
             return {{eq(v, back) and 1 or 0, #cmsgpack.pack(back) == #packed and 1 or 0}}"
        );
        let mut store = Store::new();
        let reply = store.apply(1, &eval(&body));
        prop_assert_eq!(reply, Reply::Array(vec![Reply::Integer(1), Reply::Integer(1)]), "{}", value);
    }
}

#[test]
fn encoders_refuse_exponential_output() {
    // Each level holds the previous one 64 times: 64^6 leaves, far past any memory.
    let build =
        "local t = {1} for level = 1, 6 do local n = {} for i = 1, 64 do n[i] = t end t = n end ";
    let mut store = Store::new();
    for encode in ["cmsgpack.pack(t)", "cjson.encode(t)"] {
        let reply = store.apply(1, &eval(&format!("{build} return #{encode}")));
        let Reply::Error(text) = reply else {
            panic!("{encode}: {reply:?}");
        };
        assert!(
            text.contains(kv::script::ENCODED_TOO_LARGE),
            "{encode}: {text}"
        );
    }
}
