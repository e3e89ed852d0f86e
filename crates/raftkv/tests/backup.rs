//! `raftkv snapshot save` from a live cluster, `raftkv snapshot status` on the file, and
//! `raftkv snapshot restore` of it into a new cluster that another node joins.

mod common;

use common::{raftkv, wait_until, Cluster};
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

/// Every key a node holds, with its value and absolute deadline (`PEXPIRETIME`), sorted.
async fn dump(cluster: &Cluster, id: u64) -> Vec<(String, Reply, Reply)> {
    let mut c = cluster.client(id).await;
    let mut keys = match c.call(&["KEYS", "*"]).await.expect("KEYS") {
        Reply::Array(keys) => keys
            .into_iter()
            .map(|k| match k {
                Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("KEYS item {other:?}"),
            })
            .collect::<Vec<_>>(),
        other => panic!("KEYS reply {other:?}"),
    };
    keys.sort();
    // One pipelined batch: GET and PEXPIRETIME of every key.
    let mut batch = bytes::BytesMut::new();
    for k in &keys {
        node::client::encode_command(&["GET", k.as_str()], &mut batch);
        node::client::encode_command(&["PEXPIRETIME", k.as_str()], &mut batch);
    }
    c.send_raw(&batch).await.expect("send");
    let mut out = Vec::new();
    for k in keys {
        let value = c.read_reply().await.expect("GET");
        let deadline = c.read_reply().await.expect("PEXPIRETIME");
        out.push((k, value, deadline));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_a_backup_into_a_new_cluster_that_another_node_joins() {
    let mut cluster = Cluster::start(3).await;
    let mut c = cluster.client(2).await;
    for i in 0..200 {
        let (k, v) = (format!("key{i}"), format!("value{i}"));
        let reply = if i % 4 == 0 {
            c.call(&["SET", &k, &v, "EX", "3600"]).await
        } else {
            c.call(&["SET", &k, &v]).await
        };
        assert_eq!(reply.unwrap(), Reply::ok());
    }
    let before = dump(&cluster, 1).await;
    assert_eq!(before.len(), 200);
    let file = cluster.dir.path().join("backup.rkvsnap");
    let file_s = file.to_str().unwrap().to_string();
    let (ok, out, err) = raftkv(&[
        "snapshot",
        "save",
        &file_s,
        "--endpoint",
        &cluster.node(1).client,
    ]);
    assert!(ok, "save failed: {out} {err}");
    // Disaster: the whole old cluster is gone.
    for id in 1..=3 {
        cluster.kill(id);
    }

    // A corrupt backup is refused and creates nothing.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x04;
    let bad = cluster.dir.path().join("bad.rkvsnap");
    std::fs::write(&bad, bytes).unwrap();
    let bad_dir = cluster.dir.path().join("bad-restore");
    let bad_dir_s = bad_dir.to_str().unwrap();
    let (ok, _, err) = raftkv(&[
        "snapshot",
        "restore",
        bad.to_str().unwrap(),
        "--data-dir",
        bad_dir_s,
        "--node-id",
        "4",
    ]);
    assert!(
        !ok && err.contains("byte offset"),
        "a corrupt backup must be refused: {err}"
    );
    assert!(!bad_dir.exists());

    let restored = cluster.dir.path().join("node4");
    let restored_s = restored.to_str().unwrap();
    let restore = [
        "snapshot",
        "restore",
        &file_s,
        "--data-dir",
        restored_s,
        "--node-id",
        "4",
    ];
    let (ok, out, err) = raftkv(&restore);
    assert!(ok, "restore failed: {out} {err}");
    assert!(out.contains("200 keys"), "{out}");
    // Never over a data dir that holds anything.
    let (ok, _, err) = raftkv(&restore);
    assert!(!ok && err.contains("not empty"), "{err}");

    // The restored node leads a new one-node cluster with exactly the data (--bootstrap is
    // ignored), TTL deadlines unchanged.
    cluster.spawn_on(4, &restored, &["--bootstrap"]);
    cluster.wait_leader_among(&[4]).await;
    assert_eq!(dump(&cluster, 4).await, before);
    let info = cluster.info(4).await.unwrap();
    assert_eq!(info["raft_voters"], "4");

    // A fresh node joins it, gets the data through the snapshot, and holds all of it (its
    // stale reads are served from its own state machine).
    cluster.spawn_empty(
        5,
        &[
            "--join",
            &cluster.node(4).client.clone(),
            "--unsafe-stale-reads",
        ],
    );
    cluster.wait_voters(&[4, 5]).await;
    let (c, want) = (&cluster, &before);
    wait_until("node 5 to hold the restored data", || async move {
        dump(c, 5).await == *want
    })
    .await;

    // Writes work through either node, and survive a restart of the restored node.
    assert_eq!(
        cluster.call(5, &["SET", "after", "restore"]).await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(4, &["INCR", "key1-counter"]).await,
        Reply::Integer(1)
    );
    cluster.kill(4);
    cluster.restart(4);
    cluster.wait_leader_among(&[4, 5]).await;
    assert_eq!(
        cluster.call(4, &["GET", "after"]).await,
        common::bulk("restore")
    );
    assert_eq!(dump(&cluster, 4).await.len(), 202);
}
