//! Turning one key's operations into search entries, and shrinking the search before it starts.
//!
//! Each operation becomes an [`Entry`]: an interval `[call, ret]` and a compiled [`Step`]. `fail`
//! operations are dropped (they did not happen) and so are `get`s with unknown outcome (they
//! constrain nothing). An `info` write gets `ret = NEVER`: it may be linearized at any point after
//! its call, and "never happened" is the same as "happened last, unobserved". A write the shrinker
//! relaxed keeps its interval but becomes optional: it may take effect within it, or not at all.
//!
//! Pending-forever writes are what makes the search blow up, since each can be tried at every
//! point of the history. Two exact rewrites tame them when values are unique, as test clients make
//! them:
//!
//! * **Unobserved unknown writes are dropped.** An `info` `SET v` (or `SET .. GET`) when no read
//!   that could follow it returned `v`, no `DEL` that could follow it returned 1, and the key has
//!   no `INCR` or `APPEND`: wherever it is placed, the next operation that touches the register
//!   overwrites it unseen, so removing it changes no reply. Likewise an `info` `DEL` when nothing
//!   that could follow it observed a missing key (`GET` nil, `DEL` 0, `INCR` 1).
//! * **Observed unknown writes get a deadline.** If `v` is written by exactly one operation and
//!   nothing else can produce it (no `INCR` when `v` is an integer, no `APPEND`), every read
//!   returning `v` must follow that write, so it must be linearized before the earliest such read
//!   returns; that return becomes its `ret`.
//!
//! Both rewrites keep the set of linearizations non-empty exactly when it was, so they are safe
//! for the verdict and for the shrinker's honesty argument alike.

use std::collections::HashMap;

use super::model::{canonical_int, Register, Step, NIL};
use crate::op::{Command, Op};
use crate::value::Value;

/// `ret` of an operation that may be linearized at any time after its call.
pub(crate) const NEVER: u64 = u64::MAX;

/// One operation offered to [`prepare`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyOp<'a> {
    /// The recorded operation.
    pub(crate) op: &'a Op,
    /// Ignore the reply and make the operation optional: an `ok` operation may then take effect
    /// within its interval or not at all (the shrinker relaxes the writes it removes).
    pub(crate) relaxed: bool,
}

/// An operation ready for the search.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Call time, ns.
    pub(crate) call: u64,
    /// Latest linearization time, ns ([`NEVER`] for none).
    pub(crate) ret: u64,
    /// What it does to the register.
    pub(crate) step: Step,
    /// The search may also linearize it as a no-op (a relaxed `ok` operation).
    pub(crate) optional: bool,
    /// Index of the operation in the slice given to [`prepare`].
    pub(crate) source: usize,
}

/// What the known replies on a key reveal, for the rewrites.
#[derive(Default)]
struct Facts<'a> {
    /// Per string value: (earliest, latest) return of a `get`/`getset` that returned it.
    readers: HashMap<&'a str, (u64, u64)>,
    /// Latest return of an op that saw a missing key (`get`/`getset` nil, `del` 0, `incr` 1).
    nil_seen_last: Option<u64>,
    /// Latest return of a `del` that returned 1.
    del1_last: Option<u64>,
    /// How many operations (known or unknown) write each value with `set`/`getset`.
    writers: HashMap<&'a str, usize>,
    /// The key has an `incr` that may have happened.
    any_incr: bool,
    /// The key has an `append` that may have happened.
    any_append: bool,
}

