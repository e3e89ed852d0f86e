//! The node's limits and timeouts, as named constants in one leaf module (it imports nothing
//! of the node), so the transport, the consensus glue, the cluster layer and the client server
//! all read the same numbers without importing each other.

use std::time::Duration;

/// How long a request may wait for a leader to be elected or reached before it fails.
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(3);
/// How long a write may wait for commit before its outcome is reported unknown.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a forwarded command may take on the leader, end to end.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(6);
/// How long adding a node may take (the learner must first catch up).
pub const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a follower waits to apply up to the leader's read index before answering
/// `-TRYAGAIN`.
pub const FOLLOWER_APPLY_WAIT: Duration = Duration::from_secs(2);
/// Most bytes of client arguments in one log entry (one command, or one pipelined batch). Every
/// entry must fit in one peer frame together with the others of its AppendEntries request.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;
/// Most entries in one AppendEntries request (openraft's `max_payload_entries`).
pub const MAX_APPEND_ENTRIES: u64 = 16;
/// Most log entries kept behind a snapshot (fewer when the snapshot threshold is smaller).
pub const LOG_KEPT_BEHIND_SNAPSHOT: u64 = 1000;
/// Most keys one expiry entry deletes.
pub const EXPIRE_BATCH_KEYS: u32 = 1000;
/// How often the node looks whether Raft stopped by itself or a storage failure was recorded
/// (both end the process): a polled check, so a failure is acted on within this time.
pub const STORAGE_FAULT_POLL: Duration = Duration::from_millis(50);
/// How often the node samples its resident memory for `maxmemory` ([`crate::memory`]).
pub const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Reply bytes a connection encodes before it writes them: a connection never holds more
/// encoded replies than this (plus one reply), so a client that pipelines big reads and does
/// not read the answers makes its connection stop, not the node's memory grow.
pub const OUTPUT_CHUNK_BYTES: usize = 64 * 1024;
/// Most threads `worker_threads` may ask for: far past any machine's cores, low enough that a
/// typo (an extra zero or three) is refused instead of starting thousands of threads.
pub const MAX_WORKER_THREADS: usize = 1024;
/// Most bytes of unprocessed input one client may have buffered (one request can never be
/// larger than this; Redis calls it `client-query-buffer-limit`).
pub const MAX_QUERY_BUFFER_BYTES: usize = 256 * 1024 * 1024;
