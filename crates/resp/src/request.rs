//! Request decoding: bytes from a client to one command's arguments.
//!
//! A connection reads into a `BytesMut` and calls [`decode_request`] in a loop until it returns
//! `Ok(None)`; each `Ok(Some(args))` is one command, so a pipelined read of thousands of
//! requests is decoded one request per call without copying. When a request is incomplete the
//! buffer is left untouched, and the next call, after more bytes arrived, looks at the front of
//! the buffer again.
//!
//! Two request forms exist, chosen by the first byte, as in Redis:
//!
//! * **Multibulk** (`*`): `*<count>\r\n` then `count` arguments `$<len>\r\n<len bytes>\r\n`.
//!   Every header line is validated here the moment it is complete, against Redis's rules and
//!   the [`Limits`], before any payload is waited for; so `*1\r\n$2000000000\r\n` fails at once
//!   instead of buffering 2 GB. Once the whole request has passed, `redis-protocol` decodes it
//!   into frames, and the arguments are reference-counted slices of the buffer (no copies).
//!   A count of zero or less (`*0`, `*-1`) is an empty request, which the caller skips.
//! * **Inline** (anything else): one line, `\r` optional before `\n`, split into words like
//!   Redis's `sdssplitargs` (see [`inline`](crate::inline)). An empty line is an empty request.
//!
//! [`RequestDecoder`] is the same decoder with one piece of memory, how far it has validated a
//! request still arriving, so that a request of a million arguments is not re-scanned on every
//! read; [`decode_request`] is the stateless form.
//!
//! Invariants: `Ok(None)` never consumes; `Ok(Some(_))` consumes exactly one request; the
//! outcome does not depend on how the bytes were split across reads. `Err` leaves the buffer
//! untouched; the caller replies with [`ProtocolError::to_reply`] and closes the connection,
//! since the stream is no longer known to be in step with request boundaries.
//!
//! Where Redis is lax, this decoder is strict and says so: a bulk payload must be followed by
//! `\r\n` ([`ProtocolError::UnterminatedBulk`]; Redis skips two bytes unchecked), a header's
//! `\r` must be followed by `\n`, and a header or inline line longer than
//! [`Limits::max_inline_bytes`] is refused even when its line end already arrived (Redis only
//! refuses while the line end is missing, so its verdict depends on read sizes).

use bytes::{Buf, Bytes, BytesMut};
use redis_protocol::resp2::decode::decode_range;
use redis_protocol::resp2::types::RangeFrame;

use crate::number::parse_i64;
use crate::{inline, Limits, ProtocolError};

/// Takes one complete request off the front of `buf`.
///
/// Returns `Ok(Some(args))` and consumes the request's bytes; `Ok(None)` if more bytes are needed
/// (`buf` untouched); `Err` on malformed input (`buf` untouched; close the connection). An empty
/// request (empty inline line, `*0`, `*-1`) yields `Ok(Some(vec![]))`, which the caller skips.
/// The arguments are zero-copy slices of the buffer, except inline arguments that contain quote
/// escapes.
///
/// This is [`RequestDecoder::decode`] without memory between calls: a request with many
/// arguments arriving over many reads is re-scanned from its start on each call. A connection
/// should prefer one `RequestDecoder`, which gives the same results.
pub fn decode_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestDecoder::new().decode(buf, limits)
}

/// [`decode_request`] with memory: remembers how far it has validated a multibulk request that
/// has not fully arrived, so every header is scanned once however many reads the request takes.
///
/// Without it, a request of 1,048,576 small arguments arriving in 64 KiB reads is re-scanned
/// over a hundred times. Use one decoder per connection buffer. Between calls the caller may
/// append to the buffer but must not remove or change bytes; if it does (or switches buffers),
/// it calls [`RequestDecoder::reset`] first. Results are identical to [`decode_request`]'s.
#[derive(Clone, Debug, Default)]
pub struct RequestDecoder {
    /// Validation progress through the incomplete multibulk request at the front of the buffer.
    progress: Option<Progress>,
}

impl RequestDecoder {
    /// A decoder with no request in progress.
    pub fn new() -> RequestDecoder {
        RequestDecoder::default()
    }

    /// Forgets any request in progress; the next call scans the buffer from its start.
    pub fn reset(&mut self) {
        self.progress = None;
    }

    /// Takes one complete request off the front of `buf`; see [`decode_request`].
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        // Progress is only ever kept for a '*' request still at the front of the buffer; the
        // check catches a caller that consumed or cleared the buffer behind the decoder's back.
        let resume = self.progress.take().filter(|p| p.pos <= buf.len());
        match buf.first() {
            None => Ok(None),
            Some(b'*') => match scan_multibulk(buf, limits, resume)? {
                Scan::Incomplete(progress) => {
                    self.progress = progress;
                    Ok(None)
                }
                Scan::Complete(size) => Ok(Some(split_multibulk(buf, size))),
            },
            Some(_) => inline::decode_inline(buf, limits),
        }
    }
}

