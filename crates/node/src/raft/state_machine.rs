//! The state machine adapter: openraft's [`RaftStateMachine`] over the in-memory [`kv::Store`].
//!
//! Committed entries are applied in log order under a write lock held only for one entry; reads
//! take the read lock and call [`kv::Store::query`], so clients never wait for an apply batch.
//! The store is a persistent (structurally shared) map: cloning it is O(1), which is how a
//! snapshot is taken — the builder clones the store together with the last applied log id and
//! membership under one lock, then serializes the clone on a blocking thread while applies go on.
//!
//! Invariants: `last_applied` only grows (asserted); the store, `last_applied` and the
//! membership always change together under one lock, so a snapshot is a consistent cut.
//!
//! A snapshot that cannot be written (a full disk, EIO) is not fatal: the temporary file is
//! removed, the previous snapshot stays current and intact, openraft is handed that previous
//! snapshot back (so it purges nothing new), the error is logged once per run of failures and
//! counted (`raftkv_snapshot_failures_total`, `INFO persistence`), and no new attempt starts for
//! [`SNAPSHOT_RETRY_AFTER`]. The log keeps growing meanwhile, which the free-space monitor
//! reports.
//!
//! A `PUBLISH` entry changes no key; applying it hands the message to this node's pub/sub
//! [`Hub`], which queues it for the local subscribers (never waiting), and its reply is the
//! number of messages queued here. Entries covered by an installed snapshot are never applied,
//! so their messages are not delivered on a node that catches up from a snapshot.
//!
//! Every applied write reports the keys it names that now hold a new value (a key deleted, or
//! a pop from an empty list, reports nothing) to this node's blocked-client [`Registry`]
//! (after the entry's lock is released), which wakes the client first in line on each; an
//! installed snapshot wakes every blocked client. The registry is node-local and never touches
//! the store, so applying stays deterministic.
//!
//! The ACL user table (see [`kv::acl`]) is published to the client path as an `Arc` plus a
//! version number: after each entry (or installed snapshot) whose apply replaced the store's
//! table, the new `Arc` is stored and the version raised, so a connection notices a change
//! with one atomic load and takes the lock only then.
//!
//! On start the newest snapshot file is loaded and openraft re-applies the committed log after
//! it. A corrupt snapshot file stops the node with an error naming the file.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use super::snapshot_file::{self, SnapshotDir, SnapshotFile, SnapshotHeader};
use super::types::{LogCommand, LogId, SnapshotMeta, StoredMembership, TypeConfig};
use crate::blocked::{Registry, Wakes};
use crate::clock::leader::LeaderClock;
use crate::pubsub::Hub;

/// After a snapshot failed to be written, how long before openraft may start another.
pub const SNAPSHOT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A snapshot handed to openraft: an open file positioned at its start.
pub type SnapshotData = SnapshotFile;
type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;

/// What the state machine holds; always changed as one.
#[derive(Default)]
struct Applied {
    store: kv::Store,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

/// State shared between the Raft state machine task and the client read path.
pub struct Shared {
    applied: RwLock<Applied>,
    current_snapshot: RwLock<Option<(SnapshotHeader, PathBuf)>>,
    snapshots: SnapshotDir,
    /// The newest applied leader stamp and when it was applied (see [`LeaderClock`]).
    leader_clock: LeaderClock,
    /// Snapshot builds that failed since start.
    snapshot_failures: AtomicU64,
    /// The last failure of the current run of failures; `None` once a build succeeds.
    last_snapshot_failure: Mutex<Option<(Instant, String)>>,
    /// Local pub/sub subscribers, to which applied `PUBLISH` entries are delivered.
    hub: Arc<Hub>,
    /// Clients blocked on this node (BLPOP and kin), woken by applied writes to their keys.
    blocking: Arc<Registry>,
    /// The ACL user table last applied (the store's own `Arc`).
    acl: RwLock<Arc<kv::acl::Acl>>,
    /// Raised every time `acl` is replaced.
    acl_version: AtomicU64,
}

impl Shared {
    /// Publish the store's ACL table if it is not the one published.
    fn publish_acl(&self, store: &kv::Store) {
        let changed = !Arc::ptr_eq(&self.acl.read().expect("acl lock poisoned"), store.acl());
        if changed {
            *self.acl.write().expect("acl lock poisoned") = store.acl().clone();
            self.acl_version.fetch_add(1, Ordering::Release);
        }
    }
}

/// Snapshot build outcomes, in plain data, for `INFO persistence`.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotStatus {
    /// Builds that failed since start.
    pub failures: u64,
    /// The error of the latest build if it failed.
    pub last_error: Option<String>,
}

