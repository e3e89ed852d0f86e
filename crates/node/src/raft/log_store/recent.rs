//! The newest log entries, kept decoded beside the WAL's encoded payload cache.
//!
//! raft-log's payload cache holds entries encoded (see [`WalPayload`]), which costs about their
//! bytes; decoded, an entry costs about 1.5x more. Replication to each follower and apply read
//! an entry soon after it was appended, so the log store also keeps the newest entries as
//! openraft handed them over: those reads cost a reference count, not a decode. Older reads (a
//! lagging follower, a restart's first apply) decode from raft-log.
//!
//! Invariants:
//! - the entries are consecutive, and each is the entry the WAL holds at its index: the log
//!   store changes both under the WAL's write lock, and every change of the log's end (an
//!   append, a truncation, a purge) is made here too;
//! - at most [`RECENT_MAX_ENTRIES`] entries and about [`RECENT_MAX_BYTES`] bytes are kept, the
//!   oldest dropped first. Dropping one is always safe: its reads decode from the WAL instead.
//!
//! [`WalPayload`]: super::super::wal_types::WalPayload

use std::collections::VecDeque;

use openraft::EntryPayload;

use super::super::types::Entry;

/// Most entries kept decoded. Replication and apply of a busy leader read entries a round trip
/// old; a few hundred cover them with room to spare.
const RECENT_MAX_ENTRIES: usize = 1024;
/// Most bytes kept decoded, as [`entry_bytes`] counts them: about 3 MB of memory (a decoded
/// entry costs about 1.5x its count). A `-P 16` load of about 50 KB per entry keeps about 40,
/// and INFO showed every read of replication and apply served from them. 4 MiB cost 3 bytes per
/// key more at 1M keys and wrote no faster in a same-run A/B (docs/benchmarks.md, "The log
/// cache, encoded"). An entry larger than this is not kept at all: its reads decode it from
/// raft-log's cache, which holds every entry of the open chunk.
const RECENT_MAX_BYTES: usize = 2 * 1024 * 1024;
/// What an entry costs beyond its commands' bytes (its log id, the `Arc` of its commands).
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// The newest entries of the log, decoded; see the module docs.
#[derive(Default)]
pub(super) struct RecentEntries {
    /// Each entry with its [`entry_bytes`], counted once when it came in.
    entries: VecDeque<(Entry, usize)>,
    /// The entries' [`entry_bytes`], summed.
    bytes: usize,
}

impl RecentEntries {
    /// Index of the oldest entry held.
    pub(super) fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index())
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds `entry`, just appended to the WAL after the entries held. An entry that does not
    /// follow them (the WAL's end moved without this knowing) drops them first.
    pub(super) fn push(&mut self, entry: Entry) {
        let follows = self
            .entries
            .back()
            .is_none_or(|(last, _)| last.log_id.index() + 1 == entry.log_id.index());
        if !follows {
            self.entries.clear();
            self.bytes = 0;
        }
        let bytes = entry_bytes(&entry);
        self.bytes += bytes;
        self.entries.push_back((entry, bytes));
        while self.entries.len() > RECENT_MAX_ENTRIES || self.bytes > RECENT_MAX_BYTES {
            self.pop_front();
        }
    }

    /// Drops the entries at `index` and after (the WAL truncated them).
    pub(super) fn truncate_from(&mut self, index: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(last, _)| last.log_id.index() >= index)
        {
            let (_, bytes) = self.entries.pop_back().expect("checked");
            self.bytes -= bytes;
        }
    }

    /// Drops the entries up to and including `index` (the WAL purged them).
    pub(super) fn purge_upto(&mut self, index: u64) {
        while self.first_index().is_some_and(|first| first <= index) {
            self.pop_front();
        }
    }

    /// Clones of the entries held in `from..to`, in order.
    pub(super) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = Entry> + '_ {
        let first = self.first_index().unwrap_or(0);
        let skip = from.saturating_sub(first);
        let take = to.saturating_sub(from.max(first));
        self.entries
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(take).unwrap_or(usize::MAX))
            .map(|(entry, _)| entry.clone())
    }

    fn pop_front(&mut self) {
        if let Some((_, bytes)) = self.entries.pop_front() {
            self.bytes -= bytes;
        }
    }
}

