//! Damaged files in a stopped node's data dir, on the real binary. A one-node cluster, so every
//! acknowledged write must come back from the node's own disk:
//! - a torn record at the end of the Raft log (a write that never finished) is cut off and the
//!   node restarts with every acknowledged write;
//! - a flipped bit in the middle of the log, or in the middle of the snapshot file, makes
//!   `raftkv serve` exit non-zero with the file's path and a byte offset; with the file put back
//!   as it was, the node starts again with all its data.

mod common;

use std::path::{Path, PathBuf};

use common::{bulk, poll_sync, serve_must_fail, Cluster};
use resp::Reply;

/// Keys written before the node is stopped.
const KEYS: usize = 200;

async fn write_keys(cluster: &Cluster) {
    let mut c = cluster.client(1).await;
    for i in 0..KEYS {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        assert_eq!(c.call(&["SET", &k, &v]).await.unwrap(), Reply::ok());
    }
}

async fn check_keys(cluster: &Cluster) {
    cluster.wait_leader_among(&[1]).await;
    let mut c = cluster.client(1).await;
    for i in 0..KEYS {
        let k = format!("key{i}");
        let got = c.call(&["GET", &k]).await.unwrap();
        assert_eq!(got, bulk(&format!("value{i}")), "{k}");
    }
}

/// The files in `dir` ending in `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with(suffix));
    out.sort();
    out
}

/// Flip one bit in the middle of `path`; returns the original bytes and the offset.
fn flip_middle(path: &Path) -> (Vec<u8>, usize) {
    let original = std::fs::read(path).unwrap();
    let mut bytes = original.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x08;
    std::fs::write(path, bytes).unwrap();
    (original, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_log_tail_is_repaired_and_a_flipped_bit_in_the_log_is_refused() {
    let mut cluster = Cluster::start(1).await;
    write_keys(&cluster).await;
    cluster.kill(1);
    let wal_dir = cluster.node(1).data_dir.join("raft-log");
    let chunk = files(&wal_dir, ".wal").pop().expect("a WAL chunk");

    // A torn write: the start of an append record (type 1, a log id claiming 20 bytes) that
    // never finished reaching the disk.
    let original = std::fs::read(&chunk).unwrap();
    let mut torn = original.clone();
    torn.extend_from_slice(&[0, 0, 0, 1, 20, 0, 0, 0, 7, 7, 7]);
    std::fs::write(&chunk, torn).unwrap();
    cluster.restart(1);
    check_keys(&cluster).await;
    assert_eq!(
        cluster.count(1, "raft_log_torn_records_cut").await,
        1,
        "the torn record was cut at the restart"
    );
    cluster.kill(1);

    // A flipped bit in the middle of the log.
    let chunk = files(&wal_dir, ".wal").pop().expect("a WAL chunk");
    let (original, _) = flip_middle(&chunk);
    let err = serve_must_fail(&cluster.node(1).data_dir, &[]);
    assert!(
        err.contains(&chunk.display().to_string()) && err.contains("byte offset"),
        "{err}"
    );
    assert!(err.contains("refusing to start"), "{err}");
    // Nothing was cut: put the byte back and everything is there.
    std::fs::write(&chunk, original).unwrap();
    cluster.restart(1);
    check_keys(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_the_snapshot_is_refused() {
    let mut cluster = Cluster::start_with(1, &["--snapshot-threshold", "50"]).await;
    write_keys(&cluster).await;
    let snapshots = cluster.node(1).data_dir.join("snapshots");
    poll_sync("a snapshot to be built", || {
        (!files(&snapshots, ".snap").is_empty()).then_some(())
    });
    cluster.kill(1);
    let snap = files(&snapshots, ".snap").pop().unwrap();
    let (original, _) = flip_middle(&snap);
    let err = serve_must_fail(&cluster.node(1).data_dir, &[]);
    assert!(
        err.contains(&snap.display().to_string()) && err.contains("byte offset"),
        "{err}"
    );
    std::fs::write(&snap, original).unwrap();
    cluster.restart(1);
    check_keys(&cluster).await;
}
