//! The Raft log: openraft's [`RaftLogStorage`] on the `raft-log` segmented WAL.
//!
//! `raft-log` keeps every record (vote, append, truncate, purge, commit) in append-only chunk
//! files, each record framed with a CRC32, and a background worker that batches pending records
//! into one `fdatasync`. That worker is our group commit: openraft hands us many entries per
//! `append` call and many calls may queue behind one fsync; each call's `IOFlushed` callback
//! fires once its records are durable, and only then may openraft acknowledge them.
//!
//! Invariants:
//! - an appended entry is readable as soon as `append` returns, and is reported flushed only
//!   after the WAL worker has synced it (unless the node runs with `--unsafe-no-fsync`);
//! - a vote is durable before `save_vote` returns, so no message depending on it can leave first;
//! - records reach the disk in the order they were written, so a truncation or purge is durable
//!   no later than the next append that depends on it.
//!
//! On open, `raft-log` replays every chunk. Its own torn-tail recovery is off, because it also
//! silently drops committed records when a length field in the last chunk is damaged; instead a
//! failed open goes to `wal_check`, which cuts off a genuinely torn last record (then the open
//! is retried) and turns any other damage into an error naming the chunk file and byte offset,
//! so the node refuses to start.
//!
//! A failed write, fsync, truncation or purge (a full disk, EIO) is recorded in the store's
//! [`FaultSlot`] with the WAL directory and the OS error before openraft sees it; openraft then
//! stops Raft and the node exits (see `storage_fault`). Nothing here retries: after its first
//! error the WAL's flush worker stops, and a node that cannot persist must not keep voting.
//!
//! The `RaftLog` sits behind a `std::sync::RwLock`, with the newest entries kept decoded beside
//! it (`recent::RecentEntries`); raft-log's own cache holds payloads encoded ([`WalPayload`]).
//! Reads take the decoded entries where they can and decode the rest. No fsync happens under
//! that lock: writers only copy encoded payloads into an in-memory buffer, and the flush worker
//! thread does the I/O.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, RwLock};

use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use raft_log::api::raft_log_writer::RaftLogWriter;
use raft_log::RaftLog;

mod recent;
mod wal_check;

use recent::RecentEntries;

use super::power_loss::{self, DurableMark};
use super::storage_fault::FaultSlot;
use super::types::{Entry, LogId, TypeConfig, Vote};
use super::wal_types::{Notify, WalCallback, WalLogId, WalPayload, WalTypes, WalVote};

