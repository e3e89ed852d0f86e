//! The engine: runs a script in a sandboxed Lua 5.1 state.
//!
//! The state (an `mlua::Lua` with only the base, string, table and math libraries) is this
//! thread's [`Interpreter`], reused between runs (see `interpreter` for why that is
//! invisible to scripts). For each run, the prelude's `new_run` builds the script's
//! environment: a read-only global table that raises Redis's `Script attempted to access
//! nonexistent global variable` for a missing name and `Attempt to modify a readonly table`
//! for any assignment, read-only library tables, the `redis` library, `KEYS` and `ARGV`, a
//! source-only `loadstring`, and `math.random` drawing from the replicated generator. Every
//! table a script can reach is new for its run, so no script can leave anything behind for
//! the next one, and the result depends only on the store, the entry and the script.
//!
//! The script runs under `xpcall` with a Rust message handler that turns any error into Redis's
//! text: `<error> script: <sha>, on @user_script:<line>.`, where a plain Lua error gets the
//! `ERR ` prefix and a table raised by `redis.call` keeps its own. A hook every
//! [`SCRIPT_HOOK_INSTRUCTIONS`] instructions counts the budget; once spent, it raises on every
//! later tick and `pcall` re-raises, so a script cannot catch the end of its budget.

use super::convert::{number_argument, reply_to_lua, LibraryError};
use super::interpreter::{self, Interpreter, Sandbox};
pub(crate) use super::run_state::FunctionMeta;
use super::run_state::{RunState, CHUNK_NAME, OUT_OF_MEMORY};
use super::{sha1_hex, INSTRUCTION_LIMIT_ERROR, MAX_SCRIPT_INSTRUCTIONS, SCRIPT_HOOK_INSTRUCTIONS};
use crate::command::Command;
use crate::command_table;
use crate::random::Rng;
use crate::{Error, Store};
use bytes::Bytes;
use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, Variadic, VmState};
use resp::Reply;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The chunk name of a function library's code (errors say `user_function:1:`).
const FUNCTION_CHUNK_NAME: &str = "@user_function";

/// The Redis version scripts see in `redis.REDIS_VERSION`.
const REDIS_VERSION: &str = "7.0.0";

/// Texts of the errors `redis.call` raises (Redis's).
const NO_ARGUMENTS: &str = "ERR Please specify at least one argument for this redis lib call";
const BAD_ARGUMENT: &str = "ERR Lua redis lib command arguments must be strings or integers";
const UNKNOWN_COMMAND: &str = "ERR Unknown Redis command called from script";
const WRONG_ARITY: &str = "ERR Wrong number of args calling Redis command from script";
const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
const WRITE_IN_READ_ONLY: &str = "ERR Write commands are not allowed from read-only scripts.";

/// How the script reaches the store: a write script applies commands, a read-only one queries.
pub(crate) enum Access<'a> {
    /// Inside [`Store::apply`]: commands apply at the entry's time; the script's PUBLISHes
    /// are collected in the vector, for the node to deliver.
    Write(&'a mut Store, &'a mut Vec<(Bytes, Bytes)>),
    /// Inside [`Store::query`]: read commands only.
    Read(&'a Store),
}

/// What a run does with its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// EVAL and friends: the body is a script, with its shebang if any.
    Eval,
    /// FCALL: the body is a library's code (after its `#!lua` line); run it to register its
    /// functions, then call the one named by [`Script::name`] with `(KEYS, ARGV)`.
    Call {
        /// The function is flagged `no-writes`: it may not write, wherever it runs.
        no_writes: bool,
    },
    /// FUNCTION LOAD: run a library's code and report what it registers.
    Load,
}

/// One script run's inputs.
pub(crate) struct Script<'a> {
    /// The source.
    pub(crate) body: &'a [u8],
    /// What error texts name it by: a script's SHA-1, a function's name.
    pub(crate) sha: &'a str,
    /// `KEYS`.
    pub(crate) keys: &'a [Bytes],
    /// `ARGV`.
    pub(crate) args: &'a [Bytes],
    /// What to do with the body.
    pub(crate) kind: Kind,
}

