//! Lua scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL;
//! and Redis 7 functions (FUNCTION, FCALL, FCALL_RO: [`function`]), which run on the same
//! engine under the same rules.
//!
//! A script is Lua 5.1, as in Redis, run inside the state machine by a sandboxed interpreter
//! (mlua, vendored) that each thread reuses, with every table the script can reach built
//! afresh for its run and the heap back at the same figure before it (`interpreter`). The
//! whole design follows from one rule: **a script is one log entry and every replica runs it
//! to the same result.** So:
//!
//! - A write script ([`ScriptCommand::Eval`], [`ScriptCommand::EvalSha`]) travels through the
//!   log as its body (or its SHA-1) with its keys and arguments, and runs inside
//!   [`crate::Store::apply`]. Its `redis.call`s apply to the store directly, in the same apply,
//!   so nothing else interleaves with them.
//! - Everything a script can observe is a function of the store and the entry: `TIME` answers
//!   the entry's timestamp, `math.random` draws from the store's replicated random sequence
//!   (the one SPOP uses; `math.randomseed` reseeds it for this run only), SPOP and friends draw
//!   as on every other replica, and there is no `os`, `io`, `require`, `loadfile`, `dofile`,
//!   `print`, no bytecode loading and no memory figure (`collectgarbage` answers 0).
//! - The running-time limit is an instruction count ([`MAX_SCRIPT_INSTRUCTIONS`], counted by a
//!   hook every [`SCRIPT_HOOK_INSTRUCTIONS`]), never a clock, so a script stops at the same
//!   instruction on every replica with the same error; memory is capped by
//!   [`MAX_SCRIPT_MEMORY_BYTES`], also counted, not timed, from a heap that is the same at the
//!   start of every run.
//! - **A script that fails half-way keeps the writes it made before the failure**, as in
//!   Redis: there is no rollback. This is deterministic too: every replica stops at the same
//!   point.
//! - Scripts loaded with SCRIPT LOAD (and those run by EVAL, as Redis caches them) are
//!   replicated state: a SCRIPT LOAD is itself a log entry, the cache is part of the store and
//!   of snapshots (from format version 4; function libraries from version 5), so EVALSHA
//!   works on every node after a SCRIPT LOAD on any node, and after restarts. The cache holds
//!   at most [`MAX_CACHED_SCRIPTS`] scripts.
//! - Read-only scripts (EVAL_RO, EVALSHA_RO) and SCRIPT EXISTS are reads: they are answered by
//!   [`crate::Store::query`] on the linearizable read path and refuse any write command with
//!   Redis's error.
//!
//! The run, its sandbox and the `redis` library are in `engine`, the reused interpreter in
//! `interpreter`, what the two share during a run in `run_state`; the conversions between Lua
//! values and replies in `convert`; SHA-1 in `sha1`; the `cjson`, `cmsgpack`,
//! `struct` and `bit` libraries in `cjson`, [`cmsgpack`], [`structlib`] and `bit`; Redis 7
//! functions (FUNCTION, FCALL) in [`function`].

mod bit;
mod cjson;
pub mod cmsgpack;
mod convert;
mod engine;
pub mod function;
mod interpreter;
pub(crate) mod request;
mod run_state;
mod sha1;
pub mod structlib;

use crate::random::Rng;
use crate::{Error, Store};
use bytes::Bytes;
use resp::Reply;

pub(crate) use function::Functions;
pub use interpreter::interpreters_built;
pub use request::{FunctionCommand, RestorePolicy, ScriptCommand};
pub(crate) use sha1::sha1_hex;

/// Largest script body, in bytes (Redis has no limit; a body travels in a log entry and is
/// kept in every replica's cache).
pub const MAX_SCRIPT_BYTES: usize = 1024 * 1024;

/// Most scripts the cache holds. SCRIPT LOAD beyond it is an error; EVAL beyond it still runs
/// the script but does not cache it.
pub const MAX_CACHED_SCRIPTS: usize = 10_000;

/// Most Lua VM instructions one script may execute (about a second of work). Past it the
/// script stops with [`INSTRUCTION_LIMIT_ERROR`], identically on every replica; writes made
/// before stay.
pub const MAX_SCRIPT_INSTRUCTIONS: u64 = 100_000_000;

/// How often (in instructions) the hook counting [`MAX_SCRIPT_INSTRUCTIONS`] runs: the
/// granularity of the limit and the cost of counting.
pub const SCRIPT_HOOK_INSTRUCTIONS: u32 = 10_000;

