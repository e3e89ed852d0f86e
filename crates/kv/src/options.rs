//! The option types that commands carry: TTL options, conditions, and command families.
//!
//! These are the small enums and flag sets inside [`crate::Command`]'s variants. They record
//! what the client asked for, not what it means for the keyspace: a relative TTL stays relative
//! (`Expiry::Ex(10)`), and numbers are kept as given so that the checks Redis makes only at
//! execution time (overflow of `now + ttl`, a GETEX time Redis looks at only for an existing key)
//! happen when the command is applied, with the same outcome on every replica.

use serde::{Deserialize, Serialize};

/// A TTL option as the client wrote it: the unit and whether it is relative or absolute. The
/// number is validated and turned into a deadline when the command is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// `EX seconds`: that many seconds after the apply time.
    Ex(i64),
    /// `PX milliseconds`: that many milliseconds after the apply time.
    Px(i64),
    /// `EXAT unix-time-seconds`: an absolute deadline in seconds since the Unix epoch.
    ExAt(i64),
    /// `PXAT unix-time-milliseconds`: an absolute deadline in milliseconds since the Unix epoch.
    PxAt(i64),
}

/// What SET does to the key's TTL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetTtl {
    /// No TTL option: the key ends up without a TTL (any old TTL is discarded).
    #[default]
    Clear,
    /// `KEEPTTL`: an existing key keeps its TTL.
    Keep,
    /// `EX`, `PX`, `EXAT` or `PXAT`: the key gets this TTL.
    Expire(Expiry),
}

/// SET's `NX` / `XX` condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCondition {
    /// No condition: always set.
    #[default]
    Always,
    /// `NX`: set only if the key does not exist.
    IfAbsent,
    /// `XX`: set only if the key exists.
    IfPresent,
}

/// What GETEX does to the key's TTL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GetExTtl {
    /// No option: the TTL is unchanged.
    #[default]
    Keep,
    /// `PERSIST`: the TTL is removed.
    Persist,
    /// `EX`, `PX`, `EXAT` or `PXAT`: the TTL is set (a deadline in the past deletes the key).
    Expire(Expiry),
    /// A time option whose number is not an integer. Redis reports this only when the key
    /// exists (a missing key answers nil first), so the error is raised when applied.
    NotInteger,
}

/// The NX / XX / GT / LT conditions of EXPIRE and its siblings; combinations are checked when
/// parsing (only XX with GT or LT may go together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireFlags {
    /// `NX`: only if the key has no TTL.
    pub nx: bool,
    /// `XX`: only if the key has a TTL.
    pub xx: bool,
    /// `GT`: only if the new deadline is later than the current one (no TTL counts as infinite).
    pub gt: bool,
    /// `LT`: only if the new deadline is earlier than the current one (no TTL counts as infinite).
    pub lt: bool,
}

/// Which member of the EXPIRE family: the unit of its number and whether it is relative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpireKind {
    /// `EXPIRE key seconds`.
    Expire,
    /// `PEXPIRE key milliseconds`.
    PExpire,
    /// `EXPIREAT key unix-time-seconds`.
    ExpireAt,
    /// `PEXPIREAT key unix-time-milliseconds`.
    PExpireAt,
}

impl ExpireKind {
    /// The lower-case command name.
    pub fn name(self) -> &'static str {
        match self {
            ExpireKind::Expire => "expire",
            ExpireKind::PExpire => "pexpire",
            ExpireKind::ExpireAt => "expireat",
            ExpireKind::PExpireAt => "pexpireat",
        }
    }

    /// True if the number is in seconds (else milliseconds).
    pub fn in_seconds(self) -> bool {
        matches!(self, ExpireKind::Expire | ExpireKind::ExpireAt)
    }

    /// True if the number is an absolute Unix time (else relative to the apply time).
    pub fn absolute(self) -> bool {
        matches!(self, ExpireKind::ExpireAt | ExpireKind::PExpireAt)
    }
}

/// Which TTL read: remaining time or absolute deadline, in seconds or milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TtlKind {
    /// `TTL`: remaining seconds, rounded to nearest.
    Ttl,
    /// `PTTL`: remaining milliseconds.
    PTtl,
    /// `EXPIRETIME`: the deadline in Unix seconds (rounded down).
    ExpireTime,
    /// `PEXPIRETIME`: the deadline in Unix milliseconds.
    PExpireTime,
}

impl TtlKind {
    /// The lower-case command name.
    pub fn name(self) -> &'static str {
        match self {
            TtlKind::Ttl => "ttl",
            TtlKind::PTtl => "pttl",
            TtlKind::ExpireTime => "expiretime",
            TtlKind::PExpireTime => "pexpiretime",
        }
    }
}

/// Which member of the INCR family (they differ only in name and how the delta is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IncrKind {
    /// `INCR key`: delta 1.
    Incr,
    /// `DECR key`: delta -1.
    Decr,
    /// `INCRBY key delta`.
    IncrBy,
    /// `DECRBY key delta`: the stored delta is the negated argument.
    DecrBy,
}

impl IncrKind {
    /// The lower-case command name.
    pub fn name(self) -> &'static str {
        match self {
            IncrKind::Incr => "incr",
            IncrKind::Decr => "decr",
            IncrKind::IncrBy => "incrby",
            IncrKind::DecrBy => "decrby",
        }
    }
}
