//! Turning client arguments into a [`Command`], with Redis's exact errors.
//!
//! Parsing happens once, on the node that received the command, before anything is proposed to
//! Raft; a command that fails here costs no log entry. The checks come in Redis's order, because
//! when a command has several problems the client sees the first one Redis would report:
//!
//! 1. the name (unknown → `ERR unknown command ...`);
//! 2. the arity from Redis's command table (→ `ERR wrong number of arguments for 'x' command`);
//! 3. options and their combinations, scanned left to right (→ `ERR syntax error` and the
//!    EXPIRE family's own texts);
//! 4. numbers (→ `ERR value is not an integer or out of range` and friends) and the range
//!    checks Redis does before looking at the key;
//! 5. the size limits of [`crate::limits`] on keys, patterns and values.
//!
//! Option names are ASCII case-insensitive, as everywhere in Redis.

use crate::command::Command;
use crate::limits::DEFAULT_SCAN_COUNT;
use crate::numbers::parse_u64;
use crate::options::{
    ExpireFlags, ExpireKind, Expiry, GetExTtl, IncrKind, SetCondition, SetTtl, TtlKind,
};
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, parse_i64};

/// Every data command with Redis's arity: positive means exactly that many arguments (name
/// included), negative means at least that many. The one list of what kv understands.
pub const COMMANDS: &[(&str, i32)] = &[
    ("get", 2),
    ("set", -3),
    ("setnx", 3),
    ("setex", 4),
    ("psetex", 4),
    ("getset", 3),
    ("getdel", 2),
    ("getex", -2),
    ("del", -2),
    ("unlink", -2),
    ("exists", -2),
    ("touch", -2),
    ("mget", -2),
    ("mset", -3),
    ("msetnx", -3),
    ("incr", 2),
    ("decr", 2),
    ("incrby", 3),
    ("decrby", 3),
    ("incrbyfloat", 3),
    ("append", 3),
    ("strlen", 2),
    ("getrange", 4),
    ("setrange", 4),
    ("expire", -3),
    ("pexpire", -3),
    ("expireat", -3),
    ("pexpireat", -3),
    ("ttl", 2),
    ("pttl", 2),
    ("expiretime", 2),
    ("pexpiretime", 2),
    ("persist", 2),
    ("type", 2),
    ("rename", 3),
    ("renamenx", 3),
    ("keys", 2),
    ("scan", -2),
    ("dbsize", 1),
    ("flushdb", -1),
    ("flushall", -1),
    ("hset", -4),
    ("hsetnx", 4),
    ("hget", 3),
    ("hmget", -3),
    ("hmset", -4),
    ("hdel", -3),
    ("hexists", 3),
    ("hlen", 2),
    ("hstrlen", 3),
    ("hkeys", 2),
    ("hvals", 2),
    ("hgetall", 2),
    ("hincrby", 4),
    ("hincrbyfloat", 4),
    ("hrandfield", -2),
    ("hscan", -3),
    ("lpush", -3),
    ("rpush", -3),
    ("lpushx", -3),
    ("rpushx", -3),
    ("lpop", -2),
    ("rpop", -2),
    ("llen", 2),
    ("lrange", 4),
    ("lindex", 3),
    ("lset", 4),
    ("linsert", 5),
    ("lrem", 4),
    ("ltrim", 4),
    ("lpos", -3),
    ("lmove", 5),
    ("rpoplpush", 3),
    ("lmpop", -4),
    ("sadd", -3),
    ("srem", -3),
    ("sismember", 3),
    ("smismember", -3),
    ("smembers", 2),
    ("scard", 2),
    ("spop", -2),
    ("srandmember", -2),
    ("smove", 4),
    ("sinter", -2),
    ("sintercard", -3),
    ("sinterstore", -3),
    ("sunion", -2),
    ("sunionstore", -3),
    ("sdiff", -2),
    ("sdiffstore", -3),
    ("sscan", -3),
    ("randomkey", 1),
    ("object", -2),
    ("copy", -3),
    ("zadd", -4),
    ("zincrby", 4),
    ("zrem", -3),
    ("zscore", 3),
    ("zmscore", -3),
    ("zcard", 2),
    ("zcount", 4),
    ("zlexcount", 4),
    ("zrange", -4),
    ("zrangestore", -5),
    ("zrevrange", -4),
    ("zrangebyscore", -4),
    ("zrevrangebyscore", -4),
    ("zrangebylex", -4),
    ("zrevrangebylex", -4),
    ("zrank", 3),
    ("zrevrank", 3),
    ("zpopmin", -2),
    ("zpopmax", -2),
    ("zmpop", -4),
    ("zremrangebyrank", 4),
    ("zremrangebyscore", 4),
    ("zremrangebylex", 4),
    ("zunion", -3),
    ("zinter", -3),
    ("zdiff", -3),
    ("zunionstore", -4),
    ("zinterstore", -4),
    ("zdiffstore", -4),
    ("zrandmember", -2),
    ("zscan", -3),
    ("publish", 3),
];