/// Largest WAL chunk file; closed chunks behind a purge are deleted whole. raft-log never evicts
/// the open chunk's entries from its payload cache, so this also bounds the part of the cache
/// that [`WAL_CACHE_MAX_BYTES`] cannot (the entries are held encoded, so up to about 16 MiB;
/// decoded, 64 MiB of chunk held about 130 MB of SETs), and it is the unit the log shrinks by
/// after a snapshot. 16 MiB kept a cluster rewriting 10,000 keys flat, where 64 MiB and 256 MiB
/// grew to 450-520 MB; 8 MiB cost SET with `-P 16` 6-13% in same-run A/Bs (a directory fsync
/// per new chunk on the append path), which 16 MiB did not (0.99x). Deleting a 64 MiB chunk
/// also took 23-28 ms of the flush worker's time, a write-latency spike. See "Memory and disk
/// under sustained writes" in docs/benchmarks.md.
const WAL_CHUNK_MAX_BYTES: usize = 16 * 1024 * 1024;
/// How long the WAL flush worker keeps collecting queued writes after the first one before it
/// syncs them. The worker drains whatever is already queued within this window, so writes that
/// arrive during a slow fsync still share the next one; the window itself is pure added latency.
/// raft-log's default is 1 ms, which capped a 3-node cluster at about one entry per millisecond
/// (SET at 64 clients: 4.2k req/s with 1 ms, 6.9k-7.3k with 20 µs). Since the proposer gathers
/// every connection's writes into one entry, little queues behind a sync, and 5 µs (with the
/// worker's fine timer slack) beat 20, 1 and 50 µs in a same-run A/B of 2026-12-06: 1.04-1.19x
/// 20 µs's SET rate at 1 to 256 clients (docs/benchmarks.md). Zero skips draining, which no
/// longer merges anything (one entry in flight, commit records ride with the next append), but
/// it also drops the wait's small linger: against 5 µs, in three same-run A/Bs of 2026-12-08,
/// 1.01-1.09x at 1 client and 0.89-0.91x at 256 clients (docs/benchmarks.md, "One write at one
/// client"). On this VM the 5 µs wait sleeps about 30 µs.
const WAL_GROUP_COMMIT_WAIT: std::time::Duration = std::time::Duration::from_micros(5);
/// Timer slack of the WAL flush worker thread, in nanoseconds (see
/// [`open_with_fine_timer_slack`]).
const WAL_TIMER_SLACK_NS: u64 = 1_000;
/// Most entries kept in the in-memory payload cache of closed chunks.
const WAL_CACHE_MAX_ITEMS: usize = 20_000;
/// Most bytes (as `payload_size` counts them: an entry's encoding plus 64) kept in the payload
/// cache beyond the open chunk's entries, which it never evicts. The cache holds entries encoded
/// ([`WalPayload`]), so this is about what it costs, and the newest entries are also kept decoded
/// ([`RecentEntries`]), which replication and apply read; the cache serves a follower a little
/// behind, decoding each entry, and INFO's `raft_log_cache_misses` counts the reads that missed
/// it and went to the disk (off the async threads). Decoded, a cached SET cost about 1.5x its
/// count, and 32 MiB of them held about 50 MB at 1M keys, 49 bytes per key on every node; encoded
/// with this budget, see docs/benchmarks.md, "The log cache, encoded". A budget under one chunk
/// means a chunk that closes is evicted in one go: one free per entry, where decoded entries
/// freed every command's copies (the p99 bursts of a 16 MiB decoded budget).
const WAL_CACHE_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Reads of entries this close to the end of the log are served on the calling (async) thread:
/// they are almost always held decoded or in the payload cache (the open chunk is never
/// evicted, the cache drops the oldest closed-chunk entries first), so they cost a clone or a
/// decode, not a disk read; a miss reads the disk right there, which is correct, only slower.
/// Replication to each follower and apply read the newest entries, one read each per write on
/// a lightly loaded node; a hop through tokio's blocking pool for each cost a thread wake-up on
/// the path of every write (removing the hop: SET 1.21-1.31x at 1 to 64 clients in a same-run
/// A/B, docs/benchmarks.md). Older ranges (a lagging follower) still go to the blocking pool.
const WAL_INLINE_READ_TAIL: u64 = 1024;

/// What [`LogStore::cache_stat`] reports (INFO's `raft_log_cache_*` and `raft_log_recent_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogCacheStat {
    /// Entries held encoded in raft-log's payload cache.
    pub entries: u64,
    /// Their size, as `payload_size` counts it.
    pub bytes: u64,
    /// Entry reads raft-log served from its cache since start (each then decoded).
    pub hits: u64,
    /// Entry reads that went to disk since start.
    pub misses: u64,
    /// Entries held decoded (`recent::RecentEntries`).
    pub recent_entries: u64,
    /// Entry reads served decoded since start, without raft-log.
    pub recent_hits: u64,
}

/// The WAL and its newest entries decoded, changed together under one lock.
struct Wal {
    log: RaftLog<WalTypes>,
    recent: RecentEntries,
}

/// The node's Raft log. Cheap to clone; clones share one WAL.
#[derive(Clone)]
pub struct LogStore {
    wal: Arc<RwLock<Wal>>,
    /// Entry reads served from [`Wal::recent`] since start.
    recent_hits: Arc<AtomicU64>,
    /// False only under `--unsafe-no-fsync`: records are written but never synced.
    fsync: bool,
    /// How far the WAL is known durable (for simulated power loss in tests).
    durable: DurableMark,
    /// The WAL directory.
    dir: Arc<PathBuf>,
    /// The first write failure.
    fault: FaultSlot,
}

/// What a failed WAL operation was doing, for the [`FaultSlot`].
const WRITING: &str = "write or fsync the Raft log";

