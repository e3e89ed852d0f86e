//! Protocol-neutral replies.
//!
//! A [`Reply`] is what a command answers, independent of the protocol version the connection
//! speaks. The encoder turns it into RESP2 or RESP3 bytes: maps become flat arrays in RESP2, nulls
//! become `$-1` / `*-1` in RESP2 and `_` in RESP3, doubles become bulk strings in RESP2.
//!
//! Replies cross the network (a follower relays the leader's reply) and sit inside Raft
//! responses, so they are serde types.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One reply to one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// A simple string, e.g. `+OK`. Must not contain `\r` or `\n`. Borrowed when it is a
    /// constant: `+OK` answers every SET on every replica, and an owned copy of it was an
    /// allocation per write on each node.
    Simple(Cow<'static, str>),
    /// An error: the full text including its prefix, e.g. `ERR syntax error` or
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    /// Must not contain `\r` or `\n`.
    Error(String),
    /// An integer.
    Integer(i64),
    /// A bulk (binary-safe) string.
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Null,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NullArray,
    /// An array of replies.
    Array(Vec<Reply>),
    /// A map (RESP3 `%`); a flat array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set (RESP3 `~`); an array in RESP2.
    Set(Vec<Reply>),
    /// A double (RESP3 `,`); a bulk string in RESP2.
    Double(f64),
    /// A boolean (RESP3 `#`); the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// A verbatim string (RESP3 `=` with format `txt`); a bulk string in RESP2.
    Verbatim(String),
    /// A sorted-set score, as Redis 7.0 replies with it: a bulk string in `%.17g` form
    /// ([`crate::format_score`]) in RESP2, a double in RESP3.
    Score(f64),
    /// Members with their scores (`WITHSCORES`): a flat array of alternating members and scores
    /// in RESP2, an array of two-element arrays in RESP3, as Redis 7 answers.
    Pairs(Vec<(Reply, Reply)>),
    /// Values by key (XREAD, XREADGROUP): an array of `[key, value]` arrays in RESP2, a map in
    /// RESP3, as Redis 7 answers.
    Keyed(Vec<(Reply, Reply)>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple(Cow::Borrowed("OK"))
    }

    /// An error reply from its full text (prefix included).
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    /// A bulk string reply from anything byte-like.
    pub fn bulk(bytes: impl Into<Bytes>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    /// True if this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_borrows_its_text_and_round_trips_owned() {
        // Every SET answers it on every replica: building it must not allocate.
        assert!(matches!(Reply::ok(), Reply::Simple(Cow::Borrowed("OK"))));
        // Relayed between nodes, it comes back owned and equal.
        let bytes = postcard::to_allocvec(&Reply::ok()).unwrap();
        let back: Reply = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, Reply::ok());
    }
}
