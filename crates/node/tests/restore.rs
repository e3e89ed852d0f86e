//! `snapshot_file::restore` on the storage layer: preparing a data dir from a backup, and the
//! first start finishing it, including after a crash in the middle of that first start.

use std::path::Path;

use bytes::Bytes;
use node::raft::snapshot_file::restore::{self, BACKUP, MARKER};
use node::raft::snapshot_file::{SnapshotDir, SnapshotHeader};
use node::raft::state_machine::StateMachine;
use node::raft::types::{LogId, NodeAddr, SnapshotMeta, StoredMembership, TypeConfig};
use openraft::storage::RaftStateMachine;
use openraft::vote::RaftLeaderIdExt;
use resp::Reply;

/// Keys in the backup; every third has a TTL.
const KEYS: u64 = 30;
/// The backup's clock (and the time its writes were applied), in ms since the epoch.
const CLOCK_MS: u64 = 1_700_000_000_000;

fn args(parts: &[&str]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::from(p.to_string())).collect()
}

fn cmd(parts: &[&str]) -> kv::Command {
    kv::Command::parse(&args(parts)).expect("command parses")
}

/// A backup of an old 3-node cluster at log index 500 (term 4), written to `path`.
fn write_backup(dir: &Path) -> std::path::PathBuf {
    let mut store = kv::Store::new();
    for i in 0..KEYS {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        let c = if i % 3 == 0 {
            cmd(&["SET", &k, &v, "EX", "3600"])
        } else {
            cmd(&["SET", &k, &v])
        };
        store.apply(CLOCK_MS, &c);
    }
    let old_leader =
        <openraft::alias::LeaderIdOf<TypeConfig> as RaftLeaderIdExt>::new_committed(4, 1);
    let last = LogId::new(old_leader, 500);
    let old_members = openraft::Membership::new(
        vec![[1, 2, 3].into()],
        (1..=3)
            .map(|id| (id, NodeAddr::default()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .expect("membership");
    let header = SnapshotHeader {
        id: "backup-1-1".into(),
        meta: SnapshotMeta {
            last_log_id: Some(last),
            last_membership: StoredMembership::new(Some(LogId::new(old_leader, 3)), old_members),
        },
    };
    SnapshotDir::open(&dir.join("exports"))
        .expect("dir")
        .write(&header, |w| store.write_snapshot(w))
        .expect("write backup")
}

fn me() -> NodeAddr {
    NodeAddr {
        peer_addr: "127.0.0.1:17009".into(),
        client_addr: "127.0.0.1:7009".into(),
    }
}

/// Open the state machine of `data_dir` and check it holds the backup as node 9's cluster.
async fn check_restored(data_dir: &Path) {
    let mut sm = StateMachine::open(data_dir.join("snapshots")).expect("open restored");
    let (applied, membership) = sm.applied_state().await.expect("applied state");
    let applied = applied.expect("last applied");
    assert_eq!(applied.index(), 500);
    assert_eq!(applied.leader_id.term, 0, "a fresh term below any real one");
    assert_eq!(applied.leader_id.node_id, 9);
    let voters: Vec<u64> = membership.membership().voter_ids().collect();
    assert_eq!(voters, vec![9]);
    let nodes: Vec<_> = membership.membership().nodes().collect();
    assert_eq!(nodes, vec![(&9, &me())]);
    let snapshot = sm
        .get_current_snapshot()
        .await
        .expect("current snapshot")
        .expect("a snapshot");
    assert_eq!(snapshot.meta.last_log_id, Some(applied));

    let view = sm.view();
    for i in 0..KEYS {
        let k = format!("key{i}");
        let got = view.query(CLOCK_MS, &[cmd(&["GET", &k]), cmd(&["PEXPIRETIME", &k])]);
        assert_eq!(got[0], Reply::Bulk(Bytes::from(format!("value{i}"))), "{k}");
        let deadline = if i % 3 == 0 {
            (CLOCK_MS + 3_600_000) as i64
        } else {
            -1
        };
        assert_eq!(got[1], Reply::Integer(deadline), "absolute TTL of {k}");
    }
    assert!(!data_dir.join(MARKER).exists());
    assert!(!data_dir.join(BACKUP).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_prepares_a_new_dir_and_the_first_start_finishes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backup = write_backup(dir.path());
    let data_dir = dir.path().join("restored");

    let summary = restore::prepare(&backup, &data_dir, 9).expect("prepare");
    assert_eq!((summary.keys, summary.last_index), (KEYS, 500));
    assert!(data_dir.join(MARKER).exists() && data_dir.join(BACKUP).exists());

    // Never into a dir that holds anything, this one included.
    let err = restore::prepare(&backup, &data_dir, 9).expect_err("non-empty dir");
    assert!(err.to_string().contains("not empty"), "{err}");
    // A different node id at start is refused, and changes nothing.
    let err = restore::finish_pending(&data_dir, 10, &me()).expect_err("wrong id");
    assert!(err.to_string().contains("restored for node id 9"), "{err}");
    assert!(data_dir.join(MARKER).exists());

    assert!(restore::finish_pending(&data_dir, 9, &me()).expect("finish"));
    check_restored(&data_dir).await;
    // Later starts have nothing to do.
    assert!(!restore::finish_pending(&data_dir, 9, &me()).expect("no-op"));
    check_restored(&data_dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_interrupted_anywhere_is_redone_on_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backup = write_backup(dir.path());
    let data_dir = dir.path().join("restored");
    restore::prepare(&backup, &data_dir, 9).expect("prepare");
    // A crash after the snapshot was written, before the marker was deleted: leftovers of that
    // attempt (a snapshot, a log directory) are in the data dir.
    let stale = data_dir.join("snapshots");
    std::fs::create_dir_all(&stale).expect("mkdir");
    std::fs::write(stale.join("snap-99999999-0.snap"), b"half a snapshot").expect("junk");
    std::fs::create_dir_all(data_dir.join("raft-log")).expect("mkdir");
    std::fs::write(data_dir.join("raft-log").join("junk"), b"x").expect("junk");
    assert!(restore::finish_pending(&data_dir, 9, &me()).expect("finish"));
    assert!(!data_dir.join("raft-log").exists());
    let files = std::fs::read_dir(&stale).expect("snapshots").count();
    assert_eq!(files, 1, "only the restored snapshot is left");
    check_restored(&data_dir).await;

    // A crash after the marker was deleted, before the copy was: the copy is just removed.
    std::fs::copy(&backup, data_dir.join(BACKUP)).expect("copy");
    assert!(!restore::finish_pending(&data_dir, 9, &me()).expect("no-op"));
    check_restored(&data_dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_backup_or_an_unfinished_restore_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backup = write_backup(dir.path());
    let mut bytes = std::fs::read(&backup).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    let bad = dir.path().join("bad.snap");
    std::fs::write(&bad, bytes).expect("write");
    let data_dir = dir.path().join("restored");
    let err = restore::prepare(&bad, &data_dir, 9).expect_err("corrupt backup");
    assert!(err.to_string().contains("byte offset"), "{err}");
    assert!(
        !data_dir.exists(),
        "nothing is created for a corrupt backup"
    );

    // The marker without the copy: the restore command itself was interrupted.
    restore::prepare(&backup, &data_dir, 9).expect("prepare");
    std::fs::remove_file(data_dir.join(BACKUP)).expect("rm");
    let err = restore::finish_pending(&data_dir, 9, &me()).expect_err("unfinished");
    assert!(err.to_string().contains("did not finish"), "{err}");
}
