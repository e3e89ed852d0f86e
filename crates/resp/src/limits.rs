//! Limits on what a client may send.
//!
//! Every size a client declares in a request header is checked against a [`Limits`] value the
//! moment the header line has arrived, before any of the payload is buffered. A client that
//! announces `*1\r\n$2000000000\r\n` is refused right there, so the only memory a hostile or
//! broken client can make us hold is one header line (at most [`MAX_INLINE_BYTES`]) plus
//! payloads that fit the limits. Exceeding a limit is a [`ProtocolError`](crate::ProtocolError):
//! the server sends the error and closes the connection, as Redis does.

/// Largest bulk argument a client may send, in bytes: 64 MiB.
///
/// Redis allows 512 MiB (`proto-max-bulk-len`); raftkv replicates every write through the Raft
/// log, where a single huge entry stalls replication for everyone, so it is stricter. A larger
/// declared length is answered with `Protocol error: invalid bulk length`.
pub const MAX_BULK_BYTES: usize = 64 * 1024 * 1024;

/// Largest number of arguments in one multibulk request: 1024 × 1024 (Redis's limit before 7.0).
///
/// A larger declared count is answered with `Protocol error: invalid multibulk length`.
pub const MAX_ARGS: usize = 1024 * 1024;

/// Longest inline request line, and longest `*`/`$` header line, in bytes: 64 KiB (Redis's
/// `PROTO_INLINE_MAX_SIZE`).
///
/// A longer line is answered with `Protocol error: too big inline request` (or `too big mbulk
/// count string` / `too big bulk count string` for header lines).
pub const MAX_INLINE_BYTES: usize = 64 * 1024;

/// The limits [`decode_request`](crate::decode_request) enforces on incoming requests.
///
/// [`Limits::default`] gives [`MAX_BULK_BYTES`], [`MAX_ARGS`] and [`MAX_INLINE_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest declared length of one bulk argument, in bytes.
    pub max_bulk_bytes: usize,
    /// Largest declared argument count of one multibulk request.
    pub max_args: usize,
    /// Longest inline request line or request header line, in bytes (line terminator excluded).
    pub max_inline_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_bytes: MAX_BULK_BYTES,
            max_args: MAX_ARGS,
            max_inline_bytes: MAX_INLINE_BYTES,
        }
    }
}
