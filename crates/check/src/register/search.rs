//! The Wing–Gong/Lowe search for one key.
//!
//! Every entry contributes two events, its call and its return, kept in one doubly linked list in
//! time order (a call sorts before a return at the same instant: touching intervals overlap). The
//! search walks the list from the front. At a call it tries to linearize that operation now: if
//! the model accepts it and the resulting configuration (linearized set, state) has not been seen
//! before, the operation's two events are unlinked ("lifted"), the choice is pushed on a stack and
//! the walk restarts from the front. Reaching a return means that operation had to be linearized
//! already and was not, so the last choice is undone (events relinked in reverse order, which is
//! what makes the dancing-links trick exact) and the walk continues after it. An empty list is a
//! linearization; an empty stack at a return proves there is none.
//!
//! The memo is what turns the exponential search into a practical one: two paths that linearized
//! the same set and left the register in the same state have the same future, so the second is
//! skipped. An *optional* entry (a write the shrinker relaxed) has a second alternative, taking
//! effect as a no-op, tried when its effect leads nowhere; the memo covers both.
//!
//! Limits: the walk checks its deadline and the memo's size every few thousand steps and
//! gives up with [`Outcome::Timeout`] or [`Outcome::OutOfMemory`], which callers report as
//! undecided. With `track` set it also keeps the deepest partial linearization, for explanations.

use std::time::Instant;

use super::memo::{Config, Memo};
use super::model::{Register, StateId, NIL};
use super::prepare::Entry;

/// Steps between checks of the deadline and memo size.
const CHECK_EVERY: u64 = 4096;

/// Bounds on one search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Give up at this instant.
    pub(crate) deadline: Instant,
    /// Give up when the memo holds about this many bytes.
    pub(crate) memo_bytes_max: usize,
}

/// The deepest partial linearization a search reached.
#[derive(Clone, Debug, Default)]
pub(crate) struct Partial {
    /// Entry indices in linearization order.
    pub(crate) order: Vec<usize>,
    /// Register state after them.
    pub(crate) state: StateId,
}

/// How a search ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A linearization exists.
    Linearizable,
    /// None exists; with `track`, the deepest partial linearization found.
    Violation(Partial),
    /// The deadline passed.
    Timeout,
    /// The memo outgrew its budget.
    OutOfMemory,
}

/// The event list: node 0 is the head sentinel; the list is circular.
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Entry of each node (unused for the sentinel).
    entry: Vec<usize>,
    /// Whether each node is a call (else a return).
    is_call: Vec<bool>,
    /// Call and return node of each entry.
    nodes: Vec<(usize, usize)>,
}

impl Events {
    fn new(entries: &[Entry]) -> Self {
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            assert!(e.call <= e.ret, "entry {i} returns before its call");
            order.push((e.call, false, i));
            order.push((e.ret, true, i));
        }
        // Calls (false) before returns (true) at equal times.
        order.sort_unstable();
        let len = order.len() + 1;
        let mut ev = Events {
            next: (1..=len).map(|i| i % len).collect(),
            prev: (0..len).map(|i| (i + len - 1) % len).collect(),
            entry: vec![usize::MAX; len],
            is_call: vec![false; len],
            nodes: vec![(0, 0); entries.len()],
        };
        for (k, &(_, is_ret, i)) in order.iter().enumerate() {
            let node = k + 1;
            ev.entry[node] = i;
            ev.is_call[node] = !is_ret;
            if is_ret {
                ev.nodes[i].1 = node;
            } else {
                ev.nodes[i].0 = node;
            }
        }
        ev
    }

    /// Each entry's rank in call order.
    fn members(&self) -> Vec<usize> {
        let mut member = vec![0; self.nodes.len()];
        let mut rank = 0;
        let mut node = self.next[0];
        while node != 0 {
            if self.is_call[node] {
                member[self.entry[node]] = rank;
                rank += 1;
            }
            node = self.next[node];
        }
        member
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        self.prev[n] = node;
    }

    fn lift(&mut self, entry: usize) {
        let (call, ret) = self.nodes[entry];
        self.unlink(call);
        self.unlink(ret);
    }

    fn unlift(&mut self, entry: usize) {
        let (call, ret) = self.nodes[entry];
        self.relink(ret);
        self.relink(call);
    }
}