/// A read-only view of the applied state for the client read path.
#[derive(Clone)]
pub struct StateView {
    shared: Arc<Shared>,
}

impl StateView {
    /// Answer read-only commands at `now_ms` (never earlier than the store's own clock).
    pub fn query(&self, now_ms: u64, cmds: &[kv::Command]) -> Vec<resp::Reply> {
        let applied = self.shared.applied.read().expect("state lock poisoned");
        let now = now_ms.max(applied.store.clock_ms());
        cmds.iter()
            .map(|cmd| applied.store.query(now, cmd))
            .collect()
    }

    /// The leader's time as this node estimates it: the newest applied entry's stamp plus the
    /// monotonic time since it was applied, never less than the store clock. Used for reads
    /// that get no time from the leader, so this machine's wall clock never judges a TTL.
    pub fn leader_now_ms(&self) -> u64 {
        let clock = self
            .shared
            .applied
            .read()
            .expect("state lock poisoned")
            .store
            .clock_ms();
        let estimate = self
            .shared
            .leader_clock
            .estimate_ms(std::time::Instant::now());
        estimate.unwrap_or(0).max(clock)
    }

    /// Key statistics of the local store at `now_ms`.
    pub fn stats(&self, now_ms: u64) -> kv::Stats {
        self.shared
            .applied
            .read()
            .expect("state lock poisoned")
            .store
            .stats(now_ms)
    }

    /// The earliest key deadline and the store clock (greatest applied leader time).
    pub fn expiry_state(&self) -> (Option<u64>, u64) {
        let applied = self.shared.applied.read().expect("state lock poisoned");
        (applied.store.next_expiry_ms(), applied.store.clock_ms())
    }

    /// The version of the ACL table: raised whenever [`StateView::acl`] changes.
    pub fn acl_version(&self) -> u64 {
        self.shared.acl_version.load(Ordering::Acquire)
    }

    /// The ACL table last applied, with its version.
    pub fn acl(&self) -> (u64, Arc<kv::acl::Acl>) {
        let acl = self.shared.acl.read().expect("acl lock poisoned");
        (self.acl_version(), acl.clone())
    }

    /// This node's pub/sub hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.shared.hub
    }

    /// This node's registry of blocked clients.
    pub fn blocking(&self) -> &Arc<Registry> {
        &self.shared.blocking
    }

    /// Bytes taken by snapshot files.
    pub fn snapshot_disk_bytes(&self) -> u64 {
        self.shared.snapshots.disk_bytes()
    }

    /// How snapshot builds went.
    pub fn snapshot_status(&self) -> SnapshotStatus {
        let last = self
            .shared
            .last_snapshot_failure
            .lock()
            .expect("snapshot failure lock poisoned");
        SnapshotStatus {
            failures: self.shared.snapshot_failures.load(Ordering::Relaxed),
            last_error: last.as_ref().map(|(_, e)| e.clone()),
        }
    }
}

/// The Raft state machine. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Open the state machine, loading the newest snapshot in `snapshot_dir` if there is one.
    pub fn open(snapshot_dir: PathBuf) -> io::Result<StateMachine> {
        let snapshots = SnapshotDir::open(&snapshot_dir)?;
        let mut applied = Applied::default();
        let mut current = None;
        if let Some((_, path)) = snapshots.latest()? {
            let (header, store) = snapshot_file::read_file(&path)?;
            tracing::info!(snapshot = %header.id, path = %path.display(), "loaded snapshot");
            applied.store = store;
            applied.last_applied = header.meta.last_log_id;
            applied.membership = header.meta.last_membership.clone();
            current = Some((header, path));
        }
        let acl = RwLock::new(applied.store.acl().clone());
        let shared = Arc::new(Shared {
            acl,
            acl_version: AtomicU64::new(0),
            applied: RwLock::new(applied),
            current_snapshot: RwLock::new(current),
            snapshots,
            leader_clock: LeaderClock::default(),
            snapshot_failures: AtomicU64::new(0),
            last_snapshot_failure: Mutex::new(None),
            hub: Arc::new(Hub::default()),
            blocking: Arc::new(Registry::new(crate::blocked::MAX_BLOCKED_CLIENTS)),
        });
        Ok(StateMachine { shared })
    }

    /// A read-only view for the client read path.
    pub fn view(&self) -> StateView {
        StateView {
            shared: self.shared.clone(),
        }
    }

    fn open_snapshot(meta: &SnapshotMeta, path: &std::path::Path) -> io::Result<Snapshot> {
        Ok(Snapshot {
            meta: meta.clone(),
            snapshot: SnapshotFile::open(path.to_path_buf())?,
        })
    }
}