impl<'a> Facts<'a> {
    fn gather(ops: &[KeyOp<'a>]) -> Self {
        let mut f = Facts::default();
        for k in ops {
            let op = k.op;
            if op.outcome.is_fail() {
                continue;
            }
            match &op.command {
                Command::Set(v) | Command::GetSet(v) => *f.writers.entry(v).or_default() += 1,
                Command::Incr => f.any_incr = true,
                Command::Append(_) => f.any_append = true,
                Command::Get | Command::Del => {}
            }
            let (Some(value), Some(ret), false) = (op.outcome.value(), op.ret_ns, k.relaxed) else {
                continue;
            };
            let last = |slot: &mut Option<u64>| *slot = Some(slot.map_or(ret, |r| r.max(ret)));
            match (&op.command, value) {
                (Command::Get | Command::GetSet(_), Value::Str(s)) => {
                    let e = f.readers.entry(s).or_insert((ret, ret));
                    *e = (e.0.min(ret), e.1.max(ret));
                }
                (Command::Get | Command::GetSet(_), Value::Nil) => last(&mut f.nil_seen_last),
                (Command::Del, Value::Int(0)) | (Command::Incr, Value::Int(1)) => {
                    last(&mut f.nil_seen_last)
                }
                (Command::Del, Value::Int(1)) => last(&mut f.del1_last),
                _ => {}
            }
        }
        f
    }

    /// Whether an unknown `SET v` called at `call` could change any reply.
    fn set_observable(&self, v: &str, call: u64) -> bool {
        let after = |last: Option<u64>| last.is_some_and(|r| r >= call);
        self.any_incr
            || self.any_append
            || after(self.del1_last)
            || after(self.readers.get(v).map(|r| r.1))
    }

    /// Whether an unknown `DEL` called at `call` could change any reply.
    fn del_observable(&self, call: u64) -> bool {
        self.any_incr || self.any_append || self.nil_seen_last.is_some_and(|r| r >= call)
    }

    /// The deadline of an unknown `SET v` called at `call`, if its value is unique (see the
    /// module docs); [`NEVER`] otherwise.
    fn set_deadline(&self, v: &str, call: u64) -> u64 {
        let unique = self.writers.get(v) == Some(&1)
            && !self.any_append
            && !(self.any_incr && canonical_int(v).is_some());
        match self.readers.get(v) {
            Some(&(first, _)) if unique && first >= call => first,
            _ => NEVER,
        }
    }
}

/// Compiles one key's operations into search entries, applying the rewrites above.
pub(crate) fn prepare(ops: &[KeyOp<'_>], model: &mut Register) -> Vec<Entry> {
    let facts = Facts::gather(ops);
    let mut entries = Vec::with_capacity(ops.len());
    for (source, k) in ops.iter().enumerate() {
        let op = k.op;
        if op.outcome.is_fail() {
            continue;
        }
        let reply = if k.relaxed { None } else { op.outcome.value() };
        let Some(reply) = reply else {
            if let Some((step, ret)) = unknown(op, &facts, model) {
                // A relaxed `ok` operation keeps its interval but may be skipped; a real unknown
                // one may happen any time after its call, which already covers "never".
                let (ret, optional) = match (k.relaxed, op.outcome.value(), op.ret_ns) {
                    (true, Some(_), Some(own)) => (ret.min(own), true),
                    _ => (ret, false),
                };
                entries.push(Entry {
                    call: op.call_ns,
                    ret,
                    step,
                    optional,
                    source,
                });
            }
            continue;
        };
        let ret = op.ret_ns.expect("validated: ok operations have ret_ns");
        let mut state_of = |v: &Value| match v {
            Value::Str(s) => model.intern(s),
            _ => NIL,
        };
        let step = match (&op.command, reply) {
            (Command::Get, v) => Step::Read {
                expect: state_of(v),
            },
            (Command::Set(v), _) => Step::Write {
                value: model.intern(v),
                expect_old: None,
            },
            (Command::GetSet(v), old) => {
                let expect_old = Some(state_of(old));
                Step::Write {
                    value: model.intern(v),
                    expect_old,
                }
            }
            (Command::Del, n) => Step::Del {
                expect_existed: Some(*n == Value::Int(1)),
            },
            (Command::Incr, n) => Step::Incr {
                expect: match n {
                    Value::Int(n) => Some(*n),
                    _ => unreachable!("validated: incr returns an integer"),
                },
            },
            (Command::Append(s), n) => Step::Append {
                suffix: s.as_str().into(),
                expect_len: match n {
                    Value::Int(n) => Some(*n),
                    _ => None,
                },
            },
        };
        entries.push(Entry {
            call: op.call_ns,
            ret,
            step,
            optional: false,
            source,
        });
    }
    entries
}

/// The step and deadline of an operation with unknown outcome, or `None` to drop it.
fn unknown(op: &Op, facts: &Facts<'_>, model: &mut Register) -> Option<(Step, u64)> {
    let call = op.call_ns;
    match &op.command {
        Command::Get => None,
        Command::Set(v) | Command::GetSet(v) => facts.set_observable(v, call).then(|| {
            let step = Step::Write {
                value: model.intern(v),
                expect_old: None,
            };
            (step, facts.set_deadline(v, call))
        }),
        Command::Del => facts.del_observable(call).then_some((
            Step::Del {
                expect_existed: None,
            },
            NEVER,
        )),
        Command::Incr => Some((Step::Incr { expect: None }, NEVER)),
        Command::Append(s) => Some((
            Step::Append {
                suffix: s.as_str().into(),
                expect_len: None,
            },
            NEVER,
        )),
    }
}
