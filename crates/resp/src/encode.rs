//! Reply encoding: [`Reply`] to RESP2 or RESP3 bytes.
//!
//! Commands answer with protocol-neutral [`Reply`] values; the connection knows which protocol
//! it negotiated and calls [`encode`] once per reply, appending to its output buffer. Every
//! scalar (simple string, error, integer, bulk, null, double, boolean, verbatim) is written by
//! `redis-protocol`'s encoders. Aggregate headers (`*N`, `%N`, `~N`) are the one line written
//! here: `redis-protocol` models RESP3 maps and sets as hash maps and sets, which would reorder
//! and deduplicate elements and make replies nondeterministic, and its arrays want the whole
//! frame tree built first, one allocation per nested array. Writing `*N\r\n` and then each
//! element in place keeps replies ordered and allocation-free.
//!
//! RESP2 has fewer types, so some replies degrade, exactly as Redis does it: maps become flat
//! arrays of alternating keys and values, sets become arrays, doubles become bulk strings
//! (formatted by [`format_double`]), booleans become `:1` / `:0`, verbatim strings become bulk
//! strings, and the two nulls stay distinct (`$-1` for a missing string, `*-1` for a missing
//! array). In RESP3 both nulls are `_`.
//!
//! Invariant: the bytes appended are exactly one complete, well-formed frame. Simple strings
//! and errors must not contain line breaks (the [`Reply`] contract); if one slips through, each
//! `\r` and `\n` is replaced by a space, as Redis does for error replies, rather than letting a
//! reply inject extra frames into the stream.

use std::borrow::Cow;

use bytes::BytesMut;
use redis_protocol::resp2::encode::extend_encode_borrowed as encode_resp2;
use redis_protocol::resp2::types::BorrowedFrame as Frame2;
use redis_protocol::resp3::encode::complete::extend_encode_borrowed as encode_resp3;
use redis_protocol::resp3::types::{BorrowedFrame as Frame3, VerbatimStringFormat};

use crate::number::{format_double, format_score};
use crate::{Protocol, Reply};

/// Appends the encoding of `reply` in `protocol` to `out`.
///
/// RESP2: `Map` → flat array, `Set` → array, `Null` → `$-1`, `NullArray` → `*-1`, `Double` →
/// bulk string (`1.5`, `inf`), `Boolean` → `:1` / `:0`, `Verbatim` → bulk string, `Score` →
/// bulk string in `%.17g` form, `Pairs` → flat array, `Keyed` → array of two-element arrays.
/// RESP3: native types; `Null` and `NullArray` → `_`; `Verbatim` → `=N\r\ntxt:...`; `Score` →
/// double; `Pairs` → array of two-element arrays; `Keyed` → map.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut BytesMut) {
    match protocol {
        Protocol::Resp2 => encode2(reply, out),
        Protocol::Resp3 => encode3(reply, out),
    }
}

/// Encodes one reply as RESP2.
fn encode2(reply: &Reply, out: &mut BytesMut) {
    let scalar = |frame: Frame2, out: &mut BytesMut| {
        encode_resp2(out, &frame, false).expect("redis-protocol RESP2 encoding cannot fail");
    };
    match reply {
        Reply::Simple(s) => scalar(Frame2::SimpleString(one_line(s).as_bytes()), out),
        Reply::Error(s) => scalar(Frame2::Error(&one_line(s)), out),
        Reply::Integer(i) => scalar(Frame2::Integer(*i), out),
        Reply::Bulk(b) => scalar(Frame2::BulkString(b), out),
        Reply::Null => scalar(Frame2::Null, out),
        // redis-protocol's RESP2 frames have no null array; it is this fixed line.
        Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) | Reply::Set(items) => {
            aggregate_header(b'*', items.len(), out);
            items.iter().for_each(|item| encode2(item, out));
        }
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            aggregate_header(b'*', pairs.len() * 2, out);
            for (key, value) in pairs {
                encode2(key, out);
                encode2(value, out);
            }
        }
        Reply::Keyed(pairs) => nested_pairs(pairs, encode2, out),
        Reply::Double(d) => scalar(Frame2::BulkString(format_double(*d).as_bytes()), out),
        Reply::Score(d) => scalar(Frame2::BulkString(format_score(*d).as_bytes()), out),
        Reply::Boolean(b) => scalar(Frame2::Integer(i64::from(*b)), out),
        Reply::Verbatim(s) => scalar(Frame2::BulkString(s.as_bytes()), out),
    }
}

