//! A linearizability checker for recorded raftkv client histories.
//!
//! raftkv promises that every acknowledged write and every default read is *linearizable*: each
//! operation appears to take effect at one instant between the moment the client sent it and the
//! moment the reply arrived, and the resulting order explains every reply. Tests that hammer a
//! cluster while crashing, partitioning and pausing nodes record what each client asked and what
//! it got back; this crate decides whether such a record could have come from a correct system.
//!
//! # The history
//!
//! A history is a list of [`Op`]s. Each carries the client that issued it (a label, used for
//! display only: a client may pipeline), the key, the [`Command`], the call and return times in
//! nanoseconds on one monotonic clock, and the [`Outcome`]:
//!
//! * `ok`: the reply arrived; its [`Value`] must be explained by the chosen order.
//! * `fail`: the operation *definitely did not take effect* (an error reply the server guarantees
//!   was not applied, such as `-WRONGTYPE`, or a refusal before sending). It is ignored.
//! * `info`: the outcome is unknown (timeout, lost connection). It may have taken effect at any
//!   time after its call, even after the client gave up, or never. Its return time is ignored.
//!
//! On disk a history is JSON Lines, one operation per line:
//!
//! ```text
//! {"id":17,"client":3,"key":"k1","op":"set","arg":"v5","call_ns":123,"ret_ns":456,"result":{"type":"ok","value":null}}
//! {"id":18,"client":1,"key":"k1","op":"get","call_ns":130,"ret_ns":470,"result":{"type":"ok","value":"v5"}}
//! {"id":19,"client":2,"key":"c","op":"incr","call_ns":140,"ret_ns":null,"result":{"type":"info","error":"timeout"}}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `id` | unique operation id (any `u64`) |
//! | `client` | client id (`u64`), for display |
//! | `key` | the key, a string |
//! | `op` | `get`, `set`, `del`, `getset` (`SET key value GET`), `incr` or `append` |
//! | `arg` | the value for `set`, `getset` and `append`; absent or `null` otherwise |
//! | `call_ns` | when the request was sent, nanoseconds on a monotonic clock |
//! | `ret_ns` | when the reply arrived; `null` allowed for `fail` and `info` |
//! | `result` | `{"type":"ok","value":V}`, `{"type":"fail","error":"..."}` or `{"type":"info","error":"..."}` (`error` optional) |
//!
//! The `ok` value `V` is what the command returns in Redis: `get` a string or `null` (missing
//! key); `set` `null` (or `"OK"`); `del` the number of keys removed, `0` or `1`; `getset` the
//! previous value, a string or `null`; `incr` the new integer (a missing key counts as `0`);
//! `append` the new length in bytes, or `null` if the client did not record it. Unknown fields
//! are rejected. [`History::read_jsonl`] and [`History::write_jsonl`] read and write the format;
//! [`Recorder`] builds a history from a live test client.
//!
//! # Models and algorithms
//!
//! Operations on different keys never constrain each other, so the history is split by key and
//! each key is checked on its own (linearizability is compositional).
//!
//! * **Register** keys (`get`, `set`, `del`, `getset`, `incr`, and `append` too) are checked with
//!   the Wing–Gong search as improved by Lowe: walk the calls and returns in time order, try to
//!   linearize each pending call against the model, backtrack when a return is reached for an
//!   operation not yet linearized, and remember every (set of linearized operations, model state)
//!   pair already explored so that no configuration is searched twice (as porcupine does). Where it
//!   is exact, unknown writes whose value nobody read are dropped, and an unknown write of a unique
//!   value that was read must precede the first such read; this keeps the search small on real
//!   histories. The search is exponential
//!   in the worst case, so it runs against a deadline and a memory budget; running out of either is
//!   reported as [`Verdict::Timeout`], which is a failure, never a pass.
//! * **Append** keys (only `get` and `append` of unique tokens, each followed by
//!   [`APPEND_DELIMITER`], as in `"c3-17,"`) are checked in linear time (after sorting): the
//!   longest read fixes the order of the appends, every read must be a prefix of it, and one sweep
//!   over the operations in call order verifies that real-time order agrees with prefix order.
//!   For such histories this is a complete decision, not merely a set of sanity checks.
//!
//! With [`Model::Auto`] a key that has any `append` and only `get`/`append` operations with
//! well-formed unique tokens uses the append checker; every other key uses the register search.
//!
//! # Reporting
//!
//! A violation is shrunk to a small window of operations on the failing key that is still not
//! linearizable, and shrinking is *honest*: the window stays non-linearizable whichever of the
//! removed operations are added back, so it is the violation and not an artefact of removing the
//! write a read depended on. The window comes with an explanation (the longest order the search
//! found and why no remaining operation can come next) and can be drawn as a text or HTML
//! timeline with the [`timeline`] functions.
//!
//! ```
//! use check::{check, CheckOptions, Command, History, Outcome, Value, Verdict};
//!
//! let mut history = History::new();
//! history.add(1, "k", Command::Set("a".into()), 0, Some(10), Outcome::ok(Value::Nil));
//! history.add(1, "k", Command::Set("b".into()), 20, Some(30), Outcome::ok(Value::Nil));
//! // A read that starts after "b" was acknowledged but returns "a": a stale read.
//! history.add(2, "k", Command::Get, 40, Some(50), Outcome::ok(Value::from("a")));
//! let verdict = check(&history, &CheckOptions::default()).unwrap();
//! assert!(matches!(verdict, Verdict::Violation { .. }));
//! assert_eq!(verdict.exit_code(), 1);
//! ```

mod append;
mod check;
mod error;
mod history;
mod op;
mod recorder;
mod register;
pub mod rng;
pub mod timeline;
mod value;

pub use crate::append::APPEND_DELIMITER;
pub use crate::check::{check, CheckOptions, Model, Verdict};
pub use crate::error::HistoryError;
pub use crate::history::{History, MAX_HISTORY_OPS, MAX_LINE_BYTES};
pub use crate::op::{Command, Op};
pub use crate::recorder::{PendingOp, Recorder};
pub use crate::rng::Rng;
pub use crate::value::{Outcome, Value};