/// Builds one snapshot from a consistent clone of the applied state.
pub struct SnapshotBuilder {
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let (store, last_applied, membership) = {
            let applied = self.shared.applied.read().expect("state lock poisoned");
            (
                applied.store.clone(),
                applied.last_applied,
                applied.membership.clone(),
            )
        };
        let id = format!(
            "snap-{:020}-{}",
            last_applied.as_ref().map(|l| l.index()).unwrap_or(0),
            now_nanos()
        );
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
        };
        let header = SnapshotHeader {
            id,
            meta: meta.clone(),
        };
        let shared = self.shared.clone();
        let started = std::time::Instant::now();
        let written = tokio::task::spawn_blocking(move || {
            let path = shared
                .snapshots
                .write(&header, |w| store.write_snapshot(w))?;
            Ok::<_, io::Error>((header, path))
        })
        .await
        .map_err(io::Error::other)?;
        let (header, path) = match written {
            Ok(done) => done,
            Err(e) => return self.shared.snapshot_failed(&e),
        };
        tracing::info!(snapshot = %header.id, ms = started.elapsed().as_millis() as u64, "built snapshot");
        self.shared.snapshot_succeeded();
        self.shared.set_current(header, path.clone())?;
        StateMachine::open_snapshot(&meta, &path)
    }
}

impl Shared {
    /// Count and log (once per run of failures) a snapshot that could not be written, and
    /// give openraft the current snapshot back: its log id is not newer than what openraft
    /// has, so nothing is purged. Without any snapshot yet, an empty stand-in with no log id
    /// does the same (openraft keeps only the metadata of a built snapshot).
    fn snapshot_failed(&self, e: &io::Error) -> Result<Snapshot, io::Error> {
        let n = self.snapshot_failures.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::counter!("raftkv_snapshot_failures_total").increment(1);
        let mut last = self
            .last_snapshot_failure
            .lock()
            .expect("snapshot failure lock poisoned");
        if last.is_none() {
            tracing::error!(error = %e, failures = n, "snapshot not written; the previous snapshot and the log behind it are kept; retrying in {}s", SNAPSHOT_RETRY_AFTER.as_secs());
        } else {
            tracing::debug!(error = %e, failures = n, "snapshot not written again");
        }
        *last = Some((Instant::now(), e.to_string()));
        drop(last);
        let current = self
            .current_snapshot
            .read()
            .expect("snapshot lock poisoned")
            .clone();
        match current {
            Some((header, path)) => StateMachine::open_snapshot(&header.meta, &path),
            None => Ok(Snapshot {
                meta: SnapshotMeta::default(),
                snapshot: SnapshotFile::open(PathBuf::from("/dev/null"))?,
            }),
        }
    }

    /// Note a snapshot written after failures.
    fn snapshot_succeeded(&self) {
        let mut last = self
            .last_snapshot_failure
            .lock()
            .expect("snapshot failure lock poisoned");
        if last.take().is_some() {
            tracing::info!("snapshot written again after earlier failures");
        }
    }

    /// True while a recent failure defers the next snapshot.
    fn snapshot_deferred(&self) -> bool {
        self.last_snapshot_failure
            .lock()
            .expect("snapshot failure lock poisoned")
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < SNAPSHOT_RETRY_AFTER)
    }

    /// Make `path` the current snapshot if it is newer, and delete older files.
    fn set_current(&self, header: SnapshotHeader, path: PathBuf) -> io::Result<()> {
        let mut current = self
            .current_snapshot
            .write()
            .expect("snapshot lock poisoned");
        let newer = current
            .as_ref()
            .is_none_or(|(h, _)| header.meta.last_log_id >= h.meta.last_log_id);
        if newer {
            self.snapshots.remove_others(&path)?;
            *current = Some((header, path));
        } else {
            std::fs::remove_file(&path)?;
        }
        Ok(())
    }
}

/// Apply one entry's commands in order, one reply each, with [`kv::Store::apply_batch`]'s rule:
/// a failed WATCH guard (EXEC of a transaction whose watched keys changed) skips the rest,
/// which answer [`kv::WATCH_ABORTED`] too.
fn apply_entry(store: &mut kv::Store, hub: &Hub, c: &LogCommand) -> Vec<resp::Reply> {
    let mut replies = Vec::with_capacity(c.cmds.len());
    for cmd in c.cmds.iter() {
        let reply = apply_one(store, hub, c.now_ms, cmd);
        let abort = kv::aborts_batch(cmd, &reply);
        replies.push(reply);
        if abort {
            replies.resize(c.cmds.len(), kv::WATCH_ABORTED);
            break;
        }
    }
    replies
}