/// Encodes one reply as RESP3.
fn encode3(reply: &Reply, out: &mut BytesMut) {
    let scalar = |frame: Frame3, out: &mut BytesMut| {
        encode_resp3(out, &frame, false).expect("redis-protocol RESP3 encoding cannot fail");
    };
    let attributes = None;
    match reply {
        Reply::Simple(s) => {
            let data = one_line(s);
            scalar(
                Frame3::SimpleString {
                    data: data.as_bytes(),
                    attributes,
                },
                out,
            )
        }
        Reply::Error(s) => scalar(
            Frame3::SimpleError {
                data: &one_line(s),
                attributes,
            },
            out,
        ),
        Reply::Integer(i) => scalar(
            Frame3::Number {
                data: *i,
                attributes,
            },
            out,
        ),
        Reply::Bulk(b) => scalar(
            Frame3::BlobString {
                data: b,
                attributes,
            },
            out,
        ),
        Reply::Null | Reply::NullArray => scalar(Frame3::Null, out),
        Reply::Array(items) => {
            aggregate_header(b'*', items.len(), out);
            items.iter().for_each(|item| encode3(item, out));
        }
        Reply::Set(items) => {
            aggregate_header(b'~', items.len(), out);
            items.iter().for_each(|item| encode3(item, out));
        }
        Reply::Map(pairs) | Reply::Keyed(pairs) => {
            aggregate_header(b'%', pairs.len(), out);
            for (key, value) in pairs {
                encode3(key, out);
                encode3(value, out);
            }
        }
        Reply::Pairs(pairs) => nested_pairs(pairs, encode3, out),
        Reply::Double(d) | Reply::Score(d) => {
            // Same text as RESP2's bulk form: redis-protocol prints finite values with Rust's
            // shortest round-trip Display, like format_double, except for negative zero.
            let data = if *d == 0.0 { 0.0 } else { *d };
            scalar(Frame3::Double { data, attributes }, out)
        }
        Reply::Boolean(b) => scalar(
            Frame3::Boolean {
                data: *b,
                attributes,
            },
            out,
        ),
        Reply::Verbatim(s) => {
            let format = VerbatimStringFormat::Text;
            scalar(
                Frame3::VerbatimString {
                    data: s.as_bytes(),
                    format,
                    attributes,
                },
                out,
            )
        }
    }
}

/// An array of two-element arrays, one per pair, each element encoded by `encode` (RESP2's
/// `Keyed`, RESP3's `Pairs`).
fn nested_pairs(pairs: &[(Reply, Reply)], encode: fn(&Reply, &mut BytesMut), out: &mut BytesMut) {
    aggregate_header(b'*', pairs.len(), out);
    for (first, second) in pairs {
        aggregate_header(b'*', 2, out);
        encode(first, out);
        encode(second, out);
    }
}

/// Writes an aggregate header line: `kind`, the decimal `len`, `\r\n`.
fn aggregate_header(kind: u8, len: usize, out: &mut BytesMut) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut n = len;
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.reserve(3 + digits.len() - start);
    out.extend_from_slice(&[kind]);
    out.extend_from_slice(&digits[start..]);
    out.extend_from_slice(b"\r\n");
}

/// The text with every `\r` and `\n` replaced by a space (borrowed when there are none).
fn one_line(s: &str) -> Cow<'_, str> {
    if s.contains(['\r', '\n']) {
        Cow::Owned(s.replace(['\r', '\n'], " "))
    } else {
        Cow::Borrowed(s)
    }
}
