//! Bit operations on strings: SETBIT GETBIT BITCOUNT (BYTE|BIT) BITPOS BITOP, as in Redis 7.0
//! (`bitops.c`).
//!
//! A string is a bit array, most significant bit of byte 0 first. A missing key is an empty
//! string (all zero bits); SETBIT grows the string with zero bytes, and keeps the key's TTL as
//! any string write does. An offset is refused as in Redis beyond 2^32 bits; a string grown past
//! [`MAX_VALUE_BYTES`] (offsets from 2^26 bits) is `ERR string exceeds maximum allowed size`.
//! BITOP stores its result without a TTL and deletes the destination if the result is empty.
//! Ranges (`start end`, negative from the end) count bytes, or bits with `BIT`.

use crate::aggregate::{int, is};
use crate::keyspace::Keyspace;
use crate::limits::MAX_VALUE_BYTES;
use crate::op::Op;
use crate::value::Value;
use crate::Error;
use bytes::{Bytes, BytesMut};
use resp::Reply;

/// The largest bit offset Redis accepts: 2^32 - 1 (its 512 MiB strings).
const MAX_BIT_OFFSET: i64 = (1 << 32) - 1;

/// A bit offset argument: `ERR bit offset is not an integer or out of range`.
fn offset(arg: &[u8]) -> Result<u64, Error> {
    int(arg)
        .ok()
        .filter(|n| (0..=MAX_BIT_OFFSET).contains(n))
        .map(|n| n as u64)
        .ok_or(Error::BitOffset)
}

/// Bit `i` of `s` (0 past the end).
fn bit_at(s: &[u8], i: u64) -> u8 {
    let byte = usize::try_from(i / 8).map_or(0, |b| s.get(b).copied().unwrap_or(0));
    (byte >> (7 - (i % 8))) & 1
}

/// Read-only bit operations.
pub(crate) fn read(op: Op, ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let key = &args[0];
    match op {
        Op::GetBit => {
            let at = offset(&args[1])?;
            let s = ks.live_str(key, now)?;
            Ok(Reply::Integer(i64::from(s.map_or(0, |s| bit_at(s, at)))))
        }
        Op::BitCount => bitcount(ks, now, args),
        Op::BitPos => bitpos(ks, now, args),
        _ => Err(Error::NotReadOnly(op.name())),
    }
}

/// Bit operations that change state.
pub(crate) fn write(op: Op, ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    match op {
        Op::SetBit => setbit(ks, now, args),
        Op::BitOp => bitop(ks, now, args),
        _ => read(op, ks, now, args),
    }
}

/// `SETBIT key offset 0|1`: the bit's old value.
fn setbit(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let at = offset(&args[1])?;
    let on = match args[2].as_ref() {
        b"0" => false,
        b"1" => true,
        _ => return Err(Error::BitValue),
    };
    let byte = (at / 8) as usize;
    if byte >= MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge);
    }
    let old = ks.live_str(key_of(args), now)?.unwrap_or_default();
    let mut new = BytesMut::from(old);
    if new.len() <= byte {
        new.resize(byte + 1, 0);
    }
    let mask = 1u8 << (7 - (at % 8));
    let was = new[byte] & mask != 0;
    if on {
        new[byte] |= mask;
    } else {
        new[byte] &= !mask;
    }
    crate::strings::modify(ks, now, key_of(args), new.freeze());
    Ok(Reply::Integer(i64::from(was)))
}

/// The key argument.
fn key_of(args: &[Bytes]) -> &Bytes {
    &args[0]
}

