//! How openraft's log types are stored in the `raft-log` WAL.
//!
//! `raft-log` is generic over a [`raft_log::Types`] with its own `codeq` codec. Each stored type
//! here is a thin wrapper around the openraft type, encoded as a little-endian `u32` length
//! followed by its postcard encoding; an entry's payload is held in that encoding
//! ([`WalPayload`]), as raft-log caches it. `raft-log` frames and checksums every record (CRC32),
//! so a torn or corrupt record is detected by the WAL, not here; a record that passes the
//! checksum but does not decode is reported as `InvalidData`.
//!
//! Every length prefix is bounded per type before anything is read, and a value is read without
//! allocating its claimed length up front: a damaged length field fails fast (`InvalidData` when
//! over the bound, `UnexpectedEof` when the data ends first) instead of allocating up to the bound.
//! The WAL check in `log_store` relies on that when it probes every byte offset of a damaged
//! chunk for an intact record.

use std::io::{self, Read, Write};

use bytes::Bytes;
use openraft::EntryPayload;
use raft_log::codeq::{Decode, Encode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::{LogId, TypeConfig, Vote};

/// The most bytes one WAL value may take (a log entry is far smaller; see kv's limits).
const MAX_WAL_VALUE_BYTES: u32 = 256 * 1024 * 1024;
/// The most bytes an encoded log id or vote may take (a few varints: far fewer in practice).
const MAX_WAL_ID_BYTES: u32 = 1024;
/// The most bytes the WAL's (unused) user data slot may take.
const MAX_WAL_USER_DATA_BYTES: u32 = 64 * 1024;
/// What raft-log's payload cache holds per entry beyond the encoding: the log id and the
/// `Bytes` handle in its B-tree map, and the allocation's own header.
const CACHED_ENTRY_OVERHEAD_BYTES: usize = 64;
/// Initial buffer for reading a value; larger values grow it as their bytes actually arrive.
const READ_CHUNK_BYTES: usize = 64 * 1024;

fn encode_postcard<T: Serialize, W: Write>(value: &T, mut w: W) -> io::Result<usize> {
    let bytes = postcard::to_allocvec(value).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&bytes)?;
    Ok(4 + bytes.len())
}

fn decode_postcard<T: DeserializeOwned, R: Read>(r: R, max_len: u32) -> io::Result<T> {
    let buf = read_value(r, max_len)?;
    postcard::from_bytes(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// One length-prefixed value's bytes, at most `max_len` of them.
fn read_value<R: Read>(mut r: R, max_len: u32) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    if len > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WAL value length {len} exceeds {max_len}"),
        ));
    }
    let mut buf = Vec::with_capacity((len as usize).min(READ_CHUNK_BYTES));
    r.take(u64::from(len)).read_to_end(&mut buf)?;
    if buf.len() != len as usize {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("WAL value of {len} bytes ends after {} bytes", buf.len()),
        ));
    }
    Ok(buf)
}

macro_rules! postcard_codec {
    ($name:ident, $max_len:expr) => {
        impl Encode for $name {
            fn encode<W: Write>(&self, w: W) -> io::Result<usize> {
                encode_postcard(&self.0, w)
            }
        }
        impl Decode for $name {
            fn decode<R: Read>(r: R) -> io::Result<Self> {
                decode_postcard(r, $max_len).map($name)
            }
        }
    };
}

/// A log id as stored in the WAL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalLogId(pub LogId);
postcard_codec!(WalLogId, MAX_WAL_ID_BYTES);

/// An entry payload as stored in the WAL: its postcard encoding, kept encoded.
///
/// raft-log keeps every payload of the open chunk, and more up to its cache budget, in memory.
/// Kept encoded, a cached SET costs about its own bytes; kept decoded it cost about 1.5x what
/// `payload_size` counted (its `Command`, the entry's `Arc`, and the read buffer or decoded
/// copies its arguments point into): 49 bytes per key of a 1M-key load on every node. The log
/// store keeps the newest entries decoded beside it, so replication and apply do not decode
/// (see `log_store`'s `RecentEntries`).
///
/// The bytes are exactly what a decoded payload wrote before: a record is a little-endian `u32`
/// length and the payload's postcard encoding, so WAL files of either form read the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalPayload(Bytes);

impl WalPayload {
    /// `payload`, encoded.
    pub fn encode_from(
        payload: &openraft::alias::EntryPayloadOf<TypeConfig>,
    ) -> io::Result<WalPayload> {
        let estimate = match payload {
            EntryPayload::Normal(c) => 16 + c.approx_bytes(),
            _ => 256,
        };
        let mut bytes =
            postcard::to_io(payload, Vec::with_capacity(estimate)).map_err(io::Error::other)?;
        // raft-log may keep it a while: no spare capacity (shrinking in place copies nothing).
        bytes.shrink_to_fit();
        if bytes.len() > MAX_WAL_VALUE_BYTES as usize {
            return Err(io::Error::other(format!(
                "a log entry of {} bytes exceeds {MAX_WAL_VALUE_BYTES}",
                bytes.len()
            )));
        }
        Ok(WalPayload(bytes.into()))
    }

