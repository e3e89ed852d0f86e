//! What a scripting command asks for, as parsed data: [`ScriptCommand`] (EVAL and friends,
//! SCRIPT, FCALL) and [`FunctionCommand`] (FUNCTION). A leaf: [`crate::Command`] carries these,
//! and the interpreter that runs them ([`super::engine`]) runs commands in turn, so the types
//! must not depend on it.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A scripting command, carried by [`crate::Command::Script`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScriptCommand {
    /// `EVAL script numkeys [key ...] [arg ...]` (`read_only`: `EVAL_RO`).
    Eval {
        /// The script's source.
        body: Bytes,
        /// `KEYS`.
        keys: Vec<Bytes>,
        /// `ARGV`.
        args: Vec<Bytes>,
        /// True for EVAL_RO: a read, refusing write commands.
        read_only: bool,
    },
    /// `EVALSHA sha1 numkeys [key ...] [arg ...]` (`read_only`: `EVALSHA_RO`).
    EvalSha {
        /// The script's SHA-1, 40 lower-case hex digits.
        sha: String,
        /// `KEYS`.
        keys: Vec<Bytes>,
        /// `ARGV`.
        args: Vec<Bytes>,
        /// True for EVALSHA_RO: a read, refusing write commands.
        read_only: bool,
    },
    /// `SCRIPT LOAD script`: compiles and caches the script on every replica; answers its SHA-1.
    Load {
        /// The script's source.
        body: Bytes,
    },
    /// `SCRIPT EXISTS sha1 [sha1 ...]`: 1 or 0 for each.
    Exists {
        /// The SHA-1s as given.
        shas: Vec<Bytes>,
    },
    /// `SCRIPT FLUSH [ASYNC|SYNC]`: empties the cache.
    Flush,
    /// `SCRIPT KILL`: no script ever runs between commands here, so always `NOTBUSY`.
    Kill,
    /// `SCRIPT HELP`.
    Help,
    /// `FUNCTION subcommand ...` (see [`super::function`]).
    Function(FunctionCommand),
    /// `FCALL function numkeys [key ...] [arg ...]` (`read_only`: `FCALL_RO`).
    FCall {
        /// The function's name, as given (matched ignoring case).
        function: String,
        /// The keys.
        keys: Vec<Bytes>,
        /// The arguments.
        args: Vec<Bytes>,
        /// True for FCALL_RO: a read, refusing functions not flagged `no-writes`.
        read_only: bool,
    },
}

impl ScriptCommand {
    /// True if the command goes through the log (everything but the read-only variants,
    /// SCRIPT EXISTS, KILL and HELP).
    pub fn is_write(&self) -> bool {
        match self {
            ScriptCommand::Eval { read_only, .. } | ScriptCommand::EvalSha { read_only, .. } => {
                !read_only
            }
            ScriptCommand::FCall { read_only, .. } => !read_only,
            ScriptCommand::Function(f) => f.is_write(),
            ScriptCommand::Load { .. } | ScriptCommand::Flush => true,
            ScriptCommand::Exists { .. } | ScriptCommand::Kill | ScriptCommand::Help => false,
        }
    }

    /// The lower-case command name.
    pub fn name(&self) -> &'static str {
        match self {
            ScriptCommand::Eval {
                read_only: false, ..
            } => "eval",
            ScriptCommand::Eval {
                read_only: true, ..
            } => "eval_ro",
            ScriptCommand::EvalSha {
                read_only: false, ..
            } => "evalsha",
            ScriptCommand::EvalSha {
                read_only: true, ..
            } => "evalsha_ro",
            ScriptCommand::FCall {
                read_only: false, ..
            } => "fcall",
            ScriptCommand::FCall {
                read_only: true, ..
            } => "fcall_ro",
            ScriptCommand::Function(_) => "function",
            ScriptCommand::Load { .. }
            | ScriptCommand::Exists { .. }
            | ScriptCommand::Flush
            | ScriptCommand::Kill
            | ScriptCommand::Help => "script",
        }
    }

    /// The keys the script declares (`KEYS`).
    pub fn keys(&self) -> &[Bytes] {
        match self {
            ScriptCommand::Eval { keys, .. }
            | ScriptCommand::EvalSha { keys, .. }
            | ScriptCommand::FCall { keys, .. } => keys,
            _ => &[],
        }
    }

    /// The arguments (`ARGV`).
    pub fn args(&self) -> &[Bytes] {
        match self {
            ScriptCommand::Eval { args, .. }
            | ScriptCommand::EvalSha { args, .. }
            | ScriptCommand::FCall { args, .. } => args,
            _ => &[],
        }
    }
}

/// A FUNCTION subcommand, carried by [`ScriptCommand::Function`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FunctionCommand {
    /// `FUNCTION LOAD [REPLACE] code`.
    Load {
        /// The library's code, its `#!lua name=...` line included.
        code: Bytes,
        /// REPLACE: a library of the same name is replaced instead of refused.
        replace: bool,
    },
    /// `FUNCTION DELETE library`.
    Delete {
        /// The library's name.
        library: String,
    },
    /// `FUNCTION FLUSH [ASYNC|SYNC]`.
    Flush,
    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
    List {
        /// Only libraries whose name matches this glob pattern.
        pattern: Option<Bytes>,
        /// Include each library's code.
        with_code: bool,
    },
    /// `FUNCTION DUMP`.
    Dump,
    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`.
    Restore {
        /// A payload from FUNCTION DUMP.
        payload: Bytes,
        /// What to do with the libraries already loaded.
        policy: RestorePolicy,
    },
    /// `FUNCTION STATS`.
    Stats,
    /// `FUNCTION KILL`: no function ever runs between commands here, so always `NOTBUSY`.
    Kill,
    /// `FUNCTION HELP`.
    Help,
}

/// FUNCTION RESTORE's policy for libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestorePolicy {
    /// Delete every library first.
    Flush,
    /// Add the payload's libraries; a name already loaded aborts the restore (the default).
    Append,
    /// Add the payload's libraries, replacing those of the same name.
    Replace,
}

impl FunctionCommand {
    /// True if the subcommand changes the registry (goes through the log).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            FunctionCommand::Load { .. }
                | FunctionCommand::Delete { .. }
                | FunctionCommand::Flush
                | FunctionCommand::Restore { .. }
        )
    }
}
