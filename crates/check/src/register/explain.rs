//! Explaining why a small window is not linearizable.
//!
//! The explanation replays the search on the window with tracking on and reports what a person
//! would try by hand: the longest order of operations that is consistent with real time and the
//! register, the value the register holds after it, and for each operation that could come next
//! in real time, why it cannot (the reply it returned does not match the register). When an
//! operation *could* come next but every continuation fails later, it says so.

use std::fmt::Write;

use super::model::Register;
use super::prepare::{prepare, Entry, KeyOp};
use super::search::{search, Limits, Outcome};
use crate::op::Op;

/// Most "cannot come next" lines printed.
const CANDIDATES_SHOWN_MAX: usize = 8;

/// A paragraph explaining why `window` (one key, in any order) has no linearization.
pub(crate) fn explain(window: &[&Op], limits: Limits) -> String {
    let ops: Vec<KeyOp<'_>> = window
        .iter()
        .map(|op| KeyOp { op, relaxed: false })
        .collect();
    let mut model = Register::default();
    let entries = prepare(&ops, &mut model);
    let partial = match search(&entries, &mut model, limits, true) {
        Outcome::Violation(partial) => partial,
        Outcome::Linearizable => {
            return "the window alone is linearizable (this is a checker bug)".to_string()
        }
        Outcome::Timeout | Outcome::OutOfMemory => {
            return "no explanation: replaying the window ran out of time".to_string()
        }
    };
    let op_of = |e: usize| window[entries[e].source];
    let mut text = format!(
        "No order of these {} operations agrees with both real time and a register.",
        window.len()
    );
    if partial.order.is_empty() {
        text.push_str("\nNo operation can even come first (the register starts as nil).");
    } else {
        let order: Vec<String> = partial.order.iter().map(|&e| op_of(e).short()).collect();
        let _ = write!(
            text,
            "\nLongest consistent order: {} (the register then holds {}).",
            order.join(", "),
            model.show(partial.state)
        );
    }
    let mut done = vec![false; entries.len()];
    for &e in &partial.order {
        done[e] = true;
    }
    let remaining: Vec<usize> = (0..entries.len()).filter(|&e| !done[e]).collect();
    let first_ret = remaining.iter().map(|&e| entries[e].ret).min();
    let next: Vec<usize> = remaining
        .iter()
        .copied()
        .filter(|&e| first_ret.is_none_or(|r| entries[e].call <= r))
        .collect();
    if !next.is_empty() {
        text.push_str("\nNone of the operations that could come next fits:");
    }
    for &e in next.iter().take(CANDIDATES_SHOWN_MAX) {
        let reason = why(&entries[e], &mut model, partial.state);
        let _ = write!(text, "\n  {}: {reason}", op_of(e).short());
    }
    if next.len() > CANDIDATES_SHOWN_MAX {
        let _ = write!(
            text,
            "\n  ... and {} more",
            next.len() - CANDIDATES_SHOWN_MAX
        );
    }
    text
}

fn why(entry: &Entry, model: &mut Register, state: u32) -> String {
    match model.apply(state, &entry.step) {
        None => model.why_not(state, &entry.step),
        Some(_) => "it fits here, but every order that continues from it fails later".to_string(),
    }
}
