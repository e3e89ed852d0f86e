//! Operational facade methods: readiness, leadership hand-off (at shutdown, and before the
//! leader removes itself from the cluster), membership views for removal detection, and
//! metrics hooks. Kept apart from the request path in `raft/mod.rs`; like it, this is the only
//! code here that touches openraft.

use std::future::Future;
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;

use super::types::{NodeAddr, NodeId};
use super::Consensus;

/// A membership as this node knows it, in plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipView {
    /// Term of the leader that proposed this membership (0 for none).
    pub term: u64,
    /// Voter ids.
    pub voters: Vec<NodeId>,
    /// Every member (voters and learners) with its addresses.
    pub nodes: Vec<(NodeId, NodeAddr)>,
}

impl MembershipView {
    /// True if `id` is a voter or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.nodes.iter().any(|(n, _)| *n == id)
    }
}

impl Consensus {
    /// Block until Raft's metrics change or `max` passes.
    pub async fn wait_metrics_change(&self, max: Duration) {
        let mut rx = self.raft.metrics();
        let _ = tokio::time::timeout(max, rx.changed()).await;
    }

    /// The leader as this node knows it, each time it changes (including to none), until Raft
    /// stops. Cheap: it watches openraft's server metrics, which change only with the vote,
    /// role, leader or membership, not with every append and apply.
    pub async fn for_each_leader_change(&self, mut f: impl FnMut(Option<NodeId>)) {
        let mut rx = self.raft.server_metrics();
        // A process starts knowing no leader, so a leader elected before this task first ran
        // counts as a change too.
        let mut last = None;
        loop {
            let now = rx.borrow_watched().current_leader;
            if now != last {
                f(now);
                last = now;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// The membership this node currently uses.
    pub fn membership_view(&self) -> MembershipView {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        MembershipView {
            term: m
                .membership_config
                .log_id()
                .as_ref()
                .map(|l| l.committed_leader_id().term)
                .unwrap_or(0),
            voters: membership.voter_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, addr)| (*id, addr.clone()))
                .collect(),
        }
    }

    /// Ok if a leader is known and a linearizable read through the normal read path (forwarded
    /// to the leader if need be) completes within `deadline`; otherwise why not.
    pub async fn ready_for_read(&self, deadline: Duration) -> Result<(), String> {
        if self.metrics().current_leader.is_none() {
            return Err("no leader known".into());
        }
        match tokio::time::timeout(deadline, self.execute(vec![kv::Command::DbSize])).await {
            Err(_) => Err(format!("a linearizable read took longer than {deadline:?}")),
            Ok(replies) => match replies.first() {
                Some(resp::Reply::Integer(_)) => Ok(()),
                Some(resp::Reply::Error(e)) => Err(e.clone()),
                other => Err(format!("unexpected read reply {other:?}")),
            },
        }
    }

    /// If this node leads and other voters exist, ask the most up-to-date of them to take over
    /// and wait up to `wait` for another node to lead. Returns the new leader, if any. Used at
    /// shutdown.
    pub async fn hand_off_leadership(&self, wait: Duration) -> Option<NodeId> {
        self.hand_over("shutting down as leader", wait).await
    }

    /// [`Self::hand_off_leadership`], logging `why` (e.g. low free space).
    pub async fn hand_off_leadership_because(&self, why: &str, wait: Duration) -> Option<NodeId> {
        self.hand_over(why, wait).await
    }

    /// True if this node leads and another voter could take over.
    pub fn can_hand_off(&self) -> bool {
        self.successor().is_some()
    }

    /// The voter best placed to take over from this leader: the one whose replicated log
    /// reaches furthest, so a voter that is down or lagging (its match index stalls) is never
    /// picked before an up-to-date one. None unless this node leads and another voter exists.
    fn successor(&self) -> Option<NodeId> {
        let m = self.metrics();
        if m.state != ServerState::Leader {
            return None;
        }
        let matched = m.replication.clone().unwrap_or_default();
        m.membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != self.node_id)
            .max_by_key(|v| matched.get(v).cloned().flatten().map(|l| l.index()))
    }

