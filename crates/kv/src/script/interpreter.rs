//! The Lua interpreter a thread keeps between script runs, and why reusing it changes nothing
//! a script can observe.
//!
//! Building an interpreter (the Lua state, its libraries, the engine's sandbox of
//! `prelude.lua`) costs far more than a small script's run, so each thread keeps one
//! [`Interpreter`] and lends it to one run at a time ([`with`]). The engine hands over its
//! sandbox as a [`Sandbox`] (plain functions), so this module does not import the engine.
//! Three things keep a run's result a function of the store, the entry and the script alone,
//! as if the interpreter were fresh:
//!
//! - **Nothing a script can modify is shared.** The prelude splits in two: its first part runs
//!   once per interpreter and keeps the pristine libraries as upvalues; its second part,
//!   `new_run`, builds every table a script can reach (the environment, `redis`, the read-only
//!   proxies of `string`, `table`, `math` and the Rust libraries, `KEYS`, `ARGV`, the function
//!   library state) afresh for each run. What runs share is functions, which a script cannot
//!   change (there is no `debug`, `getfenv` or `setfenv`), and tables reachable only through a
//!   metatable whose `__metatable` field hides it (`getmetatable` answers `false`, or for
//!   strings a table of the run's own). `rawset` on a proxy changes only that run's proxy.
//! - **Every run starts from the same heap.** Lua's memory accounting decides where a script
//!   hits [`MAX_SCRIPT_MEMORY_BYTES`], and the collector's pace follows the heap's size, so the
//!   heap must not carry anything from earlier runs. [`Interpreter::begin`] collects all
//!   garbage and checks that Lua's byte count is exactly the figure the interpreter had when
//!   it was built (the same for every interpreter of a build); if anything differs (a larger
//!   string table, a longer stack, a metatable a script enlarged), the interpreter is dropped
//!   and a fresh one built. The memory limit is that figure plus
//!   [`MAX_SCRIPT_MEMORY_BYTES`]. For the same reason there is no cache of compiled chunks in
//!   the heap: a script is compiled on each run (cheap next to the rest for small scripts).
//! - **A run that ended badly is not reused.** After an interpreter failure, a spent
//!   instruction budget or running out of memory, [`with`] drops the interpreter; the next run
//!   builds a fresh one.
//!
//! Building ends with the sandbox's warm-up: a few runs through the ordinary path, so that
//! whatever Lua and mlua create on first use (metatables of callbacks, registry slots) exists
//! before the base figure is taken, and most runs leave the heap at it. Not all: a run that
//! raised an error through a missing global, or returned `redis.call('PING')`, leaves a few
//! bytes more or less (not traced yet), and the next run pays for a fresh interpreter.

use super::run_state::RunState;
use super::MAX_SCRIPT_MEMORY_BYTES;
use crate::random::Rng;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// How many full collections [`Interpreter::begin`] runs: the second frees what the first
/// only finalized (the callbacks of the last run).
const COLLECTIONS: usize = 2;

/// How far Lua's byte count at the start of a run may be from the figure the interpreter had
/// when built: none. Lua keeps some internal sizes from earlier runs (stacks, a message buffer,
/// the string table, which shrink by halves, once per collection), and the collector's pace
/// and the point where a script runs out of memory follow them: a 16 KiB tolerance let a deep
/// recursion shift where a later script ran out of memory (130,680 against 130,807 strings in
/// `tests/lua.rs`). So any difference means a fresh interpreter.
const MAX_HEAP_DRIFT_BYTES: usize = 0;

thread_local! {
    /// This thread's interpreter, between runs (taken out during one).
    static SPARE: RefCell<Option<Interpreter>> = const { RefCell::new(None) };
    /// How many interpreters this thread has built (tests check reuse with it).
    static BUILT: Cell<u64> = const { Cell::new(0) };
}

/// Loads a sandbox into a fresh state whose callbacks share the run state: returns the
/// prelude's `new_run` and the `xpcall` message handler.
pub(super) type Install = fn(&Lua, &Rc<RunState>) -> mlua::Result<(Function, Function)>;

/// How the engine's sandbox goes into a fresh Lua state. The engine owns the sandbox (the
/// prelude, the callbacks, the warm-up scripts); this module owns only keeping it between runs.
pub(super) struct Sandbox {
    /// Loads the sandbox.
    pub(super) install: Install,
    /// Runs one warm-up script in a built interpreter, readied for it.
    pub(super) warm_up: fn(&Interpreter, usize) -> mlua::Result<()>,
    /// How many warm-up scripts there are.
    pub(super) warm_ups: usize,
}

