//! One recorded operation.
//!
//! An [`Op`] is the unit of a history: who asked what of which key, when the request left and the
//! reply arrived, and how it ended. The in-memory form is typed ([`Command`] carries its argument,
//! so a `set` without a value cannot be built); the JSON form is the flat shape documented at the
//! crate root, converted through a private wire struct. [`Op::validate`] checks what the types
//! cannot: that the return is not before the call and that an `ok` reply has the shape the
//! command returns in Redis (a `del` returns 0 or 1, an `incr` an integer, and so on). A history
//! that fails validation is bad input, never a violation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::{Outcome, Value};

/// What the client asked the server to do to the operation's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `GET key`: returns the value, or nil when the key is missing.
    Get,
    /// `SET key value`: returns OK (recorded as nil).
    Set(String),
    /// `DEL key`: returns the number of keys removed, 0 or 1.
    Del,
    /// `SET key value GET`: sets the value and returns the previous one, or nil.
    GetSet(String),
    /// `INCR key`: adds one to the integer value (a missing key counts as 0), returns the result.
    Incr,
    /// `APPEND key token`: appends to the string (a missing key counts as empty), returns the new
    /// length in bytes.
    Append(String),
}

impl Command {
    /// The name used in the JSON `op` field.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Get => "get",
            Command::Set(_) => "set",
            Command::Del => "del",
            Command::GetSet(_) => "getset",
            Command::Incr => "incr",
            Command::Append(_) => "append",
        }
    }

    /// The argument (the JSON `arg` field), for the commands that take one.
    pub fn arg(&self) -> Option<&str> {
        match self {
            Command::Set(a) | Command::GetSet(a) | Command::Append(a) => Some(a),
            Command::Get | Command::Del | Command::Incr => None,
        }
    }

    /// Whether the command never changes the key (only `get`).
    pub fn is_read(&self) -> bool {
        matches!(self, Command::Get)
    }

    /// Builds a command from the JSON `op` and `arg` fields.
    fn from_parts(op: &str, arg: Option<String>) -> Result<Command, String> {
        let needs_arg = |arg: Option<String>| arg.ok_or_else(|| format!("op {op:?} needs an arg"));
        let no_arg = |command: Command, arg: Option<String>| match arg {
            None => Ok(command),
            Some(_) => Err(format!("op {op:?} takes no arg")),
        };
        match op {
            "get" => no_arg(Command::Get, arg),
            "del" => no_arg(Command::Del, arg),
            "incr" => no_arg(Command::Incr, arg),
            "set" => Ok(Command::Set(needs_arg(arg)?)),
            "getset" => Ok(Command::GetSet(needs_arg(arg)?)),
            "append" => Ok(Command::Append(needs_arg(arg)?)),
            _ => Err(format!(
                "unknown op {op:?} (expected get, set, del, getset, incr or append)"
            )),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arg() {
            Some(arg) => write!(f, "{} {arg:?}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// One operation of a history. Serialized as one JSON Lines record (see the crate docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireOp", into = "WireOp")]
pub struct Op {
    /// Unique id of the operation within its history.
    pub id: u64,
    /// The client (connection) that issued it; used for display only.
    pub client: u64,
    /// The key it addressed.
    pub key: String,
    /// What was asked.
    pub command: Command,
    /// When the request was sent, in nanoseconds on the history's monotonic clock.
    pub call_ns: u64,
    /// When the reply arrived, in nanoseconds; `None` when it never did. Required for `ok`.
    pub ret_ns: Option<u64>,
    /// How the operation ended.
    pub outcome: Outcome,
}

impl Op {
    /// Checks what the types cannot express: `ret_ns >= call_ns`, an `ok` outcome has a return
    /// time, and an `ok` value has the shape the command returns. The error is a sentence.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(ret) = self.ret_ns {
            if ret < self.call_ns {
                return Err(format!("ret_ns {ret} is before call_ns {}", self.call_ns));
            }
        }
        let Outcome::Ok { value } = &self.outcome else {
            return Ok(());
        };
        if self.ret_ns.is_none() {
            return Err("an ok operation needs ret_ns".to_string());
        }
        let fits = match (&self.command, value) {
            (Command::Get | Command::GetSet(_), Value::Nil | Value::Str(_)) => true,
            (Command::Set(_), Value::Nil) => true,
            (Command::Set(_), Value::Str(s)) => s == "OK",
            (Command::Del, Value::Int(n)) => *n == 0 || *n == 1,
            (Command::Incr, Value::Int(_)) => true,
            (Command::Append(_), Value::Nil) => true,
            (Command::Append(_), Value::Int(n)) => *n >= 0,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(format!(
                "{} cannot return {value} (get/getset: string or null; set: null or \"OK\"; \
                 del: 0 or 1; incr: integer; append: length or null)",
                self.command.name()
            ))
        }
    }

    /// `#7 set "a" -> OK`: the operation without its client, for prose.
    pub(crate) fn short(&self) -> String {
        format!("#{} {} -> {}", self.id, self.command, self.reply())
    }

    /// The outcome as a reader expects it: `OK` for a successful `set`, else the outcome.
    pub(crate) fn reply(&self) -> String {
        match (&self.command, &self.outcome) {
            (Command::Set(_), Outcome::Ok { .. }) => "OK".to_string(),
            (_, outcome) => outcome.to_string(),
        }
    }

    /// Whether the operation can affect linearizability: not `fail`, and not a read of unknown
    /// outcome.
    pub(crate) fn may_matter(&self) -> bool {
        match self.outcome {
            Outcome::Fail { .. } => false,
            Outcome::Info { .. } => !self.command.is_read(),
            Outcome::Ok { .. } => true,
        }
    }

    /// Whether the command is a `set` or `getset` of exactly `value`.
    pub(crate) fn command_writes(&self, value: &str) -> bool {
        matches!(&self.command, Command::Set(v) | Command::GetSet(v) if v == value)
    }

    /// When the operation is known to have finished, for real-time order: the return time of an
    /// `ok` or `fail` operation, `None` (never) for `info`.
    pub fn completed_ns(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Info { .. } => None,
            _ => self.ret_ns,
        }
    }
}

impl fmt::Display for Op {
    /// `#17 client 3 set "v5" -> OK`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} client {} {} -> {}",
            self.id,
            self.client,
            self.command,
            self.reply()
        )
    }
}

/// The flat JSON shape of an [`Op`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOp {
    id: u64,
    client: u64,
    key: String,
    op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arg: Option<String>,
    call_ns: u64,
    #[serde(default)]
    ret_ns: Option<u64>,
    result: Outcome,
}

impl TryFrom<WireOp> for Op {
    type Error = String;

    fn try_from(w: WireOp) -> Result<Op, String> {
        Ok(Op {
            id: w.id,
            client: w.client,
            key: w.key,
            command: Command::from_parts(&w.op, w.arg)?,
            call_ns: w.call_ns,
            ret_ns: w.ret_ns,
            outcome: w.result,
        })
    }
}

impl From<Op> for WireOp {
    fn from(op: Op) -> WireOp {
        WireOp {
            id: op.id,
            client: op.client,
            key: op.key,
            op: op.command.name().to_string(),
            arg: op.command.arg().map(str::to_string),
            call_ns: op.call_ns,
            ret_ns: op.ret_ns,
            result: op.outcome,
        }
    }
}
