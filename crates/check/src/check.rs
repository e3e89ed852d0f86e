//! The entry point: validate, split by key, pick a model per key, and combine the verdicts.
//!
//! Keys are checked in sorted order against one overall deadline. The first key that is not
//! linearizable ends the check with a [`Verdict::Violation`] (one clear failure beats a list of
//! consequences). A key whose search runs out of time or memory is remembered and the remaining
//! keys are still checked, since a definite violation elsewhere is more useful; if none turns up
//! the verdict is [`Verdict::Timeout`]. Only when every key passes is the history linearizable.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::append::{self, AppendVerdict};
use crate::error::HistoryError;
use crate::history::History;
use crate::op::Op;
use crate::register::{self, KeyVerdict, Limits};

/// Which model to check keys against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Model {
    /// Every key is a register (Wing–Gong/Lowe search); handles every command.
    Register,
    /// Every key is an append-only sequence of unique tokens (linear time); only `get` and
    /// `append` are allowed.
    Append,
    /// Per key: the append checker for keys with appends and only `get`/`append`, the register
    /// search for the rest.
    #[default]
    Auto,
}

impl FromStr for Model {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(Model::Register),
            "append" => Ok(Model::Append),
            "auto" => Ok(Model::Auto),
            _ => Err(format!(
                "unknown model {s:?} (expected register, append or auto)"
            )),
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::Register => "register",
            Model::Append => "append",
            Model::Auto => "auto",
        })
    }
}

/// Settings of one check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The model.
    pub model: Model,
    /// Overall time for the verdict; past it the verdict is [`Verdict::Timeout`].
    pub time_limit: Duration,
    /// Extra time to shrink and explain a violation once found (the verdict does not depend on it;
    /// the window may just be larger).
    pub shrink_time_limit: Duration,
    /// Memory the register search's memo may use for one key, in bytes; past it the verdict is
    /// [`Verdict::Timeout`].
    pub memo_bytes_max: usize,
}

impl Default for CheckOptions {
    /// Auto model, 60 s to decide, 10 s to shrink, 4 GiB of memo.
    fn default() -> Self {
        CheckOptions {
            model: Model::Auto,
            time_limit: Duration::from_secs(60),
            shrink_time_limit: Duration::from_secs(10),
            memo_bytes_max: 4 << 30,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key has a linearization.
    Linearizable {
        /// Keys checked.
        keys: usize,
        /// Operations in the history.
        ops: usize,
    },
    /// A key has none.
    Violation {
        /// The key.
        key: String,
        /// A small window of that key's operations that has no linearization, in call order.
        window: Vec<Op>,
        /// Why, for people (several lines).
        explanation: String,
    },
    /// The checker could not decide a key in time (or within its memory budget). A failure.
    Timeout {
        /// The first key left undecided.
        key: String,
        /// Which limit was hit.
        reason: String,
    },
}

impl Verdict {
    /// Whether the history passed.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }

    /// The CLI's exit code: 0 linearizable, 1 violation, 2 timeout (3, bad input, is not a
    /// verdict).
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Linearizable { .. } => 0,
            Verdict::Violation { .. } => 1,
            Verdict::Timeout { .. } => 2,
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Linearizable { keys, ops } => {
                format!("linearizable: {ops} operations on {keys} keys")
            }
            Verdict::Violation { key, window, .. } => format!(
                "NOT linearizable: key {key:?}, smallest failing window has {} operations",
                window.len()
            ),
            Verdict::Timeout { key, reason } => {
                format!("UNDECIDED (counts as failure): key {key:?}: {reason}")
            }
        }
    }
}

/// Checks a history. Errors only for bad input; a violation or a timeout is a [`Verdict`].
pub fn check(history: &History, options: &CheckOptions) -> Result<Verdict, HistoryError> {
    history.validate()?;
    let started = Instant::now();
    let limits = Limits {
        deadline: started + options.time_limit,
        memo_bytes_max: options.memo_bytes_max,
    };
    let keys = history.by_key();
    let mut undecided: Option<Verdict> = None;
    for (key, ops) in &keys {
        let use_append = match options.model {
            Model::Register => false,
            Model::Append => true,
            Model::Auto => append::fits(ops),
        };
        let violation = |window: Vec<&Op>, explanation: String| Verdict::Violation {
            key: key.to_string(),
            window: window.into_iter().cloned().collect(),
            explanation,
        };
        if use_append {
            if let AppendVerdict::Violation {
                window,
                explanation,
            } = append::check_append_key(key, ops)?
            {
                return Ok(violation(window, explanation));
            }
            continue;
        }
        if Instant::now() >= limits.deadline {
            undecided.get_or_insert(Verdict::Timeout {
                key: key.to_string(),
                reason: "the time limit passed before this key was checked".to_string(),
            });
            continue;
        }
        match register::check_key(ops, limits, options.shrink_time_limit) {
            KeyVerdict::Linearizable => {}
            KeyVerdict::Violation {
                window,
                explanation,
            } => return Ok(violation(window, explanation)),
            KeyVerdict::Undecided { reason } => {
                undecided.get_or_insert(Verdict::Timeout {
                    key: key.to_string(),
                    reason,
                });
            }
        }
    }
    Ok(undecided.unwrap_or(Verdict::Linearizable {
        keys: keys.len(),
        ops: history.len(),
    }))
}
