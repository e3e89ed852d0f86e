//! Restoring a backup into a new data dir, from which `raftkv serve` starts a new one-node
//! cluster holding exactly the backed-up data.
//!
//! A backup (`raftkv snapshot save`) is a snapshot file of the old cluster: the kv state (keys,
//! values, absolute TTL deadlines, the store clock) plus Raft metadata that describes the *old*
//! cluster: its last log id and its membership (ids and addresses). Neither may carry over: the
//! new node has its own id, and its addresses are known only when `serve` binds its listeners.
//! So restoring takes two steps.
//!
//! 1. [`prepare`] (`raftkv snapshot restore <file> --data-dir <dir> --node-id <id>`) verifies
//!    every checksum of the file, refuses a data dir that holds anything, and writes, in this
//!    order and each durably: the marker [`MARKER`] (holding the node id), then a verified copy
//!    of the backup as [`BACKUP`]. Nothing else: no Raft log, no snapshot directory.
//! 2. [`finish_pending`], run by `serve` before Raft opens the data dir, sees the marker and
//!    writes the node's first snapshot: the backup's kv state under new metadata, namely the log
//!    id `(term 0, this node, the backup's last index)` and the membership `{this node: its
//!    advertised addresses}` as one voter. Then it deletes the marker (durably) and the copy.
//!
//! openraft then starts as after any restart: its state machine holds the snapshot (last applied
//! = that log id, membership = this node alone), the log is empty, so it purges the log up to the
//! snapshot; the node counts as initialized, ignores `--bootstrap`/`--join`, elects itself in
//! term 1 (the snapshot's term 0 is below any real term, so the log ids stay ordered) and leads
//! a one-voter cluster. Nodes that `--join` it get the snapshot streamed like any new member.
//! TTL deadlines are absolute and the store clock travels with the state, so every key expires
//! when it would have in the old cluster.
//!
//! Crash safety: while the marker exists, [`finish_pending`] redoes all of step 2 from the copy,
//! first wiping `raft-log/` and `snapshots/` (which only an interrupted step 2 can have
//! written), so a crash at any point of the first start is repaired by the next start. A marker
//! without the copy means step 1 did not finish: `serve` refuses with a message saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use openraft::vote::RaftLeaderIdExt;

use super::{read_file, SnapshotDir, SnapshotHeader};
use crate::raft::types::{LogId, NodeAddr, NodeId, SnapshotMeta, StoredMembership, TypeConfig};

/// The marker file in a data dir with a restore to finish; it holds `node_id=<id>`.
pub const MARKER: &str = "restore.pending";
/// The verified copy of the backup, in the data dir, until the restore is finished.
pub const BACKUP: &str = "restore.snap";
/// Subdirectories of a data dir that a restore (re)creates from the backup.
const RAFT_DIRS: [&str; 2] = ["raft-log", "snapshots"];

/// What a prepared restore holds.
#[derive(Clone, Debug)]
pub struct RestoreSummary {
    /// The backup's snapshot id.
    pub snapshot_id: String,
    /// The backup's last included log index (0 if none).
    pub last_index: u64,
    /// Keys in the backup (including expired keys not yet reclaimed).
    pub keys: u64,
}

fn ctx(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Create `dir/name` durably: `write` fills a temporary file, which is fsynced and renamed into
/// place, then the directory is fsynced.
fn write_durably(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    write(&mut file)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Step 1: verify `backup`, and set up `data_dir` (which must not exist or be empty) so that a
/// node with id `node_id` starts from it as a new one-node cluster.
pub fn prepare(backup: &Path, data_dir: &Path, node_id: NodeId) -> io::Result<RestoreSummary> {
    let (header, store) = read_file(backup)?;
    match fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is not empty; restore only into a new or empty directory",
                        data_dir.display()
                    ),
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(ctx(format!("creating {}", data_dir.display())))?
        }
        Err(e) => return Err(ctx(format!("reading {}", data_dir.display()))(e)),
    }
    write_durably(data_dir, MARKER, |f| writeln!(f, "node_id={node_id}"))?;
    write_durably(data_dir, BACKUP, |f| {
        io::copy(&mut File::open(backup)?, f).map(|_| ())
    })?;
    // The first start verifies the copy again before using it.
    Ok(RestoreSummary {
        snapshot_id: header.id,
        last_index: header.meta.last_log_id.map(|l| l.index()).unwrap_or(0),
        keys: store.stats(store.clock_ms()).keys,
    })
}

/// The node id a marker file names.
fn marker_node_id(path: &Path) -> io::Result<NodeId> {
    let text = fs::read_to_string(path)?;
    text.trim()
        .strip_prefix("node_id=")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad restore marker {}: {text:?}", path.display()),
            )
        })
}

/// Step 2, at `serve` start before Raft opens `data_dir`: if a restore is pending, write the
/// node's first snapshot from the backup with this node (`node_id` at `me`) as the only voter.
/// Returns true if it finished a restore. Idempotent until it returns.
pub fn finish_pending(data_dir: &Path, node_id: NodeId, me: &NodeAddr) -> io::Result<bool> {
    let marker = data_dir.join(MARKER);
    let backup = data_dir.join(BACKUP);
    if !marker.exists() {
        if backup.exists() {
            // A finished restore whose copy was not deleted yet.
            fs::remove_file(&backup)?;
        }
        return Ok(false);
    }
    let restored_for = marker_node_id(&marker)?;
    if restored_for != node_id {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} was restored for node id {restored_for}, but this node has id {node_id}",
                data_dir.display()
            ),
        ));
    }
    if !backup.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the restore into {} did not finish ({} is missing): delete the directory and \
                 run `raftkv snapshot restore` again",
                data_dir.display(),
                backup.display()
            ),
        ));
    }
    let (old, store) = read_file(&backup)?;
    for dir in RAFT_DIRS {
        let path: PathBuf = data_dir.join(dir);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(ctx(format!("removing {}", path.display())))?;
        }
    }
    let index = old.meta.last_log_id.map(|l| l.index()).unwrap_or(0);
    let log_id = LogId::new(
        <openraft::alias::LeaderIdOf<TypeConfig> as RaftLeaderIdExt>::new_committed(0, node_id),
        index,
    );
    let membership = openraft::Membership::new(
        vec![BTreeSet::from([node_id])],
        BTreeMap::from([(node_id, me.clone())]),
    )
    .map_err(io::Error::other)?;
    let header = SnapshotHeader {
        id: format!("restored-{index:020}-{}", old.id),
        meta: SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
        },
    };
    let snapshots = SnapshotDir::open(&data_dir.join("snapshots"))?;
    snapshots.write(&header, |w| store.write_snapshot(w))?;
    fs::remove_file(&marker)?;
    File::open(data_dir)?.sync_all()?;
    fs::remove_file(&backup)?;
    tracing::info!(
        node_id,
        from = %old.id,
        last_index = index,
        keys = store.stats(store.clock_ms()).keys,
        "restored a backup: starting a new one-node cluster from it"
    );
    Ok(true)
}