/// A Lua state with the sandbox built, ready for runs.
pub(super) struct Interpreter {
    /// The prelude's `new_run(call, pcall, KEYS, ARGV)`: one run's environment, runner and
    /// function library support.
    pub(super) new_run: Function,
    /// What the callbacks of the current run share (reset by [`Interpreter::begin`]).
    pub(super) state: Rc<RunState>,
    /// The `xpcall` message handler runs use.
    pub(super) handler: Function,
    /// The metatable every string shares: `new_run` gives it a `__metatable` stand-in, reset
    /// after the run so the stand-in does not outlive it.
    string_meta: Table,
    /// Lua's byte count at the start of every run, after a full collection (taken when built).
    base_bytes: usize,
    /// The state (last: the handles above go before it).
    pub(super) lua: Lua,
}

impl Interpreter {
    /// Builds an interpreter: the libraries scripts may use, the sandbox, the warm-up; then
    /// takes the base figure.
    fn build(sandbox: &Sandbox) -> mlua::Result<Interpreter> {
        BUILT.with(|built| built.set(built.get() + 1));
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(MAX_SCRIPT_MEMORY_BYTES)?;
        let state = Rc::new(RunState::new());
        let (new_run, handler) = (sandbox.install)(&lua, &state)?;
        let string_meta: Table = lua.load("return getmetatable('')").eval()?;
        let mut interpreter = Interpreter {
            new_run,
            state,
            handler,
            string_meta,
            base_bytes: 0,
            lua,
        };
        for i in 0..sandbox.warm_ups {
            interpreter.state.reset(Rng::new(0, 0));
            (sandbox.warm_up)(&interpreter, i)?;
            interpreter.finish();
        }
        for _ in 0..COLLECTIONS {
            interpreter.lua.gc_collect()?;
        }
        interpreter.base_bytes = interpreter.lua.used_memory();
        Ok(interpreter)
    }

    /// Readies the interpreter for a run drawing from `rng`: collects the last run's garbage
    /// and checks the heap is back at the base figure (false if not: the interpreter must not
    /// be used), sets the memory limit, resets the run's shared state.
    fn begin(&self, rng: Rng) -> mlua::Result<bool> {
        // Two full collections: the first finalizes the last run's callbacks, the second frees
        // them; the collector's pace then starts from the live heap, as in a fresh one.
        for _ in 0..COLLECTIONS {
            self.lua.gc_collect()?;
        }
        let used = self.lua.used_memory();
        if used.abs_diff(self.base_bytes) > MAX_HEAP_DRIFT_BYTES {
            return Ok(false);
        }
        self.lua.set_memory_limit(used + MAX_SCRIPT_MEMORY_BYTES)?;
        self.state.reset(rng);
        Ok(true)
    }

    /// Ends a run: the hook goes, and the strings' metatable stand-in with it.
    fn finish(&self) {
        self.lua.remove_hook();
        // Cannot fail: the key exists (the warm-up set it), so nothing is allocated.
        let _ = self.string_meta.raw_set("__metatable", Value::Nil);
    }

    /// True if the run that just ended leaves the interpreter fit for another.
    fn reusable(&self) -> bool {
        !self.state.spent.get() && !self.state.out_of_memory.get()
    }
}

/// Runs `run` with this thread's interpreter, readied for a run drawing from `rng` (a fresh one
/// built with `sandbox` if there is none, or the kept one is not back at its base figure). The
/// interpreter is kept for the next run unless `run` failed or the run spent its budget or
/// memory. A nested
/// call (none exists today: scripts cannot run scripts) gets an interpreter of its own.
pub(super) fn with<R>(
    sandbox: &Sandbox,
    rng: Rng,
    run: impl FnOnce(&Interpreter) -> mlua::Result<R>,
) -> mlua::Result<R> {
    let kept = SPARE.with(|spare| spare.borrow_mut().take());
    let interpreter = match kept {
        Some(interpreter) if interpreter.begin(rng.clone())? => interpreter,
        _ => {
            let interpreter = Interpreter::build(sandbox)?;
            if !interpreter.begin(rng)? {
                return Err(mlua::Error::runtime(
                    "a fresh interpreter is not at its base figure",
                ));
            }
            interpreter
        }
    };
    let result = run(&interpreter);
    interpreter.finish();
    if result.is_ok() && interpreter.reusable() {
        SPARE.with(|spare| *spare.borrow_mut() = Some(interpreter));
    }
    result
}

/// How many interpreters this thread has built so far.
pub fn interpreters_built() -> u64 {
    BUILT.with(Cell::get)
}
