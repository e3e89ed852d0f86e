//! The stream value: entries ordered by ID, and the consumer groups that read them.
//!
//! A stream is an append-only log of entries, each a list of field/value pairs under an ID
//! `ms-seq` (two `u64`s, compared as a pair). Everything is kept in persistent collections
//! from [`imbl`], so cloning a stream for a copy-on-write change (or a snapshot) is O(1).
//!
//! # Invariants
//!
//! - Entry IDs are strictly increasing in insertion order and never above `last_id`, the
//!   greatest ID ever added (which deletion never lowers, so IDs are never reused).
//! - `entries_added` counts every entry ever added; `max_deleted` is the greatest ID removed
//!   by XDEL (XTRIM does not change it, as in Redis 7.0).
//! - A stream may be empty (XDEL and XTRIM leave the key, XGROUP CREATE MKSTREAM makes one):
//!   unlike the other aggregates, an empty stream is a value, so its size as an aggregate (`aggregate::Kind::size`) never reports
//!   0 for it and the key is never deleted for being empty.
//! - In a group, every PEL entry names a consumer of the group, and each consumer's `pending`
//!   set holds exactly the PEL IDs that name it.
//! - Times (`delivery_ms`, `seen_ms`) are the log entry's `now`, never a node's clock.

use crate::Error;
use bytes::Bytes;
use imbl::{OrdMap, OrdSet};
use resp::Reply;
use serde::{Deserialize, Serialize};

/// A stream entry ID, `ms-seq`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub(crate) struct StreamId {
    /// Milliseconds part.
    pub(crate) ms: u64,
    /// Sequence part.
    pub(crate) seq: u64,
}

impl StreamId {
    /// The smallest ID, `0-0`.
    pub(crate) const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest ID.
    pub(crate) const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The next ID, or None after [`StreamId::MAX`].
    pub(crate) fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq + 1,
            })
        } else if self.ms < u64::MAX {
            Some(StreamId {
                ms: self.ms + 1,
                seq: 0,
            })
        } else {
            None
        }
    }

    /// The previous ID, or None before [`StreamId::MIN`].
    pub(crate) fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq - 1,
            })
        } else if self.ms > 0 {
            Some(StreamId {
                ms: self.ms - 1,
                seq: u64::MAX,
            })
        } else {
            None
        }
    }

    /// Parses `ms-seq`, or `ms` alone with `missing_seq` as the sequence. Anything else
    /// (signs, spaces, overflow) is `ERR Invalid stream ID ...`.
    pub(crate) fn parse(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
        let text = std::str::from_utf8(arg).map_err(|_| Error::StreamIdInvalid)?;
        let (ms, seq) = match text.split_once('-') {
            Some((ms, seq)) => (ms, Some(seq)),
            None => (text, None),
        };
        let ms = crate::numbers::parse_u64(ms.as_bytes()).ok_or(Error::StreamIdInvalid)?;
        let seq = match seq {
            Some(seq) => crate::numbers::parse_u64(seq.as_bytes()).ok_or(Error::StreamIdInvalid)?,
            None => missing_seq,
        };
        Ok(StreamId { ms, seq })
    }

    /// The ID as a bulk reply, `ms-seq`.
    pub(crate) fn reply(self) -> Reply {
        Reply::Bulk(Bytes::from(self.to_string()))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry's fields and values, flat: `[field, value, field, value, ...]`.
pub(crate) type Fields = std::sync::Arc<Vec<Bytes>>;

/// A delivered, not yet acknowledged entry of a group's pending entries list (PEL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The consumer that holds it.
    pub(crate) consumer: Bytes,
    /// When it was last delivered (entry time, ms).
    pub(crate) delivery_ms: u64,
    /// How many times it was delivered.
    pub(crate) deliveries: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Consumer {
    /// When it last read or claimed (entry time, ms).
    pub(crate) seen_ms: u64,
    /// The IDs it holds in the group's PEL.
    pub(crate) pending: OrdSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Group {
    /// The greatest ID delivered to the group with `>`.
    pub(crate) last_delivered: StreamId,
    /// The logical read counter (Redis's `entries-read`), when known.
    pub(crate) entries_read: Option<u64>,
    /// Pending entries by ID.
    pub(crate) pel: OrdMap<StreamId, Pending>,
    /// Consumers by name.
    pub(crate) consumers: OrdMap<Bytes, Consumer>,
}

/// A stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stream {
    /// Entries by ID.
    pub(crate) entries: OrdMap<StreamId, Fields>,
    /// The greatest ID ever added (`0-0` for a new stream).
    pub(crate) last_id: StreamId,
    /// Entries ever added.
    pub(crate) entries_added: u64,
    /// The greatest ID removed by XDEL.
    pub(crate) max_deleted: StreamId,
    /// Consumer groups by name.
    pub(crate) groups: OrdMap<Bytes, Group>,
}

impl Stream {
    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The first entry's ID.
    pub(crate) fn first_id(&self) -> Option<StreamId> {
        self.entries.get_min().map(|(id, _)| *id)
    }

    /// Removes one entry; true if it was there. XDEL's bookkeeping is the caller's.
    pub(crate) fn remove(&mut self, id: StreamId) -> bool {
        self.entries.remove(&id).is_some()
    }

    /// Redis's estimate of how many entries a reader that has seen up to `id` has read
    /// (`streamEstimateDistanceFromFirstEverEntry`), or None if it cannot tell.
    pub(crate) fn entries_read_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len() == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id().unwrap_or(StreamId::MIN);
        if self.max_deleted == StreamId::MIN || self.max_deleted < first {
            let before = self.entries_added - self.len() as u64;
            if id < first {
                return Some(before);
            }
            if id == first {
                return Some(before + 1);
            }
        }
        None
    }

    /// Checks the group invariants (each PEL entry's consumer exists and lists it, and no
    /// consumer lists an ID the PEL lacks), for the snapshot reader.
    pub(crate) fn groups_consistent(&self) -> bool {
        self.groups.values().all(|g| {
            g.pel.iter().all(|(id, p)| {
                g.consumers
                    .get(&p.consumer)
                    .is_some_and(|c| c.pending.contains(id))
            }) && g.consumers.values().map(|c| c.pending.len()).sum::<usize>() == g.pel.len()
        })
    }
}

/// One entry as a reply: `[id, [field, value, ...]]`.
pub(crate) fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        id.reply(),
        Reply::Array(fields.iter().map(|f| Reply::Bulk(f.clone())).collect()),
    ])
}