/// Searches for a linearization of `entries` from the nil state. An optional entry may also be
/// linearized as a no-op: its effect is tried first, and the no-op when that leads nowhere.
pub(crate) fn search(
    entries: &[Entry],
    model: &mut Register,
    limits: Limits,
    track: bool,
) -> Outcome {
    let events = Events::new(entries);
    let member = events.members();
    let mut search = Search {
        entries,
        model,
        events,
        memo: Memo::default(),
        member,
        current: Config::new(entries.len(), NIL),
        stack: Vec::new(),
        deepest: Partial::default(),
        track,
    };
    search.run(limits)
}

/// The state of one search.
struct Search<'s> {
    entries: &'s [Entry],
    model: &'s mut Register,
    events: Events,
    /// Every configuration (linearized set, state) entered so far.
    memo: Memo,
    /// Member number of each entry in the memo's sets: its rank in call order.
    member: Vec<usize>,
    /// The current configuration.
    current: Config,
    /// Choices made: (entry, state before it, whether it was applied as a no-op).
    stack: Vec<(usize, StateId, bool)>,
    /// Deepest partial linearization (with `track`).
    deepest: Partial,
    track: bool,
}

impl Search<'_> {
    fn run(&mut self, limits: Limits) -> Outcome {
        let mut node = self.events.next[0];
        // After undoing an optional entry's effect, its no-op alternative is tried next.
        let mut noop_only = false;
        let mut steps: u64 = 0;
        while self.events.next[0] != 0 {
            steps += 1;
            if steps.is_multiple_of(CHECK_EVERY) {
                if let Some(out) = self.over_limits(limits) {
                    return out;
                }
            }
            assert_ne!(node, 0, "walked past the last return");
            let entry = self.events.entry[node];
            if !self.events.is_call[node] {
                // A pending operation's deadline: undo the last choice, or there is none.
                let Some((undone, applied_noop)) = self.undo() else {
                    return Outcome::Violation(std::mem::take(&mut self.deepest));
                };
                node = self.events.nodes[undone].0;
                noop_only = self.entries[undone].optional && !applied_noop;
                if !noop_only {
                    node = self.events.next[node];
                }
            } else if self.try_linearize(entry, noop_only) {
                node = self.events.next[0];
                noop_only = false;
            } else {
                node = self.events.next[node];
                noop_only = false;
            }
        }
        Outcome::Linearizable
    }

    fn over_limits(&self, limits: Limits) -> Option<Outcome> {
        if Instant::now() >= limits.deadline {
            return Some(Outcome::Timeout);
        }
        (self.memo.bytes() > limits.memo_bytes_max).then_some(Outcome::OutOfMemory)
    }

    /// Linearizes `entry` now if the model allows and the configuration is new.
    fn try_linearize(&mut self, entry: usize, noop_only: bool) -> bool {
        let before = self.current.state;
        let mut alternatives = [None, None];
        if !noop_only {
            let step = &self.entries[entry].step;
            alternatives[0] = self.model.apply(before, step).map(|s| (s, false));
        }
        if self.entries[entry].optional {
            alternatives[1] = Some((before, true));
        }
        for (after, noop) in alternatives.into_iter().flatten() {
            self.current.insert(self.member[entry]);
            self.current.state = after;
            if self.memo.insert(&self.current) {
                self.stack.push((entry, before, noop));
                self.events.lift(entry);
                if self.track && self.stack.len() > self.deepest.order.len() {
                    let order = self.stack.iter().filter(|c| !c.2).map(|c| c.0).collect();
                    self.deepest = Partial {
                        order,
                        state: after,
                    };
                }
                return true;
            }
            self.current.remove(self.member[entry]);
            self.current.state = before;
        }
        false
    }

    /// Undoes the last choice: its entry and whether it was applied as a no-op.
    fn undo(&mut self) -> Option<(usize, bool)> {
        let (entry, before, noop) = self.stack.pop()?;
        self.current.remove(self.member[entry]);
        self.current.state = before;
        self.events.unlift(entry);
        Some((entry, noop))
    }
}
