//! The data commands the state machine understands.
//!
//! A [`Command`] is what travels through the Raft log: the leader parses a client's arguments
//! with [`Command::parse`], proposes the command, and every replica applies the same value with
//! [`crate::Store::apply`]. It is therefore a plain serde type holding everything needed to
//! reproduce the command's effect, and nothing that depends on the replica that applies it.
//!
//! Relative TTLs (`EX 10`, `EXPIRE k 10`) stay relative here. They become absolute deadlines
//! when applied, from the store's clock, which the log entry's `now_ms` sets; so every replica
//! computes the same deadline.
//!
//! Parsing (in [`crate::parse`]) checks arity, syntax, numbers and sizes, exactly where Redis
//! checks them before touching the keyspace. Checks whose outcome depends on the keyspace or the
//! clock (overflow of `now + ttl`, a GETEX time that Redis validates only for an existing key)
//! happen when the command is applied. Applying re-checks sizes too, so a command built by hand
//! cannot get past the limits.

use crate::op::Op;
use crate::options::{ExpireFlags, ExpireKind, GetExTtl, IncrKind, SetCondition, SetTtl, TtlKind};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use smallvec::{smallvec, SmallVec};

/// The arguments of one kind a command names (its keys, values or patterns): inline up to two,
/// so asking a single-key command for them, which the write path does several times per
/// command (size checks, the log cache's accounting), allocates nothing.
pub type Args<'a> = SmallVec<[&'a Bytes; 2]>;

