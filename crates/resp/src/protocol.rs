//! The protocol version a connection speaks.
//!
//! Every connection starts in RESP2; `HELLO 3` switches it to RESP3 and `HELLO 2` back. The
//! version only changes how replies are encoded (see [`encode`](crate::encode)); requests look
//! the same in both.

/// The RESP version used to encode replies on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default: no maps, sets, doubles, booleans or a distinct null type.
    #[default]
    Resp2,
    /// RESP3, negotiated with `HELLO 3`: native maps, sets, doubles, booleans and `_` nulls.
    Resp3,
}

impl Protocol {
    /// The protocol for a `HELLO` version number: `Some` for 2 and 3, `None` otherwise.
    pub fn from_version(version: i64) -> Option<Protocol> {
        match version {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => None,
        }
    }

    /// The version number `HELLO` reports for this protocol: 2 or 3.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}
