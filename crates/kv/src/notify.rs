//! Keyspace notifications: Redis's `__keyspace@0__:<key>` and `__keyevent@0__:<event>`
//! pub/sub messages, emitted from apply so that every replica emits the same ones.
//!
//! # The setting
//!
//! `CONFIG SET notify-keyspace-events <flags>` takes Redis's letters (`K` keyspace channel, `E`
//! keyevent channel; classes `g` generic, `$` string, `l` list, `s` set, `h` hash, `z` sorted
//! set, `x` expired, `e` evicted, `t` stream, `d` module, `n` new key, `m` key miss; `A` for
//! `g$lshzxetd`). Unlike Redis's per-process setting it is replicated state: it travels through
//! the log as [`NotifyCommand::Set`], is kept in the store (`Notifier::flags`) and in
//! snapshots (format 6), so every node emits exactly the same messages after the same log.
//! `CONFIG GET notify-keyspace-events` answers [`NotifyFlags::canonical`], Redis's own form
//! (`AKE` for `KEA`). The classes `e` (nothing is evicted: the policy is `noeviction`), `d` (no
//! modules) and `m` (misses happen on reads, which never reach the log) are accepted and stored
//! but never produce a message.
//!
//! # What is emitted, and how it is found
//!
//! `rules` is the one table of which event each write command emits, of which class, on
//! which of its keys. Whether the event happened is read off the keyspace rather than threaded
//! through every command's implementation: before a command runs, `Before::observe` records
//! the modification counter and, for each key of its rules, whether the key was live or stored
//! but already expired; after it ran, `Before::emit` compares. A key whose version grew was
//! written (Redis calls `signalModifiedKey` and notifies exactly then: a SET of the same value
//! notifies, an SADD of a present member does not); a key live before and gone after was
//! deleted, which emits the rule's deletion events (`del` for DEL, `hdel` then `del` for an HDEL
//! that emptied a hash). Redis's order is kept: `expired` for each of the command's keys that
//! the command found expired and reclaimed comes first, then the rules in their order (RENAME:
//! `rename_from` then `rename_to`; LMOVE: the push on the destination, then the pop), and `new`
//! just before the first event of a key the command created (RENAME announces its destination
//! first, as Redis does). The internal expiry command ([`crate::Command::ExpireDue`]) emits
//! `expired` for each key it deletes, in its deletion order.
//!
//! Scripts need nothing special: each `redis.call` is applied through [`crate::Store::apply`]
//! and emits its own events, interleaved in order with the script's PUBLISHes (see
//! `Notifier`).
//!
//! # Differences from Redis
//!
//! Reads never reach the log, so an expired key that Redis would reclaim on a read (GET on the
//! master) is reported `expired` here only when a write touches it or the leader's periodic
//! expiry deletes it. XREADGROUP reports `xgroup-createconsumer` when it adds a consumer;
//! XCLAIM, XAUTOCLAIM and XACK report nothing, as in Redis 7.0.
//!
//! # Cost
//!
//! With no class and channel enabled (the default) a command pays one branch. Otherwise it pays
//! one lookup per key before and after, and an allocation per message.

use crate::command::Command;
use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::options::{GetExTtl, SetTtl};
use crate::record::Record;
use crate::value::Value;
use crate::Error;
use bytes::Bytes;

#[allow(clippy::wildcard_imports)]
use crate::notify_flags::*;
pub use crate::notify_flags::{
    NotifyCommand, NotifyFlags, KEYEVENT_PREFIX, KEYSPACE_PREFIX, NOTIFY_PARAMETER,
};

/// Parses `CONFIG SET notify-keyspace-events <flags>` or `CONFIG GET notify-keyspace-events`
/// (names case-insensitive) into the command that carries it; None for any other CONFIG, or
/// anything else, which the caller handles as before. Bad flags give Redis's error.
pub fn parse_config(args: &[Bytes]) -> Option<Result<Command, Error>> {
    let is = |i: usize, word: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    if !is(0, "config") || !is(2, NOTIFY_PARAMETER) {
        return None;
    }
    match args.len() {
        4 if is(1, "set") => {
            Some(NotifyFlags::parse(&args[3]).map(|f| Command::Notify(NotifyCommand::Set(f))))
        }
        3 if is(1, "get") => Some(Ok(Command::Notify(NotifyCommand::Get))),
        _ => None,
    }
}

