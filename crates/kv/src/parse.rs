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
use crate::command_table::{self, CommandSpec, ServedBy};
use crate::limits::DEFAULT_SCAN_COUNT;
use crate::numbers::parse_u64;
use crate::options::{
    ExpireFlags, ExpireKind, Expiry, GetExTtl, IncrKind, SetCondition, SetTtl, TtlKind,
};
use crate::ttl::check_positive;
use crate::Error;
use bytes::Bytes;
use resp::{parse_f64, parse_i64};

/// Every data command [`Command::parse`] serves. Each has a row in
/// [`crate::command_table::COMMAND_TABLE`], which holds its arity and documentation (a test
/// checks the two agree).
pub const COMMANDS: &[&str] = &[
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getset",
    "getdel",
    "getex",
    "del",
    "unlink",
    "exists",
    "touch",
    "mget",
    "mset",
    "msetnx",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "append",
    "strlen",
    "getrange",
    "substr",
    "setrange",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    "type",
    "rename",
    "renamenx",
    "keys",
    "scan",
    "dbsize",
    "flushdb",
    "flushall",
    "hset",
    "hsetnx",
    "hget",
    "hmget",
    "hmset",
    "hdel",
    "hexists",
    "hlen",
    "hstrlen",
    "hkeys",
    "hvals",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hrandfield",
    "hscan",
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "lpop",
    "rpop",
    "llen",
    "lrange",
    "lindex",
    "lset",
    "linsert",
    "lrem",
    "ltrim",
    "lpos",
    "lmove",
    "rpoplpush",
    "lmpop",
    "sadd",
    "srem",
    "sismember",
    "smismember",
    "smembers",
    "scard",
    "spop",
    "srandmember",
    "smove",
    "sinter",
    "sintercard",
    "sinterstore",
    "sunion",
    "sunionstore",
    "sdiff",
    "sdiffstore",
    "sscan",
    "randomkey",
    "object",
    "copy",
    "zadd",
    "zincrby",
    "zrem",
    "zscore",
    "zmscore",
    "zcard",
    "zcount",
    "zlexcount",
    "zrange",
    "zrangestore",
    "zrevrange",
    "zrangebyscore",
    "zrevrangebyscore",
    "zrangebylex",
    "zrevrangebylex",
    "zrank",
    "zrevrank",
    "zpopmin",
    "zpopmax",
    "zmpop",
    "zremrangebyrank",
    "zremrangebyscore",
    "zremrangebylex",
    "zunion",
    "zinter",
    "zdiff",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zrandmember",
    "zscan",
    "setbit",
    "getbit",
    "bitcount",
    "bitpos",
    "bitop",
    "lcs",
    "time",
    "zintercard",
    "publish",
    "xadd",
    "xlen",
    "xrange",
    "xrevrange",
    "xdel",
    "xtrim",
    "xread",
    "xgroup",
    "xreadgroup",
    "xack",
    "xpending",
    "xclaim",
    "xautoclaim",
    "xinfo",
    "xsetid",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "script",
    "function",
    "fcall",
    "fcall_ro",
];

/// The table row of a data command, by name in any case.
fn data_command(name: &[u8]) -> Option<&'static CommandSpec> {
    command_table::lookup(name).filter(|c| c.served_by == ServedBy::Data)
}

impl Command {
    /// Parses a client command; `args[0]` is the name, case-insensitive. Wrong arity, syntax
    /// and number errors give Redis's exact texts. A name kv does not know gives
    /// [`Error::UnknownCommand`], whose text is exactly Redis's:
    /// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
    pub fn parse(args: &[Bytes]) -> Result<Command, Error> {
        let Some(spec) = args.first().and_then(|name| data_command(name)) else {
            return Err(Error::unknown_command(args));
        };
        let name = spec.name;
        if !spec.arity_ok(args.len()) {
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
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => {
            Command::Script(crate::script::parse_eval(name, args)?)
        }
        "script" => Command::Script(crate::script::parse_script(args)?),
        "function" => Command::Script(crate::script::ScriptCommand::Function(
            crate::script::function::parse_function(args)?,
        )),
        "fcall" | "fcall_ro" => Command::Script(crate::script::function::parse_fcall(name, args)?),
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
        // SUBSTR is GETRANGE's deprecated old name.
        "getrange" | "substr" => Command::GetRange {
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
        _ => match crate::op::Op::from_name(name) {
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