    /// Hand leadership to [`Self::successor`] (logging `why`) and wait up to `wait` for
    /// another node to lead. Returns the new leader, if any. openraft's leader stops proposing
    /// and heartbeating once asked, so even if the successor fails to take over, the other
    /// voters elect a leader after an election timeout.
    pub(super) async fn hand_over(&self, why: &str, wait: Duration) -> Option<NodeId> {
        let target = self.successor()?;
        tracing::info!(to = target, "{why}: transferring leadership");
        crate::counters::HANDOVERS_STARTED.incr();
        if let Err(e) = self.raft.trigger().transfer_leader(target).await {
            tracing::warn!(error = %e, "leadership transfer failed");
            return None;
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let leader = self.metrics().current_leader;
            if let Some(l) = leader.filter(|l| *l != self.node_id) {
                tracing::info!(leader = l, "leadership transferred");
                crate::counters::LEADERSHIP_HANDED_OVER.incr();
                return Some(l);
            }
            self.wait_metrics_change(deadline.saturating_duration_since(Instant::now()))
                .await;
        }
        tracing::warn!("no other node took over leadership in {wait:?}");
        None
    }

    /// The upper bound of the election timeout, from Raft's running config.
    pub fn election_timeout_max(&self) -> Duration {
        Duration::from_millis(self.raft.config().election_timeout_max)
    }

    /// Bytes taken by snapshot files (a shorthand for status reporting).
    pub fn snapshot_disk_bytes(&self) -> u64 {
        self.view.snapshot_disk_bytes()
    }
}

/// Run a client write and count its outcome (a write dropped by a timeout counts as failed).
pub(super) async fn observed<T, E>(write: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    struct Pending(bool);
    impl Drop for Pending {
        fn drop(&mut self) {
            if self.0 {
                crate::metrics::record_proposal(false);
            }
        }
    }
    let mut pending = Pending(true);
    let result = write.await;
    pending.0 = false;
    crate::metrics::record_proposal(result.is_ok());
    result
}

/// A consistent snapshot exported for a backup (`RAFTKV SNAPSHOT BEGIN`).
#[derive(Clone, Debug)]
pub struct Export {
    /// Its id (also its file name, without `.snap`, in [`Consensus::export_dir`]).
    pub id: String,
    /// Where it is.
    pub path: std::path::PathBuf,
    /// Its size, in bytes.
    pub size: u64,
    /// CRC32 of the whole file.
    pub crc32: u32,
    /// The last log index it includes.
    pub last_index: u64,
}

/// Exports older than this are deleted when a new one starts (an abandoned download).
pub const EXPORT_MAX_AGE: Duration = Duration::from_secs(3600);

impl Consensus {
    /// Where backup exports are written: `exports/` beside the snapshot directory.
    pub fn export_dir(&self) -> std::path::PathBuf {
        let snaps = self.view.snapshot_dir();
        snaps.parent().unwrap_or(snaps).join("exports")
    }

    /// Export a consistent snapshot for a backup: only on the leader, after a linearizable
    /// read barrier, from an O(1) clone of the applied state, so it holds every write
    /// acknowledged before the call.
    pub async fn export_snapshot(&self) -> Result<Export, String> {
        match self.leader_read(&[]).await {
            Ok(_) => {}
            Err(super::ConsensusError::NotLeader { leader }) => {
                return Err(format!(
                    "not the leader; take the snapshot on the leader (node {})",
                    leader
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
        let dir = self.export_dir();
        let view = self.view.clone();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("backup-{}-{nanos}", self.node_id);
        tokio::task::spawn_blocking(move || {
            remove_old_exports(&dir);
            let (header, path) = view.export(&dir, &id)?;
            let (size, crc32) = file_crc32(&path)?;
            Ok::<_, std::io::Error>(Export {
                id,
                path,
                size,
                crc32,
                last_index: header.meta.last_log_id.map(|l| l.index()).unwrap_or(0),
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write the backup: {e}"))
    }
}

/// Size and CRC32 of a whole file.
pub fn file_crc32(path: &std::path::Path) -> std::io::Result<(u64, u32)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((size, hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

fn remove_old_exports(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > EXPORT_MAX_AGE);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
