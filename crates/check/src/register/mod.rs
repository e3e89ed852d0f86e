//! The register checker: one key, any mix of `get`, `set`, `del`, `getset`, `incr` and `append`.
//!
//! A key's history is linearizable when some total order of its operations (a) respects real
//! time: if one operation returned before another was called, it comes first; and (b) replayed
//! against a single Redis string starting from nil, reproduces every recorded reply. Operations
//! with unknown outcome (`info`) may sit anywhere after their call, or nowhere; `fail` operations
//! are not there at all.
//!
//! The pieces, in the order they run:
//!
//! * [`model`]: the register's transition function, with interned states.
//! * [`prepare`]: operations to search entries, dropping what cannot matter and bounding
//!   unknown writes whose effect was seen.
//! * [`search`]: the Wing–Gong/Lowe backtracking search with a memo, a deadline and a memory
//!   budget.
//! * [`shrink`] and [`explain`]: on a violation, an honest, 1-minimal window (plus the writes of
//!   the values its reads returned, for context) and a paragraph saying why it fails.
//!
//! The search is exponential in the worst case (many long-overlapping operations, many unknown
//! writes of repeated values). Running out of time or memory is reported as undecided, and the
//! caller turns that into a failure: a checker that passes what it could not check is worse than
//! none.

mod explain;
mod memo;
mod model;
mod prepare;
mod search;
mod shrink;

use std::time::{Duration, Instant};

use crate::op::Op;
pub(crate) use search::Limits;

/// Time the explanation may take even when shrinking used up its budget (the window is small).
const EXPLAIN_TIME_MIN: Duration = Duration::from_secs(2);

/// The verdict on one key.
pub(crate) enum KeyVerdict<'a> {
    /// A linearization exists.
    Linearizable,
    /// None exists.
    Violation {
        /// The shrunk window, in call order.
        window: Vec<&'a Op>,
        /// Why it fails, for people.
        explanation: String,
    },
    /// The search ran out of time or memory.
    Undecided {
        /// Which limit, for people.
        reason: String,
    },
}

/// Checks one key's operations (any order; `fail` and unknown reads are ignored). `limits` bounds
/// the verdict; `shrink_time` bounds shrinking and explaining a violation once one is found.
pub(crate) fn check_key<'a>(
    ops: &[&'a Op],
    limits: Limits,
    shrink_time: Duration,
) -> KeyVerdict<'a> {
    let key_ops: Vec<prepare::KeyOp<'_>> = ops
        .iter()
        .map(|op| prepare::KeyOp { op, relaxed: false })
        .collect();
    let mut register = model::Register::default();
    let entries = prepare::prepare(&key_ops, &mut register);
    match search::search(&entries, &mut register, limits, false) {
        search::Outcome::Linearizable => KeyVerdict::Linearizable,
        search::Outcome::Timeout => KeyVerdict::Undecided {
            reason: format!(
                "the search ran out of time after {} operations were prepared",
                entries.len()
            ),
        },
        search::Outcome::OutOfMemory => KeyVerdict::Undecided {
            reason: format!(
                "the search memo outgrew its budget of {} MiB",
                limits.memo_bytes_max >> 20
            ),
        },
        search::Outcome::Violation(_) => {
            let shrink_deadline = Instant::now() + shrink_time;
            let shrink_limits = Limits {
                deadline: shrink_deadline,
                ..limits
            };
            let shrunk = shrink::shrink(ops, shrink_limits);
            let explain_limits = Limits {
                deadline: shrink_deadline.max(Instant::now() + EXPLAIN_TIME_MIN),
                ..limits
            };
            let mut explanation = explain::explain(&shrunk.window, explain_limits);
            let removed = shrunk.considered - shrunk.window.len();
            match removed {
                0 => {}
                1 => explanation.push_str(
                    "\n1 other operation on this key is not shown; adding it back cannot make \
                     this window linearizable.",
                ),
                n => explanation.push_str(&format!(
                    "\n{n} other operations on this key are not shown; adding any of them back \
                     cannot make this window linearizable."
                )),
            }
            if !shrunk.minimal {
                explanation.push_str(
                    "\n(Shrinking stopped at its time limit: the window may not be minimal.)",
                );
            }
            KeyVerdict::Violation {
                window: shrunk.window,
                explanation,
            }
        }
    }
}