/// One data command, parsed by [`Command::parse`] and applied by [`crate::Store::apply`]. It is
/// what a Raft log entry carries: relative TTLs stay relative and become deadlines only when
/// applied, at the entry's timestamp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// `GET key`.
    Get {
        /// The key.
        key: Bytes,
    },
    /// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]`.
    Set {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
        /// NX / XX.
        condition: SetCondition,
        /// `GET`: reply with the old value instead of OK.
        get: bool,
        /// What happens to the TTL.
        ttl: SetTtl,
    },
    /// `SETNX key value`.
    SetNx {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `SETEX key seconds value`.
    SetEx {
        /// The key.
        key: Bytes,
        /// TTL in seconds (validated when applied: must be positive).
        seconds: i64,
        /// The new value.
        value: Bytes,
    },
    /// `PSETEX key milliseconds value`.
    PSetEx {
        /// The key.
        key: Bytes,
        /// TTL in milliseconds (validated when applied: must be positive).
        millis: i64,
        /// The new value.
        value: Bytes,
    },
    /// `GETSET key value`.
    GetSet {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `GETDEL key`.
    GetDel {
        /// The key.
        key: Bytes,
    },
    /// `GETEX key [EX|PX|EXAT|PXAT|PERSIST]`.
    GetEx {
        /// The key.
        key: Bytes,
        /// What happens to the TTL.
        ttl: GetExTtl,
    },
    /// `DEL key [key ...]`.
    Del {
        /// The keys, in order, repeats allowed.
        keys: Vec<Bytes>,
    },
    /// `UNLINK key [key ...]` (same as DEL here: nothing is freed in the background).
    Unlink {
        /// The keys, in order, repeats allowed.
        keys: Vec<Bytes>,
    },
    /// `EXISTS key [key ...]`.
    Exists {
        /// The keys, in order; a repeated existing key counts each time.
        keys: Vec<Bytes>,
    },
    /// `TOUCH key [key ...]` (there is no LRU clock, so it only counts existing keys).
    Touch {
        /// The keys, in order; a repeated existing key counts each time.
        keys: Vec<Bytes>,
    },
    /// `MGET key [key ...]`.
    MGet {
        /// The keys, in order.
        keys: Vec<Bytes>,
    },
    /// `MSET key value [key value ...]`.
    MSet {
        /// Key/value pairs, applied in order (a later pair for the same key wins).
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `MSETNX key value [key value ...]`.
    MSetNx {
        /// Key/value pairs; all are set only if none of the keys exists.
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`.
    IncrBy {
        /// The key.
        key: Bytes,
        /// The amount to add (already negated for DECR and DECRBY).
        delta: i64,
        /// Which command it was.
        kind: IncrKind,
    },
    /// `INCRBYFLOAT key increment`.
    IncrByFloat {
        /// The key.
        key: Bytes,
        /// The amount to add (finite or infinite, never NaN).
        delta: f64,
    },
    /// `APPEND key value`.
    Append {
        /// The key.
        key: Bytes,
        /// The bytes to append.
        value: Bytes,
    },
    /// `STRLEN key`.
    StrLen {
        /// The key.
        key: Bytes,
    },
    /// `GETRANGE key start end` (inclusive, negative counts from the end).
    GetRange {
        /// The key.
        key: Bytes,
        /// First byte index.
        start: i64,
        /// Last byte index, inclusive.
        end: i64,
    },
    /// `SETRANGE key offset value`.
    SetRange {
        /// The key.
        key: Bytes,
        /// Byte offset at which to write (zero-padding the value up to it).
        offset: u64,
        /// The bytes to write.
        value: Bytes,
    },
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` with `NX|XX|GT|LT`.
    Expire {
        /// The key.
        key: Bytes,
        /// Which command, hence the unit and whether `time` is relative.
        kind: ExpireKind,
        /// The number as the client gave it (may be negative: a past deadline deletes).
        time: i64,
        /// NX / XX / GT / LT.
        flags: ExpireFlags,
    },
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.
    Ttl {
        /// The key.
        key: Bytes,
        /// Which command.
        kind: TtlKind,
    },
    /// `PERSIST key`.
    Persist {
        /// The key.
        key: Bytes,
    },
    /// `TYPE key`.
    Type {
        /// The key.
        key: Bytes,
    },
    /// `RENAME key newkey`.
    Rename {
        /// The key to rename.
        from: Bytes,
        /// Its new name (an existing key there is overwritten).
        to: Bytes,
    },
    /// `RENAMENX key newkey`.
    RenameNx {
        /// The key to rename.
        from: Bytes,
        /// Its new name (must not exist).
        to: Bytes,
    },
    /// `KEYS pattern`.
    Keys {
        /// A Redis glob pattern: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, backslash escapes.
        pattern: Bytes,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    ///
    /// The keyspace is ordered by a fixed, seedless 64-bit hash of each key (then the key); a
    /// cursor is the hash to resume from, so it is a plain decimal number, the same on every
    /// replica and across snapshots. Each page ends on a hash boundary, so a key present for the
    /// whole iteration is returned at least once, and the cursor is 0 only at the end.
    Scan {
        /// Where to resume: 0 to start, else the cursor the previous call returned.
        cursor: u64,
        /// `MATCH`: only keys matching this glob pattern are returned.
        pattern: Option<Bytes>,
        /// `COUNT`: roughly how many entries to visit (at least 1; clamped to
        /// [`crate::limits::MAX_SCAN_COUNT`]).
        count: u64,
        /// `TYPE`: only keys of this type (`string`, `hash`, `list`, `set`, `zset`;
        /// case-insensitive).
        type_name: Option<Bytes>,
    },
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHDB [ASYNC|SYNC]` (the mode makes no difference here).
    FlushDb,
    /// `FLUSHALL [ASYNC|SYNC]` (the same as FLUSHDB: there is one database).
    FlushAll,
    /// Internal, never parsed from a client: delete up to `max_keys` keys whose deadline is at
    /// or before the store's clock, earliest deadline first (ties by key). Replies with the
    /// number deleted. The leader proposes it periodically so memory is reclaimed on every
    /// replica at the same log position.
    ExpireDue {
        /// Most keys to delete in this one entry.
        max_keys: u32,
    },
    /// A command on a hash, list or set, or a key command added with them (RANDOMKEY, OBJECT,
    /// COPY): the operation and the client's arguments after the name, checked by
    /// [`Command::parse`] and parsed again when applied (see [`Op`]).
    Aggregate {
        /// Which command.
        op: Op,
        /// The arguments after the command name.
        args: Vec<Bytes>,
    },
    /// `PUBLISH channel message`. It changes no key: it goes through the log only so that every
    /// node delivers the same messages in the same order, and [`crate::Store::apply`] answers
    /// 0. The node hands the message to its pub/sub hub when it applies the entry and answers
    /// the number of local receivers itself (see the node's `pubsub` module).
    Publish {
        /// The channel.
        channel: Bytes,
        /// The message.
        message: Bytes,
    },
    /// WATCH's read: the current version of each key (see [`crate::Store::watch_version`]),
    /// answered as an array of integers in key order. Read-only; no RESP name (the node sends
    /// it for `WATCH key [key ...]`).
    KeyVersions {
        /// The keys, in order.
        keys: Vec<Bytes>,
    },
    /// The optimistic-locking check that EXEC puts first in a transaction whose connection
    /// watched keys: answers `+OK` if every key still has the version the client saw at WATCH
    /// time, and [`crate::WATCH_ABORTED`] if any changed; in that case the rest of the log
    /// entry is skipped (see [`crate::Store::apply_batch`]). A write, so it is ordered by the
    /// log and decided alike on every replica. No RESP name.
    WatchGuard {
        /// The watched keys with the versions seen at WATCH time.
        watched: Vec<(Bytes, i64)>,
    },
    /// A scripting command: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD / EXISTS / FLUSH /
    /// KILL (see [`crate::script`]). A write script runs inside apply as one entry; the last
    /// variant, so the log's variant indexes of the others never change.
    Script(crate::script::request::ScriptCommand),
    /// `CONFIG SET notify-keyspace-events <flags>` (a write: the setting is replicated) or
    /// `CONFIG GET notify-keyspace-events` (see [`crate::notify`]); parsed by
    /// [`crate::notify::parse_config`], never by [`Command::parse`], so scripts cannot send it.
    Notify(crate::notify_flags::NotifyCommand),
    /// `ACL SETUSER` / `ACL DELUSER` (a write: the user table is replicated, see
    /// [`crate::acl`]); parsed by [`crate::acl::AclCommand::parse`], never by
    /// [`Command::parse`], so scripts cannot send it. The last variant, so the log's indexes of
    /// the others never change.
    Acl(crate::acl::AclCommand),
}

impl Command {
    /// True if the command may change state, so it must go through the Raft log. Reads (GET,
    /// MGET, EXISTS, TTL, SCAN, ...) are false and may be answered with [`crate::Store::query`].
    pub fn is_write(&self) -> bool {
        if let Command::Aggregate { op, .. } = self {
            return op.is_write();
        }
        if let Command::Script(script) = self {
            return script.is_write();
        }
        if let Command::Notify(notify) = self {
            return matches!(notify, crate::notify_flags::NotifyCommand::Set(_));
        }
        !matches!(
            self,
            Command::Get { .. }
                | Command::Exists { .. }
                | Command::Touch { .. }
                | Command::MGet { .. }
                | Command::StrLen { .. }
                | Command::GetRange { .. }
                | Command::Ttl { .. }
                | Command::Type { .. }
                | Command::Keys { .. }
                | Command::Scan { .. }
                | Command::DbSize
                | Command::KeyVersions { .. }
        )
    }

    /// True if the command may grow memory, so a leader past `maxmemory` refuses it with
    /// [`crate::Error::OutOfMemory`]: Redis's `denyoom` commands (SET, APPEND, LPUSH, HSET, ...), and
    /// any script that may write (Redis checks each of a script's calls instead; a script's
    /// writes are not known before it runs here). Deletions, pops, expiry changes and reads
    /// are never refused.
    pub fn may_grow_memory(&self) -> bool {
        if let Command::Script(script) = self {
            return script.is_write();
        }
        crate::command_table::lookup(self.name().as_bytes())
            .is_some_and(|spec| spec.flags.contains(&"denyoom"))
    }

    /// The lower-case command name (`"set"`), for metrics and logs; `"expiredue"` for the
    /// internal expiry command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Get { .. } => "get",
            Command::Set { .. } => "set",
            Command::SetNx { .. } => "setnx",
            Command::SetEx { .. } => "setex",
            Command::PSetEx { .. } => "psetex",
            Command::GetSet { .. } => "getset",
            Command::GetDel { .. } => "getdel",
            Command::GetEx { .. } => "getex",
            Command::Del { .. } => "del",
            Command::Unlink { .. } => "unlink",
            Command::Exists { .. } => "exists",
            Command::Touch { .. } => "touch",
            Command::MGet { .. } => "mget",
            Command::MSet { .. } => "mset",
            Command::MSetNx { .. } => "msetnx",
            Command::IncrBy { kind, .. } => kind.name(),
            Command::IncrByFloat { .. } => "incrbyfloat",
            Command::Append { .. } => "append",
            Command::StrLen { .. } => "strlen",
            Command::GetRange { .. } => "getrange",
            Command::SetRange { .. } => "setrange",
            Command::Expire { kind, .. } => kind.name(),
            Command::Ttl { kind, .. } => kind.name(),
            Command::Persist { .. } => "persist",
            Command::Type { .. } => "type",
            Command::Rename { .. } => "rename",
            Command::RenameNx { .. } => "renamenx",
            Command::Keys { .. } => "keys",
            Command::Scan { .. } => "scan",
            Command::DbSize => "dbsize",
            Command::FlushDb => "flushdb",
            Command::FlushAll => "flushall",
            Command::ExpireDue { .. } => "expiredue",
            Command::Aggregate { op, .. } => op.name(),
            Command::Publish { .. } => "publish",
            Command::KeyVersions { .. } => "watch",
            Command::WatchGuard { .. } => "exec",
            Command::Script(script) => script.name(),
            Command::Notify(_) => "config",
            Command::Acl(_) => "acl",
        }
    }

    /// The keys the command names, in argument order (empty for KEYS, SCAN, DBSIZE, FLUSH*,
    /// and the internal expiry command).
    pub fn keys(&self) -> Args<'_> {
        match self {
            Command::Get { key }
            | Command::Set { key, .. }
            | Command::SetNx { key, .. }
            | Command::SetEx { key, .. }
            | Command::PSetEx { key, .. }
            | Command::GetSet { key, .. }
            | Command::GetDel { key }
            | Command::GetEx { key, .. }
            | Command::IncrBy { key, .. }
            | Command::IncrByFloat { key, .. }
            | Command::Append { key, .. }
            | Command::StrLen { key }
            | Command::GetRange { key, .. }
            | Command::SetRange { key, .. }
            | Command::Expire { key, .. }
            | Command::Ttl { key, .. }
            | Command::Persist { key }
            | Command::Type { key } => smallvec![key],
            Command::Del { keys }
            | Command::Unlink { keys }
            | Command::Exists { keys }
            | Command::Touch { keys }
            | Command::MGet { keys }
            | Command::KeyVersions { keys } => keys.iter().collect(),
            Command::WatchGuard { watched } => watched.iter().map(|(key, _)| key).collect(),
            Command::MSet { pairs } | Command::MSetNx { pairs } => {
                pairs.iter().map(|(key, _)| key).collect()
            }
            Command::Rename { from, to } | Command::RenameNx { from, to } => smallvec![from, to],
            Command::Keys { .. }
            | Command::Scan { .. }
            | Command::DbSize
            | Command::FlushDb
            | Command::FlushAll
            | Command::ExpireDue { .. }
            | Command::Publish { .. }
            | Command::Notify(_)
            | Command::Acl(_) => Args::new(),
            Command::Aggregate { op, args } => op.keys(args).into(),
            Command::Script(script) => script.keys().iter().collect(),
        }
    }

    /// XREAD's or XREADGROUP's BLOCK option, for the node that makes the client wait (the
    /// state machine never waits); None for any other command, or without BLOCK.
    pub fn blocking_read(&self) -> Option<crate::BlockingRead> {
        match self {
            Command::Aggregate { op, args } => crate::streams::blocking_read(*op, args),
            _ => None,
        }
    }

    /// False for writes that never give a blocked client anything new to take: XREADGROUP,
    /// XACK, XCLAIM and XAUTOCLAIM only move entries between a group's PEL and its consumers.
    /// The node does not wake blocked clients on their keys, so that a blocked XREADGROUP's own
    /// attempts (which record the consumer as seen) do not wake it again.
    pub fn can_serve_blocked(&self) -> bool {
        !matches!(
            self,
            Command::Aggregate {
                op: Op::XReadGroup | Op::XAck | Op::XClaim | Op::XAutoClaim,
                ..
            }
        )
    }

    /// The values the command would store as given (not the grown results of APPEND or
    /// SETRANGE, which are checked when applied).
    pub(crate) fn values(&self) -> Args<'_> {
        match self {
            Command::Set { value, .. }
            | Command::SetNx { value, .. }
            | Command::SetEx { value, .. }
            | Command::PSetEx { value, .. }
            | Command::GetSet { value, .. }
            | Command::Append { value, .. }
            | Command::SetRange { value, .. } => smallvec![value],
            Command::MSet { pairs } | Command::MSetNx { pairs } => {
                pairs.iter().map(|(_, value)| value).collect()
            }
            Command::Aggregate { args, .. } => args.iter().collect(),
            Command::Publish { channel, message } => smallvec![channel, message],
            Command::Script(script) => script.args().iter().collect(),
            _ => Args::new(),
        }
    }

    /// The glob patterns the command carries (KEYS, SCAN MATCH).
    pub(crate) fn patterns(&self) -> Args<'_> {
        match self {
            Command::Keys { pattern } => smallvec![pattern],
            Command::Scan {
                pattern: Some(pattern),
                ..
            } => smallvec![pattern],
            _ => Args::new(),
        }
    }

    /// About how many bytes the command holds in memory: its arguments, plus 16 bytes each for
    /// their handles. Cheap (no encoding); what caches of log entries should charge for it.
    pub fn approx_bytes(&self) -> usize {
        let sized = |b: &bytes::Bytes| b.len() + 16;
        match self {
            Command::Aggregate { args, .. } => args.iter().map(sized).sum(),
            _ => {
                let keys: usize = self.keys().into_iter().map(sized).sum();
                let values: usize = self.values().into_iter().map(sized).sum();
                keys + values + 16
            }
        }
    }

    /// Checks the size limits of [`crate::limits`] on keys, patterns and given values.
    pub(crate) fn check_sizes(&self) -> Result<(), crate::Error> {
        use crate::limits::{MAX_ARGUMENTS, MAX_KEY_BYTES, MAX_PATTERN_BYTES, MAX_VALUE_BYTES};
        if let Command::Aggregate { args, .. } = self {
            if args.len() >= MAX_ARGUMENTS {
                return Err(crate::Error::TooManyArguments);
            }
        }
        if self.keys().iter().any(|key| key.len() > MAX_KEY_BYTES) {
            return Err(crate::Error::KeyTooLarge);
        }
        if self.patterns().iter().any(|p| p.len() > MAX_PATTERN_BYTES) {
            return Err(crate::Error::PatternTooLarge);
        }
        if self
            .values()
            .iter()
            .any(|value| value.len() > MAX_VALUE_BYTES)
        {
            return Err(crate::Error::ValueTooLarge);
        }
        Ok(())
    }
}
