//! The operation codes of [`crate::Command::Aggregate`]: one byte per command on hashes,
//! lists, sets, sorted sets and streams, and the string and key commands added with them (bit
//! operations, LCS, TIME, RANDOMKEY, OBJECT, COPY), with each one's name and class.
//!
//! A leaf: the type modules match on [`Op`], and [`crate::ops`] dispatches each to them. New
//! operations go at the end: the log stores the variant's index.

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
