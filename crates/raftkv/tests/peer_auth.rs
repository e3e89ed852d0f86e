//! Peer authentication with `--cluster-secret-file`: a cluster whose nodes share a secret
//! replicates and survives a leader kill; a node with another secret cannot join (the add is
//! refused with the reason, and it receives nothing); a stranger on the peer port who does not
//! know the secret is refused after the hello, and one that sends half a hello is dropped.
//! `INFO raft` `peer_auth_failures` counts the refusals, so nothing sleeps.

mod common;

use std::path::{Path, PathBuf};

use common::{bulk, raftkv, wait_until, Cluster, WAIT};
use resp::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Write `secret` to a file in `dir` and return its path.
fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

/// The 40-byte hello of protocol 3: magic, version, from, to, a nonce.
fn hello(from: u64, to: u64) -> Vec<u8> {
    let mut h = b"RKVP".to_vec();
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&from.to_le_bytes());
    h.extend_from_slice(&to.to_le_bytes());
    h.extend_from_slice(&[42u8; 16]);
    h
}

/// Read until the peer closes the connection; the bytes received.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
        .await
        .expect("the node closes the connection")
        .expect("read");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_a_secret_replicate_and_a_node_with_another_cannot_join() {
    let dir = tempfile::tempdir().unwrap();
    let good = secret_file(dir.path(), "good", "correct horse battery staple");
    let bad = secret_file(dir.path(), "bad", "incorrect horse battery staple");
    let flag = |p: &Path| vec!["--cluster-secret-file".to_string(), p.display().to_string()];
    let good_flags: Vec<String> = flag(&good);
    let good_refs: Vec<&str> = good_flags.iter().map(String::as_str).collect();
    let mut cluster = Cluster::start_with(3, &good_refs).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != leader).collect();
    assert_eq!(
        cluster.call(others[0], &["SET", "k", "v"]).await,
        Reply::ok()
    );
    cluster
        .wait_local(others[1], &["GET", "k"], bulk("v"))
        .await;

    // Node 4 has another secret: its join is refused with the reason, and it gets no data.
    let seed = cluster.node(leader).client.clone();
    let mut flags = flag(&bad);
    flags.extend(["--join".to_string(), seed.clone()]);
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    cluster.spawn_empty(4, &refs);
    let peer4 = cluster.node(4).peer.clone();
    let client4 = cluster.node(4).client.clone();
    let (ok, _, err) = raftkv(&["member", "add", "4", &peer4, &client4, "--endpoint", &seed]);
    assert!(!ok, "adding a node with the wrong secret must fail");
    assert!(err.contains("failed the cluster secret check"), "{err}");
    assert!(cluster.count(leader, "peer_auth_failures").await > 0);
    let info4 = cluster.info(4).await.expect("node 4 answers INFO");
    assert_eq!(
        info4["raft_voters"], "",
        "node 4 never got a membership: {info4:?}"
    );
    let Some(info) = cluster.info(leader).await else {
        panic!("the leader answers INFO");
    };
    assert_eq!(info["raft_voters"], "1,2,3", "{info:?}");
    assert_eq!(info["raft_learners"], "", "{info:?}");

    // The three still serve, and survive losing their leader.
    cluster.kill(leader);
    let new = cluster.wait_leader_among(&others).await;
    assert_eq!(cluster.call(new, &["SET", "k", "w"]).await, Reply::ok());
    let other = if new == others[0] {
        others[1]
    } else {
        others[0]
    };
    cluster.wait_local(other, &["GET", "k"], bulk("w")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_on_the_peer_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = secret_file(dir.path(), "good", "correct horse battery staple");
    let path = good.display().to_string();
    let cluster = Cluster::start_with(3, &["--cluster-secret-file", &path]).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let peer = cluster.node(leader).peer.clone();
    let before = cluster.count(leader, "peer_auth_failures").await;

    // A well-formed hello, then a made-up proof: the listener answers (with its own proof,
    // useless to the stranger) and then refuses.
    let mut s = tokio::net::TcpStream::connect(&peer).await.unwrap();
    s.write_all(&hello(2, leader)).await.unwrap();
    let mut answer = [0u8; 57];
    s.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer[0], 0, "the hello itself is accepted");
    s.write_all(&[0u8; 32]).await.unwrap();
    assert_eq!(read_to_close(&mut s).await, vec![1], "verdict: refused");
    wait_until("the refusal counted", || async {
        cluster.count(leader, "peer_auth_failures").await > before
    })
    .await;

    // Garbage, and half a hello then silence: both dropped.
    let mut s = tokio::net::TcpStream::connect(&peer).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert!(read_to_close(&mut s).await.is_empty());
    let mut s = tokio::net::TcpStream::connect(&peer).await.unwrap();
    s.write_all(&hello(2, leader)[..20]).await.unwrap();
    assert!(read_to_close(&mut s).await.is_empty());

    // The cluster never noticed.
    let follower = [1, 2, 3].into_iter().find(|&i| i != leader).unwrap();
    assert_eq!(
        cluster.call(follower, &["SET", "k", "v"]).await,
        Reply::ok()
    );
}