impl LogStore {
    /// Open (or create) the WAL in `dir`. A torn last record is cut off; any other damaged
    /// record fails the open with an error naming the chunk file and byte offset.
    pub fn open(dir: &Path, fsync: bool) -> io::Result<LogStore> {
        Self::open_with_chunk_size(dir, fsync, WAL_CHUNK_MAX_BYTES)
    }

    /// [`LogStore::open`] with chunk files of at most about `chunk_max_bytes` (tests use small
    /// chunks to get several).
    pub fn open_with_chunk_size(
        dir: &Path,
        fsync: bool,
        chunk_max_bytes: usize,
    ) -> io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        power_loss::apply_pending(dir)?;
        let mut config = raft_log::Config::new(dir.display().to_string());
        config.wal.chunk_max_size = Some(chunk_max_bytes);
        // A torn tail is handled by `wal_check`, which can tell it from corruption.
        config.wal.truncate_incomplete_record = Some(false);
        config.wal.flush_batch_wait = Some(WAL_GROUP_COMMIT_WAIT);
        config.log_cache_max_items = Some(WAL_CACHE_MAX_ITEMS);
        config.log_cache_capacity = Some(WAL_CACHE_MAX_BYTES);
        let config = Arc::new(config);
        wal_check::check_last_chunk_start(dir, &config)?;
        let mut durable = DurableMark::at_open(dir)?;
        let wal = match open_with_fine_timer_slack(&config) {
            Ok(wal) => wal,
            Err(open_err) => {
                wal_check::repair_after_failed_open(dir, &config, open_err)?;
                durable = DurableMark::at_open(dir)?;
                open_with_fine_timer_slack(&config).map_err(|e| wal_check::open_error(dir, e))?
            }
        };
        Ok(LogStore {
            wal: Arc::new(RwLock::new(Wal {
                log: wal,
                recent: RecentEntries::default(),
            })),
            recent_hits: Arc::default(),
            fsync,
            durable,
            dir: Arc::new(dir.to_path_buf()),
            fault: FaultSlot::default(),
        })
    }

    /// Where the first write failure of this log is recorded.
    pub fn fault_slot(&self) -> FaultSlot {
        self.fault.clone()
    }

    /// Pass `r` through, recording its error as a write failure.
    fn check<T>(&self, r: io::Result<T>) -> io::Result<T> {
        self.fault.check(&self.dir, WRITING, r)
    }

    /// [`Self::check`] for a call on `wal`. Once the WAL's flush worker has failed, later calls
    /// fail with a derived error ("sending on a closed channel"); what is recorded then is the
    /// worker's own error (the OS error that stopped it), which the WAL still reports.
    fn check_wal<T>(&self, wal: &RaftLog<WalTypes>, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            let cause = wal.wait_worker_idle().err();
            self.fault
                .record(&self.dir, WRITING, cause.as_ref().unwrap_or(e));
        }
        r
    }

    /// Bytes the WAL takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.wal
            .read()
            .expect("wal lock poisoned")
            .log
            .on_disk_size()
    }

    /// The payload cache now: entries, bytes (as `payload_size` counts them), and reads it
    /// served or missed since start; and the entries held decoded, and the reads they served.
    pub fn cache_stat(&self) -> LogCacheStat {
        let wal = self.wal.read().expect("wal lock poisoned");
        let stat = wal.log.stat();
        LogCacheStat {
            entries: stat.payload_cache_item_count,
            bytes: stat.payload_cache_size,
            hits: stat.payload_cache_hit,
            misses: stat.payload_cache_miss,
            recent_entries: wal.recent.len() as u64,
            recent_hits: self.recent_hits.load(Ordering::Relaxed),
        }
    }

    /// Test-only: simulate a power cut (see [`power_loss`]) and exit the process.
    pub fn simulate_power_loss(&self) -> ! {
        // Hold the lock so no new record is queued while the mark is taken.
        let _wal = self.wal.write().expect("wal lock poisoned");
        self.durable.crash()
    }

    /// The callback for a flush covering records up to `written` (a segment the WAL returned).
    fn callback(&self, notify: Notify, written: raft_log::Segment) -> WalCallback {
        let durable = self
            .fsync
            .then(|| (self.durable.clone(), written.offset + written.size));
        WalCallback {
            notify,
            durable,
            queued: std::time::Instant::now(),
            fault: (self.fault.clone(), self.dir.clone()),
        }
    }

    /// Queue pending records (up to `written`) for the disk; the returned receiver fires once
    /// they are durable. Wait on it only after releasing the WAL lock.
    fn queue_flush(
        &self,
        wal: &mut RaftLog<WalTypes>,
        written: raft_log::Segment,
    ) -> io::Result<Receiver<io::Result<()>>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let r = wal.flush(self.fsync, Some(self.callback(Notify::Wait(tx), written)));
        self.check_wal(wal, r)?;
        Ok(rx)
    }

    fn read_range(&self, from: u64, to: u64) -> io::Result<Vec<Entry>> {
        self.read_entries(&self.wal.read().expect("wal lock poisoned"), from, to)
    }

    /// Entries `from..to` of `wal`: those held decoded as they are, the older ones decoded
    /// from raft-log (its cache or the disk).
    fn read_entries(&self, wal: &Wal, from: u64, to: u64) -> io::Result<Vec<Entry>> {
        // Where the decoded entries take over; they run to the log's end.
        let held_from = wal
            .recent
            .first_index()
            .map_or(to, |f| f.clamp(from, to.max(from)));
        let mut entries = Vec::new();
        if from < held_from {
            for r in wal.log.read(from, held_from) {
                let (log_id, payload) = r?;
                entries.push(Entry {
                    log_id: log_id.0,
                    payload: payload.decode_payload()?,
                });
            }
        }
        let decoded = entries.len();
        entries.extend(wal.recent.range(held_from, to));
        self.recent_hits
            .fetch_add((entries.len() - decoded) as u64, Ordering::Relaxed);
        Ok(entries)
    }
}

