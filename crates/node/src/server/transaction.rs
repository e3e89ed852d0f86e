//! MULTI / EXEC / DISCARD: transactions as one log entry.
//!
//! Between MULTI and EXEC a connection queues data commands (answering `+QUEUED`); EXEC sends
//! the queue to the cluster layer as one batch, which becomes one Raft entry (or one read
//! barrier if nothing writes). The state machine applies an entry under one lock, so the
//! commands run together with nothing from other clients in between, as in Redis. A command
//! that fails to parse while queued aborts the transaction (`-EXECABORT` at EXEC), as in Redis.
//! Connection commands cannot be queued.
//!
//! # WATCH
//!
//! Optimistic locking as in Redis. `WATCH key ...` reads each key's version (see
//! `kv::Store::watch_version`: it changes whenever the key is set, changed, deleted, expires
//! or is flushed) through the linearizable read path, on whichever node the client is on, and
//! remembers the first version seen per key in [`Watches`]. EXEC then puts a
//! `kv::Command::WatchGuard` carrying those versions first in the transaction's log entry; every
//! replica applies the guard at the same point of the log, compares, and if any key changed
//! skips the whole entry, so the decision is the same everywhere and EXEC answers a nil array
//! (`*-1`, or `_` in RESP3). EXEC (whatever its outcome), DISCARD, UNWATCH, RESET and closing the
//! connection forget the watches. A transaction with watches always goes through the log, even
//! if it only reads.

use bytes::Bytes;
use resp::Reply;

use super::batcher::entry_bytes;
use super::errors::{command_too_large, wrong_arity};
use super::families::{is_blocking_command, is_connection_command, is_pubsub_command};
pub use super::families::{is_transaction_command, TRANSACTION_COMMANDS};
use super::ServerContext;
use crate::limits::MAX_ENTRY_BYTES;

/// The most keys one connection may watch at once (a WATCH beyond it is refused).
pub const MAX_WATCHED_KEYS: usize = 10_000;

/// The keys a connection watches, each with the version first seen (WATCH of a key already
/// watched keeps the earlier version, as Redis keeps the earlier watch).
pub type Watches = std::collections::BTreeMap<Bytes, i64>;

/// Commands queued since MULTI.
#[derive(Debug, Default)]
pub struct Transaction {
    cmds: Vec<kv::Command>,
    /// Blocking commands queued, by position, with how their replies are reshaped.
    blocking: Vec<(usize, super::blocking::Shape)>,
    bytes: usize,
    failed: bool,
}

impl Transaction {
    /// Queue one command; the reply is `+QUEUED` or the error that will abort EXEC.
    pub fn queue(&mut self, args: &[Bytes]) -> Reply {
        if is_connection_command(&args[0]) || is_pubsub_command(&args[0]) {
            self.failed = true;
            return Reply::error(format!(
                "ERR '{}' inside MULTI is not supported by raftkv",
                String::from_utf8_lossy(&args[0])
            ));
        }
        let size = entry_bytes(args);
        if self.bytes + size > MAX_ENTRY_BYTES {
            self.failed = true;
            return command_too_large(self.bytes + size, MAX_ENTRY_BYTES);
        }
        // Inside MULTI a blocking command never blocks: it runs as its non-blocking form.
        let parsed = if is_blocking_command(&args[0]) {
            super::blocking::parse(args).map(|pop| {
                self.blocking.push((self.cmds.len(), pop.shape));
                pop.command
            })
        } else {
            kv::Command::parse(args).map_err(|e| e.to_reply())
        };
        match parsed {
            Ok(cmd) => {
                self.cmds.push(cmd);
                self.bytes += size;
                Reply::Simple("QUEUED".into())
            }
            Err(reply) => {
                self.failed = true;
                reply
            }
        }
    }
}

