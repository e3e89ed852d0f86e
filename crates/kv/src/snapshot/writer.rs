//! Writing a snapshot: one chunk in memory at a time.
//!
//! Entries are encoded into a reusable buffer that starts with room for the chunk header; once
//! the payload reaches [`SNAPSHOT_CHUNK_TARGET_BYTES`] the header is filled in, the chunk's
//! CRC-32 computed, and the chunk written out. A [`HashingWriter`] counts and checksums every
//! byte on its way to the sink for the trailer's whole-stream CRC-32.

use super::{
    EntryOut, GroupMeta, Raw, StreamMeta, ValueOut, CHUNK_HEADER_LEN, CHUNK_TAG, FUNCTION_TAG,
    HEADER_LEN, MAGIC, NOTIFY_TAG, SCRIPT_TAG, SNAPSHOT_CHUNK_TARGET_BYTES, TRAILER_TAG, USERS_TAG,
    VERSION,
};
use crate::limits::MAX_SNAPSHOT_CHUNK_BYTES;
use crate::record::Record;
use crate::value::Value;
use crate::Store;
use std::io::{self, Write};

/// A writer that checksums everything written through it.
struct HashingWriter<'a, W: Write> {
    /// The sink.
    inner: &'a mut W,
    /// CRC-32 of everything written so far.
    crc: crc32fast::Hasher,
}

impl<W: Write> HashingWriter<'_, W> {
    /// Writes all of `bytes` and adds them to the checksum.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.inner.write_all(bytes)
    }
}

/// The chunk being filled: header placeholder, then encoded entries.
struct Chunk {
    /// Header placeholder followed by the payload.
    buf: Vec<u8>,
    /// Entries in the payload.
    entries: u32,
}

impl Chunk {
    /// An empty chunk.
    fn new() -> Chunk {
        let mut buf = Vec::with_capacity(CHUNK_HEADER_LEN + 2 * SNAPSHOT_CHUNK_TARGET_BYTES);
        buf.resize(CHUNK_HEADER_LEN, 0);
        Chunk { buf, entries: 0 }
    }

    /// Payload length so far.
    fn payload_len(&self) -> usize {
        self.buf.len() - CHUNK_HEADER_LEN
    }

    /// Appends one encoded entry.
    fn push(&mut self, entry: &EntryOut<'_>) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        self.buf = postcard::to_extend(entry, buf).map_err(io::Error::other)?;
        self.entries += 1;
        Ok(())
    }

    /// Writes the chunk (header, payload, CRC-32) and empties it.
    fn flush<W: Write>(&mut self, out: &mut HashingWriter<'_, W>) -> io::Result<()> {
        self.flush_as(CHUNK_TAG, out)
    }

    /// Writes the chunk with tag `tag` and empties it.
    fn flush_as<W: Write>(&mut self, tag: u8, out: &mut HashingWriter<'_, W>) -> io::Result<()> {
        let payload_len = self.payload_len();
        assert!(self.entries > 0, "snapshot chunk without entries");
        assert!(
            payload_len <= MAX_SNAPSHOT_CHUNK_BYTES,
            "snapshot chunk of {payload_len} bytes exceeds the limit: an entry broke the size limits"
        );
        self.buf[0] = tag;
        self.buf[1..5].copy_from_slice(&self.entries.to_le_bytes());
        self.buf[5..9].copy_from_slice(&(payload_len as u32).to_le_bytes());
        let crc = crc32fast::hash(&self.buf);
        out.put(&self.buf)?;
        out.put(&crc.to_le_bytes())?;
        self.buf.truncate(CHUNK_HEADER_LEN);
        self.entries = 0;
        Ok(())
    }
}

impl Store {
    /// Serializes the whole state: a versioned header, the entries in CRC-32-checked chunks, and
    /// a trailer with counts and a whole-stream CRC-32 (the format is in [`crate::snapshot`]). Streams: only one chunk (about 64 KiB) is held in memory. Write to a buffered
    /// writer; the sink is flushed at the end.
    pub fn write_snapshot<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let mut out = HashingWriter {
            inner: w,
            crc: crc32fast::Hasher::new(),
        };
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&self.clock_ms.to_le_bytes());
        header.extend_from_slice(&self.rand_seq.to_le_bytes());
        let (mod_seq, delete_seq) = self.keyspace.seqs();
        header.extend_from_slice(&mod_seq.to_le_bytes());
        header.extend_from_slice(&delete_seq.to_le_bytes());
        let header_crc = crc32fast::hash(&header);
        header.extend_from_slice(&header_crc.to_le_bytes());
        debug_assert_eq!(header.len(), HEADER_LEN);
        out.put(&header)?;

        let (mut entries, mut chunks) = (0u64, 0u64);
        let mut chunk = Chunk::new();
        let mut stored = 0u64;
        for record in self.keyspace.iter() {
            stored += 1;
            for piece in pieces(record) {
                chunk.push(&piece)?;
                entries += 1;
                if chunk.payload_len() >= SNAPSHOT_CHUNK_TARGET_BYTES {
                    chunk.flush(&mut out)?;
                    chunks += 1;
                }
            }
        }
        if chunk.entries > 0 {
            chunk.flush(&mut out)?;
            chunks += 1;
        }
        assert_eq!(stored, self.keyspace.len() as u64);
        let scripts = self.scripts.values().map(|body| &body[..]);
        write_bodies(&mut out, SCRIPT_TAG, scripts)?;
        let libraries = self.functions.libraries().map(|(_, l)| &l.code[..]);
        write_bodies(&mut out, FUNCTION_TAG, libraries)?;
        let notify = self.notify.flags.bits();
        if notify != 0 {
            let mut chunk = Chunk::new();
            let buf = std::mem::take(&mut chunk.buf);
            chunk.buf = postcard::to_extend(&notify, buf).map_err(io::Error::other)?;
            chunk.entries = 1;
            chunk.flush_as(NOTIFY_TAG, &mut out)?;
        }
        write_users(&mut out, &self.acl)?;

        let mut trailer = Vec::with_capacity(17);
        trailer.push(TRAILER_TAG);
        trailer.extend_from_slice(&entries.to_le_bytes());
        trailer.extend_from_slice(&chunks.to_le_bytes());
        out.put(&trailer)?;
        let total_crc = out.crc.clone().finalize();
        out.put(&total_crc.to_le_bytes())?;
        out.inner.flush()
    }
}

