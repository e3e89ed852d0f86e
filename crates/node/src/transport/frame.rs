//! Length-prefixed postcard frames on a byte stream.
//!
//! A frame is a little-endian `u32` body length followed by the postcard encoding of the body.
//! Frames larger than [`MAX_FRAME_BYTES`] are refused on both ends, so a corrupt or hostile
//! length can never make a node allocate unbounded memory. Postcard is not self-describing, so
//! both ends must run the same message definitions; [`PROTOCOL_VERSION`] is exchanged first.
//!
//! The dialer then names itself and the node it means to reach ([`Hello`]), and waits for the
//! listener's [`HelloAnswer`] before sending any request. A node therefore never answers Raft
//! messages meant for another node: when a removed node's address is reused by a new node, the
//! leader's messages for the old id are refused at connect instead of being answered from the
//! new node's empty log (which openraft would take for a follower whose log went backwards, and
//! panic).
//!
//! The hello also authenticates both sides with the cluster secret ([`super::auth`]):
//!
//! ```text
//! dialer   -> "RKVP" version:u32 from:u64 to:u64 dialer_nonce:[16]        (40 bytes)
//! listener -> answer:u8 listener_id:u64 listener_nonce:[16] proof:[32]    (57 bytes)
//! dialer   -> proof:[32]                      (only after Accepted and a valid listener proof)
//! listener -> verdict:u8 (0 = authenticated; anything else: closed)
//! ```

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ids::NodeId;

/// Largest frame body accepted, in bytes: room for a full AppendEntries request (the most
/// entries per request times the largest entry) plus encoding overhead. Snapshot chunks and
/// forwarded batches are far smaller.
pub const MAX_FRAME_BYTES: usize =
    crate::limits::MAX_APPEND_ENTRIES as usize * crate::limits::MAX_ENTRY_BYTES + 16 * 1024 * 1024;
/// Bytes in a hello nonce.
pub const NONCE_BYTES: usize = 16;
/// Bytes in a proof of the cluster secret (an HMAC-SHA256, see [`super::auth`]).
pub const PROOF_BYTES: usize = 32;
/// A nonce: fresh random bytes for one connection.
pub type Nonce = [u8; NONCE_BYTES];
/// A proof of the cluster secret for one connection and one side.
pub type Proof = [u8; PROOF_BYTES];

/// Bumped whenever a peer message changes shape.
pub const PROTOCOL_VERSION: u32 = 3;
/// First bytes a dialing peer sends, followed by the protocol version and a [`Hello`].
pub const HELLO_MAGIC: &[u8; 4] = b"RKVP";

/// Encode `value` as one frame into `out`.
pub fn encode<T: Serialize>(value: &T, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let out2 = std::mem::take(out);
    let mut buf = postcard::to_extend(value, out2).map_err(io::Error::other)?;
    let len = buf.len() - start - 4;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
        ));
    }
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    *out = buf;
    Ok(())
}

/// Read one frame and decode it. `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
        ));
    }
    buf.resize(len, 0);
    r.read_exact(buf).await?;
    postcard::from_bytes(buf)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// What a dialing peer says first: who it is, which node it means to reach, and its
/// challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The dialing node's id.
    pub from: NodeId,
    /// The node the dialer believes listens at this address.
    pub to: NodeId,
    /// The dialer's fresh nonce, which the listener's proof must cover.
    pub nonce: Nonce,
}

/// The listener's whole reply to a [`Hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloReply {
    /// Whether it accepts.
    pub answer: HelloAnswer,
    /// The listener's fresh nonce, which the dialer's proof must cover.
    pub nonce: Nonce,
    /// The listener's proof of the cluster secret.
    pub proof: Proof,
}

/// The listener's answer to a [`Hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloAnswer {
    /// The listener is `hello.to`; requests may follow.
    Accepted,
    /// The listener is another node (the address now belongs to someone else).
    WrongNode(NodeId),
    /// Links between the two nodes are cut by test-only fault injection.
    Cut,
}

const ANSWER_ACCEPTED: u8 = 0;
const ANSWER_WRONG_NODE: u8 = 1;
const ANSWER_CUT: u8 = 2;
const HELLO_BYTES: usize = 24 + NONCE_BYTES;
const ANSWER_BYTES: usize = 9 + NONCE_BYTES + PROOF_BYTES;
const VERDICT_AUTHENTICATED: u8 = 0;
const VERDICT_REFUSED: u8 = 1;