/// Apply one command; an applied `PUBLISH` is delivered to this node's subscribers and answers
/// how many messages were queued here. A script's PUBLISHes are delivered too, in order.
fn apply_one(store: &mut kv::Store, hub: &Hub, now_ms: u64, cmd: &kv::Command) -> resp::Reply {
    let mut messages = Vec::new();
    let reply = store.apply_publishing(now_ms, cmd, &mut messages);
    for (channel, message) in &messages {
        hub.publish(channel, message);
    }
    match cmd {
        kv::Command::Publish { channel, message } if !matches!(reply, resp::Reply::Error(_)) => {
            resp::Reply::Integer(hub.publish(channel, message) as i64)
        }
        _ => reply,
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let applied = self.shared.applied.read().expect("state lock poisoned");
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: futures_util::Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>>
            + Unpin
            + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let watching = self.shared.blocking.has_waiters();
            let (reply, wakes) = {
                let mut applied = self.shared.applied.write().expect("state lock poisoned");
                assert!(
                    applied.last_applied.as_ref() < Some(&entry.log_id),
                    "applied index must grow: {:?} then {}",
                    applied.last_applied,
                    entry.log_id
                );
                applied.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => (Vec::new(), Wakes::default()),
                    EntryPayload::Normal(ref c) => {
                        self.shared
                            .leader_clock
                            .observe(c.now_ms, std::time::Instant::now());
                        let before = watching.then(|| Wakes::before(&applied.store, &c.cmds));
                        let started = std::time::Instant::now();
                        let reply = apply_entry(&mut applied.store, &self.shared.hub, c);
                        crate::metrics::record_stage(
                            crate::metrics::Stage::Apply,
                            started.elapsed(),
                        );
                        self.shared.publish_acl(&applied.store);
                        let wakes = before
                            .map(|b| Wakes::after(b, &applied.store, &c.cmds))
                            .unwrap_or_default();
                        (reply, wakes)
                    }
                    EntryPayload::Membership(ref m) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                        (Vec::new(), Wakes::default())
                    }
                }
            };
            wakes.deliver(&self.shared.blocking);
            if let Some(responder) = responder {
                responder.send(reply);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
        }
    }

    async fn try_create_snapshot_builder(&mut self, force: bool) -> Option<Self::SnapshotBuilder> {
        if !force && self.shared.snapshot_deferred() {
            return None;
        }
        Some(self.get_snapshot_builder().await)
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let received = snapshot.path.clone();
        drop(snapshot);
        let (header, store) = tokio::task::spawn_blocking({
            let received = received.clone();
            move || snapshot_file::read_file(&received)
        })
        .await
        .map_err(io::Error::other)??;
        if header.meta.last_log_id != meta.last_log_id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "received snapshot {} covers {:?}, not {:?} as announced",
                    header.id, header.meta.last_log_id, meta.last_log_id
                ),
            ));
        }
        {
            let mut applied = self.shared.applied.write().expect("state lock poisoned");
            applied.store = store;
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
            self.shared.publish_acl(&applied.store);
        }
        self.shared.blocking.wake_all();
        let path = self.shared.snapshots.adopt(&received, &header)?;
        tracing::info!(snapshot = %header.id, "installed snapshot from leader");
        crate::counters::SNAPSHOTS_INSTALLED.incr();
        self.shared.set_current(header, path)?;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let current = self
            .shared
            .current_snapshot
            .read()
            .expect("snapshot lock poisoned")
            .clone();
        match current {
            Some((header, path)) => Ok(Some(StateMachine::open_snapshot(&header.meta, &path)?)),
            None => Ok(None),
        }
    }
}

impl StateView {
    /// Write the applied state, as one consistent cut taken under the state lock (an O(1) clone
    /// of the persistent store), to a new snapshot file named `id` in `dir`, for a backup.
    /// Blocking: call it off the async threads. Returns the header and the file's path.
    pub fn export(&self, dir: &std::path::Path, id: &str) -> io::Result<(SnapshotHeader, PathBuf)> {
        let (store, last_applied, membership) = {
            let applied = self.shared.applied.read().expect("state lock poisoned");
            (
                applied.store.clone(),
                applied.last_applied,
                applied.membership.clone(),
            )
        };
        let header = SnapshotHeader {
            id: id.to_string(),
            meta: SnapshotMeta {
                last_log_id: last_applied,
                last_membership: membership,
            },
        };
        let path = SnapshotDir::open(dir)?.write(&header, |w| store.write_snapshot(w))?;
        Ok((header, path))
    }

    /// The directory holding this node's snapshots.
    pub fn snapshot_dir(&self) -> &std::path::Path {
        self.shared.snapshots.dir()
    }

    /// A fresh path in the snapshot directory where the transport can write a received snapshot.
    pub fn receive_path(&self, name: &str) -> PathBuf {
        self.shared.snapshots.temp_path(&format!("recv-{name}"))
    }
}
