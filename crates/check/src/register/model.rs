//! The register model: what one Redis string key does under each command.
//!
//! The state is the key's value or nil, stored as an interned id ([`StateId`], 0 = nil) so that
//! states are cheap to copy, compare and hash in the search memo. Each operation is compiled once
//! into a [`Step`] that already knows what it expects; [`Register::apply`] then either returns the
//! next state or `None` when the operation cannot happen in that state with that reply. The model
//! is deterministic (one next state at most), which the search relies on.
//!
//! Semantics follow Redis for string values: `INCR` needs the value to be a canonical 64-bit
//! integer (`"12"`, `"-3"`; not `"012"`, `"+1"`, `" 1"`), treats nil as 0 and fails on overflow;
//! `APPEND` concatenates bytes and returns the new length. An `info` operation has no reply to
//! match, so it always applies; an `info` `INCR` on a non-integer would have been refused, so it
//! leaves the state unchanged.

use std::collections::HashMap;

/// Interned register state: 0 is nil, anything else indexes [`Register`]'s strings.
pub(crate) type StateId = u32;

/// The nil state (key missing).
pub(crate) const NIL: StateId = 0;

/// One operation compiled against the model: what it does and what reply it must explain.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// `GET` that returned this state.
    Read { expect: StateId },
    /// `SET`, or `SET .. GET` that returned `expect_old` (`None`: reply unknown).
    Write {
        value: StateId,
        expect_old: Option<StateId>,
    },
    /// `DEL` that returned whether the key existed (`None`: reply unknown).
    Del { expect_existed: Option<bool> },
    /// `INCR` that returned this number (`None`: reply unknown).
    Incr { expect: Option<i64> },
    /// `APPEND` of `suffix` that returned this length (`None`: reply unknown or not recorded).
    Append {
        suffix: Box<str>,
        expect_len: Option<i64>,
    },
}

/// The register model: string interner plus the transition function.
#[derive(Debug, Default)]
pub(crate) struct Register {
    /// Interned strings; index `id - 1` holds state `id`.
    strings: Vec<Box<str>>,
    /// Canonical integer value of each interned string, if it is one.
    ints: Vec<Option<i64>>,
    /// String to id.
    ids: HashMap<Box<str>, StateId>,
}

/// The canonical 64-bit integer `s` spells, as Redis's `INCR` accepts it.
pub(crate) fn canonical_int(s: &str) -> Option<i64> {
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

impl Register {
    /// The id of string `s`, interning it on first use.
    pub(crate) fn intern(&mut self, s: &str) -> StateId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.strings.push(s.into());
        self.ints.push(canonical_int(s));
        let id = StateId::try_from(self.strings.len()).expect("more than 2^32 distinct values");
        self.ids.insert(s.into(), id);
        id
    }

    /// The string of state `id`, `None` for nil.
    pub(crate) fn string(&self, id: StateId) -> Option<&str> {
        (id != NIL).then(|| &*self.strings[id as usize - 1])
    }

    /// The state as a reader would see it: `nil` or a quoted string.
    pub(crate) fn show(&self, id: StateId) -> String {
        self.string(id)
            .map_or_else(|| "nil".to_string(), |s| format!("{s:?}"))
    }

    /// Integer value of state `id` for `INCR`: nil counts as 0, a non-integer is `None`.
    fn int(&self, id: StateId) -> Option<i64> {
        if id == NIL {
            Some(0)
        } else {
            self.ints[id as usize - 1]
        }
    }

    /// The state after `step` from `state`, or `None` if the step cannot happen there.
    pub(crate) fn apply(&mut self, state: StateId, step: &Step) -> Option<StateId> {
        match step {
            Step::Read { expect } => (*expect == state).then_some(state),
            Step::Write { value, expect_old } => match expect_old {
                Some(old) if *old != state => None,
                _ => Some(*value),
            },
            Step::Del { expect_existed } => match expect_existed {
                Some(existed) if *existed != (state != NIL) => None,
                _ => Some(NIL),
            },
            Step::Incr { expect } => {
                let next = self.int(state).and_then(|n| n.checked_add(1));
                match (next, expect) {
                    (Some(n), Some(e)) if n == *e => Some(self.intern(&n.to_string())),
                    (Some(n), None) => Some(self.intern(&n.to_string())),
                    // Unknown outcome on a value INCR refuses: the command had no effect.
                    (None, None) => Some(state),
                    _ => None,
                }
            }
            Step::Append { suffix, expect_len } => {
                let mut next = self.string(state).unwrap_or("").to_string();
                next.push_str(suffix);
                match expect_len {
                    Some(len) if usize::try_from(*len).ok() != Some(next.len()) => None,
                    _ => Some(self.intern(&next)),
                }
            }
        }
    }

    /// Why `step` cannot happen in `state`, as a clause for the explanation.
    pub(crate) fn why_not(&self, state: StateId, step: &Step) -> String {
        let holds = self.show(state);
        match step {
            Step::Read { .. } | Step::Write { .. } => format!("the register holds {holds}"),
            Step::Del { .. } => match state {
                NIL => "the key is missing".to_string(),
                _ => format!("the key exists (holds {holds})"),
            },
            Step::Incr { .. } => match self.int(state) {
                Some(n) => format!("the register holds {holds}, so INCR would return {}", n + 1),
                None => format!("the register holds {holds}, which INCR refuses"),
            },
            Step::Append { suffix, .. } => {
                let len = self.string(state).map_or(0, str::len) + suffix.len();
                format!("the register holds {holds}, so APPEND would return {len}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers_only() {
        assert_eq!(canonical_int("12"), Some(12));
        assert_eq!(canonical_int("-3"), Some(-3));
        for bad in ["012", "+1", " 1", "-0", "", "1.0", "x"] {
            assert_eq!(canonical_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn steps() {
        let mut r = Register::default();
        let a = r.intern("a");
        assert_eq!(r.apply(NIL, &Step::Read { expect: NIL }), Some(NIL));
        assert_eq!(r.apply(a, &Step::Read { expect: NIL }), None);
        let w = Step::Write {
            value: a,
            expect_old: Some(NIL),
        };
        assert_eq!(r.apply(NIL, &w), Some(a));
        assert_eq!(r.apply(a, &w), None);
        let del1 = Step::Del {
            expect_existed: Some(true),
        };
        assert_eq!(r.apply(a, &del1), Some(NIL));
        assert_eq!(r.apply(NIL, &del1), None);
        let incr = Step::Incr { expect: Some(1) };
        let one = r.apply(NIL, &incr).unwrap();
        assert_eq!(r.string(one), Some("1"));
        assert_eq!(r.apply(a, &incr), None);
        assert_eq!(r.apply(a, &Step::Incr { expect: None }), Some(a));
        let app = Step::Append {
            suffix: "x,".into(),
            expect_len: Some(3),
        };
        let ax = r.apply(a, &app).unwrap();
        assert_eq!(r.string(ax), Some("ax,"));
        assert_eq!(r.apply(NIL, &app), None);
    }
}