/// The store's notification state: the replicated setting, and the messages of the command
/// being applied.
///
/// `pending` and `depth` are empty and 0 between commands. [`crate::Store::apply_publishing`]
/// raises `depth` while it runs a command and hands `pending` to its caller at the end; a
/// script's `redis.call`s reach [`crate::Store::apply`] at depth 1, which appends their events
/// (and their PUBLISHes) to `pending` in the order they happen, instead of discarding them as a
/// top-level `apply` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notifier {
    /// The setting (replicated, in snapshots).
    pub(crate) flags: NotifyFlags,
    /// Messages of the command being applied, in order.
    pub(crate) pending: Vec<(Bytes, Bytes)>,
    /// How many applies are running (1 inside a script).
    pub(crate) depth: u32,
}

/// `del`, which every deletion emits.
const DEL: Event = ("del", GENERIC);
/// Redis's `expire`, emitted after SET's and SETEX's `set` when they give a TTL.
const EXPIRE: Event = ("expire", GENERIC);

/// What one command emits for one of its keys.
struct Rule<'a> {
    /// The key.
    key: &'a Bytes,
    /// When the key was written (its version grew) and the condition holds.
    written: Vec<Event>,
    /// When the key was live before and is gone after.
    deleted: Vec<Event>,
    /// What must happen for `written` to be emitted.
    when: When,
    /// True if a key this command created is announced with `new` here (before `written`).
    announce: bool,
}

/// The condition of a rule's `written` events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    /// The key's version grew.
    Written,
    /// The key's version grew and its value or deadline differs (for the commands Redis
    /// notifies only when they change something, though ours may rewrite an equal value:
    /// SADD of a present member, ZADD of the same score, XDEL of a missing ID, ...).
    Changed,
    /// The key's version grew and it is a stream that lost entries beyond the one added
    /// (XADD's trimming).
    Trimmed,
    /// A consumer group of the stream gained a consumer (XREADGROUP).
    ConsumerAdded,
    /// Only the `new` announcement (RENAME's destination, announced first).
    NewOnly,
}

