//! Helpers for tests of blocked clients (blocking pops, XREAD/XREADGROUP BLOCK): send without
//! waiting, read a reply with a deadline, read raw bytes off the wire, and wait until a node
//! reports a number of blocked clients (`INFO clients` `blocked_clients`: a client counts once
//! its first attempt found nothing), so that no test sleeps.

use bytes::BytesMut;
use node::client::RespClient;
use resp::Reply;

use super::{wait_until, Cluster, WAIT};

/// Send a command without waiting for its reply.
pub async fn send(client: &mut RespClient, args: &[&str]) {
    let mut out = BytesMut::new();
    node::client::encode_command(args, &mut out);
    client.send_raw(&out).await.expect("send");
}

/// Read the next reply, failing after the harness's deadline.
pub async fn reply(client: &mut RespClient) -> Reply {
    tokio::time::timeout(WAIT, client.read_reply())
        .await
        .expect("a reply within the deadline")
        .expect("read a reply")
}

/// Send `setup` (if any) and then `args` on a fresh connection, read until the bytes received
/// end with `want`, and return them all.
pub async fn wire(addr: &str, setup: &[&str], args: &[&str], want: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut out = BytesMut::new();
    if !setup.is_empty() {
        node::client::encode_command(setup, &mut out);
    }
    node::client::encode_command(args, &mut out);
    stream.write_all(&out).await.expect("send");
    let mut got = Vec::new();
    while !got.ends_with(want.as_bytes()) {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{want:?} within the deadline; got {got:?}"))
            .expect("read");
        assert!(n > 0, "connection closed; got {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Wait until node `id` has exactly `n` blocked clients.
pub async fn wait_blocked(cluster: &Cluster, id: u64, n: u64) {
    wait_until(
        &format!("{n} blocked clients on node {id}"),
        || async move { cluster.count(id, "blocked_clients").await == n },
    )
    .await;
}

/// A leader and the two other nodes.
pub async fn roles(cluster: &Cluster) -> (u64, u64, u64) {
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != leader).collect();
    (leader, others[0], others[1])
}

/// Check that the clients waiting on node `waiting` add nothing to the log (their own empty
/// attempts must not wake them): one unrelated write through node `other` moves the log by
/// exactly one entry, counted once `waiting` has applied it.
pub async fn assert_waiters_write_nothing(cluster: &Cluster, waiting: u64, other: u64) {
    let before = cluster.last_log_index(other).await;
    cluster.call(other, &["SET", "unrelated", "x"]).await;
    cluster
        .wait_local(waiting, &["GET", "unrelated"], super::bulk("x"))
        .await;
    assert_eq!(cluster.last_log_index(other).await, before + 1);
}
