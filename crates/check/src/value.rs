//! What an operation returned.
//!
//! A reply is one of three scalar shapes (nil, integer, string) and an operation ends in one of
//! three ways: with a reply (`ok`), with a guarantee that nothing happened (`fail`), or not known
//! (`info`). The distinction between `fail` and `info` is the one that matters most to the
//! checker: a `fail` operation is dropped, an `info` one may have taken effect at any later time.
//! Recording a timeout as `fail` hides real bugs; recording an error that *was* applied as `fail`
//! produces false alarms. When in doubt, record `info`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A reply value as the server returned it. In JSON: `null`, a number or a string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Redis nil: the key was missing, or the command returns nothing of interest (`SET`).
    #[default]
    Nil,
    /// An integer reply (`DEL`, `INCR`, `APPEND`).
    Int(i64),
    /// A bulk or simple string reply (`GET`, `SET .. GET`).
    Str(String),
}

impl Value {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Self {
        s.map_or(Value::Nil, Value::Str)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// How an operation ended. In JSON: `{"type":"ok","value":V}`, `{"type":"fail","error":E}` or
/// `{"type":"info","error":E}`, where `error` is an optional free-form message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Outcome {
    /// The reply arrived and the operation took effect exactly once, between call and return.
    Ok {
        /// The reply value.
        #[serde(default)]
        value: Value,
    },
    /// The operation definitely did not take effect; the checker ignores it.
    Fail {
        /// Why, for the reader (the error reply, say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Unknown: the operation may have taken effect at any time after its call, or never.
    Info {
        /// Why the outcome is unknown (timeout, connection lost, ...), for the reader.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl Outcome {
    /// An `ok` outcome with this reply.
    pub fn ok(value: Value) -> Self {
        Outcome::Ok { value }
    }

    /// A `fail` outcome with this message.
    pub fn fail(error: impl Into<String>) -> Self {
        Outcome::Fail {
            error: Some(error.into()),
        }
    }

    /// An `info` outcome with this message.
    pub fn info(error: impl Into<String>) -> Self {
        Outcome::Info {
            error: Some(error.into()),
        }
    }

    /// The reply value of an `ok` outcome.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Ok { value } => Some(value),
            _ => None,
        }
    }

    /// Whether this is an `info` outcome.
    pub fn is_info(&self) -> bool {
        matches!(self, Outcome::Info { .. })
    }

    /// Whether this is a `fail` outcome.
    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok { value } => write!(f, "{value}"),
            Outcome::Fail { error: None } => f.write_str("fail"),
            Outcome::Fail { error: Some(e) } => write!(f, "fail ({e})"),
            Outcome::Info { error: None } => f.write_str("unknown"),
            Outcome::Info { error: Some(e) } => write!(f, "unknown ({e})"),
        }
    }
}
