//! Shrinking a violation to a small, honest window.
//!
//! A key with thousands of operations that is not linearizable is useless to a human until it is
//! cut down to the few operations that conflict. Naive greedy removal is not enough: removing the
//! `SET` that a read depends on turns a fine read into a "read of a value never written", and the
//! window then shows a violation that the history does not have.
//!
//! So removal is asymmetric. A removed read is simply gone (a read only adds constraints). A
//! removed write is *relaxed*: it stays in every later trial as an optional operation that may
//! take effect anywhere within its recorded interval, or not at all, with its reply unchecked (a
//! removed write that was already of unknown outcome stays so). Each trial keeps the invariant
//! "window plus relaxed removed writes is not linearizable". Any history between the final window
//! and the full key history (some removed reads back, some removed writes back with their real
//! outcome, the rest absent) is a special case of that relaxed trial, so it is not linearizable
//! either: the window explains the real violation and adding operations back cannot fix it.
//! Relaxed writes whose value nobody reads are dropped exactly by [`super::prepare`], which keeps
//! the trials cheap. Finally, for readability, the write of each value that a window read returned
//! is put back if the window lacks one ("stale read" says more than "value never written"); adding
//! operations keeps the window honest.
//!
//! The removal schedule is delta debugging: try dropping halves, then quarters, and so on down to
//! single operations, repeating single removals until none succeeds, so the result is 1-minimal.
//! Each trial runs under its own slice of the budget; a trial that runs out counts as "still
//! needed", and when the whole budget is spent the current window is returned, marked not minimal.

use std::time::{Duration, Instant};

use super::model::Register;
use super::prepare::{prepare, KeyOp};
use super::search::{search, Limits, Outcome};
use crate::op::{Command, Op};
use crate::value::Value;

/// Fraction of the shrinking budget one trial may use.
const TRIAL_SHARE: u32 = 8;

/// The result of shrinking.
pub(crate) struct Shrunk<'a> {
    /// The window, in call order.
    pub(crate) window: Vec<&'a Op>,
    /// Whether every single removal was tried and refused (1-minimal).
    pub(crate) minimal: bool,
    /// Operations on the key that took part in the check.
    pub(crate) considered: usize,
}

/// Whether a trial window (plus the relaxed writes outside it) is still a violation.
enum Trial {
    Violation,
    NotViolation,
    /// The trial ran out of its budget.
    Undecided,
}

/// Shrinks a non-linearizable key history `ops` within `limits` (the deadline bounds the whole
/// shrink; the memo budget bounds each trial).
pub(crate) fn shrink<'a>(ops: &[&'a Op], limits: Limits) -> Shrunk<'a> {
    let mut candidates: Vec<&Op> = ops.iter().copied().filter(|op| op.may_matter()).collect();
    candidates.sort_by_key(|op| (op.call_ns, op.id));
    let considered = candidates.len();
    let started = Instant::now();
    let trial_budget = limits.deadline.saturating_duration_since(started) / TRIAL_SHARE;
    let mut window: Vec<usize> = (0..candidates.len()).collect();
    let mut chunk = (window.len() / 2).max(1);
    let mut complete = true;
    loop {
        let mut removed_any = false;
        let mut i = 0;
        while i < window.len() {
            if Instant::now() >= limits.deadline {
                return finish(&candidates, &window, false, considered);
            }
            let end = (i + chunk).min(window.len());
            let trial: Vec<usize> = window[..i].iter().chain(&window[end..]).copied().collect();
            let outcome = if trial.is_empty() {
                Trial::NotViolation
            } else {
                run_trial(&candidates, &trial, limits, trial_budget)
            };
            match outcome {
                Trial::Violation => {
                    window = trial;
                    removed_any = true;
                }
                Trial::NotViolation => i = end,
                Trial::Undecided => {
                    complete = false;
                    i = end;
                }
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    finish(&candidates, &window, complete, considered)
}

fn finish<'a>(
    candidates: &[&'a Op],
    window: &[usize],
    minimal: bool,
    considered: usize,
) -> Shrunk<'a> {
    let mut window: Vec<usize> = window.to_vec();
    add_witnesses(candidates, &mut window);
    Shrunk {
        window: window.iter().map(|&i| candidates[i]).collect(),
        minimal,
        considered,
    }
}

/// For readability, puts back the write of each value a window read returned when the window
/// has none: "read a stale value" reads better than "read a value never written". Adding
/// operations back keeps the window honest (see the module docs). `window` stays in call order.
fn add_witnesses(candidates: &[&Op], window: &mut Vec<usize>) {
    let written = |w: &[usize], v: &str| w.iter().any(|&i| candidates[i].command_writes(v));
    let mut added = Vec::new();
    for &i in window.iter() {
        let reader = candidates[i];
        let Some(Value::Str(v)) = reader.outcome.value() else {
            continue;
        };
        if !reader.command.is_read() && !matches!(reader.command, Command::GetSet(_)) {
            continue;
        }
        if written(window, v) || written(&added, v) {
            continue;
        }
        // The latest write of `v` called before the read returned.
        let reader_ret = reader.ret_ns.unwrap_or(u64::MAX);
        let witness = (0..candidates.len())
            .filter(|&j| candidates[j].command_writes(v) && candidates[j].call_ns <= reader_ret)
            .max_by_key(|&j| candidates[j].call_ns);
        added.extend(witness);
    }
    window.extend(added);
    window.sort_unstable();
    window.dedup();
}

/// Runs one trial: the ops at `window` as recorded, every other write relaxed, other reads gone.
fn run_trial(candidates: &[&Op], window: &[usize], limits: Limits, budget: Duration) -> Trial {
    let mut in_window = vec![false; candidates.len()];
    for &i in window {
        in_window[i] = true;
    }
    let ops: Vec<KeyOp<'_>> = candidates
        .iter()
        .zip(&in_window)
        .filter(|(op, inside)| **inside || !op.command.is_read())
        .map(|(op, inside)| KeyOp {
            op,
            relaxed: !inside,
        })
        .collect();
    let mut model = Register::default();
    let entries = prepare(&ops, &mut model);
    let trial_limits = Limits {
        deadline: limits.deadline.min(Instant::now() + budget),
        memo_bytes_max: limits.memo_bytes_max,
    };
    match search(&entries, &mut model, trial_limits, false) {
        Outcome::Violation(_) => Trial::Violation,
        Outcome::Linearizable => Trial::NotViolation,
        Outcome::Timeout | Outcome::OutOfMemory => Trial::Undecided,
    }
}
