//! The commands on hashes, lists, sets, sorted sets and streams, and the string and key commands added
//! with them (bit operations, LCS, TIME, RANDOMKEY, OBJECT, COPY), as one compact [`Op`]
//! carried in [`crate::Command::Aggregate`].
//!
//! These commands travel through the log as their operation plus their raw arguments: one byte
//! and the arguments, whatever the command. [`crate::Command::parse`] checks them completely
//! before anything is proposed (arity from [`crate::command_table`], then the command's own syntax
//! and numbers, by running it against an empty keyspace, which can only fail on the arguments),
//! and every replica parses them again when applying, with the same code, so the outcome is
//! the same everywhere. New operations go at the end of [`Op`]: the log stores the variant's
//! index.

use crate::keyspace::Keyspace;
use crate::random::Rng;
use crate::Error;
use bytes::Bytes;
use resp::Reply;
use serde::{Deserialize, Serialize};

/// Declares [`Op`] with each operation's name and class (read, write, or random: a write that
/// draws random numbers).
macro_rules! ops {
    ($($op:ident $name:literal $class:ident;)*) => {
        /// An operation on a hash, list, set or sorted set, or a string or key command added
        /// with them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Op {
            $(
                #[doc = concat!("`", $name, "`.")]
                $op,
            )*
        }

        impl Op {
            /// The operation with this lower-case command name.
            pub(crate) fn from_name(name: &str) -> Option<Op> {
                match name {
                    $($name => Some(Op::$op),)*
                    _ => None,
                }
            }

            /// The lower-case command name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Op::$op => $name,)*
                }
            }

            /// True if it may change state (or draws random numbers, which advances the
            /// replicated draw counter), so it must go through the log.
            pub fn is_write(self) -> bool {
                match self {
                    $(Op::$op => !matches!(stringify!($class), "read"),)*
                }
            }

            /// True if it draws random numbers.
            pub(crate) fn is_random(self) -> bool {
                match self {
                    $(Op::$op => matches!(stringify!($class), "random"),)*
                }
            }
        }
    };
}

ops! {
    HSet "hset" write;
    HSetNx "hsetnx" write;
    HGet "hget" read;
    HMGet "hmget" read;
    HMSet "hmset" write;
    HDel "hdel" write;
    HExists "hexists" read;
    HLen "hlen" read;
    HStrLen "hstrlen" read;
    HKeys "hkeys" read;
    HVals "hvals" read;
    HGetAll "hgetall" read;
    HIncrBy "hincrby" write;
    HIncrByFloat "hincrbyfloat" write;
    HRandField "hrandfield" random;
    HScan "hscan" read;
    LPush "lpush" write;
    RPush "rpush" write;
    LPushX "lpushx" write;
    RPushX "rpushx" write;
    LPop "lpop" write;
    RPop "rpop" write;
    LLen "llen" read;
    LRange "lrange" read;
    LIndex "lindex" read;
    LSet "lset" write;
    LInsert "linsert" write;
    LRem "lrem" write;
    LTrim "ltrim" write;
    LPos "lpos" read;
    LMove "lmove" write;
    RPopLPush "rpoplpush" write;
    LMPop "lmpop" write;
    SAdd "sadd" write;
    SRem "srem" write;
    SIsMember "sismember" read;
    SMIsMember "smismember" read;
    SMembers "smembers" read;
    SCard "scard" read;
    SPop "spop" random;
    SRandMember "srandmember" random;
    SMove "smove" write;
    SInter "sinter" read;
    SInterCard "sintercard" read;
    SInterStore "sinterstore" write;
    SUnion "sunion" read;
    SUnionStore "sunionstore" write;
    SDiff "sdiff" read;
    SDiffStore "sdiffstore" write;
    SScan "sscan" read;
    RandomKey "randomkey" random;
    Object "object" read;
    Copy "copy" write;
    ZAdd "zadd" write;
    ZIncrBy "zincrby" write;
    ZRem "zrem" write;
    ZScore "zscore" read;
    ZMScore "zmscore" read;
    ZCard "zcard" read;
    ZCount "zcount" read;
    ZLexCount "zlexcount" read;
    ZRange "zrange" read;
    ZRangeStore "zrangestore" write;
    ZRevRange "zrevrange" read;
    ZRangeByScore "zrangebyscore" read;
    ZRevRangeByScore "zrevrangebyscore" read;
    ZRangeByLex "zrangebylex" read;
    ZRevRangeByLex "zrevrangebylex" read;
    ZRank "zrank" read;
    ZRevRank "zrevrank" read;
    ZPopMin "zpopmin" write;
    ZPopMax "zpopmax" write;
    ZMPop "zmpop" write;
    ZRemRangeByRank "zremrangebyrank" write;
    ZRemRangeByScore "zremrangebyscore" write;
    ZRemRangeByLex "zremrangebylex" write;
    ZUnion "zunion" read;
    ZInter "zinter" read;
    ZDiff "zdiff" read;
    ZUnionStore "zunionstore" write;
    ZInterStore "zinterstore" write;
    ZDiffStore "zdiffstore" write;
    ZRandMember "zrandmember" random;
    ZScan "zscan" read;
    SetBit "setbit" write;
    GetBit "getbit" read;
    BitCount "bitcount" read;
    BitPos "bitpos" read;
    BitOp "bitop" write;
    Lcs "lcs" read;
    Time "time" read;
    ZInterCard "zintercard" read;
    XAdd "xadd" write;
    XLen "xlen" read;
    XRange "xrange" read;
    XRevRange "xrevrange" read;
    XDel "xdel" write;
    XTrim "xtrim" write;
    XRead "xread" read;
    XGroup "xgroup" write;
    XReadGroup "xreadgroup" write;
    XAck "xack" write;
    XPending "xpending" read;
    XClaim "xclaim" write;
    XAutoClaim "xautoclaim" write;
    XInfo "xinfo" read;
    XSetId "xsetid" write;
}