/// The table entry for a lower-case command name (names are at most 16 bytes).
fn arity(name: &str) -> Option<(&'static str, i32)> {
    COMMANDS.iter().find(|(n, _)| *n == name).copied()
}

impl Command {
    /// Parses a client command; `args[0]` is the name, case-insensitive. Wrong arity, syntax
    /// and number errors give Redis's exact texts. A name kv does not know gives
    /// [`Error::UnknownCommand`], whose text is exactly Redis's:
    /// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
    pub fn parse(args: &[Bytes]) -> Result<Command, Error> {
        let lower = match args.first() {
            Some(name) if name.len() <= 16 => String::from_utf8_lossy(name).to_ascii_lowercase(),
            _ => return Err(Error::unknown_command(args)),
        };
        let Some((name, arity)) = arity(&lower) else {
            return Err(Error::unknown_command(args));
        };
        let count = args.len() as i64;
        let arity = i64::from(arity);
        if (arity > 0 && count != arity) || (arity < 0 && count < -arity) {
            return Err(Error::WrongArity(name));
        }
        if args.len() > crate::limits::MAX_ARGUMENTS {
            return Err(Error::TooManyArguments);
        }
        let command = parse_known(name, args)?;
        command.check_sizes()?;
        Ok(command)
    }
}

/// Parses a command whose name is known and arity checked.
fn parse_known(name: &'static str, args: &[Bytes]) -> Result<Command, Error> {
    let key = || args[1].clone();
    let rest = || args[1..].to_vec();
    Ok(match name {
        "get" => Command::Get { key: key() },
        "publish" => Command::Publish {
            channel: key(),
            message: args[2].clone(),
        },
        "set" => parse_set(args)?,
        "setnx" => Command::SetNx {
            key: key(),
            value: args[2].clone(),
        },
        "setex" | "psetex" => {
            let time = integer(&args[2])?;
            if time <= 0 || (name == "setex" && time > i64::MAX / 1000) {
                return Err(Error::InvalidExpireTime(name));
            }
            let (key, value) = (key(), args[3].clone());
            match name {
                "setex" => Command::SetEx {
                    key,
                    seconds: time,
                    value,
                },
                _ => Command::PSetEx {
                    key,
                    millis: time,
                    value,
                },
            }
        }
        "getset" => Command::GetSet {
            key: key(),
            value: args[2].clone(),
        },
        "getdel" => Command::GetDel { key: key() },
        "getex" => parse_getex(args)?,
        "del" => Command::Del { keys: rest() },
        "unlink" => Command::Unlink { keys: rest() },
        "exists" => Command::Exists { keys: rest() },
        "touch" => Command::Touch { keys: rest() },
        "mget" => Command::MGet { keys: rest() },
        "mset" | "msetnx" => {
            if args.len().is_multiple_of(2) {
                return Err(Error::WrongArity(name));
            }
            let pairs = args[1..]
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect();
            match name {
                "mset" => Command::MSet { pairs },
                _ => Command::MSetNx { pairs },
            }
        }
        "incr" => incr(key(), 1, IncrKind::Incr),
        "decr" => incr(key(), -1, IncrKind::Decr),
        "incrby" => incr(key(), integer(&args[2])?, IncrKind::IncrBy),
        "decrby" => {
            let delta = integer(&args[2])?;
            let delta = delta.checked_neg().ok_or(Error::DecrOverflow)?;
            incr(key(), delta, IncrKind::DecrBy)
        }
        "incrbyfloat" => Command::IncrByFloat {
            key: key(),
            delta: parse_f64(&args[2]).ok_or(Error::NotFloat)?,
        },
        "append" => Command::Append {
            key: key(),
            value: args[2].clone(),
        },
        "strlen" => Command::StrLen { key: key() },
        "getrange" => Command::GetRange {
            key: key(),
            start: integer(&args[2])?,
            end: integer(&args[3])?,
        },
        "setrange" => Command::SetRange {
            key: key(),
            offset: u64::try_from(integer(&args[2])?).map_err(|_| Error::OffsetOutOfRange)?,
            value: args[3].clone(),
        },
        "expire" => parse_expire(ExpireKind::Expire, args)?,
        "pexpire" => parse_expire(ExpireKind::PExpire, args)?,
        "expireat" => parse_expire(ExpireKind::ExpireAt, args)?,
        "pexpireat" => parse_expire(ExpireKind::PExpireAt, args)?,
        "ttl" => ttl(key(), TtlKind::Ttl),
        "pttl" => ttl(key(), TtlKind::PTtl),
        "expiretime" => ttl(key(), TtlKind::ExpireTime),
        "pexpiretime" => ttl(key(), TtlKind::PExpireTime),
        "persist" => Command::Persist { key: key() },
        "type" => Command::Type { key: key() },
        "rename" => Command::Rename {
            from: key(),
            to: args[2].clone(),
        },
        "renamenx" => Command::RenameNx {
            from: key(),
            to: args[2].clone(),
        },
        "keys" => Command::Keys { pattern: key() },
        "scan" => parse_scan(args)?,
        "dbsize" => Command::DbSize,
        "flushdb" | "flushall" => {
            let mode_ok = match args {
                [_] => true,
                [_, mode] => {
                    mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async")
                }
                _ => false,
            };
            if !mode_ok {
                return Err(Error::Syntax);
            }
            match name {
                "flushdb" => Command::FlushDb,
                _ => Command::FlushAll,
            }
        }
        _ => match crate::ops::Op::from_name(name) {
            Some(op) => {
                // Size limits first: the check runs the command on an empty keyspace.
                let command = Command::Aggregate {
                    op,
                    args: args[1..].to_vec(),
                };
                command.check_sizes()?;
                op.check(&args[1..])?;
                command
            }
            None => return Err(Error::unknown_command(args)),
        },
    })
}

