//! `raftkv snapshot save` from a live cluster and `raftkv snapshot status` on the file.

mod common;

use common::{raftkv, Cluster};
use resp::Reply;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_save_from_a_follower_then_status_verifies_it() {
    let cluster = Cluster::start(3).await;
    let mut c = cluster.client(1).await;
    for i in 0..300 {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        assert_eq!(c.call(&["SET", &k, &v]).await.unwrap(), Reply::ok());
    }
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let follower = [1, 2, 3].into_iter().find(|i| *i != leader).unwrap();
    let file = cluster.dir.path().join("backup.rkvsnap");
    let file_s = file.to_str().unwrap();
    let endpoint = cluster.node(follower).client.clone();
    let (ok, out, err) = raftkv(&["snapshot", "save", file_s, "--endpoint", &endpoint]);
    assert!(ok, "save failed: {out} {err}");
    assert!(out.starts_with("saved "), "{out}");

    let (ok, status, err) = raftkv(&["snapshot", "status", file_s]);
    assert!(ok, "{err}");
    // Every acknowledged write is in the backup (the barrier makes it linearizable).
    assert!(status.contains("\nkeys: 300\n"), "{status}");
    assert!(status.contains("checksums: ok"), "{status}");
    assert_eq!(status.matches(" voter\n").count(), 3, "{status}");
    // The leader's export is gone once downloaded.
    let exports = cluster.node(leader).data_dir.join("exports");
    let left = std::fs::read_dir(&exports).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "export files left in {}", exports.display());

    // Never overwrite.
    let (ok, _, err) = raftkv(&["snapshot", "save", file_s, "--endpoint", &endpoint]);
    assert!(!ok && err.contains("already exists"), "{err}");

    // A flipped byte in the kv data fails verification.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    let bad = cluster.dir.path().join("bad.rkvsnap");
    std::fs::write(&bad, bytes).unwrap();
    let (ok, _, err) = raftkv(&["snapshot", "status", bad.to_str().unwrap()]);
    assert!(!ok, "a corrupt file must fail: {err}");
}
