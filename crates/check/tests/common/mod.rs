//! Shared test helpers: a brute-force oracle and history builders.
//!
//! The oracle is written independently of the checker (its own register model, plain recursion
//! over every order consistent with real time), so agreement means something.
#![allow(dead_code)]

pub mod gen;

use check::{Command, History, Op, Outcome, Value};

/// Builds histories by hand in tests: `h.ok(client, cmd, call, ret, value)` on key "k".
#[derive(Default)]
pub struct Builder {
    pub history: History,
}

impl Builder {
    pub fn new() -> Self {
        Builder::default()
    }

    pub fn ok(&mut self, client: u64, command: Command, call: u64, ret: u64, value: Value) -> u64 {
        self.ok_on("k", client, command, call, ret, value)
    }

    pub fn ok_on(
        &mut self,
        key: &str,
        client: u64,
        command: Command,
        call: u64,
        ret: u64,
        value: Value,
    ) -> u64 {
        self.history
            .add(client, key, command, call, Some(ret), Outcome::ok(value))
    }

    pub fn info(&mut self, client: u64, command: Command, call: u64) -> u64 {
        self.history
            .add(client, "k", command, call, None, Outcome::info("timeout"))
    }

    pub fn fail(&mut self, client: u64, command: Command, call: u64, ret: u64) -> u64 {
        self.history
            .add(client, "k", command, call, Some(ret), Outcome::fail("ERR"))
    }
}

pub fn set(v: &str) -> Command {
    Command::Set(v.to_string())
}

pub fn getset(v: &str) -> Command {
    Command::GetSet(v.to_string())
}

pub fn append(v: &str) -> Command {
    Command::Append(v.to_string())
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// Canonical integer, as Redis's INCR reads it.
fn int_of(s: &str) -> Option<i64> {
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// The oracle's register: the next state, or `None` if `op` cannot happen in `state`.
/// `reply` is `None` for an operation of unknown outcome (any reply accepted).
pub fn step(
    state: &Option<String>,
    command: &Command,
    reply: Option<&Value>,
) -> Option<Option<String>> {
    let matches = |v: &Value, st: &Option<String>| match (v, st) {
        (Value::Nil, None) => true,
        (Value::Str(a), Some(b)) => a == b,
        _ => false,
    };
    match command {
        Command::Get => reply
            .is_none_or(|v| matches(v, state))
            .then(|| state.clone()),
        Command::Set(v) => Some(Some(v.clone())),
        Command::GetSet(v) => reply
            .is_none_or(|old| matches(old, state))
            .then(|| Some(v.clone())),
        Command::Del => {
            let existed = i64::from(state.is_some());
            reply
                .is_none_or(|n| *n == Value::Int(existed))
                .then_some(None)
        }
        Command::Incr => {
            let current = match state {
                None => Some(0),
                Some(s) => int_of(s),
            };
            match (current.and_then(|n| n.checked_add(1)), reply) {
                (Some(n), Some(Value::Int(r))) => (n == *r).then(|| Some(n.to_string())),
                (Some(n), None) => Some(Some(n.to_string())),
                (None, None) => Some(state.clone()),
                _ => None,
            }
        }
        Command::Append(suffix) => {
            let next = format!("{}{suffix}", state.as_deref().unwrap_or(""));
            match reply {
                Some(Value::Int(n)) if *n as usize != next.len() => None,
                _ => Some(Some(next)),
            }
        }
    }
}

/// Whether every key of `history` has an order consistent with real time and the register.
pub fn brute_force(history: &History) -> bool {
    history.by_key().values().all(|ops| {
        let ops: Vec<&Op> = ops
            .iter()
            .copied()
            .filter(|op| !op.outcome.is_fail())
            .filter(|op| !(op.outcome.is_info() && op.command.is_read()))
            .collect();
        let mut done = vec![false; ops.len()];
        search(&ops, &mut done, &None)
    })
}

fn search(ops: &[&Op], done: &mut [bool], state: &Option<String>) -> bool {
    // Success when only unknown-outcome operations remain: they may never have happened.
    if (0..ops.len()).all(|i| done[i] || ops[i].outcome.is_info()) {
        return true;
    }
    for i in 0..ops.len() {
        if done[i] {
            continue;
        }
        // Every remaining operation that returned before this one was called must come first.
        let blocked = (0..ops.len()).any(|j| {
            j != i && !done[j] && ops[j].completed_ns().is_some_and(|r| r < ops[i].call_ns)
        });
        if blocked {
            continue;
        }
        let reply = ops[i].outcome.value();
        if let Some(next) = step(state, &ops[i].command, reply) {
            done[i] = true;
            let found = search(ops, done, &next);
            done[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}
