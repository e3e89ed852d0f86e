//! Why a history could not be checked.
//!
//! A history that cannot be read, or that breaks the format's rules (a return before its call, a
//! `del` that returned 7, two appends of the same token), is *bad input*: the checker refuses it
//! rather than guess. Bad input is distinct from a violation (the history is well formed and not
//! linearizable) and from a timeout (the checker could not decide in time); the CLI maps the three
//! to different exit codes.

/// A history that cannot be checked: unreadable, malformed, or outside the chosen model.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading or writing the history file failed.
    #[error("history I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A JSON Lines record could not be parsed.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number in the file.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// An operation breaks the format's rules (see [`crate::Op::validate`]).
    #[error("operation #{id}: {message}")]
    Invalid {
        /// The operation's id.
        id: u64,
        /// What was wrong.
        message: String,
    },
    /// Two operations share an id.
    #[error("duplicate operation id #{id}")]
    DuplicateId {
        /// The repeated id.
        id: u64,
    },
    /// The history is longer than [`crate::MAX_HISTORY_OPS`].
    #[error("history has more than {max} operations")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A key's operations do not fit the model asked for (a `set` under the append model, a
    /// repeated or malformed append token).
    #[error("key {key:?}: {message}")]
    Model {
        /// The key.
        key: String,
        /// What does not fit.
        message: String,
    },
}
