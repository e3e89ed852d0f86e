//! The commands on hashes, lists, sets, sorted sets and streams, and the string and key commands added
//! with them (bit operations, LCS, TIME, RANDOMKEY, OBJECT, COPY), as one compact [`Op`]
//! carried in [`crate::Command::Aggregate`].
//!
//! These commands travel through the log as their operation plus their raw arguments: one byte
//! and the arguments, whatever the command. [`crate::Command::parse`] checks them completely
//! before anything is proposed (arity from [`crate::command_table`], then the command's own syntax
//! and numbers, by running it against an empty keyspace, which can only fail on the arguments),
//! and every replica parses them again when applying, with the same code, so the outcome is
//! the same everywhere. [`Op`] itself is declared in [`crate::op`], a leaf the type modules
//! import; this module dispatches each operation to its type's module.

use crate::keyspace::Keyspace;
use crate::op::Op;
use crate::random::Rng;
use crate::Error;
use bytes::Bytes;
use resp::Reply;

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
            ZScore | ZMScore | ZCard | ZRank | ZRevRank | ZScan => {
                crate::zsets::read(self, ks, now, args)
            }
            ZCount | ZLexCount | ZRange | ZRevRange | ZRangeByScore | ZRevRangeByScore
            | ZRangeByLex | ZRevRangeByLex => crate::zset_ranges::read(self, ks, now, args),
            ZUnion | ZInter | ZDiff | ZInterCard => crate::zset_algebra::read(self, ks, now, args),
            GetBit | BitCount | BitPos => crate::bits::read(self, ks, now, args),
            Lcs => crate::lcs::lcs(ks, now, args),
            Time => Ok(crate::keys::time(now)),
            XLen | XRange | XRevRange | XRead => crate::streams::read(self, ks, now, args),
            XInfo => crate::stream_groups::xinfo(ks, now, args),
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
            ZAdd | ZIncrBy | ZRem | ZPopMin | ZPopMax | ZMPop | ZRandMember => {
                crate::zsets::write(self, ks, now, args, rng)
            }
            ZRangeStore | ZRemRangeByRank | ZRemRangeByScore | ZRemRangeByLex => {
                crate::zset_ranges::write(self, ks, now, args)
            }
            ZUnionStore | ZInterStore | ZDiffStore => {
                crate::zset_algebra::write(self, ks, now, args)
            }
            SetBit | BitOp => crate::bits::write(self, ks, now, args),
            XAdd | XDel | XTrim | XSetId => crate::streams::write(self, ks, now, args),
            XGroup | XReadGroup | XAck | XClaim | XAutoClaim => {
                crate::stream_groups::write(self, ks, now, args)
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