/// A script's shebang line (`#!lua flags=no-writes`), as Redis 7 reads it.
struct Shebang<'a> {
    /// `flags=no-writes`: the script may not write, wherever it runs.
    no_writes: bool,
    /// The code to compile: the body from the end of the shebang line (its newline kept, so
    /// line numbers stay those of the body).
    code: &'a [u8],
}

/// The flags Redis 7 accepts in a shebang (only `no-writes` changes anything here).
const SHEBANG_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// Reads the shebang of `body`, if any (Redis's error texts).
fn shebang(body: &[u8]) -> Result<Shebang<'_>, Reply> {
    if !body.starts_with(b"#!") {
        return Ok(Shebang {
            no_writes: false,
            code: body,
        });
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(Reply::error("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(Reply::error(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut no_writes = false;
    for word in words {
        let Some(flags) = word.strip_prefix("flags=") else {
            return Err(Reply::error(format!(
                "ERR Unknown lua shebang option: {word}"
            )));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            if !SHEBANG_FLAGS.contains(&flag) {
                return Err(Reply::error(format!(
                    "ERR Unexpected flag in script shebang: {flag}"
                )));
            }
            no_writes |= flag == "no-writes";
        }
    }
    Ok(Shebang {
        no_writes,
        code: &body[end..],
    })
}

/// Compiles `body` without running it (SCRIPT LOAD): the compile error reply if it does not.
pub(crate) fn compile_check(body: &[u8]) -> Result<(), Reply> {
    let code = shebang(body)?.code;
    let compiled = interpreter::with(&SANDBOX, Rng::new(0, 0), |interpreter| {
        Ok(interpreter
            .lua
            .load(code)
            .set_name(CHUNK_NAME)
            .set_mode(ChunkMode::Text)
            .into_function()
            .map(|_| ()))
    });
    match compiled {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(compile_error(&e)),
        Err(e) => Err(internal(&e)),
    }
}

/// Runs a script to its reply, and says whether it compiled (its shebang included). Never
/// panics on any script; every failure is an error reply.
pub(crate) fn run(access: Access<'_>, now: u64, rng: Rng, script: &Script<'_>) -> (Reply, bool) {
    let (reply, compiled, _) = run_state(access, now, rng, script);
    (reply, compiled)
}

/// Runs a library's code (after its `#!lua` line) in the loading environment, as FUNCTION
/// LOAD does: the functions it registers, or the error reply (Redis's texts).
pub(crate) fn load_library(code: &[u8]) -> Result<Vec<FunctionMeta>, Reply> {
    let store = Store::default();
    let script = Script {
        body: code,
        sha: "",
        keys: &[],
        args: &[],
        kind: Kind::Load,
    };
    let (reply, _, library) = run_state(Access::Read(&store), 0, Rng::new(0, 0), &script);
    if reply.is_error() {
        return Err(reply);
    }
    Ok(library)
}

/// [`run`], also handing back whether the script compiled and what a library registered.
fn run_state(
    access: Access<'_>,
    now: u64,
    rng: Rng,
    script: &Script<'_>,
) -> (Reply, bool, Vec<FunctionMeta>) {
    let result = interpreter::with(&SANDBOX, rng, |interpreter| {
        let reply = run_in(interpreter, access, now, script)?;
        let state = &interpreter.state;
        Ok((reply, state.compiled.get(), state.library.take()))
    });
    result.unwrap_or_else(|e| (internal(&e), false, Vec::new()))
}

/// The Lua source of the sandbox.
const PRELUDE: &str = include_str!("prelude.lua");

/// Scripts run once when an interpreter is built, before its base figure is taken: the paths
/// an ordinary run takes (calls, errors raised and caught, the libraries, a function library).
const WARM_UP: &[(&str, Kind)] = &[
    (
        "local t = {redis.call('PING'), redis.pcall('NOSUCH'), pcall(error, 'x'), \
         cjson.encode({1}), cmsgpack.pack({1}), struct.pack('>I2', 1), bit.band(1, 3), \
         tostring({}), math.random(), getmetatable(''), loadstring('return 1')()} \
         return redis.call('GET', KEYS[1])",
        Kind::Eval,
    ),
    ("error('warm-up')", Kind::Eval),
    ("return redis.call('NOSUCH')", Kind::Eval),
    (
        "redis.register_function('f', function(keys, args) return redis.call('PING') end)",
        Kind::Load,
    ),
    (
        "redis.register_function('f', function(keys, args) return redis.call('PING') end)",
        Kind::Call { no_writes: true },
    ),
];

/// The sandbox every interpreter is built with.
const SANDBOX: Sandbox = Sandbox {
    install,
    warm_up,
    warm_ups: WARM_UP.len(),
};

/// Loads the prelude with its callbacks into `lua`: `new_run` and the message handler.
fn install(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<(Function, Function)> {
    let new_run: Function = lua
        .load(PRELUDE)
        .set_name("=raftkv prelude")
        .call(prelude_arguments(lua, state)?)?;
    Ok((new_run, handler_function(lua, state)?))
}

/// Runs warm-up script `i` against an empty store.
fn warm_up(interpreter: &Interpreter, i: usize) -> mlua::Result<()> {
    let (body, kind) = WARM_UP[i];
    let script = Script {
        body: body.as_bytes(),
        sha: "f",
        keys: &[],
        args: &[],
        kind,
    };
    run_in(interpreter, Access::Read(&Store::default()), 0, &script).map(|_| ())
}

/// The arguments of the prelude: the long-lived callbacks (they reach the current run through
/// `state`), the Rust libraries and the version.
fn prelude_arguments(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<MultiValue> {
    let budget_state = Rc::clone(state);
    lua.pack_multi((
        sha1hex_function(lua)?,
        setresp_function(lua, state)?,
        log_function(lua)?,
        lua.create_function(|_, err: Value| Ok(raised_text(&err).map(|(text, _)| text)))?,
        lua.create_function(move |_, ()| Ok(budget_state.spent.get()))?,
        random_function(lua, state)?,
        randomseed_function(lua, state)?,
        super::cjson::library(lua)?,
        super::bit::library(lua)?,
        super::cmsgpack::library(lua)?,
        super::structlib::library(lua)?,
        REDIS_VERSION,
    ))
}

/// The body of [`run`] in a readied interpreter, with `?` for interpreter failures.
fn run_in(
    interpreter: &Interpreter,
    access: Access<'_>,
    now: u64,
    script: &Script<'_>,
) -> mlua::Result<Reply> {
    let (lua, state) = (&interpreter.lua, &interpreter.state);
    let reading = matches!(access, Access::Read(_));
    let (code, chunk_name, read_only) = match script.kind {
        Kind::Eval => match shebang(script.body) {
            Ok(shebang) => (shebang.code, CHUNK_NAME, reading || shebang.no_writes),
            Err(reply) => return Ok(reply),
        },
        Kind::Call { no_writes } => (script.body, FUNCTION_CHUNK_NAME, reading || no_writes),
        Kind::Load => (script.body, FUNCTION_CHUNK_NAME, true),
    };
    let eval = script.kind == Kind::Eval;
    let access = RefCell::new(access);
    let run_command = |args: &[Value]| match command_args(args) {
        Ok(args) => call(&mut access.borrow_mut(), now, read_only, &args),
        Err(text) => Reply::error(text),
    };
    lua.scope(|scope| {
        let call_state = Rc::clone(state);
        let redis_call =
            scope.create_function(move |lua, args: Variadic<Value>| match run_command(&args) {
                Reply::Error(text) => Err(raise(text)),
                reply => reply_to_lua(lua, &reply, call_state.resp.get()),
            })?;
        let pcall_state = Rc::clone(state);
        let redis_pcall = scope.create_function(move |lua, args: Variadic<Value>| {
            reply_to_lua(lua, &run_command(&args), pcall_state.resp.get())
        })?;
        // Scripts see KEYS and ARGV; functions get them as arguments instead.
        let (keys, args) = if eval {
            (
                Some(string_array(lua, script.keys)?),
                Some(string_array(lua, script.args)?),
            )
        } else {
            (None, None)
        };
        let (env, runner, library): (Table, Function, Table) =
            interpreter
                .new_run
                .call((redis_call, redis_pcall, keys, args))?;
        let main = match lua
            .load(code)
            .set_name(chunk_name)
            .set_mode(ChunkMode::Text)
            .set_environment(env)
            .into_function()
        {
            Ok(main) => main,
            Err(e) if eval => return Ok(compile_error(&e)),
            Err(e) => return Ok(function_compile_error(&e)),
        };
        state.compiled.set(true);
        state.chunk_name.set(chunk_name);
        set_budget_hook(lua, state)?;
        let handler = &interpreter.handler;
        if eval {
            let (ok, value): (bool, Value) = runner.call((main, handler))?;
            return Ok(state.outcome(ok, &value, |text, line| {
                format!("{text} script: {}, on @user_script:{line}.", script.sha)
            }));
        }
        // A library's code runs in the loading environment and registers its functions.
        library.get::<Function>("begin")?.call::<()>(())?;
        let (ok, value): (bool, Value) = runner.call((main, handler))?;
        library.get::<Function>("finish")?.call::<()>(())?;
        if !ok {
            return Ok(state.outcome(ok, &value, |text, _| {
                format!("ERR Error registering functions: {text}")
            }));
        }
        let registered: Table = library.get("registered")?;
        if script.kind == Kind::Load {
            let names: Table = library.get("names")?;
            if names.raw_len() == 0 {
                return Ok(Reply::error("ERR No functions registered"));
            }
            for name in names.sequence_values::<String>() {
                let name = name?;
                let entry: Table = registered.get(name.as_str())?;
                let flags: Table = entry.get("flags")?;
                let mut meta = FunctionMeta {
                    name,
                    description: entry.get("description")?,
                    flags: Vec::new(),
                };
                for flag in SHEBANG_FLAGS {
                    if flags.get::<bool>(*flag)? {
                        meta.flags.push((*flag).to_string());
                    }
                }
                state.library.borrow_mut().push(meta);
            }
            return Ok(Reply::ok());
        }
        let Some(entry) = registered.get::<Option<Table>>(script.sha)? else {
            return Ok(Error::FunctionNotFound.to_reply());
        };
        let callback: Function = entry.get("callback")?;
        let keys = string_array(lua, script.keys)?;
        let args = string_array(lua, script.args)?;
        let (ok, value): (bool, Value) = runner.call((callback, handler, keys, args))?;
        Ok(state.outcome(ok, &value, |text, line| {
            format!("{text} script: {}, on @user_function:{line}.", script.sha)
        }))
    })
}

/// The arguments of a `redis.call`: strings, or numbers formatted as Redis does.
fn command_args(args: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err(NO_ARGUMENTS);
    }
    args.iter()
        .map(|arg| match arg {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Ok(Bytes::from(n.to_string())),
            Value::Number(n) => Ok(Bytes::from(number_argument(*n))),
            _ => Err(BAD_ARGUMENT),
        })
        .collect()
}

/// Runs one command for the script and returns its reply (errors as error replies).
fn call(access: &mut Access<'_>, now: u64, read_only: bool, args: &[Bytes]) -> Reply {
    let cmd = match Command::parse(args) {
        Ok(cmd) => cmd,
        Err(Error::UnknownCommand { .. }) => {
            let known = command_table::lookup(&args[0]).is_some();
            return Reply::error(if known { NOT_ALLOWED } else { UNKNOWN_COMMAND });
        }
        Err(Error::WrongArity(_)) => return Reply::error(WRONG_ARITY),
        Err(e) => return e.to_reply(),
    };
    // Scripts may not run scripts.
    if matches!(cmd, Command::Script(_)) {
        return Reply::error(NOT_ALLOWED);
    }
    if cmd.is_write() && read_only {
        return Reply::error(WRITE_IN_READ_ONLY);
    }
    match access {
        Access::Write(store, messages) => {
            let reply = store.apply(now, &cmd);
            // The node delivers the message once the entry is applied; the script sees 0
            // receivers on every node (a node's own count would differ between replicas).
            if let (Command::Publish { channel, message }, false) = (&cmd, reply.is_error()) {
                messages.push((channel.clone(), message.clone()));
            }
            reply
        }
        Access::Read(store) => store.query(now, &cmd),
    }
}

/// An error of the `redis` library (a failed `redis.call`, bad arguments): raised as is, its
/// text already has its code (`ERR ...`), and `pcall` hands the script that text.
#[derive(Debug)]
struct RedisError(String);

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisError {}

/// The Lua error for a `redis` library failure with `text`.
fn raise(text: impl Into<String>) -> mlua::Error {
    mlua::Error::external(RedisError(text.into()))
}

/// The text of `err` if one of the Rust libraries raised it (possibly wrapped by mlua), and
/// whether it is a [`RedisError`] (whose text has its code already).
fn raised_text(err: &Value) -> Option<(String, bool)> {
    let Value::Error(e) = err else {
        return None;
    };
    let mut e: &mlua::Error = e;
    loop {
        match e {
            mlua::Error::CallbackError { cause, .. } => e = cause,
            mlua::Error::ExternalError(inner) => {
                if let Some(r) = inner.downcast_ref::<RedisError>() {
                    return Some((r.0.clone(), true));
                }
                return inner
                    .downcast_ref::<LibraryError>()
                    .map(|r| (r.0.clone(), false));
            }
            _ => return None,
        }
    }
}

/// `redis.sha1hex(s)`: strings and numbers as text, anything else as the empty string.
fn sha1hex_function(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|_, args: Variadic<Value>| {
        let [arg] = args.as_slice() else {
            return Err(raise("ERR wrong number of arguments"));
        };
        let text = match arg {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(n) => n.to_string().into_bytes(),
            Value::Number(n) => super::convert::format_g(*n, 14).into_bytes(),
            _ => Vec::new(),
        };
        Ok(sha1_hex(&text))
    })
}

/// `redis.setresp(2 | 3)`.
fn setresp_function(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<Function> {
    let state = Rc::clone(state);
    lua.create_function(move |_, args: Variadic<Value>| {
        let [n] = args.as_slice() else {
            return Err(raise("ERR redis.setresp() requires one argument."));
        };
        match n {
            Value::Integer(2) => state.resp.set(2),
            Value::Integer(3) => state.resp.set(3),
            Value::Number(n) if *n == 2.0 => state.resp.set(2),
            Value::Number(n) if *n == 3.0 => state.resp.set(3),
            _ => return Err(raise("ERR RESP version must be 2 or 3.")),
        }
        Ok(())
    })
}

/// `redis.log(level, message ...)`: checks its arguments and drops the line (logging is a
/// side effect outside the state machine).
fn log_function(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|_, args: Variadic<Value>| {
        if args.len() < 2 {
            return Err(raise("ERR redis.log() requires two arguments or more."));
        }
        let level = match &args[0] {
            Value::Integer(n) => *n as f64,
            Value::Number(n) => *n,
            _ => -1.0,
        };
        if !(0.0..=3.0).contains(&level) {
            return Err(raise("ERR Invalid debug level."));
        }
        Ok(())
    })
}

/// `math.random([m [, n]])` as Lua 5.1 defines it, drawing from the replicated generator.
fn random_function(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<Function> {
    let state = Rc::clone(state);
    lua.create_function(move |_, args: Variadic<f64>| {
        let r = (state.rng.borrow_mut().next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        match args.as_slice() {
            [] => Ok(r),
            [m] => {
                let m = m.trunc();
                if m < 1.0 {
                    return Err(mlua::Error::runtime(
                        "bad argument #1 to 'random' (interval is empty)",
                    ));
                }
                Ok((r * m).floor() + 1.0)
            }
            [m, n] => {
                let (m, n) = (m.trunc(), n.trunc());
                if m > n {
                    return Err(mlua::Error::runtime(
                        "bad argument #2 to 'random' (interval is empty)",
                    ));
                }
                Ok((r * (n - m + 1.0)).floor() + m)
            }
            _ => Err(mlua::Error::runtime("wrong number of arguments")),
        }
    })
}

/// `math.randomseed(x)`: restarts this run's generator from `x`.
fn randomseed_function(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<Function> {
    let state = Rc::clone(state);
    lua.create_function(move |_, seed: f64| {
        *state.rng.borrow_mut() = Rng::new(seed as i64 as u64, 0);
        Ok(())
    })
}

/// A Lua array of strings (`KEYS`, `ARGV`).
fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(table)
}

/// Counts instructions; past the budget, every tick raises.
fn set_budget_hook(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<()> {
    let state = Rc::clone(state);
    let executed = Cell::new(0u64);
    let triggers = HookTriggers::new().every_nth_instruction(SCRIPT_HOOK_INSTRUCTIONS);
    lua.set_hook(triggers, move |_, _| {
        executed.set(executed.get() + u64::from(SCRIPT_HOOK_INSTRUCTIONS));
        if executed.get() > MAX_SCRIPT_INSTRUCTIONS {
            state.spent.set(true);
            return Err(mlua::Error::runtime(INSTRUCTION_LIMIT_ERROR));
        }
        Ok(VmState::Continue)
    })
}

/// The `xpcall` message handler: keeps the error's text, as Redis words it, and the line of
/// the user code (the run's chunk) it happened on.
fn handler_function(lua: &Lua, state: &Rc<RunState>) -> mlua::Result<Function> {
    let state = Rc::clone(state);
    lua.create_function(move |lua, err: Value| {
        let text = if state.spent.get() {
            INSTRUCTION_LIMIT_ERROR.to_string()
        } else {
            error_text(&err)
        };
        *state.failure.borrow_mut() = Some((text, error_line(lua, state.chunk_name.get())));
        Ok(())
    })
}

/// The text of a raised Lua value: a table's `err` field as is, anything else after `ERR `.
fn error_text(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "ERR script raised a table without an err field".to_string(),
        },
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        Value::Nil => "ERR nil".to_string(),
        Value::Boolean(b) => format!("ERR {b}"),
        Value::Number(n) => format!("ERR {}", number_argument(*n)),
        Value::Integer(n) => format!("ERR {n}"),
        Value::Error(e) => match raised_text(err) {
            Some((text, true)) => text,
            Some((text, false)) => format!("ERR {text}"),
            None => format!("ERR {}", rust_error_text(e)),
        },
        other => format!("ERR {}", other.type_name()),
    }
}

/// The message of an error raised by one of the Rust callbacks, without mlua's decoration.
fn rust_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => rust_error_text(cause),
        mlua::Error::ExternalError(inner) => inner.to_string(),
        mlua::Error::WithContext { cause, .. } => rust_error_text(cause),
        mlua::Error::RuntimeError(text) => text.clone(),
        mlua::Error::MemoryError(_) => "not enough memory".to_string(),
        other => other.to_string(),
    }
}

/// The line of the user code where the error happened: the innermost frame of chunk
/// `chunk_name` (0 if none).
fn error_line(lua: &Lua, chunk_name: &str) -> usize {
    for level in 1..64 {
        let frame = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            (
                source.source.as_deref() == Some(chunk_name),
                debug.current_line(),
            )
        });
        match frame {
            None => break,
            Some((true, line)) => return line.unwrap_or(0),
            Some((false, _)) => {}
        }
    }
    0
}

/// The reply for a script that does not compile (Redis's text).
fn compile_error(e: &mlua::Error) -> Reply {
    let message = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => rust_error_text(other),
    };
    Reply::error(
        format!("ERR Error compiling script (new function): {message}").replace(['\r', '\n'], " "),
    )
}

/// The reply for a library that does not compile (Redis's text).
fn function_compile_error(e: &mlua::Error) -> Reply {
    let message = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => rust_error_text(other),
    };
    Reply::error(format!("ERR Error compiling function: {message}").replace(['\r', '\n'], " "))
}

/// The reply for a failure of the interpreter itself (out of memory while setting up).
fn internal(e: &mlua::Error) -> Reply {
    match e {
        mlua::Error::MemoryError(_) => Reply::error(OUT_OF_MEMORY),
        other => Reply::error(
            format!("ERR script engine failure: {}", rust_error_text(other))
                .replace(['\r', '\n'], " "),
        ),
    }
}