/// Most memory one run may allocate beyond the interpreter's base heap, in bytes (Lua's own
/// accounting; every run starts from the same heap, so a script stops at the same point on
/// every replica running the same build).
pub const MAX_SCRIPT_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Largest text `cjson.encode` or `cmsgpack.pack` builds, in bytes (16 MiB, the largest
/// command, so anything longer could not be stored anyway): the Rust side of an encoding is
/// outside Lua's memory accounting, and a table holding the same subtable many times can make
/// it grow exponentially.
pub const MAX_ENCODED_BYTES: usize = 16 * 1024 * 1024;

/// The error past [`MAX_ENCODED_BYTES`].
pub const ENCODED_TOO_LARGE: &str = "encoded value exceeds the limit of 16777216 bytes";

/// The error a script gets when it passes [`MAX_SCRIPT_INSTRUCTIONS`] (followed, as every
/// script error, by ` script: <sha>, on @user_script:<line>.`).
pub const INSTRUCTION_LIMIT_ERROR: &str =
    "ERR script exceeded the instruction limit (100000000 instructions)";

/// The error for an EVALSHA of a script not in the cache (Redis's text).
pub const NOSCRIPT_ERROR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// `SCRIPT HELP`'s lines (Redis 7.0's, without `DEBUG`, which raftkv does not serve).
const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache on every node. ASYNC and SYNC do the same.",
    "KILL",
    "    Kill the currently executing Lua script (there never is one between commands).",
    "LOAD <script>",
    "    Load a script into the scripts cache of every node without executing it.",
    "HELP",
    "    Prints this help.",
];

/// The cache of scripts by SHA-1 (lower-case hex), part of the replicated state.
pub(crate) type ScriptCache = imbl::OrdMap<String, Bytes>;

/// Parses EVAL, EVALSHA, EVAL_RO, EVALSHA_RO (`name`, arity already checked).
pub(crate) fn parse_eval(name: &'static str, args: &[Bytes]) -> Result<ScriptCommand, Error> {
    let numkeys = resp::parse_i64(&args[2]).ok_or(Error::NotInteger)?;
    if numkeys < 0 {
        return Err(Error::NumKeysNegative);
    }
    let rest = &args[3..];
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(Error::NumKeysTooMany);
    }
    let keys = rest[..numkeys].to_vec();
    let argv = rest[numkeys..].to_vec();
    let read_only = name.ends_with("_ro");
    if name.starts_with("evalsha") {
        Ok(ScriptCommand::EvalSha {
            sha: String::from_utf8_lossy(&args[1]).to_ascii_lowercase(),
            keys,
            args: argv,
            read_only,
        })
    } else {
        check_body(&args[1])?;
        Ok(ScriptCommand::Eval {
            body: args[1].clone(),
            keys,
            args: argv,
            read_only,
        })
    }
}

/// Parses `SCRIPT subcommand ...` (arity already checked: at least the subcommand).
pub(crate) fn parse_script(args: &[Bytes]) -> Result<ScriptCommand, Error> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let argc = args.len();
    match sub.as_str() {
        "load" if argc == 3 => {
            check_body(&args[2])?;
            Ok(ScriptCommand::Load {
                body: args[2].clone(),
            })
        }
        "load" => Err(Error::WrongArity("script|load")),
        "exists" if argc >= 3 => Ok(ScriptCommand::Exists {
            shas: args[2..].to_vec(),
        }),
        "exists" => Err(Error::WrongArity("script|exists")),
        "flush" => match args.get(2..) {
            Some([]) => Ok(ScriptCommand::Flush),
            Some([mode])
                if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") =>
            {
                Ok(ScriptCommand::Flush)
            }
            _ => Err(Error::ScriptFlushMode),
        },
        "kill" if argc == 2 => Ok(ScriptCommand::Kill),
        "kill" => Err(Error::WrongArity("script|kill")),
        "help" if argc == 2 => Ok(ScriptCommand::Help),
        "help" => Err(Error::WrongArity("script|help")),
        _ => Err(Error::UnknownSubcommand {
            sub: String::from_utf8_lossy(&args[1]).into_owned(),
            command: "SCRIPT",
        }),
    }
}

/// Checks a script body's size.
fn check_body(body: &[u8]) -> Result<(), Error> {
    if body.len() > MAX_SCRIPT_BYTES {
        return Err(Error::ScriptTooLarge);
    }
    Ok(())
}

