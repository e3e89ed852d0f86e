//! Length-prefixed postcard frames on a byte stream.
//!
//! A frame is a little-endian `u32` body length followed by the postcard encoding of the body.
//! Frames larger than [`MAX_FRAME_BYTES`] are refused on both ends, so a corrupt or hostile
//! length can never make a node allocate unbounded memory. Postcard is not self-describing, so
//! both ends must run the same message definitions; [`PROTOCOL_VERSION`] is exchanged first.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame body accepted, in bytes: room for a full AppendEntries request (the most
/// entries per request times the largest entry) plus encoding overhead. Snapshot chunks and
/// forwarded batches are far smaller.
pub const MAX_FRAME_BYTES: usize =
    crate::raft::MAX_APPEND_ENTRIES as usize * crate::raft::MAX_ENTRY_BYTES + 16 * 1024 * 1024;
/// Bumped whenever a peer message changes shape.
pub const PROTOCOL_VERSION: u32 = 1;
/// First bytes a dialing peer sends: magic plus protocol version.
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

/// Send the connection preamble.
pub async fn write_hello<W: AsyncWrite + Unpin>(w: &mut W) -> io::Result<()> {
    let mut hello = [0u8; 8];
    hello[..4].copy_from_slice(HELLO_MAGIC);
    hello[4..].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    w.write_all(&hello).await
}

/// Read and check the connection preamble.
pub async fn read_hello<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<()> {
    let mut hello = [0u8; 8];
    r.read_exact(&mut hello).await?;
    if &hello[..4] != HELLO_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a raftkv peer connection",
        ));
    }
    let version = u32::from_le_bytes(hello[4..].try_into().expect("4 bytes"));
    if version != PROTOCOL_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer protocol version {version}, this node speaks {PROTOCOL_VERSION}"),
        ));
    }
    Ok(())
}
