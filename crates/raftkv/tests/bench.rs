//! `raftkv bench` end to end: against a healthy 3-node cluster, and against one whose leader is
//! killed mid-run. Only the consistency of the JSON summary is checked (every sent request is
//! either answered or counted as an error, percentiles are ordered, something was answered);
//! the speed is never asserted.

mod common;

use std::process::{Command, Stdio};

use common::{poll_for, raftkv, Cluster};
use serde_json::Value;

/// Check the summary's counts add up and its percentiles are ordered; return it.
fn consistent(stdout: &str) -> Value {
    let s: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert_eq!(n("ok") + n("errors"), n("sent"), "{s}");
    assert!(n("ok") > 0, "{s}");
    assert!(s["throughput"].as_f64().unwrap() > 0.0, "{s}");
    assert!(n("p50_us") <= n("p99_us"), "{s}");
    assert!(n("p99_us") <= n("p999_us"), "{s}");
    assert!(n("p999_us") <= n("max_us"), "{s}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_against_a_healthy_cluster_counts_consistently() {
    let cluster = Cluster::start(3).await;
    cluster.wait_leader_among(&[1, 2, 3]).await;
    let endpoints = cluster.client_addrs(&[1, 2, 3]).join(",");
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        raftkv(&[
            "bench",
            "--endpoints",
            &endpoints,
            "--clients",
            "6",
            "--duration",
            "2s",
            "--warmup",
            "200ms",
            "--read-ratio",
            "0.5",
            "--keys",
            "zipfian",
            "--pipeline",
            "4",
            "--output",
            "json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "bench failed: {stderr}");
    let s = consistent(&stdout);
    assert_eq!(s["errors"], 0, "{s}");
    assert_eq!(s["clients"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_follows_a_leader_change() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    // One client, starting on the leader: every write after the kill is proof that it moved
    // on to another node.
    let mut order = vec![leader];
    order.extend((1..=3).filter(|&id| id != leader));
    let endpoints = cluster.client_addrs(&order).join(",");
    let start_index = cluster.last_log_index(leader).await;
    let child = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args([
            "bench",
            "--endpoints",
            &endpoints,
            "--clients",
            "1",
            "--duration",
            "5s",
            "--warmup",
            "0s",
            "--output",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start raftkv bench");
    // Kill the leader once the bench's writes are flowing.
    poll_for("the bench's writes to reach the log", || async {
        (cluster.last_log_index(leader).await > start_index + 20).then_some(())
    })
    .await;
    cluster.kill(leader);
    let others: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let new_leader = cluster.wait_leader_among(&others).await;
    let index_after_kill = cluster.last_log_index(new_leader).await;

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("bench output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let s = consistent(&String::from_utf8_lossy(&out.stdout));
    // The client lost its in-flight request with the leader and moved on ...
    assert!(s["errors"].as_u64().unwrap() > 0, "{s}");
    assert!(s["reconnects"].as_u64().unwrap() > 0, "{s}");
    // ... and kept writing through another node (it is the only writer).
    let index_at_end = cluster.last_log_index(new_leader).await;
    assert!(
        index_at_end > index_after_kill + 10,
        "no writes after the leader change: {index_after_kill} -> {index_at_end}; {s}"
    );
}
