//! Protocol errors: input that is not a well-formed request.
//!
//! A protocol error means the byte stream can no longer be trusted to be in step with request
//! boundaries, so the server answers with [`ProtocolError::to_reply`] and closes the connection
//! (Redis does the same). This is different from a command error (`ERR wrong number of
//! arguments`, `WRONGTYPE`), which never closes the connection and is not this crate's business.
//!
//! The [`Display`](std::fmt::Display) texts are Redis's own (from `networking.c`) without the
//! `ERR ` prefix, so clients that match on error text behave as they do against Redis.

use crate::Reply;

/// Why a request could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The `*N` count is not a canonical integer, or exceeds [`Limits::max_args`](crate::Limits).
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// The `$N` length is not a canonical integer, is negative, or exceeds
    /// [`Limits::max_bulk_bytes`](crate::Limits).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument of a multibulk request does not start with `$`; holds the byte found.
    #[error("Protocol error: expected '$', got '{}'", printable(*.0))]
    ExpectedBulk(u8),
    /// A bulk argument's payload is not followed by `\r\n`.
    ///
    /// Redis skips the two bytes unchecked; raftkv refuses, because a client whose lengths are
    /// wrong would otherwise have the rest of its payload run as commands.
    #[error("Protocol error: bulk argument not terminated by CRLF")]
    UnterminatedBulk,
    /// An inline request has an unclosed quote, or a closing quote followed by a non-space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An inline request line is longer than [`Limits::max_inline_bytes`](crate::Limits).
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// A `*N` header line is longer than [`Limits::max_inline_bytes`](crate::Limits).
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$N` header line is longer than [`Limits::max_inline_bytes`](crate::Limits).
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
}

impl ProtocolError {
    /// The reply to send before closing the connection: `ERR ` followed by the message, e.g.
    /// `-ERR Protocol error: invalid bulk length`.
    pub fn to_reply(&self) -> Reply {
        Reply::Error(format!("ERR {self}"))
    }
}

/// How Redis shows the unexpected byte: as itself, except that `\r` and `\n` become spaces
/// (Redis scrubs line breaks from error replies). Bytes above 0x7f show as their Latin-1
/// character, since the reply text is a Rust `String`.
fn printable(byte: u8) -> char {
    match byte {
        b'\r' | b'\n' => ' ',
        b => char::from(b),
    }
}