/// Applies a scripting command as part of a log entry at the store's clock `now`.
/// The messages the script PUBLISHes are appended to `messages`, in order.
pub(crate) fn apply(
    store: &mut Store,
    now: u64,
    cmd: &ScriptCommand,
    messages: &mut Vec<(Bytes, Bytes)>,
) -> Reply {
    match cmd {
        ScriptCommand::Eval {
            read_only: true, ..
        }
        | ScriptCommand::EvalSha {
            read_only: true, ..
        }
        | ScriptCommand::FCall {
            read_only: true, ..
        }
        | ScriptCommand::Exists { .. }
        | ScriptCommand::Kill
        | ScriptCommand::Help => query(store, now, cmd),
        ScriptCommand::Function(f) => function::apply(store, f),
        ScriptCommand::FCall {
            function,
            keys,
            args,
            ..
        } => {
            let rng = Rng::new(now, store.rand_seq);
            store.rand_seq += 1;
            let access = engine::Access::Write(store, messages);
            function::fcall(access, now, rng, function, keys, args, false)
        }
        ScriptCommand::Eval {
            body, keys, args, ..
        } => {
            // Cached as Redis does, if it compiles (a runtime error still caches it).
            let sha = sha1_hex(body);
            let (reply, compiled) = run_write(store, now, body, &sha, keys, args, messages);
            if compiled && store.scripts.len() < MAX_CACHED_SCRIPTS {
                store.scripts.insert(sha, body.clone());
            }
            reply
        }
        ScriptCommand::EvalSha {
            sha, keys, args, ..
        } => match store.scripts.get(sha).cloned() {
            Some(body) => run_write(store, now, &body, sha, keys, args, messages).0,
            None => Reply::error(NOSCRIPT_ERROR),
        },
        ScriptCommand::Load { body } => {
            let sha = sha1_hex(body);
            if store.scripts.contains_key(&sha) {
                return Reply::bulk(sha);
            }
            if store.scripts.len() >= MAX_CACHED_SCRIPTS {
                return Error::TooManyScripts.to_reply();
            }
            if let Err(reply) = engine::compile_check(body) {
                return reply;
            }
            store.scripts.insert(sha.clone(), body.clone());
            Reply::bulk(sha)
        }
        ScriptCommand::Flush => {
            store.scripts = ScriptCache::new();
            Reply::ok()
        }
    }
}

/// Runs a write script: its random draws come from the store's sequence, which advances.
/// Also says whether the script compiled.
fn run_write(
    store: &mut Store,
    now: u64,
    body: &[u8],
    sha: &str,
    keys: &[Bytes],
    args: &[Bytes],
    messages: &mut Vec<(Bytes, Bytes)>,
) -> (Reply, bool) {
    let rng = Rng::new(now, store.rand_seq);
    store.rand_seq += 1;
    let script = engine::Script {
        body,
        sha,
        keys,
        args,
        kind: engine::Kind::Eval,
    };
    engine::run(engine::Access::Write(store, messages), now, rng, &script)
}

/// Answers a read-only scripting command at `now` without changing the store.
pub(crate) fn query(store: &Store, now: u64, cmd: &ScriptCommand) -> Reply {
    let (body, sha, keys, args) = match cmd {
        ScriptCommand::Eval {
            body, keys, args, ..
        } => (body.clone(), sha1_hex(body), keys, args),
        ScriptCommand::EvalSha {
            sha, keys, args, ..
        } => match store.scripts.get(sha) {
            Some(body) => (body.clone(), sha.clone(), keys, args),
            None => return Reply::error(NOSCRIPT_ERROR),
        },
        ScriptCommand::Exists { shas } => {
            return Reply::Array(
                shas.iter()
                    .map(|sha| {
                        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                        Reply::Integer(i64::from(store.scripts.contains_key(&sha)))
                    })
                    .collect(),
            )
        }
        ScriptCommand::Kill => return Error::NotBusy.to_reply(),
        ScriptCommand::Function(f) => return function::query(store, f),
        // Queried, even a plain FCALL runs as FCALL_RO.
        ScriptCommand::FCall {
            function,
            keys,
            args,
            ..
        } => {
            let rng = Rng::new(now, store.rand_seq);
            let access = engine::Access::Read(store);
            return function::fcall(access, now, rng, function, keys, args, true);
        }
        ScriptCommand::Help => {
            return Reply::Array(
                SCRIPT_HELP
                    .iter()
                    .map(|line| Reply::Simple((*line).into()))
                    .collect(),
            )
        }
        ScriptCommand::Load { .. } | ScriptCommand::Flush => {
            return Error::NotReadOnly("script").to_reply()
        }
    };
    let rng = Rng::new(now, store.rand_seq);
    let script = engine::Script {
        body: &body,
        sha: &sha,
        keys,
        args,
        kind: engine::Kind::Eval,
    };
    engine::run(engine::Access::Read(store), now, rng, &script).0
}