/// Writes byte strings as chunks tagged `tag`: the script cache's bodies in SHA-1 order
/// (script chunks, version 4), the function libraries' code in name order (library chunks,
/// version 5).
fn write_bodies<'a, W: Write>(
    out: &mut HashingWriter<'_, W>,
    tag: u8,
    bodies: impl Iterator<Item = &'a [u8]>,
) -> io::Result<()> {
    let mut chunk = Chunk::new();
    for body in bodies {
        let buf = std::mem::take(&mut chunk.buf);
        chunk.buf = postcard::to_extend(&body, buf).map_err(io::Error::other)?;
        chunk.entries += 1;
        if chunk.payload_len() >= SNAPSHOT_CHUNK_TARGET_BYTES {
            chunk.flush_as(tag, out)?;
        }
    }
    if chunk.entries > 0 {
        chunk.flush_as(tag, out)?;
    }
    Ok(())
}

/// Writes the ACL user table as users chunks (version 7): each user as its name and the rules
/// `ACL LIST` shows, in name order.
fn write_users<W: Write>(out: &mut HashingWriter<'_, W>, acl: &crate::acl::Acl) -> io::Result<()> {
    let mut chunk = Chunk::new();
    for (name, user) in acl.users() {
        let buf = std::mem::take(&mut chunk.buf);
        let record: (&[u8], Vec<String>) = (&name[..], user.rules());
        chunk.buf = postcard::to_extend(&record, buf).map_err(io::Error::other)?;
        chunk.entries += 1;
        if chunk.payload_len() >= SNAPSHOT_CHUNK_TARGET_BYTES {
            chunk.flush_as(USERS_TAG, out)?;
        }
    }
    if chunk.entries > 0 {
        chunk.flush_as(USERS_TAG, out)?;
    }
    Ok(())
}

/// Splits an aggregate's elements into runs of about [`SNAPSHOT_CHUNK_TARGET_BYTES`] each
/// (at least one element per run), measuring an element with `size`.
fn runs<T>(items: impl Iterator<Item = T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    let mut bytes = 0;
    for item in items {
        bytes += size(&item) + 8;
        run.push(item);
        if bytes >= SNAPSHOT_CHUNK_TARGET_BYTES {
            runs.push(std::mem::take(&mut run));
            bytes = 0;
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The entries that encode one stored key: one for a string, one or more pieces for an
/// aggregate (every piece but the last has `more = true`).
fn pieces(record: &Record) -> Vec<EntryOut<'_>> {
    let values: Vec<ValueOut<'_>> = match record.aggregate() {
        None => vec![ValueOut::Str(Raw(record.string().unwrap_or_default()))],
        Some(Value::Str(_)) => unreachable!("a record holds strings inline"),
        Some(Value::Hash(h)) => runs(h.iter(), |(f, v)| f.len() + v.len())
            .into_iter()
            .map(ValueOut::Hash)
            .collect(),
        Some(Value::List(l)) => runs(l.iter(), |item| item.len())
            .into_iter()
            .map(ValueOut::List)
            .collect(),
        Some(Value::Set(s)) => runs(s.iter(), |member| member.len())
            .into_iter()
            .map(ValueOut::Set)
            .collect(),
        Some(Value::ZSet(z)) => runs(z.iter(), |(member, _)| member.len())
            .into_iter()
            .map(ValueOut::ZSet)
            .collect(),
        Some(Value::Stream(s)) => stream_pieces(s),
    };
    let last = values.len().saturating_sub(1);
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| EntryOut {
            key: Raw(record.key()),
            deadline_ms: record.deadline_ms(),
            value,
            more: i < last,
            version: record.version(),
        })
        .collect()
}

/// A stream's pieces: its metadata and groups in the first, its entries spread over all.
fn stream_pieces(s: &crate::stream::Stream) -> Vec<ValueOut<'_>> {
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| GroupMeta {
            name: name.clone(),
            last_delivered: g.last_delivered,
            entries_read: g.entries_read,
            consumers: g
                .consumers
                .iter()
                .map(|(name, c)| (name.clone(), c.seen_ms))
                .collect(),
            pel: g
                .pel
                .iter()
                .map(|(id, p)| (*id, p.consumer.clone(), p.delivery_ms, p.deliveries))
                .collect(),
        })
        .collect();
    let mut meta = Some(StreamMeta {
        last_id: s.last_id,
        entries_added: s.entries_added,
        max_deleted: s.max_deleted,
        groups,
    });
    let mut out: Vec<ValueOut<'_>> = runs(
        s.entries.iter().map(|(id, f)| (*id, f.as_slice())),
        |(_, f)| f.iter().map(|b| b.len() + 8).sum(),
    )
    .into_iter()
    .map(|run| ValueOut::Stream(meta.take(), run))
    .collect();
    if out.is_empty() {
        out.push(ValueOut::Stream(meta.take(), Vec::new()));
    }
    out
}
