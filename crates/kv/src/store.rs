//! The state machine: a keyspace plus a clock, driven by commands.
//!
//! [`Store`] is what every replica holds. [`Store::apply`] executes a committed command at the
//! leader's timestamp; [`Store::query`] answers a read without changing anything. The contract
//! that makes replication work is determinism: the same sequence of `(now_ms, command)` gives the
//! same state and the same replies everywhere. So the store reads no clock, no randomness and no
//! environment; its only notion of time is `now_ms` from the log entry.
//!
//! # Time
//!
//! The store's clock is the greatest `now_ms` applied so far. A command runs at
//! `max(now_ms, clock)`, so time inside the store never goes backwards even if leadership moves
//! to a node whose wall clock is behind: a key that has expired never comes back. The clock is
//! part of the state and of snapshots. Queries use the same rule without advancing the clock.
//!
//! # Failure
//!
//! Client mistakes (bad arguments, wrong types of values, limits) are error replies and leave the
//! state unchanged. Broken internal invariants (the deadline index disagreeing with the entries)
//! are bugs and panic loudly rather than letting replicas drift apart silently.
//!
//! # Cost of cloning
//!
//! `clone()` is O(1): the keyspace lives in persistent maps that share structure. The node clones
//! the store and writes the snapshot from the clone on another thread while applying continues.

use crate::command::Command;
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::options::{SetCondition, SetTtl};
use crate::random::Rng;
use crate::{keys, scan, strings, ttl, Error};
use resp::Reply;

/// Keyspace counters in the shape of Redis's `INFO keyspace` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Stored keys, including expired ones not yet reclaimed (as Redis counts them).
    pub keys: u64,
    /// Stored keys that have a deadline, including expired ones not yet reclaimed.
    pub expires: u64,
    /// Average remaining time to live of the keys with a deadline that are still alive, in
    /// milliseconds; 0 if there are none.
    pub avg_ttl_ms: u64,
}

/// The replicated key-value state: keys, values, deadlines, and the clock (the greatest `now_ms`
/// applied). Deterministic: the same `(now_ms, command)` sequence gives the same state and
/// replies everywhere. `clone()` is O(1).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Store {
    /// The data.
    pub(crate) keyspace: Keyspace,
    /// The greatest `now_ms` applied so far, in milliseconds since the Unix epoch.
    pub(crate) clock_ms: u64,
    /// How many commands have drawn random numbers so far; with the clock, the seed of the
    /// next draw (see [`crate::random`]).
    pub(crate) rand_seq: u64,
    /// The script cache by SHA-1 (SCRIPT LOAD and EVAL), replicated like the keyspace.
    pub(crate) scripts: crate::script::ScriptCache,
    /// The function libraries (FUNCTION LOAD), replicated like the keyspace.
    pub(crate) functions: crate::script::Functions,
    /// Keyspace notifications: the replicated setting and the messages of the command being
    /// applied (see [`crate::notify`]).
    pub(crate) notify: crate::notify::Notifier,
    /// The ACL user table (see [`crate::acl`]), replicated like the keyspace; behind an `Arc`
    /// so the node can hold the table it last applied without copying it.
    pub(crate) acl: std::sync::Arc<crate::acl::Acl>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("keys", &self.keyspace.len())
            .field("expires", &self.keyspace.deadline_count())
            .field("clock_ms", &self.clock_ms)
            .finish()
    }
}

impl Store {
    /// An empty store with its clock at 0.
    pub fn new() -> Store {
        Store::default()
    }

    /// Applies any command at leader time `now_ms` (milliseconds since the Unix epoch) and
    /// returns its reply. The store's clock becomes `max(now_ms, clock)` first. Errors come back
    /// as [`Reply::Error`] and leave the state unchanged; client input never panics.
    ///
    /// Called from outside, the command's messages (keyspace notifications) are dropped; use
    /// [`Store::apply_publishing`] to get them. Called by a script's `redis.call` (inside
    /// [`Store::apply_publishing`]), they are kept for that call to hand out, in order.
    pub fn apply(&mut self, now_ms: u64, cmd: &Command) -> Reply {
        if self.notify.depth == 0 {
            return self.apply_publishing(now_ms, cmd, &mut Vec::new());
        }
        let reply = self.apply_one(now_ms, cmd);
        if let (Command::Publish { channel, message }, false) = (cmd, reply.is_error()) {
            self.notify.pending.push((channel.clone(), message.clone()));
        }
        reply
    }