/// A `start end [BYTE|BIT]` range over a string of `len` bytes, as the inclusive bit range it
/// selects (None if empty), with Redis's clamping of negative and oversized indexes.
fn bit_range(start: i64, end: i64, bits: bool, len: usize) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Parses `BYTE` or `BIT`.
fn unit(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// Counts set bits of `s` in the inclusive bit range.
fn count_ones(s: &[u8], (first, last): (u64, u64)) -> u64 {
    let (fb, lb) = ((first / 8) as usize, (last / 8) as usize);
    let mut count: u64 = s[fb..=lb].iter().map(|b| u64::from(b.count_ones())).sum();
    // Bits of the edge bytes outside the range.
    let head = s[fb] & !(0xFFu8 >> (first % 8));
    let tail = s[lb] & (0xFFu16 >> (last % 8 + 1)) as u8;
    count -= u64::from(head.count_ones()) + u64::from(tail.count_ones());
    count
}

/// `BITCOUNT key [start end [BYTE|BIT]]`.
fn bitcount(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let range = match args {
        [_] => None,
        [_, start, end] => Some((int(start)?, int(end)?, false)),
        [_, start, end, u] => Some((int(start)?, int(end)?, unit(u)?)),
        _ => return Err(Error::Syntax),
    };
    let Some(s) = ks.live_str(&args[0], now)? else {
        return Ok(Reply::Integer(0));
    };
    let (start, end, bits) = range.unwrap_or((0, -1, false));
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Integer(0));
    }
    let n = bit_range(start, end, bits, s.len()).map_or(0, |r| count_ones(s, r));
    Ok(Reply::Integer(n as i64))
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`: the first bit equal to `bit` in the range, or -1.
/// Looking for a 0 without an explicit end finds the first bit past the string (which reads as
/// 0) if every bit in range is 1.
fn bitpos(ks: &Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let bit = match int(&args[1])? {
        0 => 0u8,
        1 => 1u8,
        _ => return Err(Error::BitArgument),
    };
    let (start, end, bits) = match &args[2..] {
        [] => (None, None, false),
        [start] => (Some(int(start)?), None, false),
        [start, end] => (Some(int(start)?), Some(int(end)?), false),
        [start, end, u] => (Some(int(start)?), Some(int(end)?), unit(u)?),
        _ => return Err(Error::Syntax),
    };
    let Some(s) = ks.live_str(&args[0], now)? else {
        return Ok(Reply::Integer(if bit == 1 { -1 } else { 0 }));
    };
    let Some((first, last)) = bit_range(start.unwrap_or(0), end.unwrap_or(-1), bits, s.len())
    else {
        return Ok(Reply::Integer(-1));
    };
    if let Some(i) = (first..=last).find(|&i| bit_at(s, i) == bit) {
        return Ok(Reply::Integer(i as i64));
    }
    Ok(Reply::Integer(if bit == 0 && end.is_none() {
        (last / 8 + 1) as i64 * 8
    } else {
        -1
    }))
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: the length of the stored result.
fn bitop(ks: &mut Keyspace, now: u64, args: &[Bytes]) -> Result<Reply, Error> {
    let how = args[0].to_ascii_lowercase();
    let (dst, keys) = (&args[1], &args[2..]);
    match how.as_slice() {
        b"and" | b"or" | b"xor" => {}
        b"not" if keys.len() == 1 => {}
        b"not" => return Err(Error::BitOpNotSingleKey),
        _ => return Err(Error::Syntax),
    }
    let sources = keys
        .iter()
        .map(|k| Ok(ks.live_str(k, now)?.unwrap_or_default()))
        .collect::<Result<Vec<&[u8]>, Error>>()?;
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let mut bytes = sources.iter().map(|s| byte(s, i));
            let first = bytes.next().unwrap_or(0);
            match how.as_slice() {
                b"and" => bytes.fold(first, |a, b| a & b),
                b"or" => bytes.fold(first, |a, b| a | b),
                b"xor" => bytes.fold(first, |a, b| a ^ b),
                _ => !first,
            }
        })
        .collect();
    ks.remove(dst);
    if !result.is_empty() {
        let entry = crate::keyspace::Entry {
            value: Value::Str(Bytes::from(result)),
            deadline_ms: None,
            version: 0,
        };
        ks.insert(dst, entry);
    }
    Ok(Reply::Integer(len as i64))
}
