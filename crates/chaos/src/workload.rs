//! What the clients do: the register and append workloads, and how replies become outcomes.
//!
//! **register**: each operation reads, writes, reads-and-writes (`SET k v GET`) or deletes one
//! key; every written value is unique (`c<client>-<seq>`), which keeps the checker's search
//! small and makes a lost or resurrected write easy to see. **append**: each operation appends
//! a unique token followed by `,` or reads the whole string; the checker decides such keys in
//! linear time, and the longest read fixes the order of every append. Both spread their
//! operations over a few keys at a time and retire a key after a fixed number of operations
//! (see [`crate::keys::KeyPool`]).
//!
//! # Outcomes
//! The one rule: record `fail` only when the server guarantees the command was not applied.
//! `-CLUSTERDOWN`, `-TRYAGAIN` and `-MISCONF` (a node that cannot write its log refuses a
//! write before proposing it) carry that guarantee; a read changes nothing, so any error on
//! a read is a `fail` too. Every other error on a write (`-ERR write outcome unknown`, a stopped
//! node, anything unexpected), a timeout and a dropped connection are `info`: the write may have
//! happened. A reply of the wrong shape is also `info` (or `fail` for a read) and is counted as
//! an anomaly.

use std::fmt;
use std::str::FromStr;

use check::{Command, Outcome, Value};
use resp::Reply;

use check::Rng;

/// Percent of register operations that are `GET`.
pub const REGISTER_GET_PERCENT: u64 = 50;
/// Percent of register operations that are `SET`.
pub const REGISTER_SET_PERCENT: u64 = 35;
/// Percent of register operations that are `SET .. GET`.
pub const REGISTER_GETSET_PERCENT: u64 = 10;
/// Percent of append operations that are `GET` (the rest append).
pub const APPEND_GET_PERCENT: u64 = 40;

/// A client workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// get / set / set-get / del of unique values.
    Register,
    /// append of unique tokens / get.
    Append,
}

impl Workload {
    /// The name as on the command line and in summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Append => "append",
        }
    }

    /// The next command, writing `token` (unique in the run) if it writes.
    pub fn next_command(&self, rng: &mut Rng, token: &str) -> Command {
        let roll = rng.below(100);
        match self {
            Workload::Register => {
                if roll < REGISTER_GET_PERCENT {
                    Command::Get
                } else if roll < REGISTER_GET_PERCENT + REGISTER_SET_PERCENT {
                    Command::Set(token.to_string())
                } else if roll
                    < REGISTER_GET_PERCENT + REGISTER_SET_PERCENT + REGISTER_GETSET_PERCENT
                {
                    Command::GetSet(token.to_string())
                } else {
                    Command::Del
                }
            }
            Workload::Append => {
                if roll < APPEND_GET_PERCENT {
                    Command::Get
                } else {
                    Command::Append(format!("{token}{}", check::APPEND_DELIMITER))
                }
            }
        }
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(Workload::Register),
            "append" => Ok(Workload::Append),
            _ => Err(format!("unknown workload {s:?} (register or append)")),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The RESP arguments of `command` on `key`.
pub fn resp_args(key: &str, command: &Command) -> Vec<String> {
    let k = key.to_string();
    match command {
        Command::Get => vec!["GET".into(), k],
        Command::Set(v) => vec!["SET".into(), k, v.clone()],
        Command::GetSet(v) => vec!["SET".into(), k, v.clone(), "GET".into()],
        Command::Del => vec!["DEL".into(), k],
        Command::Incr => vec!["INCR".into(), k],
        Command::Append(v) => vec!["APPEND".into(), k, v.clone()],
    }
}

/// How a reply ended an operation; the flag says the reply had an unexpected shape.
pub fn classify(command: &Command, reply: Reply) -> (Outcome, bool) {
    if let Reply::Error(e) = &reply {
        let definitely_not_applied = command.is_read()
            || e.starts_with("CLUSTERDOWN")
            || e.starts_with("TRYAGAIN")
            || e.starts_with("MISCONF");
        return if definitely_not_applied {
            (Outcome::fail(e.clone()), false)
        } else {
            (Outcome::info(e.clone()), false)
        };
    }
    let value = match (command, reply) {
        (Command::Get | Command::GetSet(_), Reply::Null) => Some(Value::Nil),
        (Command::Get | Command::GetSet(_), Reply::Bulk(b)) => {
            match String::from_utf8(b.to_vec()) {
                Ok(s) => Some(Value::Str(s)),
                Err(_) => None,
            }
        }
        (Command::Set(_), Reply::Simple(s)) if s == "OK" => Some(Value::Nil),
        (Command::Del | Command::Incr | Command::Append(_), Reply::Integer(n)) => {
            Some(Value::Int(n))
        }
        _ => None,
    };
    match value {
        Some(v) => (Outcome::ok(v), false),
        None if command.is_read() => (Outcome::fail("unexpected reply shape"), true),
        None => (Outcome::info("unexpected reply shape"), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_fail_only_when_nothing_was_applied() {
        let set = Command::Set("v".into());
        let (o, _) = classify(&set, Reply::error("CLUSTERDOWN no leader"));
        assert!(o.is_fail());
        let (o, _) = classify(&set, Reply::error("TRYAGAIN try again"));
        assert!(o.is_fail());
        let (o, _) = classify(&set, Reply::error("ERR write outcome unknown: x"));
        assert!(o.is_info());
        let (o, _) = classify(&set, Reply::error("ERR node stopped: x"));
        assert!(o.is_info());
        let (o, _) = classify(&Command::Get, Reply::error("ERR anything"));
        assert!(o.is_fail());
    }

    #[test]
    fn replies_become_values() {
        let (o, odd) = classify(&Command::Get, Reply::bulk("c1-2"));
        assert_eq!(o, Outcome::ok(Value::from("c1-2")));
        assert!(!odd);
        let (o, _) = classify(&Command::GetSet("x".into()), Reply::Null);
        assert_eq!(o, Outcome::ok(Value::Nil));
        let (o, _) = classify(&Command::Set("x".into()), Reply::ok());
        assert_eq!(o, Outcome::ok(Value::Nil));
        let (o, _) = classify(&Command::Append("t,".into()), Reply::Integer(6));
        assert_eq!(o, Outcome::ok(Value::Int(6)));
        let (o, odd) = classify(&Command::Set("x".into()), Reply::Integer(1));
        assert!(o.is_info() && odd);
    }

    #[test]
    fn commands_are_sent_as_redis_commands() {
        assert_eq!(
            resp_args("k", &Command::GetSet("v".into())),
            ["SET", "k", "v", "GET"]
        );
        assert_eq!(resp_args("k", &Command::Del), ["DEL", "k"]);
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            match Workload::Append.next_command(&mut rng, "c1-1") {
                Command::Get => {}
                Command::Append(t) => assert_eq!(t, "c1-1,"),
                other => panic!("append workload sent {other}"),
            }
        }
    }
}