/// Send the connection preamble: magic, protocol version, then `hello`.
pub async fn write_hello<W: AsyncWrite + Unpin>(w: &mut W, hello: Hello) -> io::Result<()> {
    let mut buf = [0u8; HELLO_BYTES];
    buf[..4].copy_from_slice(HELLO_MAGIC);
    buf[4..8].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    buf[8..16].copy_from_slice(&hello.from.to_le_bytes());
    buf[16..24].copy_from_slice(&hello.to.to_le_bytes());
    buf[24..].copy_from_slice(&hello.nonce);
    w.write_all(&buf).await
}

/// Read and check the connection preamble.
pub async fn read_hello<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Hello> {
    let mut buf = [0u8; HELLO_BYTES];
    r.read_exact(&mut buf[..8]).await?;
    if &buf[..4] != HELLO_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a raftkv peer connection",
        ));
    }
    let version = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    if version != PROTOCOL_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer protocol version {version}, this node speaks {PROTOCOL_VERSION}"),
        ));
    }
    r.read_exact(&mut buf[8..]).await?;
    Ok(Hello {
        from: u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes")),
        to: u64::from_le_bytes(buf[16..24].try_into().expect("8 bytes")),
        nonce: buf[24..].try_into().expect("a nonce"),
    })
}

/// Send the listener's reply to a hello; `me` is the listener's id.
pub async fn write_hello_answer<W: AsyncWrite + Unpin>(
    w: &mut W,
    me: NodeId,
    reply: &HelloReply,
) -> io::Result<()> {
    let code = match reply.answer {
        HelloAnswer::Accepted => ANSWER_ACCEPTED,
        HelloAnswer::WrongNode(_) => ANSWER_WRONG_NODE,
        HelloAnswer::Cut => ANSWER_CUT,
    };
    let mut buf = [0u8; ANSWER_BYTES];
    buf[0] = code;
    buf[1..9].copy_from_slice(&me.to_le_bytes());
    buf[9..9 + NONCE_BYTES].copy_from_slice(&reply.nonce);
    buf[9 + NONCE_BYTES..].copy_from_slice(&reply.proof);
    w.write_all(&buf).await
}

/// Read the listener's reply to our hello.
pub async fn read_hello_answer<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<HelloReply> {
    let mut buf = [0u8; ANSWER_BYTES];
    r.read_exact(&mut buf).await?;
    let id = u64::from_le_bytes(buf[1..9].try_into().expect("8 bytes"));
    let answer = match buf[0] {
        ANSWER_ACCEPTED => HelloAnswer::Accepted,
        ANSWER_WRONG_NODE => HelloAnswer::WrongNode(id),
        ANSWER_CUT => HelloAnswer::Cut,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown hello answer {other}"),
            ))
        }
    };
    Ok(HelloReply {
        answer,
        nonce: buf[9..9 + NONCE_BYTES].try_into().expect("a nonce"),
        proof: buf[9 + NONCE_BYTES..].try_into().expect("a proof"),
    })
}

/// Send the dialer's proof of the cluster secret.
pub async fn write_proof<W: AsyncWrite + Unpin>(w: &mut W, proof: &Proof) -> io::Result<()> {
    w.write_all(proof).await
}

/// Read the dialer's proof of the cluster secret.
pub async fn read_proof<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Proof> {
    let mut proof = [0u8; PROOF_BYTES];
    r.read_exact(&mut proof).await?;
    Ok(proof)
}

/// Send the listener's verdict on the dialer's proof.
pub async fn write_verdict<W: AsyncWrite + Unpin>(
    w: &mut W,
    authenticated: bool,
) -> io::Result<()> {
    let code = if authenticated {
        VERDICT_AUTHENTICATED
    } else {
        VERDICT_REFUSED
    };
    w.write_all(&[code]).await
}

/// Read the listener's verdict: true if it accepted the dialer's proof.
pub async fn read_verdict<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<bool> {
    let mut code = [0u8; 1];
    r.read_exact(&mut code).await?;
    Ok(code[0] == VERDICT_AUTHENTICATED)
}