/// Handle MULTI, EXEC, DISCARD, WATCH or UNWATCH.
pub async fn handle(
    args: &[Bytes],
    open: &mut Option<Transaction>,
    watched: &mut Watches,
    ctx: &ServerContext,
) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let arity_ok = match name.as_str() {
        "WATCH" => args.len() >= 2,
        _ => args.len() == 1,
    };
    if !arity_ok {
        return wrong_arity(&name);
    }
    match name.as_str() {
        "MULTI" if open.is_some() => Reply::error("ERR MULTI calls can not be nested"),
        "MULTI" => {
            *open = Some(Transaction::default());
            Reply::ok()
        }
        "EXEC" => {
            let watched = std::mem::take(watched);
            match open.take() {
                None => Reply::error("ERR EXEC without MULTI"),
                Some(t) if t.failed => {
                    Reply::error("EXECABORT Transaction discarded because of previous errors.")
                }
                Some(t) if t.cmds.is_empty() && watched.is_empty() => Reply::Array(vec![]),
                Some(t) => exec(t, watched, ctx).await,
            }
        }
        "DISCARD" => match open.take() {
            None => Reply::error("ERR DISCARD without MULTI"),
            Some(_) => {
                watched.clear();
                Reply::ok()
            }
        },
        "WATCH" if open.is_some() => Reply::error("ERR WATCH inside MULTI is not allowed"),
        "WATCH" => watch(&args[1..], watched, ctx).await,
        _ => {
            // UNWATCH
            watched.clear();
            Reply::ok()
        }
    }
}

/// WATCH: read the keys' versions linearizably and remember the first version of each.
async fn watch(keys: &[Bytes], watched: &mut Watches, ctx: &ServerContext) -> Reply {
    let fresh: Vec<Bytes> = keys
        .iter()
        .filter(|key| !watched.contains_key(*key))
        .cloned()
        .collect();
    if fresh.is_empty() {
        return Reply::ok();
    }
    if watched.len() + fresh.len() > MAX_WATCHED_KEYS {
        return Reply::error(format!(
            "ERR too many watched keys (the limit is {MAX_WATCHED_KEYS})"
        ));
    }
    let read = kv::Command::KeyVersions {
        keys: fresh.clone(),
    };
    let reply = ctx.execute(vec![read]).await.pop();
    match reply {
        Some(Reply::Array(versions)) if versions.len() == fresh.len() => {
            for (key, version) in fresh.into_iter().zip(versions) {
                if let Reply::Integer(version) = version {
                    watched.entry(key).or_insert(version);
                }
            }
            Reply::ok()
        }
        Some(error @ Reply::Error(_)) => error,
        other => Reply::error(format!("ERR unexpected answer to WATCH's read: {other:?}")),
    }
}

/// EXEC: run the queued commands as one log entry, behind a WATCH guard if keys are watched or
/// a queued command may grow memory (then the guard, empty if nothing is watched, marks the
/// batch as a transaction, which a leader past `maxmemory` refuses whole: EXEC answers `-OOM`,
/// as Redis's does).
async fn exec(t: Transaction, watched: Watches, ctx: &ServerContext) -> Reply {
    let published = super::publish::publish_channels(&t.cmds);
    let guarded = !watched.is_empty() || t.cmds.iter().any(kv::Command::may_grow_memory);
    let mut batch = Vec::with_capacity(t.cmds.len() + 1);
    if guarded {
        batch.push(kv::Command::WatchGuard {
            watched: watched.into_iter().collect(),
        });
    }
    batch.extend(t.cmds);
    let mut replies = ctx.execute(batch).await;
    if guarded {
        match replies.remove(0) {
            Reply::Simple(_) => {}
            Reply::NullArray => return Reply::NullArray,
            // The batch failed as a whole (no leader, outcome unknown, -OOM): EXEC answers that.
            error => return error,
        }
    }
    super::publish::local_receiver_counts(&published, &mut replies, ctx);
    // Blocking commands queued in MULTI ran as their non-blocking forms; give their replies the
    // blocking command's shape.
    for &(i, shape) in &t.blocking {
        if let Some(r) = replies.get_mut(i) {
            *r = shape.apply(std::mem::replace(r, Reply::Null));
        }
    }
    Reply::Array(replies)
}