/// A strict 64-bit integer argument.
fn integer(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NotInteger)
}

/// Builds an INCR-family command.
fn incr(key: Bytes, delta: i64, kind: IncrKind) -> Command {
    Command::IncrBy { key, delta, kind }
}

/// Builds a TTL-family command.
fn ttl(key: Bytes, kind: TtlKind) -> Command {
    Command::Ttl { key, kind }
}

/// The TTL options shared by SET and GETEX, as flags while scanning.
#[derive(Default)]
struct TtlOptions {
    /// Which time option was seen last, with its raw argument.
    expiry: Option<(&'static str, Bytes)>,
    /// `KEEPTTL` (SET only).
    keep: bool,
    /// `PERSIST` (GETEX only).
    persist: bool,
}

impl TtlOptions {
    /// Tries to take a time option (`EX`, `PX`, `EXAT`, `PXAT`) at `args[i]`; returns true if
    /// it was one and allowed here (Redis allows repeating the same one; the last wins).
    fn take_time(&mut self, option: &[u8], next: Option<&Bytes>) -> bool {
        let Some(next) = next else {
            return false;
        };
        for name in ["ex", "px", "exat", "pxat"] {
            if option.eq_ignore_ascii_case(name.as_bytes()) {
                let conflict = self.keep
                    || self.persist
                    || matches!(&self.expiry, Some((other, _)) if *other != name);
                if conflict {
                    return false;
                }
                self.expiry = Some((name, next.clone()));
                return true;
            }
        }
        false
    }