/// Takes the validated multibulk request of `size` off the front of `buf`, decoded by
/// redis-protocol into zero-copy slices.
fn split_multibulk(buf: &mut BytesMut, size: MultibulkSize) -> Vec<Bytes> {
    let MultibulkSize { bytes, count } = size;
    if count == 0 {
        buf.advance(bytes);
        return Vec::new();
    }
    // The scan has validated every header and terminator, so redis-protocol must agree on the
    // frame; if it does not, one of the two parsers has a bug, and we stop loudly.
    let frames = match decode_range(&buf[..bytes]) {
        Ok(Some((RangeFrame::Array(frames), used))) if used == bytes && frames.len() == count => {
            frames
        }
        other => panic!("redis-protocol disagrees with the validated request: {other:?}"),
    };
    let request = buf.split_to(bytes).freeze();
    frames
        .into_iter()
        .map(|frame| match frame {
            RangeFrame::BulkString((start, end)) => request.slice(start..end),
            other => panic!("redis-protocol decoded a validated argument as {other:?}"),
        })
        .collect()
}

/// The extent of a complete, validated multibulk request.
struct MultibulkSize {
    /// Bytes the request occupies at the front of the buffer.
    bytes: usize,
    /// Number of arguments; 0 for `*0` and negative counts.
    count: usize,
}

/// How far validation of an incomplete multibulk request got.
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// The declared argument count, already checked against the limits.
    count: usize,
    /// Arguments validated so far.
    done: usize,
    /// Offset of the next argument's header.
    pos: usize,
}

/// What a scan of the front of the buffer found.
enum Scan {
    /// A complete, valid request.
    Complete(MultibulkSize),
    /// Not all of it has arrived; the progress, once the count line is known.
    Incomplete(Option<Progress>),
}

/// Validates the multibulk request at the front of `buf` header by header, as Redis's
/// `processMultibulkBuffer` does, without decoding it, starting from `resume` if given.
fn scan_multibulk(
    buf: &[u8],
    limits: &Limits,
    resume: Option<Progress>,
) -> Result<Scan, ProtocolError> {
    let max_line = limits.max_inline_bytes;
    let mut progress = match resume {
        Some(progress) => progress,
        None => {
            let too_big = ProtocolError::TooBigMultibulkCount;
            let Some(line) = header_line(buf, 0, max_line, too_big)? else {
                return Ok(Scan::Incomplete(None));
            };
            let declared = line
                .value(buf)
                .and_then(parse_i64)
                .ok_or(ProtocolError::InvalidMultibulkLength)?;
            let Ok(count) = usize::try_from(declared) else {
                // Negative: an empty request, as in Redis.
                return Ok(Scan::Complete(MultibulkSize {
                    bytes: line.next,
                    count: 0,
                }));
            };
            if count > limits.max_args {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            Progress {
                count,
                done: 0,
                pos: line.next,
            }
        }
    };

    while progress.done < progress.count {
        let pos = progress.pos;
        let Some(line) = header_line(buf, pos, max_line, ProtocolError::TooBigBulkCount)? else {
            return Ok(Scan::Incomplete(Some(progress)));
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedBulk(buf[pos]));
        }
        let len = line
            .value(buf)
            .and_then(parse_i64)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|&len| len <= limits.max_bulk_bytes)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let end = line
            .next
            .checked_add(len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let Some(terminator) = buf.get(end..end + 2) else {
            return Ok(Scan::Incomplete(Some(progress)));
        };
        if terminator != b"\r\n" {
            return Err(ProtocolError::UnterminatedBulk);
        }
        progress.pos = end + 2;
        progress.done += 1;
    }
    Ok(Scan::Complete(MultibulkSize {
        bytes: progress.pos,
        count: progress.count,
    }))
}

/// A complete header line (`*N\r\n` or `$N\r\n`) inside the buffer.
struct HeaderLine {
    /// Index of the type byte (`*` or `$`, or whatever byte is there instead).
    start: usize,
    /// Index of the `\r`.
    cr: usize,
    /// Index just past the `\r` and the byte after it.
    next: usize,
    /// Whether the `\r` is followed by `\n`.
    well_terminated: bool,
}

impl HeaderLine {
    /// The number text between the type byte and `\r`, `None` if the line end is malformed.
    fn value<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        self.well_terminated.then(|| &buf[self.start + 1..self.cr])
    }
}

/// Finds the header line starting at `start`: `Ok(None)` while it is incomplete (its `\r\n` has
/// not fully arrived), `Err(too_big)` once it is known to be longer than `max_line` bytes.
fn header_line(
    buf: &[u8],
    start: usize,
    max_line: usize,
    too_big: ProtocolError,
) -> Result<Option<HeaderLine>, ProtocolError> {
    let window_end = buf
        .len()
        .min(start.saturating_add(max_line).saturating_add(1));
    let Some(offset) = buf[start..window_end].iter().position(|&b| b == b'\r') else {
        return if buf.len() - start > max_line {
            Err(too_big)
        } else {
            Ok(None)
        };
    };
    let cr = start + offset;
    let Some(&after) = buf.get(cr + 1) else {
        return Ok(None);
    };
    Ok(Some(HeaderLine {
        start,
        cr,
        next: cr + 2,
        well_terminated: after == b'\n',
    }))
}