impl<'a> Rule<'a> {
    /// A key that emits `written` when written, `del` when deleted.
    fn on(key: &'a Bytes, written: &[Event]) -> Rule<'a> {
        Rule {
            key,
            written: written.to_vec(),
            deleted: vec![DEL],
            when: When::Written,
            announce: true,
        }
    }

    /// [`Rule::on`] for a command that notifies only when it changes something.
    fn changing(key: &'a Bytes, written: &[Event]) -> Rule<'a> {
        Rule {
            when: When::Changed,
            ..Rule::on(key, written)
        }
    }

    /// A key that emits `event` when written, and `event` then `del` when emptied (HDEL,
    /// LPOP, SREM, ZREM, ...).
    fn emptying(key: &'a Bytes, event: Event) -> Rule<'a> {
        Rule {
            deleted: vec![event, DEL],
            ..Rule::on(key, &[event])
        }
    }
}

/// The rules of `cmd`, in Redis's order of notification: the one table of which write
/// command emits which event, of which class, on which key. Commands not here emit nothing.
fn rules(cmd: &Command) -> Vec<Rule<'_>> {
    let set = ("set", STRING);
    match cmd {
        Command::Set { key, ttl, .. } => match ttl {
            SetTtl::Expire(_) => vec![Rule::on(key, &[set, EXPIRE])],
            SetTtl::Clear | SetTtl::Keep => vec![Rule::on(key, &[set])],
        },
        Command::SetNx { key, .. } | Command::GetSet { key, .. } => vec![Rule::on(key, &[set])],
        Command::SetEx { key, .. } | Command::PSetEx { key, .. } => {
            vec![Rule::on(key, &[set, EXPIRE])]
        }
        Command::GetDel { key } => vec![Rule::on(key, &[])],
        Command::GetEx { key, ttl } => match ttl {
            GetExTtl::Persist => vec![Rule::changing(key, &[("persist", GENERIC)])],
            GetExTtl::Expire(_) => vec![Rule::on(key, &[EXPIRE])],
            GetExTtl::Keep | GetExTtl::NotInteger => Vec::new(),
        },
        Command::Del { keys } | Command::Unlink { keys } => {
            keys.iter().map(|key| Rule::on(key, &[])).collect()
        }
        Command::MSet { pairs } | Command::MSetNx { pairs } => {
            pairs.iter().map(|(key, _)| Rule::on(key, &[set])).collect()
        }
        Command::IncrBy { key, .. } => vec![Rule::on(key, &[("incrby", STRING)])],
        Command::IncrByFloat { key, .. } => vec![Rule::on(key, &[("incrbyfloat", STRING)])],
        Command::Append { key, .. } => vec![Rule::on(key, &[("append", STRING)])],
        Command::SetRange { key, .. } => vec![Rule::on(key, &[("setrange", STRING)])],
        Command::Expire { key, .. } => vec![Rule::on(key, &[EXPIRE])],
        Command::Persist { key } => vec![Rule::on(key, &[("persist", GENERIC)])],
        Command::Rename { from, to } | Command::RenameNx { from, to } => vec![
            Rule {
                when: When::NewOnly,
                ..Rule::on(to, &[])
            },
            Rule {
                deleted: vec![("rename_from", GENERIC)],
                ..Rule::on(from, &[])
            },
            Rule {
                announce: false,
                ..Rule::on(to, &[("rename_to", GENERIC)])
            },
        ],
        Command::Aggregate { op, args } => aggregate_rules(*op, args),
        _ => Vec::new(),
    }
}

/// The rules of the commands carried as an [`Op`] (see [`rules`]).
fn aggregate_rules(op: Op, args: &[Bytes]) -> Vec<Rule<'_>> {
    use Op::*;
    let Some(first) = args.first() else {
        return Vec::new();
    };
    let second = args.get(1).unwrap_or(first);
    let on = |event: Event| vec![Rule::on(first, &[event])];
    let changing = |event: Event| vec![Rule::changing(first, &[event])];
    let emptying = |event: Event| vec![Rule::emptying(first, event)];
    let changing_emptying = |event: Event| {
        vec![Rule {
            when: When::Changed,
            ..Rule::emptying(first, event)
        }]
    };
    // The keys of LMPOP and ZMPOP (`numkeys key... WHERE`) with the word after them.
    let popped = |left: &str, lower: Event, higher: Event| {
        let keys = op.keys(args);
        let side = args.get(keys.len() + 1);
        let event = if side.is_some_and(|s| s.eq_ignore_ascii_case(left.as_bytes())) {
            lower
        } else {
            higher
        };
        keys.into_iter()
            .map(|key| Rule::emptying(key, event))
            .collect()
    };
    let side = |arg: Option<&Bytes>, left: Event, right: Event| match arg {
        Some(a) if a.eq_ignore_ascii_case(b"left") => left,
        _ => right,
    };
    let (lpush, rpush) = (("lpush", LIST), ("rpush", LIST));
    let (lpop, rpop) = (("lpop", LIST), ("rpop", LIST));
    match op {
        HSet | HMSet => on(("hset", HASH)),
        HSetNx => changing(("hset", HASH)),
        HDel => emptying(("hdel", HASH)),
        HIncrBy => on(("hincrby", HASH)),
        HIncrByFloat => on(("hincrbyfloat", HASH)),
        LPush | LPushX => on(lpush),
        RPush | RPushX => on(rpush),
        LPop => emptying(lpop),
        RPop => emptying(rpop),
        LInsert => on(("linsert", LIST)),
        LSet => on(("lset", LIST)),
        LRem => emptying(("lrem", LIST)),
        LTrim => emptying(("ltrim", LIST)),
        RPopLPush => vec![Rule::on(second, &[lpush]), Rule::emptying(first, rpop)],
        LMove => vec![
            Rule::on(second, &[side(args.get(3), lpush, rpush)]),
            Rule::emptying(first, side(args.get(2), lpop, rpop)),
        ],
        LMPop => popped("left", lpop, rpop),
        SAdd => changing(("sadd", SET)),
        SRem => emptying(("srem", SET)),
        SPop => emptying(("spop", SET)),
        SMove => vec![
            Rule::emptying(first, ("srem", SET)),
            Rule::on(second, &[("sadd", SET)]),
        ],
        SInterStore => on(("sinterstore", SET)),
        SUnionStore => on(("sunionstore", SET)),
        SDiffStore => on(("sdiffstore", SET)),
        Copy => vec![Rule::on(second, &[("copy_to", GENERIC)])],
        ZAdd => changing(if zadd_incr(args) {
            ("zincr", ZSET)
        } else {
            ("zadd", ZSET)
        }),
        ZIncrBy => on(("zincr", ZSET)),
        ZRem => emptying(("zrem", ZSET)),
        ZRemRangeByRank => changing_emptying(("zremrangebyrank", ZSET)),
        ZRemRangeByScore => changing_emptying(("zremrangebyscore", ZSET)),
        ZRemRangeByLex => changing_emptying(("zremrangebylex", ZSET)),
        ZPopMin => emptying(("zpopmin", ZSET)),
        ZPopMax => emptying(("zpopmax", ZSET)),
        ZMPop => popped("min", ("zpopmin", ZSET), ("zpopmax", ZSET)),
        ZUnionStore => on(("zunionstore", ZSET)),
        ZInterStore => on(("zinterstore", ZSET)),
        ZDiffStore => on(("zdiffstore", ZSET)),
        ZRangeStore => on(("zrangestore", ZSET)),
        SetBit => changing(("setbit", STRING)),
        BitOp => vec![Rule::on(second, &[("set", STRING)])],
        XAdd => vec![
            Rule::on(first, &[("xadd", STREAM)]),
            Rule {
                when: When::Trimmed,
                ..Rule::on(first, &[("xtrim", STREAM)])
            },
        ],
        XDel => changing(("xdel", STREAM)),
        XTrim => changing(("xtrim", STREAM)),
        XSetId => on(("xsetid", STREAM)),
        XGroup => xgroup_rules(args),
        XReadGroup => op
            .keys(args)
            .into_iter()
            .map(|key| Rule {
                when: When::ConsumerAdded,
                ..Rule::on(key, &[("xgroup-createconsumer", STREAM)])
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// True if ZADD's options (the words before the first score) include INCR.
fn zadd_incr(args: &[Bytes]) -> bool {
    const OPTIONS: [&[u8]; 6] = [b"nx", b"xx", b"gt", b"lt", b"ch", b"incr"];
    args.iter()
        .skip(1)
        .take_while(|a| OPTIONS.iter().any(|o| a.eq_ignore_ascii_case(o)))
        .any(|a| a.eq_ignore_ascii_case(b"incr"))
}

/// XGROUP's rules: the subcommand names the event (`xgroup-create`, ...).
fn xgroup_rules(args: &[Bytes]) -> Vec<Rule<'_>> {
    let (Some(sub), Some(key)) = (args.first(), args.get(1)) else {
        return Vec::new();
    };
    let event = match sub.to_ascii_lowercase().as_slice() {
        b"create" => "xgroup-create",
        b"setid" => "xgroup-setid",
        b"destroy" => "xgroup-destroy",
        b"createconsumer" => "xgroup-createconsumer",
        b"delconsumer" => "xgroup-delconsumer",
        _ => return Vec::new(),
    };
    vec![Rule::on(key, &[(event, STREAM)])]
}

/// One key as it was before the command.
struct KeyBefore {
    /// True if it held a live value.
    live: bool,
    /// True if it was stored but already expired.
    expired: bool,
    /// Its stream's entries and consumers (0 and 0 if it is not a stream).
    stream: (usize, usize),
    /// Its record (an O(1) copy: records are never changed in place).
    entry: Option<Record>,
}

impl KeyBefore {
    /// `key` in `ks` at `now`.
    fn of(ks: &Keyspace, now: u64, key: &Bytes) -> KeyBefore {
        let entry = ks.get(key);
        KeyBefore {
            live: entry.is_some_and(|e| e.is_live(now)),
            expired: entry.is_some_and(|e| !e.is_live(now)),
            stream: stream_counts(ks, key),
            entry: entry.cloned(),
        }
    }
}

/// The entries and consumers of the stream stored under `key` (0 and 0 if none).
fn stream_counts(ks: &Keyspace, key: &Bytes) -> (usize, usize) {
    match ks.get(key).and_then(Record::aggregate) {
        Some(Value::Stream(s)) => (
            s.entries.len(),
            s.groups.values().map(|g| g.consumers.len()).sum(),
        ),
        _ => (0, 0),
    }
}

/// What [`Before::emit`] needs to know about the keyspace before a command ran.
pub(crate) struct Before<'a> {
    /// The keyspace's modification counter before.
    seq: u64,
    /// The command's rules.
    rules: Vec<Rule<'a>>,
    /// The command's distinct keys, as they were.
    keys: Vec<(&'a Bytes, KeyBefore)>,
    /// For ExpireDue: the keys it will try, in its order.
    due: Vec<Bytes>,
}

impl<'a> Before<'a> {
    /// Records what `cmd` may change, at `now` (the store's clock for the command); None if
    /// it emits nothing.
    pub(crate) fn observe(ks: &Keyspace, now: u64, cmd: &'a Command) -> Option<Before<'a>> {
        let due = match cmd {
            Command::ExpireDue { max_keys } => ks
                .due(now)
                .take(*max_keys as usize)
                .map(|(_, key)| key.clone())
                .collect(),
            _ => Vec::new(),
        };
        let rules = rules(cmd);
        // A write outside the table may still reclaim an expired key (`expired`); a script's
        // calls notify for themselves.
        let silent = !cmd.is_write() || matches!(cmd, Command::Script(_) | Command::Notify(_));
        if rules.is_empty() && due.is_empty() && silent {
            return None;
        }
        let mut keys: Vec<(&Bytes, KeyBefore)> = Vec::new();
        for key in cmd.keys() {
            if !keys.iter().any(|(k, _)| *k == key) {
                keys.push((key, KeyBefore::of(ks, now, key)));
            }
        }
        Some(Before {
            seq: ks.seqs().0,
            rules,
            keys,
            due,
        })
    }

    /// Appends, in Redis's order, the messages of what the command did (see the module docs).
    pub(crate) fn emit(self, ks: &Keyspace, flags: NotifyFlags, out: &mut Vec<(Bytes, Bytes)>) {
        let expired = ("expired", EXPIRED);
        for key in &self.due {
            if ks.get(key).is_none() {
                flags.emit(expired, key, out);
            }
        }
        let written = |key: &Bytes| ks.get(key).is_some_and(|e| e.version() > self.seq);
        for (key, before) in &self.keys {
            if before.expired && (ks.get(key).is_none() || written(key)) {
                flags.emit(expired, key, out);
            }
        }
        let before = |key: &Bytes| self.keys.iter().find(|(k, _)| *k == key).map(|(_, b)| b);
        let mut announced: Vec<&Bytes> = Vec::new();
        let mut deleted: Vec<&Bytes> = Vec::new();
        for rule in &self.rules {
            let Some(was) = before(rule.key) else {
                continue;
            };
            if written(rule.key) {
                if rule.announce && !was.live && !announced.contains(&rule.key) {
                    announced.push(rule.key);
                    flags.emit(("new", NEW), rule.key, out);
                }
                let (entries, consumers) = stream_counts(ks, rule.key);
                let happened = match rule.when {
                    When::Written => true,
                    When::Changed => match (ks.get(rule.key), &was.entry) {
                        (Some(now), Some(was)) => !now.same_data(was),
                        (now, was) => now.is_some() != was.is_some(),
                    },
                    When::Trimmed => entries <= was.stream.0,
                    When::ConsumerAdded => consumers > was.stream.1,
                    When::NewOnly => false,
                };
                if happened {
                    for event in &rule.written {
                        flags.emit(*event, rule.key, out);
                    }
                }
            } else if was.live
                && ks.get(rule.key).is_none()
                && rule.when != When::NewOnly
                && !deleted.contains(&rule.key)
            {
                deleted.push(rule.key);
                for event in &rule.deleted {
                    flags.emit(*event, rule.key, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_print_as_redis_does() {
        let canonical = |text: &str| NotifyFlags::parse(text.as_bytes()).unwrap().canonical();
        assert_eq!(canonical("KEA"), "AKE");
        assert_eq!(canonical(""), "");
        assert_eq!(canonical("Eg"), "gE");
        assert_eq!(canonical("g$lshzxetdKE"), "AKE");
        assert_eq!(canonical("nA"), "A");
        assert_eq!(canonical("Kn"), "nK");
        assert_eq!(canonical("mK"), "Km");
        assert_eq!(canonical("x"), "x");
        assert_eq!(NotifyFlags::parse(b"z?"), Err(Error::InvalidNotifyFlags));
        assert!(!NotifyFlags::parse(b"A").unwrap().active(), "no channel");
        assert!(!NotifyFlags::parse(b"KEm").unwrap().active(), "no class");
        assert!(NotifyFlags::parse(b"Kn").unwrap().active());
    }

    #[test]
    fn bits_round_trip_and_unknown_bits_are_refused() {
        let flags = NotifyFlags::parse(b"KEAnm").unwrap();
        assert_eq!(NotifyFlags::from_bits(flags.bits()), Some(flags));
        assert_eq!(NotifyFlags::from_bits(1 << 12), None);
    }
}