/// Open the WAL from a thread whose timer slack is [`WAL_TIMER_SLACK_NS`], so the flush worker
/// thread that `RaftLog::open` spawns inherits it; the calling thread's own slack is restored.
/// Linux lets a thread's timed waits run late by its timer slack (50 µs by default) to group
/// wake-ups: the worker's group-commit wait of [`WAL_GROUP_COMMIT_WAIT`] then lasted about
/// 70 µs, paid by every write on the leader and again on each follower.
fn open_with_fine_timer_slack(
    config: &Arc<raft_log::Config>,
) -> Result<RaftLog<WalTypes>, io::Error> {
    use nix::sys::prctl;
    let previous = prctl::get_timerslack().ok();
    // Best effort: a kernel that refuses only costs the default slack.
    let _ = prctl::set_timerslack(WAL_TIMER_SLACK_NS);
    let opened = RaftLog::open(config.clone());
    if let Some(previous) = previous {
        let _ = prctl::set_timerslack(previous as u64);
    }
    opened
}

/// Block until a queued flush completes.
fn wait(done: Receiver<io::Result<()>>) -> io::Result<()> {
    done.recv()
        .map_err(|_| io::Error::other("WAL flush worker stopped"))?
}

fn range_to_bounds<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
    let from = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i + 1,
        Bound::Unbounded => 0,
    };
    let to = match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    };
    (from, to)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let (from, to) = range_to_bounds(&range);
        {
            let wal = self.wal.read().expect("wal lock poisoned");
            let next = wal.log.log_state().last().map_or(0, |l| l.0.index() + 1);
            if from.saturating_add(WAL_INLINE_READ_TAIL) >= next {
                return self.read_entries(&wal, from, to);
            }
        }
        let this = self.clone();
        // Older entries may have left the cache and need the disk: off the async threads.
        tokio::task::spawn_blocking(move || this.read_range(from, to))
            .await
            .map_err(io::Error::other)?
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        let wal = self.wal.read().expect("wal lock poisoned");
        Ok(wal.log.log_state().vote().map(|v| v.0))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let wal = self.wal.read().expect("wal lock poisoned");
        let state = wal.log.log_state();
        let last_purged_log_id = state.purged().map(|l| l.0);
        let last_log_id = state.last().map(|l| l.0).or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let this = self.clone();
        let vote = *vote;
        tokio::task::spawn_blocking(move || {
            let mut guard = this.wal.write().expect("wal lock poisoned");
            let wal = &mut guard.log;
            let written = wal.save_vote(WalVote(vote));
            let written = this.check_wal(wal, written)?;
            let done = this.queue_flush(wal, written)?;
            drop(guard);
            this.check(wait(done))
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Buffered, not flushed: the record reaches the disk with the next flush (the next
        // append's, under load within a round trip). Losing it in a crash only means applying
        // from an older committed index on restart, then the rest once the leader says so,
        // never a safety problem; a flush of its own cost every node a wake-up of the WAL's
        // flush thread and a write per entry, and put that write ahead of the next entry's.
        if let Some(committed) = committed {
            let mut wal = self.wal.write().expect("wal lock poisoned");
            let wal = &mut wal.log;
            let r = wal.commit(WalLogId(committed));
            self.check_wal(wal, r)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        let wal = self.wal.read().expect("wal lock poisoned");
        Ok(wal.log.log_state().committed().map(|l| l.0))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Encoded before the lock is taken: under it, the WAL only copies the bytes.
        let entries: Vec<Entry> = entries.into_iter().collect();
        let encoded = entries
            .iter()
            .map(|e| Ok((WalLogId(e.log_id), WalPayload::encode_from(&e.payload)?)))
            .collect::<io::Result<Vec<_>>>()?;
        let mut wal = self.wal.write().expect("wal lock poisoned");
        let written = wal.log.append(encoded);
        let written = match self.check_wal(&wal.log, written) {
            Ok(written) => written,
            Err(e) => {
                // Whatever the WAL kept, the decoded entries must not claim more.
                wal.recent.truncate_from(0);
                return Err(e);
            }
        };
        for entry in entries {
            wal.recent.push(entry);
        }
        let flushed = wal.log.flush(
            self.fsync,
            Some(self.callback(Notify::Append(callback), written)),
        );
        self.check_wal(&wal.log, flushed)?;
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = this.wal.write().expect("wal lock poisoned");
            let keep_until = last_log_id.map(|l| l.index() + 1).unwrap_or(0);
            let next = guard
                .log
                .log_state()
                .last()
                .map(|l| l.0.index() + 1)
                .unwrap_or(0);
            if keep_until >= next {
                return Ok(()); // nothing after `last_log_id`
            }
            guard.recent.truncate_from(keep_until);
            let wal = &mut guard.log;
            let written = wal.truncate(keep_until);
            let written = this.check_wal(wal, written)?;
            let done = this.queue_flush(wal, written)?;
            drop(guard);
            this.check(wait(done))
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let mut wal = self.wal.write().expect("wal lock poisoned");
        wal.recent.purge_upto(log_id.index());
        let wal = &mut wal.log;
        let r = wal.purge(WalLogId(log_id));
        self.check_wal(wal, r)?;
        // A synced flush is what lets the WAL delete chunk files behind the purge record.
        let r = wal.flush(self.fsync, None);
        self.check_wal(wal, r)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::entry::RaftEntry;
    use openraft::vote::RaftLeaderId;

    /// Entries `from..=to` of `term`, each one SET of its own key and value.
    fn sets(term: u64, from: u64, to: u64) -> Vec<Entry> {
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(term, 1);
        (from..=to)
            .map(|i| {
                let arg = |s: String| bytes::Bytes::from(s);
                let set = kv::Command::parse(&[
                    arg("SET".into()),
                    arg(format!("k{i}")),
                    arg(format!("value {i} of term {term}")),
                ])
                .unwrap();
                Entry {
                    log_id: LogId::new(leader, i),
                    payload: openraft::EntryPayload::Normal(crate::raft::types::LogCommand {
                        now_ms: i,
                        cmds: vec![set].into(),
                    }),
                }
            })
            .collect()
    }

    /// Whether an entry is read back from the decoded ones or decoded from the WAL (its cache,
    /// or the disk after a reopen), and after a truncation replaced the log's end, a read
    /// returns exactly the entries appended last at each index.
    #[tokio::test]
    async fn entries_read_back_the_same_decoded_or_from_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), true).unwrap();
        log.append(sets(1, 1, 1500), IOFlushed::noop())
            .await
            .unwrap();
        assert_eq!(
            log.try_get_log_entries(1..1501).await.unwrap(),
            sets(1, 1, 1500)
        );
        let stat = log.cache_stat();
        assert!(
            stat.recent_entries > 0 && stat.recent_entries < 1500,
            "{stat:?}"
        );
        assert_eq!(stat.recent_hits, stat.recent_entries, "{stat:?}");
        assert_eq!(stat.hits + stat.recent_hits, 1500, "{stat:?}");

        // A new leader replaces the end of the log.
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(1, 1);
        log.truncate_after(Some(LogId::new(leader, 1400)))
            .await
            .unwrap();
        assert_eq!(
            log.try_get_log_entries(1..2000).await.unwrap(),
            sets(1, 1, 1400),
            "truncated entries are gone, decoded ones too"
        );
        log.append(sets(2, 1401, 1450), IOFlushed::noop())
            .await
            .unwrap();
        let mut want = sets(1, 1, 1400);
        want.extend(sets(2, 1401, 1450));
        assert_eq!(log.try_get_log_entries(1..2000).await.unwrap(), want);
        assert_eq!(
            log.try_get_log_entries(1390..1410).await.unwrap(),
            want[1389..1409]
        );

        // Purged entries are gone from both.
        log.purge(LogId::new(leader, 1420)).await.unwrap();
        assert_eq!(
            log.try_get_log_entries(1421..1451).await.unwrap(),
            want[1420..]
        );
        log.save_vote(&Vote::new(2, 1)).await.unwrap(); // waits for every record's sync
        drop(log);

        // After a reopen nothing is held decoded: every read decodes, with the same result.
        let mut log = LogStore::open(dir.path(), true).unwrap();
        assert_eq!(
            log.try_get_log_entries(1421..1451).await.unwrap(),
            want[1420..]
        );
        assert_eq!(log.cache_stat().recent_hits, 0);
    }

    /// The committed index is buffered, not flushed on its own: it is read back at once, and it
    /// reaches the disk with the next flush (here the next append's, waited for by a vote).
    #[tokio::test]
    async fn the_committed_index_reaches_the_disk_with_the_next_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), true).unwrap();
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(1, 1);
        log.append(sets(1, 1, 10), IOFlushed::noop()).await.unwrap();
        log.save_committed(Some(LogId::new(leader, 7)))
            .await
            .unwrap();
        assert_eq!(
            log.read_committed().await.unwrap(),
            Some(LogId::new(leader, 7))
        );
        log.append(sets(1, 11, 12), IOFlushed::noop())
            .await
            .unwrap();
        log.save_vote(&Vote::new(1, 1)).await.unwrap(); // waits for every record's sync
        drop(log);

        let mut log = LogStore::open(dir.path(), true).unwrap();
        assert_eq!(
            log.read_committed().await.unwrap(),
            Some(LogId::new(leader, 7))
        );
        assert_eq!(
            log.try_get_log_entries(1..13).await.unwrap(),
            sets(1, 1, 12)
        );
    }

    /// Ranges served inline (near the end), from the blocking pool (far back), and across the
    /// boundary all return exactly the entries asked for, in order.
    #[tokio::test]
    async fn reads_near_the_end_and_far_back_return_the_same_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), false).unwrap();
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(1, 1);
        let total = WAL_INLINE_READ_TAIL * 3;
        let entries: Vec<Entry> = (1..=total)
            .map(|i| Entry::new_blank(LogId::new(leader, i)))
            .collect();
        log.append(entries, IOFlushed::noop()).await.unwrap();
        let indexes = |e: Vec<Entry>| e.iter().map(|e| e.log_id.index()).collect::<Vec<_>>();
        let near_end = total - 10;
        let boundary = total + 1 - WAL_INLINE_READ_TAIL;
        for (from, to) in [
            (1, 11),                      // far back: the blocking pool
            (near_end, total + 1),        // the tail: inline
            (boundary - 5, boundary + 5), // across the boundary
            (total - 2, total + 100),     // past the end: what exists
        ] {
            let got = log.try_get_log_entries(from..to).await.unwrap();
            let want: Vec<u64> = (from..to.min(total + 1)).collect();
            assert_eq!(indexes(got), want, "range {from}..{to}");
        }
    }
}
