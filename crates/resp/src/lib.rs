//! RESP framing for raftkv: requests in, replies out, nothing else.
//!
//! raftkv speaks the Redis protocol so that every Redis client and tool works unchanged. This
//! crate is the whole of that protocol and nothing around it: no sockets, no runtime, no
//! commands. A connection task feeds it bytes and gets requests back; a command returns a
//! [`Reply`] and this crate turns it into bytes for the protocol version the connection chose.
//!
//! * [`decode_request`] takes one request off the front of a read buffer: multibulk
//!   (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or inline (`GET k\r\n`), pipelined or split across reads.
//!   The arguments are zero-copy slices of the buffer. Declared sizes are checked against
//!   [`Limits`] as soon as their header arrives, so a client cannot make the server buffer more
//!   than the limits allow. Malformed input gives a [`ProtocolError`] with Redis's exact text.
//!   [`RequestDecoder`] does the same for one connection while remembering its progress
//!   through a request that arrives over many reads.
//! * [`encode`] appends a [`Reply`] as RESP2 or RESP3 ([`Protocol`]).
//! * [`Args`] walks a request's arguments for command parsers, and [`parse_i64`],
//!   [`parse_u64`], [`parse_f64`] and [`format_double`] give numbers Redis's exact rules.
//!
//! Framing itself is `redis-protocol`'s: it decodes every multibulk request (after the
//! validation above) and encodes every scalar reply. Behaviour follows Redis (`networking.c`,
//! `sds.c`, `util.c`) wherever clients could notice; every place this crate is stricter than
//! Redis is documented where it happens.
//!
//! The crate is pure and deterministic, which is what makes it testable by data-driven scripts
//! (`tests/scripts/`) and property tests that feed it random and randomly split input.

mod args;
mod encode;
mod error;
mod inline;
mod limits;
mod number;
mod protocol;
mod reply;
mod request;

pub use args::Args;
pub use encode::encode;
pub use error::ProtocolError;
pub use limits::{Limits, MAX_ARGS, MAX_BULK_BYTES, MAX_INLINE_BYTES};
pub use number::{format_double, format_score, parse_f64, parse_i64, parse_u64};
pub use protocol::Protocol;
pub use reply::Reply;
pub use request::{decode_request, RequestDecoder};