    /// [`Store::apply`], also appending to `messages` the `(channel, message)` pairs the node
    /// must deliver, in order: every PUBLISH a script makes (a [`Command::Publish`] itself is
    /// delivered by the node from the command) and the keyspace notifications of the command
    /// and of a script's calls (see [`crate::notify`]).
    pub fn apply_publishing(
        &mut self,
        now_ms: u64,
        cmd: &Command,
        messages: &mut Vec<(bytes::Bytes, bytes::Bytes)>,
    ) -> Reply {
        self.notify.depth += 1;
        let reply = self.apply_one(now_ms, cmd);
        self.notify.depth -= 1;
        messages.append(&mut self.notify.pending);
        reply
    }

    /// Applies one command, recording its notifications in `notify.pending`.
    fn apply_one(&mut self, now_ms: u64, cmd: &Command) -> Reply {
        self.clock_ms = self.clock_ms.max(now_ms);
        let now = self.clock_ms;
        let flags = self.notify.flags;
        let before = flags
            .active()
            .then(|| crate::notify::Before::observe(&self.keyspace, now, cmd))
            .flatten();
        let result = cmd.check_sizes().and_then(|()| {
            if let Command::Script(script) = cmd {
                // The script's PUBLISHes reach `notify.pending` through `apply` (above), in
                // order with its calls' notifications, so the list the engine fills is unused.
                Ok(crate::script::apply(self, now, script, &mut Vec::new()))
            } else if let Command::Notify(notify) = cmd {
                Ok(self.notify_config(notify))
            } else if let Command::Acl(acl) = cmd {
                self.apply_acl(acl)
            } else if let Command::Aggregate { op, args } = cmd {
                let mut rng = Rng::new(now, self.rand_seq);
                if op.is_random() {
                    self.rand_seq += 1;
                }
                op.write(&mut self.keyspace, now, args, &mut rng)
            } else if cmd.is_write() {
                write(&mut self.keyspace, now, cmd)
            } else {
                read(&self.keyspace, now, cmd)
            }
        });
        let reply = result.unwrap_or_else(|error| error.to_reply());
        if let (Some(before), false) = (before, reply.is_error()) {
            before.emit(&self.keyspace, flags, &mut self.notify.pending);
        }
        reply
    }

    /// `CONFIG SET` / `CONFIG GET notify-keyspace-events`.
    fn notify_config(&mut self, cmd: &crate::notify::NotifyCommand) -> Reply {
        match cmd {
            crate::notify::NotifyCommand::Set(flags) => {
                self.notify.flags = *flags;
                Reply::ok()
            }
            crate::notify::NotifyCommand::Get => self.notify.flags.config_get_reply(),
        }
    }

    /// `ACL SETUSER` / `ACL DELUSER`: the table is copied (once, if the node still holds the
    /// previous one) only when the change succeeds.
    fn apply_acl(&mut self, cmd: &crate::acl::AclCommand) -> Result<Reply, Error> {
        let mut next = (*self.acl).clone();
        let reply = next.apply(cmd)?;
        if next != *self.acl {
            self.acl = std::sync::Arc::new(next);
        }
        Ok(reply)
    }

    /// The ACL user table, shared: a new `Arc` after every change, so comparing pointers
    /// tells whether it changed.
    pub fn acl(&self) -> &std::sync::Arc<crate::acl::Acl> {
        &self.acl
    }

    /// The keyspace notification setting (`notify-keyspace-events`).
    pub fn notify_flags(&self) -> crate::notify::NotifyFlags {
        self.notify.flags
    }