impl Op {
    /// The keys among `args` (the arguments after the name), in order.
    pub(crate) fn keys(self, args: &[Bytes]) -> Vec<&Bytes> {
        use Op::*;
        match self {
            RandomKey | Time => Vec::new(),
            BitOp => args.iter().skip(1).collect(),
            Lcs => args.iter().take(2).collect(),
            Object => args.get(1).into_iter().collect(),
            SInter | SUnion | SDiff | SInterStore | SUnionStore | SDiffStore => {
                args.iter().collect()
            }
            LMove | RPopLPush | SMove | Copy => args.iter().take(2).collect(),
            SInterCard | LMPop | ZMPop | ZUnion | ZInter | ZDiff | ZInterCard => {
                let n = crate::aggregate::int(&args[0]).unwrap_or(0).max(0) as usize;
                args.iter().skip(1).take(n).collect()
            }
            ZUnionStore | ZInterStore | ZDiffStore => {
                let n = args
                    .get(1)
                    .map_or(0, |n| crate::aggregate::int(n).unwrap_or(0).max(0) as usize);
                args.iter()
                    .take(1)
                    .chain(args.iter().skip(2).take(n))
                    .collect()
            }
            ZRangeStore => args.iter().take(2).collect(),
            XRead | XReadGroup => crate::streams::read_keys(args),
            XGroup | XInfo => args.get(1).into_iter().collect(),
            _ => args.first().into_iter().collect(),
        }
    }

    /// Runs a read-only operation.
    pub(crate) fn read(self, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
        use Op::*;
        match self {
            HGet | HMGet | HExists | HLen | HStrLen | HKeys | HVals | HGetAll | HScan => {
                crate::hashes::read(self, ks, now, args)
            }
            LLen | LRange | LIndex | LPos => crate::lists::read(self, ks, now, args),
            SIsMember | SMIsMember | SMembers | SCard | SInter | SInterCard | SUnion | SDiff
            | SScan => crate::sets::read(self, ks, now, args),
            Object => crate::keys::object(ks, now, args),
            ZScore | ZMScore | ZCard | ZCount | ZLexCount | ZRange | ZRevRange | ZRangeByScore
            | ZRevRangeByScore | ZRangeByLex | ZRevRangeByLex | ZRank | ZRevRank | ZUnion
            | ZInter | ZDiff | ZScan | ZInterCard => crate::zsets::read(self, ks, now, args),
            GetBit | BitCount | BitPos => crate::bits::read(self, ks, now, args),
            Lcs => crate::lcs::lcs(ks, now, args),
            Time => Ok(crate::keys::time(now)),
            XLen | XRange | XRevRange | XRead | XInfo => crate::streams::read(self, ks, now, args),
            XPending => crate::stream_groups::read(ks, now, args),
            _ => Err(Error::NotReadOnly(self.name())),
        }
    }

    /// Runs any operation; `rng` serves the ones that draw random numbers.
    pub(crate) fn write(
        self,
        ks: &mut Keyspace,
        now: u64,
        args: &[Bytes],
        rng: &mut Rng,
    ) -> Result<Reply, Error> {
        use Op::*;
        if !self.is_write() {
            return self.read(ks, now, args);
        }
        match self {
            HSet | HSetNx | HMSet | HDel | HIncrBy | HIncrByFloat | HRandField => {
                crate::hashes::write(self, ks, now, args, rng)
            }
            LPush | RPush | LPushX | RPushX | LPop | RPop | LSet | LInsert | LRem | LTrim
            | LMove | RPopLPush | LMPop => crate::lists::write(self, ks, now, args),
            SAdd | SRem | SPop | SRandMember | SMove | SInterStore | SUnionStore | SDiffStore => {
                crate::sets::write(self, ks, now, args, rng)
            }
            RandomKey => Ok(crate::keys::random_key(ks, now, rng)),
            Copy => crate::keys::copy(ks, now, args),
            ZAdd | ZIncrBy | ZRem | ZRangeStore | ZPopMin | ZPopMax | ZMPop | ZRemRangeByRank
            | ZRemRangeByScore | ZRemRangeByLex | ZUnionStore | ZInterStore | ZDiffStore
            | ZRandMember => crate::zsets::write(self, ks, now, args, rng),
            SetBit | BitOp => crate::bits::write(self, ks, now, args),
            XAdd | XDel | XTrim | XGroup | XReadGroup | XAck | XClaim | XAutoClaim | XSetId => {
                crate::streams::write(self, ks, now, args)
            }
            _ => self.read(ks, now, args),
        }
    }

    /// Checks the arguments without a keyspace: runs the operation on an empty one. Only
    /// argument errors can come out of that (a missing key is never an error worth refusing
    /// before the log, so `ERR no such key`, and the stream errors about missing groups, are let
    /// through to be answered when applied: see [`Error::depends_on_state`]).
    pub(crate) fn check(self, args: &[Bytes]) -> Result<(), Error> {
        let mut scratch = Keyspace::default();
        match self.write(&mut scratch, 0, args, &mut Rng::new(0, 0)) {
            Err(e) if e.depends_on_state() => Ok(()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
