//! What the Lua callbacks of one script run share with the engine, and what a library
//! registers: plain state, kept apart from the engine and the interpreter so that both can
//! use it without importing each other.

use super::convert::lua_to_reply;
use crate::random::Rng;
use mlua::Value;
use resp::Reply;
use std::cell::{Cell, RefCell};

/// The chunk name of a user script, as Redis names it (errors say `user_script:1:`).
pub(super) const CHUNK_NAME: &str = "@user_script";

/// The error of a run that ran out of memory (Redis's text).
pub(super) const OUT_OF_MEMORY: &str = "ERR script exceeded the memory limit";

/// What a library's code registered for one function (FUNCTION LIST shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FunctionMeta {
    /// The name, as registered.
    pub(crate) name: String,
    /// The `description`, if given.
    pub(crate) description: Option<String>,
    /// The flags, in the order of the shebang flags, each once.
    pub(crate) flags: Vec<String>,
}

impl FunctionMeta {
    /// True if the function is flagged `no-writes`.
    pub(crate) fn no_writes(&self) -> bool {
        self.flags.iter().any(|f| f == "no-writes")
    }
}

/// What the callbacks of one run share: one per interpreter, reset for each run.
pub(super) struct RunState {
    /// The protocol chosen with `redis.setresp` (2 or 3).
    pub(super) resp: Cell<u8>,
    /// True once the instruction budget is spent.
    pub(super) spent: Cell<bool>,
    /// True if the run ran out of memory.
    pub(super) out_of_memory: Cell<bool>,
    /// The error text and user-code line of a failed run, set by the message handler.
    pub(super) failure: RefCell<Option<(String, usize)>>,
    /// `math.random`'s generator.
    pub(super) rng: RefCell<Rng>,
    /// True once the script compiled.
    pub(super) compiled: Cell<bool>,
    /// What a library registered (`Kind::Load`).
    pub(super) library: RefCell<Vec<FunctionMeta>>,
    /// The chunk name of the code running (errors name its lines).
    pub(super) chunk_name: Cell<&'static str>,
}

impl RunState {
    /// A state for the interpreter's first run.
    pub(super) fn new() -> RunState {
        RunState {
            resp: Cell::new(2),
            spent: Cell::new(false),
            out_of_memory: Cell::new(false),
            failure: RefCell::new(None),
            rng: RefCell::new(Rng::new(0, 0)),
            compiled: Cell::new(false),
            library: RefCell::new(Vec::new()),
            chunk_name: Cell::new(CHUNK_NAME),
        }
    }

    /// Back to the start of a run drawing from `rng`.
    pub(super) fn reset(&self, rng: Rng) {
        self.resp.set(2);
        self.spent.set(false);
        self.out_of_memory.set(false);
        self.failure.replace(None);
        self.rng.replace(rng);
        self.compiled.set(false);
        self.library.replace(Vec::new());
        self.chunk_name.set(CHUNK_NAME);
    }

    /// The reply of a run that ended (`ok`) with `value`, or failed: the failure formatted by
    /// `format(text, line)`.
    pub(super) fn outcome(
        &self,
        ok: bool,
        value: &Value,
        format: impl Fn(&str, usize) -> String,
    ) -> Reply {
        if ok {
            return lua_to_reply(value, self.resp.get());
        }
        let text = match self.failure.borrow_mut().take() {
            Some((text, line)) => format(&text, line),
            // The handler did not run: Lua reports running out of memory without it.
            None => {
                self.out_of_memory.set(true);
                format(OUT_OF_MEMORY, 0)
            }
        };
        Reply::Error(text.replace(['\r', '\n'], " "))
    }
}
