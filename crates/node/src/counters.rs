//! Event counters: how often this node did something that tests and operators want to see
//! without reading its log (a snapshot installed, a leadership hand-over, a pre-vote sent).
//!
//! A leaf module: plain atomics that import nothing of the node. Each counter only grows, from 0
//! at process start; `INFO raft` lists every one of them (docs/operations.md says what each
//! counts). They are process-wide, as a process is one node.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Counts one event.
    pub fn incr(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Snapshots received from a leader and installed in the state machine.
pub static SNAPSHOTS_INSTALLED: Counter = Counter::new();
/// Times this leader handed leadership to another voter that then took over (on SIGTERM, on its
/// own removal, or on an explicit transfer through it).
pub static LEADERSHIP_HANDED_OVER: Counter = Counter::new();
/// Leadership transfers a leader asked this node to take over.
pub static TRANSFERS_TO_ME: Counter = Counter::new();
/// Leadership hand-overs this leader started (for any reason: SIGTERM, its own removal, low
/// free space, an explicit transfer), whether or not the target then took over.
pub static HANDOVERS_STARTED: Counter = Counter::new();
/// Pre-vote requests this node sent to a peer (one per peer per pre-election round).
pub static PRE_VOTES_SENT: Counter = Counter::new();
/// Membership checks run by the removal watcher (`removal::CHECK_INTERVAL` apart).
pub static REMOVAL_CHECKS: Counter = Counter::new();
/// Torn records (an append that never finished reaching the disk) cut off the end of the Raft
/// log when it was opened.
pub static TORN_RECORDS_CUT: Counter = Counter::new();
/// Starts on a data dir that already held Raft state (0 or 1 per process: it resumed, and
/// ignored `--bootstrap`/`--join`).
pub static RESUMED_FROM_STATE: Counter = Counter::new();
/// Samples of the data dir's free space (one every `disk::DISK_SAMPLE_INTERVAL`).
pub static DISK_SAMPLES: Counter = Counter::new();
/// Incoming peer connections refused at the hello (wrong cluster, wrong node, not a member).
pub static PEER_CONNECTIONS_REFUSED: Counter = Counter::new();
/// Peer connections, either way, whose other side failed to prove the cluster secret, and
/// incoming ones whose TLS handshake failed (no certificate, or one the peer CA did not sign).
pub static PEER_AUTH_FAILURES: Counter = Counter::new();
/// Commands this leader refused with `-OOM` for being past `maxmemory` (also in `INFO memory`).
pub static OOM_WRITES_REFUSED: Counter = Counter::new();

/// Every counter with its `INFO` field name, in the order `INFO raft` lists them.
pub fn all() -> [(&'static str, &'static Counter); 12] {
    [
        ("raft_snapshots_installed", &SNAPSHOTS_INSTALLED),
        ("raft_leadership_handed_over", &LEADERSHIP_HANDED_OVER),
        ("raft_transfers_to_me", &TRANSFERS_TO_ME),
        ("raft_handovers_started", &HANDOVERS_STARTED),
        ("raft_pre_votes_sent", &PRE_VOTES_SENT),
        ("raft_removal_checks", &REMOVAL_CHECKS),
        ("raft_log_torn_records_cut", &TORN_RECORDS_CUT),
        ("raft_resumed_from_state", &RESUMED_FROM_STATE),
        ("disk_samples", &DISK_SAMPLES),
        ("peer_connections_refused", &PEER_CONNECTIONS_REFUSED),
        ("peer_auth_failures", &PEER_AUTH_FAILURES),
        ("oom_writes_refused", &OOM_WRITES_REFUSED),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_grow_and_are_all_listed() {
        let before = REMOVAL_CHECKS.get();
        REMOVAL_CHECKS.incr();
        assert_eq!(REMOVAL_CHECKS.get(), before + 1);
        let names: Vec<_> = all().iter().map(|(n, _)| *n).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.contains(&"raft_removal_checks"));
        assert!(names.contains(&"peer_auth_failures"));
    }
}