    /// Applies the commands of one log entry in order at `now_ms`, one reply each. A
    /// [`Command::WatchGuard`] that fails aborts the rest: every later command is skipped and
    /// answers [`WATCH_ABORTED`] too. The node's state machine follows the same rule (with
    /// [`aborts_batch`]).
    pub fn apply_batch(&mut self, now_ms: u64, cmds: &[Command]) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let reply = self.apply(now_ms, cmd);
            let abort = aborts_batch(cmd, &reply);
            replies.push(reply);
            if abort {
                replies.resize(cmds.len(), WATCH_ABORTED);
                break;
            }
        }
        replies
    }

    /// The store's modification counter: it grows with every change (keyspace module docs).
    pub fn mod_seq(&self) -> u64 {
        self.keyspace.seqs().0
    }

    /// True if `key` holds a value changed or created after the counter read `seq`: what a
    /// client blocked on `key` may now find there. A key that was only deleted, or a write that
    /// changed nothing (a pop from an empty list), answers false.
    pub fn written_since(&self, key: &bytes::Bytes, seq: u64) -> bool {
        self.keyspace.get(key).is_some_and(|e| e.version() > seq)
    }

    /// True if `key` holds a value (expired or not): with [`Store::written_since`], how the
    /// node tells that a write deleted a key a client is blocked on.
    pub fn holds(&self, key: &bytes::Bytes) -> bool {
        self.keyspace.get(key).is_some()
    }

    /// The version WATCH records for `key` at `max(now_ms, clock)`: it changes whenever the
    /// key is set, changed, deleted, expires or is flushed (rule and proof in the keyspace
    /// module docs: the store's modification counter and the counter at the latest deletion).
    pub fn watch_version(&self, now_ms: u64, key: &bytes::Bytes) -> i64 {
        self.keyspace.watch_version(key, self.clock_ms.max(now_ms))
    }

    /// Answers a read-only command at `max(now_ms, clock)` without changing anything; expired
    /// keys read as absent. A write command gets an `ERR` reply (see [`Command::is_write`]).
    ///
    /// `TIME` is the exception: it answers the store's clock, the timestamp of the last entry
    /// applied, not `now_ms` (as a write it answers the entry's own timestamp).
    pub fn query(&self, now_ms: u64, cmd: &Command) -> Reply {
        if let Command::Aggregate { op: Op::Time, .. } = cmd {
            return keys::time(self.clock_ms);
        }
        let now = self.clock_ms.max(now_ms);
        cmd.check_sizes()
            .and_then(|()| match cmd {
                Command::Script(script) => Ok(crate::script::query(self, now, script)),
                Command::Notify(crate::notify::NotifyCommand::Get) => {
                    Ok(self.notify.flags.config_get_reply())
                }
                _ => read(&self.keyspace, now, cmd),
            })
            .unwrap_or_else(|error| error.to_reply())
    }

    /// Keyspace counters at `max(now_ms, clock)`, like Redis's `INFO keyspace`.
    pub fn stats(&self, now_ms: u64) -> Stats {
        let now = self.clock_ms.max(now_ms);
        let ks = &self.keyspace;
        let (mut due_count, mut due_sum) = (0u128, 0u128);
        for (deadline, _) in ks.due(now) {
            due_count += 1;
            due_sum += u128::from(*deadline);
        }
        let live = ks.deadline_count() as u128 - due_count;
        let avg_ttl_ms = (ks.deadline_sum_ms() - due_sum)
            .checked_div(live)
            .map_or(0, |avg_deadline| {
                avg_deadline.saturating_sub(u128::from(now)) as u64
            });
        Stats {
            keys: ks.len() as u64,
            expires: ks.deadline_count() as u64,
            avg_ttl_ms,
        }
    }

    /// The earliest deadline of any stored key (expired or not), in milliseconds since the Unix
    /// epoch, so the leader knows when to propose [`Command::ExpireDue`].
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.keyspace.next_deadline_ms()
    }

    /// The greatest `now_ms` applied so far (0 initially).
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }
}

/// The reply of a [`Command::WatchGuard`] that found a watched key changed (EXEC's nil array),
/// and of every command after it in the same batch, which is skipped.
pub const WATCH_ABORTED: Reply = Reply::NullArray;

/// True if `reply` to `cmd` means the rest of its batch must be skipped: `cmd` is a
/// [`Command::WatchGuard`] that found a watched key changed.
pub fn aborts_batch(cmd: &Command, reply: &Reply) -> bool {
    matches!(cmd, Command::WatchGuard { .. }) && *reply == WATCH_ABORTED
}

