//! Snapshots by the size of the log, beside openraft's count of entries.
//!
//! openraft builds a snapshot (and purges the log behind it) every `--snapshot-threshold`
//! applied entries. An entry is not a fixed amount of data: the proposer gathers the writes of
//! all connections into one entry, so an entry holds anything from one 100-byte SET to
//! [`crate::limits::MAX_ENTRY_BYTES`]. Counted in entries alone, a log under pipelined writes was
//! never compacted: 2.4 million SETs to 10,000 keys made 22,600 entries and about 300 MB of WAL,
//! far from the 100,000-entry threshold, while the data was 1 MB.
//!
//! [`watch`] adds a rule on bytes, Redis's rule for rewriting its append-only file
//! (`auto-aof-rewrite-min-size` and `auto-aof-rewrite-percentage 100`): snapshot once the log on
//! disk has grown, since the last snapshot this rule asked for, by at least
//! `--snapshot-log-size` and by at least the size of the latest snapshot. The second bound keeps
//! the work proportional: a large dataset is not rewritten more often than the log doubles it,
//! so snapshots never cost more disk writes than the log itself.
//!
//! "Grown since" is measured from a floor, the smallest log size seen since the last trigger:
//! the log shrinks when openraft purges behind a snapshot (whole WAL chunks are deleted), and
//! the floor follows it down. Purging keeps the open chunk and up to
//! [`crate::limits::LOG_KEPT_BEHIND_SNAPSHOT`] entries, so the log need not shrink to nothing,
//! and a snapshot that frees nothing is never asked for again until the log grows once more.

use std::sync::Arc;
use std::time::Duration;

use super::Consensus;

/// How often the log's size is compared with the rule.
pub const COMPACTION_POLL: Duration = Duration::from_secs(1);

/// When the log has grown enough since the last snapshot it asked for; see the module docs.
#[derive(Debug)]
pub struct LogGrowth {
    /// `--snapshot-log-size`: the least growth that asks for a snapshot; 0 never asks.
    min_bytes: u64,
    /// The smallest log size seen since the last snapshot this rule asked for (or the start).
    floor: Option<u64>,
}

impl LogGrowth {
    /// A rule asking for a snapshot after `min_bytes` of growth (0: never).
    pub fn new(min_bytes: u64) -> LogGrowth {
        LogGrowth {
            min_bytes,
            floor: None,
        }
    }

    /// Take one sample: the log's size on disk, and how to learn the latest snapshot's (asked
    /// only once the log grew by `min_bytes`, since it reads the snapshot directory). True when
    /// a snapshot is due; the growth is then counted from this size again.
    pub fn due(&mut self, log_bytes: u64, snapshot_bytes: impl FnOnce() -> u64) -> bool {
        if self.min_bytes == 0 {
            return false;
        }
        let floor = self.floor.map_or(log_bytes, |f| f.min(log_bytes));
        let growth = log_bytes - floor;
        let due = growth >= self.min_bytes && growth >= snapshot_bytes();
        self.floor = Some(if due { log_bytes } else { floor });
        due
    }
}

/// Ask openraft for a snapshot whenever [`LogGrowth`] says the log grew enough and something
/// was applied since the last snapshot. Runs until the node stops.
pub async fn watch(consensus: Arc<Consensus>, min_bytes: u64) {
    if min_bytes == 0 {
        return;
    }
    let mut growth = LogGrowth::new(min_bytes);
    let mut tick = tokio::time::interval(COMPACTION_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let log_bytes = consensus.log_disk_bytes();
        if !growth.due(log_bytes, || consensus.snapshot_disk_bytes()) {
            continue;
        }
        let status = consensus.status();
        if status.applied_index <= status.snapshot_index {
            continue;
        }
        tracing::info!(
            log_bytes,
            applied_index = status.applied_index,
            snapshot_index = status.snapshot_index,
            "the Raft log grew past --snapshot-log-size since the last snapshot: building one"
        );
        if let Err(e) = consensus.trigger_snapshot().await {
            tracing::warn!(error = %e, "could not ask for a snapshot");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn asks_once_the_log_grew_by_the_minimum_from_its_smallest_size() {
        let mut g = LogGrowth::new(64 * MIB);
        assert!(
            !g.due(10 * MIB, || 0),
            "the first sample only sets the floor"
        );
        assert!(!g.due(73 * MIB, || 0), "63 MiB of growth is not enough");
        assert!(
            !g.due(20 * MIB, || panic!(
                "the snapshot size is read below the minimum growth"
            )),
            "and the snapshot directory is not read for it"
        );
        assert!(g.due(74 * MIB, || 0), "64 MiB is");
        // Counted from the trigger again: no second snapshot while the first is being built.
        assert!(!g.due(100 * MIB, || 0));
        // The purge behind the snapshot shrinks the log; growth counts from the new floor.
        assert!(!g.due(8 * MIB, || 0));
        assert!(!g.due(71 * MIB, || 0));
        assert!(g.due(72 * MIB, || 0));
    }

    #[test]
    fn a_large_snapshot_raises_the_growth_needed() {
        let mut g = LogGrowth::new(64 * MIB);
        assert!(!g.due(0, || 500 * MIB));
        assert!(
            !g.due(499 * MIB, || 500 * MIB),
            "the log must grow by the snapshot's size"
        );
        assert!(g.due(500 * MIB, || 500 * MIB));
    }

    #[test]
    fn a_snapshot_that_frees_nothing_is_not_asked_for_again_until_the_log_grows() {
        let mut g = LogGrowth::new(MIB);
        assert!(!g.due(0, || 0));
        assert!(g.due(2 * MIB, || 0));
        // The purge freed nothing (the entries sit in the open chunk): no new request.
        for _ in 0..10 {
            assert!(!g.due(2 * MIB, || 0));
        }
        assert!(g.due(3 * MIB, || 0));
    }

    #[test]
    fn zero_never_asks() {
        let mut g = LogGrowth::new(0);
        assert!(!g.due(0, || 0));
        assert!(!g.due(u64::MAX, || 0));
    }
}
