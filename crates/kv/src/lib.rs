//! raftkv's deterministic state machine: keyspace, values, TTLs, command semantics, snapshots.
//!
//! This crate is the part of raftkv that every replica runs identically. The node parses a
//! client's arguments into a [`Command`] ([`Command::parse`]), proposes writes
//! ([`Command::is_write`]) through Raft, and applies each committed command to its [`Store`]
//! with the leader's timestamp ([`Store::apply`]); reads may be answered without the log by
//! [`Store::query`]. Replies are protocol-neutral [`resp::Reply`] values; errors carry Redis's
//! exact texts ([`Error`]).
//!
//! # Invariants
//!
//! - **Determinism.** The same sequence of `(now_ms, command)` gives the same state and the
//!   same replies on every replica. There is no clock, randomness, I/O (other than the
//!   snapshot reader and writer given to it) or hash seed in here; time arrives inside
//!   [`Store::apply`] as `now_ms`, and the store's clock never goes backwards.
//! - **Redis semantics.** Every command behaves as in Redis 7 for string values, including
//!   error texts and the order in which errors are detected. Where this crate differs (float
//!   precision, a key's last live millisecond, size limits), the module that implements the
//!   command says so.
//! - **Limits.** Every input has a ceiling in [`limits`]; exceeding one is an error reply.
//! - **Cheap copies.** [`Store::clone`] is O(1) (persistent maps), so snapshots are written from
//!   a clone while the original keeps applying.
//!
//! # Map
//!
//! - `command_table`: every served command's arity and documentation;
//! - `command`: the [`Command`] type; `options`: the option types inside it; `parse`:
//!   [`Command::parse`].
//! - `store`: [`Store`] and the dispatch of commands; `keyspace`: the data and its indexes.
//! - `strings`, `keys`, `ttl`, `scan`, `bits`, `lcs`: command semantics; `ops`: the commands
//!   carried as an operation and raw arguments, dispatched to `hashes`, `lists`, `sets`,
//!   `zsets` (with `zset_ranges` and `zset_algebra`), `streams` (with `stream_groups`, on the
//!   value type in `stream`), `bits` and `lcs`; `aggregate`: what
//!   the aggregate types share; `random`: replicated randomness; `glob`: KEYS/SCAN patterns;
//!   `numbers`: Redis-strict number parsing and formatting; `hash`: the fixed key hash.
//! - `snapshot`: the checksummed, streamed snapshot format.
//! - `acl`: users and permissions (Redis ACLs), replicated like the keyspace.
//! - `notify`: keyspace notifications (`notify-keyspace-events`), emitted from apply.
//! - `script`: Lua scripts (EVAL and friends) and Redis 7 functions (FUNCTION, FCALL),
//!   deterministic on every replica, with the `cjson`, `cmsgpack`, `struct` and `bit` libraries.

pub mod acl;
mod aggregate;
mod bits;
mod command;
pub mod command_table;
mod error;
mod glob;
mod hash;
mod hashes;
mod keys;
mod keyspace;
mod lcs;
pub mod limits;
mod lists;
pub mod notify;
mod notify_flags;
mod numbers;
mod op;
mod ops;
mod options;
mod parse;
mod random;
mod record;
mod scan;
pub mod script;
mod sets;
pub mod snapshot;
mod store;
mod stream;
mod stream_groups;
mod streams;
mod strings;
mod ttl;
mod value;
mod zset_algebra;
mod zset_ranges;
mod zsets;

pub use command::{Args, Command};
pub use error::Error;
pub use op::Op;
pub use options::{
    ExpireFlags, ExpireKind, Expiry, GetExTtl, IncrKind, SetCondition, SetTtl, TtlKind,
};
pub use parse::COMMANDS;
pub use snapshot::SnapshotError;
pub use store::{aborts_batch, Stats, Store, WATCH_ABORTED};
pub use streams::BlockingRead;

/// True if `text` matches the Redis glob `pattern` (`*`, `?`, `[a-z]`, `[^a]`, backslash escapes), as KEYS
/// and SCAN MATCH use it.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    glob::Pattern::new(pattern).matches(text)
}