/// Executes a read-only command; a write command is [`Error::NotReadOnly`].
fn read(ks: &Keyspace, now: u64, cmd: &Command) -> Result<Reply, Error> {
    Ok(match cmd {
        Command::Get { key } => strings::get(ks, now, key)?,
        Command::MGet { keys } => strings::mget(ks, now, keys),
        Command::StrLen { key } => strings::strlen(ks, now, key)?,
        Command::GetRange { key, start, end } => strings::getrange(ks, now, key, *start, *end)?,
        Command::Exists { keys } | Command::Touch { keys } => keys::exists(ks, now, keys),
        Command::Type { key } => keys::type_of(ks, now, key),
        Command::Keys { pattern } => keys::keys(ks, now, pattern),
        Command::DbSize => keys::dbsize(ks, now),
        Command::Ttl { key, kind } => ttl::ttl(ks, now, key, *kind),
        Command::Scan {
            cursor,
            pattern,
            count,
            type_name,
        } => scan::scan(
            ks,
            now,
            *cursor,
            pattern.as_ref(),
            *count,
            type_name.as_ref(),
        ),
        Command::Aggregate { op, args } => op.read(ks, now, args)?,
        Command::KeyVersions { keys } => Reply::Array(
            keys.iter()
                .map(|key| Reply::Integer(ks.watch_version(key, now)))
                .collect(),
        ),
        _ => return Err(Error::NotReadOnly(cmd.name())),
    })
}

/// Executes any command (reads are delegated to [`read`]).
fn write(ks: &mut Keyspace, now: u64, cmd: &Command) -> Result<Reply, Error> {
    let always = SetCondition::Always;
    Ok(match cmd {
        Command::Set {
            key,
            value,
            condition,
            get,
            ttl,
        } => strings::set(ks, now, key, value, *condition, *get, *ttl)?,
        Command::SetNx { key, value } => strings::setnx(ks, now, key, value),
        Command::SetEx {
            key,
            seconds,
            value,
        } => {
            let ttl = SetTtl::Expire(crate::Expiry::Ex(*seconds));
            strings::set_as(ks, now, "setex", key, value, always, false, ttl)?
        }
        Command::PSetEx { key, millis, value } => {
            let ttl = SetTtl::Expire(crate::Expiry::Px(*millis));
            strings::set_as(ks, now, "psetex", key, value, always, false, ttl)?
        }
        Command::GetSet { key, value } => strings::getset(ks, now, key, value)?,
        Command::GetDel { key } => strings::getdel(ks, now, key)?,
        Command::GetEx { key, ttl } => strings::getex(ks, now, key, *ttl)?,
        Command::Del { keys } | Command::Unlink { keys } => keys::del(ks, now, keys),
        Command::MSet { pairs } => strings::mset(ks, now, pairs),
        Command::MSetNx { pairs } => strings::msetnx(ks, now, pairs),
        Command::IncrBy { key, delta, .. } => strings::incr_by(ks, now, key, *delta)?,
        Command::IncrByFloat { key, delta } => strings::incr_by_float(ks, now, key, *delta)?,
        Command::Append { key, value } => strings::append(ks, now, key, value)?,
        Command::SetRange { key, offset, value } => {
            strings::setrange(ks, now, key, *offset, value)?
        }
        Command::Expire {
            key,
            kind,
            time,
            flags,
        } => ttl::expire(ks, now, key, *kind, *time, *flags)?,
        Command::Persist { key } => ttl::persist(ks, now, key),
        Command::Rename { from, to } => keys::rename(ks, now, from, to, false)?,
        Command::RenameNx { from, to } => keys::rename(ks, now, from, to, true)?,
        Command::FlushDb | Command::FlushAll => keys::flush(ks),
        Command::ExpireDue { max_keys } => ttl::expire_due(ks, now, *max_keys),
        // No key changes; the node delivers the message and counts its receivers.
        Command::Publish { .. } => Reply::Integer(0),
        Command::WatchGuard { watched } => {
            let unchanged = watched
                .iter()
                .all(|(key, seen)| ks.watch_version(key, now) == *seen);
            if unchanged {
                Reply::ok()
            } else {
                WATCH_ABORTED
            }
        }
        Command::Get { .. }
        | Command::MGet { .. }
        | Command::StrLen { .. }
        | Command::GetRange { .. }
        | Command::Exists { .. }
        | Command::Touch { .. }
        | Command::Type { .. }
        | Command::Keys { .. }
        | Command::DbSize
        | Command::Ttl { .. }
        | Command::Scan { .. }
        | Command::KeyVersions { .. }
        | Command::Script(_)
        | Command::Notify(_)
        | Command::Acl(_)
        | Command::Aggregate { .. } => read(ks, now, cmd)?,
    })
}