    /// The time option as an [`Expiry`] with its number parsed (None if there is none).
    fn expiry(&self) -> Option<Result<Expiry, Error>> {
        let (name, arg) = self.expiry.as_ref()?;
        Some(integer(arg).map(|n| match *name {
            "ex" => Expiry::Ex(n),
            "px" => Expiry::Px(n),
            "exat" => Expiry::ExAt(n),
            _ => Expiry::PxAt(n),
        }))
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms|KEEPTTL]`, following Redis's
/// left-to-right scan: a conflicting or unknown option is a syntax error.
fn parse_set(args: &[Bytes]) -> Result<Command, Error> {
    let mut condition = SetCondition::Always;
    let mut get = false;
    let mut ttl = TtlOptions::default();
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        let next = args.get(i + 1);
        if option.eq_ignore_ascii_case(b"nx") && condition != SetCondition::IfPresent {
            condition = SetCondition::IfAbsent;
        } else if option.eq_ignore_ascii_case(b"xx") && condition != SetCondition::IfAbsent {
            condition = SetCondition::IfPresent;
        } else if option.eq_ignore_ascii_case(b"get") {
            get = true;
        } else if option.eq_ignore_ascii_case(b"keepttl") && ttl.expiry.is_none() {
            ttl.keep = true;
        } else if ttl.take_time(option, next) {
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let ttl = match ttl.expiry() {
        Some(expiry) => {
            let expiry = expiry?;
            check_positive(expiry, "set")?;
            SetTtl::Expire(expiry)
        }
        None if ttl.keep => SetTtl::Keep,
        None => SetTtl::Clear,
    };
    Ok(Command::Set {
        key: args[1].clone(),
        value: args[2].clone(),
        condition,
        get,
        ttl,
    })
}

/// Redis's check of a SET-style TTL before the key is looked at: the number must be positive,
/// and seconds must not overflow when turned into milliseconds.
pub(crate) fn check_positive(expiry: Expiry, command: &'static str) -> Result<(), Error> {
    let ok = match expiry {
        Expiry::Ex(n) | Expiry::ExAt(n) => n > 0 && n <= i64::MAX / 1000,
        Expiry::Px(n) | Expiry::PxAt(n) => n > 0,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidExpireTime(command))
    }
}

/// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms|PERSIST]`. The number is checked only when applied,
/// because Redis answers nil for a missing key before looking at it.
fn parse_getex(args: &[Bytes]) -> Result<Command, Error> {
    let mut ttl = TtlOptions::default();
    let mut i = 2;
    while i < args.len() {
        let option = &args[i];
        if option.eq_ignore_ascii_case(b"persist") && ttl.expiry.is_none() {
            ttl.persist = true;
        } else if ttl.take_time(option, args.get(i + 1)) {
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let ttl = match ttl.expiry() {
        Some(Ok(expiry)) => GetExTtl::Expire(expiry),
        Some(Err(_)) => GetExTtl::NotInteger,
        None if ttl.persist => GetExTtl::Persist,
        None => GetExTtl::Keep,
    };
    Ok(Command::GetEx {
        key: args[1].clone(),
        ttl,
    })
}

/// `EXPIRE key time [NX|XX|GT|LT ...]`: options first (Redis checks them before the number),
/// then the number and its unit conversion.
fn parse_expire(kind: ExpireKind, args: &[Bytes]) -> Result<Command, Error> {
    let mut flags = ExpireFlags::default();
    for option in &args[3..] {
        let flag = if option.eq_ignore_ascii_case(b"nx") {
            &mut flags.nx
        } else if option.eq_ignore_ascii_case(b"xx") {
            &mut flags.xx
        } else if option.eq_ignore_ascii_case(b"gt") {
            &mut flags.gt
        } else if option.eq_ignore_ascii_case(b"lt") {
            &mut flags.lt
        } else {
            let end = option.iter().position(|&b| b == 0).unwrap_or(option.len());
            let text = String::from_utf8_lossy(&option[..end]).into_owned();
            return Err(Error::UnsupportedOption(text));
        };
        *flag = true;
    }
    if flags.nx && (flags.xx || flags.gt || flags.lt) {
        return Err(Error::NxAndXxGtLt);
    }
    if flags.gt && flags.lt {
        return Err(Error::GtAndLt);
    }
    let time = integer(&args[2])?;
    if kind.in_seconds() && time.checked_mul(1000).is_none() {
        return Err(Error::InvalidExpireTime(kind.name()));
    }
    Ok(Command::Expire {
        key: args[1].clone(),
        kind,
        time,
        flags,
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`; options may repeat (the last wins).
fn parse_scan(args: &[Bytes]) -> Result<Command, Error> {
    let cursor = parse_u64(&args[1]).ok_or(Error::InvalidCursor)?;
    let mut pattern = None;
    let mut count = DEFAULT_SCAN_COUNT;
    let mut type_name = None;
    let mut i = 2;
    while i < args.len() {
        let (option, value) = match args.get(i + 1) {
            Some(value) => (&args[i], value),
            None => return Err(Error::Syntax),
        };
        if option.eq_ignore_ascii_case(b"count") {
            let n = integer(value)?;
            count = u64::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or(Error::Syntax)?;
        } else if option.eq_ignore_ascii_case(b"match") {
            pattern = Some(value.clone());
        } else if option.eq_ignore_ascii_case(b"type") {
            type_name = Some(value.clone());
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok(Command::Scan {
        cursor,
        pattern,
        count,
        type_name,
    })
}