    /// The payload, decoded.
    pub fn decode_payload(&self) -> io::Result<openraft::alias::EntryPayloadOf<TypeConfig>> {
        postcard::from_bytes(&self.0).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Bytes of the encoding.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty encoding (never a valid payload).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Encode for WalPayload {
    fn encode<W: Write>(&self, mut w: W) -> io::Result<usize> {
        let len = u32::try_from(self.0.len()).map_err(io::Error::other)?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&self.0)?;
        Ok(4 + self.0.len())
    }
}

impl Decode for WalPayload {
    /// Reads the bytes and decodes them once, so a record that passes the checksum but does not
    /// decode fails the read (and the WAL check at open) here, as a decoded payload's did.
    fn decode<R: Read>(r: R) -> io::Result<Self> {
        let mut bytes = read_value(r, MAX_WAL_VALUE_BYTES)?;
        bytes.shrink_to_fit();
        let payload = WalPayload(bytes.into());
        payload.decode_payload()?;
        Ok(payload)
    }
}

/// A vote as stored in the WAL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd)]
pub struct WalVote(pub Vote);
postcard_codec!(WalVote, MAX_WAL_ID_BYTES);

/// Unused user data slot of the WAL (kept so the format can grow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalUserData(pub Vec<u8>);
postcard_codec!(WalUserData, MAX_WAL_USER_DATA_BYTES);

/// What to do when a batch of WAL records is durable.
pub struct WalCallback {
    /// Who is told.
    pub notify: Notify,
    /// If the flush fsyncs: the mark to advance, and the global WAL offset it covers.
    pub durable: Option<(super::power_loss::DurableMark, u64)>,
    /// When the records were queued (for the fsync latency metric).
    pub queued: std::time::Instant,
    /// Where a failed flush is recorded, and the WAL directory it names.
    pub fault: (
        super::storage_fault::FaultSlot,
        std::sync::Arc<std::path::PathBuf>,
    ),
}

/// Who a [`WalCallback`] tells.
pub enum Notify {
    /// openraft, that appended entries are flushed.
    Append(openraft::storage::IOFlushed<TypeConfig>),
    /// A caller that waits for durability (votes, truncation).
    Wait(std::sync::mpsc::SyncSender<io::Result<()>>),
}

impl raft_log::Callback for WalCallback {
    fn send(self, res: io::Result<()>) {
        if let (Ok(()), Some((mark, end))) = (&res, &self.durable) {
            if !mark.synced_to(*end) {
                // A simulated power cut was taken and may not keep this flush: never
                // acknowledge it. The process is exiting; whoever waits on it waits until then.
                std::mem::forget(self.notify);
                return;
            }
        }
        if let Err(e) = &res {
            let (slot, dir) = &self.fault;
            slot.record(dir, "write or fsync the Raft log", e);
        }
        match self.notify {
            Notify::Append(flushed) => {
                crate::metrics::record_fsync(self.queued.elapsed());
                flushed.io_completed(res)
            }
            Notify::Wait(tx) => {
                // The waiter may have given up; nothing to do then.
                let _ = std::sync::mpsc::SyncSender::send(&tx, res);
            }
        }
    }
}

/// The `raft-log` type binding for raftkv.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalTypes;

impl raft_log::Types for WalTypes {
    type LogId = WalLogId;
    type LogPayload = WalPayload;
    type Vote = WalVote;
    type Callback = WalCallback;
    type UserData = WalUserData;

    fn log_index(log_id: &WalLogId) -> u64 {
        log_id.0.index()
    }

    fn payload_size(payload: &WalPayload) -> u64 {
        (CACHED_ENTRY_OVERHEAD_BYTES + payload.len()) as u64
    }
}

impl std::fmt::Debug for WalCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.notify {
            Notify::Append(_) => "append",
            Notify::Wait(_) => "wait",
        };
        write!(
            f,
            "WalCallback({kind}, durable: {:?})",
            self.durable.as_ref().map(|d| d.1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::LogCommand;

    #[test]
    fn a_payload_is_stored_as_its_length_and_postcard_encoding() {
        let set = kv::Command::parse(&[
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"k"),
            Bytes::from_static(b"v"),
        ])
        .unwrap();
        let payload = EntryPayload::Normal(LogCommand {
            now_ms: 7,
            cmds: vec![set].into(),
        });
        let stored = WalPayload::encode_from(&payload).unwrap();
        let mut record = Vec::new();
        assert_eq!(stored.encode(&mut record).unwrap(), record.len());
        // The form a decoded payload was written in, so WAL files of either read the same.
        let postcard = postcard::to_allocvec(&payload).unwrap();
        assert_eq!(record[..4], (postcard.len() as u32).to_le_bytes());
        assert_eq!(record[4..], postcard[..]);

        let read = WalPayload::decode(&record[..]).unwrap();
        assert_eq!(read, stored);
        assert_eq!(read.decode_payload().unwrap(), payload);
    }

    #[test]
    fn a_record_that_does_not_decode_is_invalid_data() {
        let mut record = 3u32.to_le_bytes().to_vec();
        record.extend([0xff, 0xff, 0xff]);
        let err = WalPayload::decode(&record[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let err = WalPayload::decode(&record[..5]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    }
}