/// What an entry counts for [`RECENT_MAX_BYTES`]: every argument of every command.
fn entry_bytes(entry: &Entry) -> usize {
    ENTRY_OVERHEAD_BYTES
        + match &entry.payload {
            EntryPayload::Normal(c) => c.approx_bytes(),
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{LogCommand, LogId, TypeConfig};
    use openraft::entry::RaftEntry;
    use openraft::vote::RaftLeaderId;

    fn entry(term: u64, index: u64, value_bytes: usize) -> Entry {
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(term, 1);
        let mut e = Entry::new_blank(LogId::new(leader, index));
        if value_bytes > 0 {
            let set = kv::Command::parse(&[
                bytes::Bytes::from_static(b"SET"),
                bytes::Bytes::from_static(b"k"),
                bytes::Bytes::from(vec![b'v'; value_bytes]),
            ])
            .unwrap();
            e.payload = EntryPayload::Normal(LogCommand {
                now_ms: 1,
                cmds: vec![set].into(),
            });
        }
        e
    }

    fn indexes(recent: &RecentEntries, from: u64, to: u64) -> Vec<u64> {
        recent.range(from, to).map(|e| e.log_id.index()).collect()
    }

    #[test]
    fn ranges_return_what_is_held_in_order() {
        let mut recent = RecentEntries::default();
        for i in 5..=9 {
            recent.push(entry(1, i, 0));
        }
        assert_eq!(indexes(&recent, 0, 100), vec![5, 6, 7, 8, 9]);
        assert_eq!(indexes(&recent, 6, 8), vec![6, 7]);
        assert_eq!(indexes(&recent, 9, 9), Vec::<u64>::new());
        assert_eq!(indexes(&recent, 10, 20), Vec::<u64>::new());
        assert_eq!(indexes(&recent, 0, 5), Vec::<u64>::new());
    }

    #[test]
    fn truncation_and_purge_drop_exactly_their_entries() {
        let mut recent = RecentEntries::default();
        for i in 1..=10 {
            recent.push(entry(1, i, 10));
        }
        recent.truncate_from(8);
        recent.push(entry(2, 8, 10));
        assert_eq!(indexes(&recent, 0, 100), (1..=8).collect::<Vec<_>>());
        let at8 = recent.range(8, 9).next().unwrap();
        assert_eq!(
            at8.log_id.leader_id.term, 2,
            "the new leader's entry, not the truncated one"
        );
        recent.purge_upto(3);
        assert_eq!(recent.first_index(), Some(4));
        recent.purge_upto(100);
        assert_eq!(recent.len(), 0);
        assert_eq!(recent.bytes, 0);
    }

    #[test]
    fn an_entry_that_does_not_follow_replaces_the_held_ones() {
        let mut recent = RecentEntries::default();
        recent.push(entry(1, 1, 0));
        recent.push(entry(1, 2, 0));
        recent.push(entry(1, 7, 0));
        assert_eq!(indexes(&recent, 0, 100), vec![7]);
    }

    #[test]
    fn the_oldest_go_first_past_either_bound() {
        let mut recent = RecentEntries::default();
        for i in 1..=(RECENT_MAX_ENTRIES as u64 + 10) {
            recent.push(entry(1, i, 0));
        }
        assert_eq!(recent.len(), RECENT_MAX_ENTRIES);
        assert_eq!(recent.first_index(), Some(11));

        let mut recent = RecentEntries::default();
        let big = RECENT_MAX_BYTES / 4;
        for i in 1..=6 {
            recent.push(entry(1, i, big));
        }
        assert!(recent.bytes <= RECENT_MAX_BYTES);
        assert_eq!(
            recent.first_index(),
            Some(4),
            "three of a quarter each, with overhead"
        );
    }
}
