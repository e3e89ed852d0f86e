//! Operations end to end: `raftkv member`, `raftkv status`, the HTTP endpoints, and leadership
//! hand-off on SIGTERM, on real processes.

mod common;

use common::{bulk, http, http_get, raftkv, wait_until, Cluster};
use resp::Reply;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_cli_grows_and_shrinks_the_cluster_and_a_removed_node_refuses_service() {
    let mut cluster = Cluster::start(3).await;
    assert_eq!(cluster.call(1, &["SET", "k", "v"]).await, Reply::ok());
    cluster.spawn_empty(4, &[]);
    let n1 = cluster.node(1).client.clone();
    let n4 = (cluster.node(4).peer.clone(), cluster.node(4).client.clone());
    let (ok, out, err) = raftkv(&["member", "add", "4", &n4.0, &n4.1, "--endpoint", &n1]);
    assert!(ok, "member add failed: {out} {err}");
    cluster.wait_voters(&[1, 2, 3, 4]).await;
    assert_eq!(cluster.call(4, &["GET", "k"]).await, bulk("v"));

    let (ok, list, err) = raftkv(&["member", "list", "--endpoint", &n1]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 5, "{list}");
    assert!(lines[0].starts_with("ID"));
    assert!(lines[4].starts_with("4 ") && lines[4].contains(&n4.1) && lines[4].contains("voter"));
    assert_eq!(
        lines.iter().filter(|l| l.ends_with('*')).count(),
        1,
        "{list}"
    );

    // Remove a follower (not the leader, so the client through node 1 is never cut off).
    let leader = cluster.wait_leader_among(&[1, 2, 3, 4]).await;
    let victim = [2, 3, 4].into_iter().find(|id| *id != leader).unwrap();
    let (ok, out, err) = raftkv(&["member", "remove", &victim.to_string(), "--endpoint", &n1]);
    assert!(ok, "member remove failed: {out} {err}");
    let rest: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|i| *i != victim).collect();
    cluster.wait_voters(&rest).await;
    let (_, list, _) = raftkv(&["member", "list", "--endpoint", &n1]);
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(!list.lines().any(|l| l.starts_with(&format!("{victim} "))));

    // The removed node learns it and refuses every command but INFO.
    let c = &cluster;
    wait_until("the removed node to refuse service", || async move {
        matches!(c.call(victim, &["GET", "k"]).await,
            Reply::Error(e) if e == "ERR this node was removed from the cluster")
    })
    .await;
    assert_eq!(
        cluster.call(victim, &["SET", "x", "1"]).await,
        Reply::error("ERR this node was removed from the cluster")
    );
    let info = cluster.info(victim).await.expect("INFO still answers");
    assert_eq!(info.get("raft_removed").map(String::as_str), Some("1"));
    // The rest of the cluster still serves.
    assert_eq!(cluster.call(rest[1], &["SET", "k", "w"]).await, Reply::ok());
    assert_eq!(cluster.call(rest[2], &["GET", "k"]).await, bulk("w"));
    // A change the cluster refuses is an error exit with the node's reason.
    let (ok, _, err) = raftkv(&["member", "promote", "99", "--endpoint", &n1]);
    assert!(!ok, "{err}");
    assert_eq!(
        err,
        format!("raftkv: error: {n1}: ERR membership change refused: node 99 is not a member\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_every_node_and_marks_a_killed_one_unreachable() {
    let mut cluster = Cluster::start(3).await;
    for i in 0..10 {
        let key = format!("k{i}");
        assert_eq!(cluster.call(1, &["SET", &key, "v"]).await, Reply::ok());
    }
    let endpoints = cluster
        .nodes
        .iter()
        .map(|n| n.client.clone())
        .collect::<Vec<_>>()
        .join(",");
    // Every node applies the writes (followers may lag for a moment).
    let c = &cluster;
    wait_until("all nodes to hold 10 keys", || async move {
        let mut all = true;
        for id in 1..=3 {
            all &= c
                .info(id)
                .await
                .and_then(|i| i.get("db0").cloned())
                .is_some_and(|v| v.starts_with("keys=10,"));
        }
        all
    })
    .await;
    let (ok, out, err) = raftkv(&["status", "--endpoints", &endpoints]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines.iter().filter(|l| l.contains(" leader ")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(" follower ")).count(),
        2,
        "{out}"
    );

    cluster.kill(3);
    let (ok, out, err) = raftkv(&["status", "--endpoints", &endpoints, "--output", "json"]);
    assert!(ok, "status must not fail for one dead node: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let nodes = v.as_array().expect("array");
    assert_eq!(nodes.len(), 3);
    for n in &nodes[..2] {
        assert_eq!(n["reachable"], true, "{n}");
        assert_eq!(n["keys"], 10, "{n}");
        assert!(n["commit_index"].as_u64().unwrap() >= 10, "{n}");
        assert!(n["log_bytes"].as_u64().unwrap() > 0, "{n}");
        assert!(n["fsync_p99_us"].as_u64().unwrap() > 0, "{n}");
    }
    assert_eq!(nodes[2]["reachable"], false);
    assert_eq!(nodes[2]["endpoint"], cluster.node(3).client.as_str());
    let (_, table, _) = raftkv(&["status", "--endpoints", &endpoints]);
    assert!(
        table.lines().nth(3).unwrap().contains("unreachable"),
        "{table}"
    );
}

/// The value of the unlabelled counter `name` in a Prometheus text export.
fn counter(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_livez_readyz_metrics_and_readyz_fails_without_quorum() {
    let mut cluster = Cluster::start_with(3, &["--metrics-listen", "127.0.0.1:0"]).await;
    let addr = cluster.http_addr(1);
    assert_eq!(http_get(&addr, "/livez").0, 200);
    wait_until("readyz 200", || {
        let addr = addr.clone();
        async move { http_get(&addr, "/readyz").0 == 200 }
    })
    .await;
    for i in 0..5 {
        let key = format!("k{i}");
        assert_eq!(cluster.call(1, &["SET", &key, "v"]).await, Reply::ok());
    }
    assert_eq!(cluster.call(1, &["GET", "k1"]).await, bulk("v"));
    let (code, metrics) = http_get(&addr, "/metrics");
    assert_eq!(code, 200);
    for want in [
        "raftkv_keys 5",
        "raftkv_resident_memory_bytes ",
        "raftkv_apply_lag_entries ",
        "raftkv_command_duration_seconds_bucket{cmd=\"set\"",
        "raftkv_command_duration_seconds_bucket{cmd=\"get\"",
        "raftkv_peer_rtt_seconds_bucket{peer=",
    ] {
        assert!(metrics.contains(want), "missing {want:?} in:\n{metrics}");
    }
    // Node 1 saw at least one leader, even if it was elected before the watcher started.
    let leader_changes = counter(&metrics, "raftkv_leader_changes_total");
    assert!(
        leader_changes >= Some(1),
        "leader changes {leader_changes:?} in:\n{metrics}"
    );
    // Every node fsyncs its own log, and each flush lands in the histogram.
    for id in 1..=3 {
        let (_, m) = http_get(&cluster.http_addr(id), "/metrics");
        let flushes = counter(&m, "raftkv_raft_log_fsync_seconds_count");
        assert!(flushes >= Some(1), "node {id} fsyncs {flushes:?}:\n{m}");
    }
    // Proposals are counted where they are made: on the leader, whichever node that is.
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    // A follower forwards writes: the leader counts them, the follower counts nothing failed.
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    for i in 0..5 {
        let key = format!("f{i}");
        assert_eq!(
            cluster.call(follower, &["SET", &key, "v"]).await,
            Reply::ok()
        );
    }
    let (_, leader_metrics) = http_get(&cluster.http_addr(leader), "/metrics");
    // Every counter is listed from the start, so check the count, not the name.
    let committed = counter(&leader_metrics, "raftkv_proposals_committed_total");
    assert!(
        committed >= Some(10),
        "committed {committed:?} on leader {leader}:\n{leader_metrics}"
    );
    let (_, follower_metrics) = http_get(&cluster.http_addr(follower), "/metrics");
    let failed = counter(&follower_metrics, "raftkv_proposals_failed_total");
    assert_eq!(
        failed,
        Some(0),
        "follower {follower} counted forwarded writes as failed:\n{follower_metrics}"
    );
    // Each stage of those writes is timed on the node where it happens.
    let stage = |m: &str, s: &str| {
        counter(
            m,
            &format!("raftkv_write_stage_seconds_count{{stage=\"{s}\"}}"),
        )
    };
    let forwarded = stage(&follower_metrics, "write");
    assert!(forwarded >= Some(5), "follower write stage {forwarded:?}");
    let appended = stage(&follower_metrics, "append");
    assert!(appended >= Some(1), "follower append stage {appended:?}");
    for s in ["queue", "raft", "apply"] {
        let n = stage(&leader_metrics, s);
        assert!(n >= Some(5), "leader {s} stage {n:?}:\n{leader_metrics}");
    }
    let info = cluster.info(leader).await.expect("the leader answers INFO");
    for field in ["write_stage_raft_count", "write_entries_gathered"] {
        let n: u64 = info[field].parse().unwrap();
        assert!(n >= 5, "INFO {field}:{n}");
    }
    // Bad requests are answered, never crash the endpoint.
    assert_eq!(http(&addr, "garbage\r\n\r\n").0, 400);
    assert_eq!(http_get(&addr, "/nope").0, 404);
    assert_eq!(http(&addr, "POST /livez HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(
        http(
            &addr,
            &format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000))
        )
        .0,
        400
    );
    assert_eq!(http_get(&addr, "/livez").0, 200);

    // Without a quorum, node 1 cannot serve a linearizable read: not ready, but still live.
    cluster.kill(2);
    cluster.kill(3);
    wait_until("readyz 503", || {
        let addr = addr.clone();
        async move { http_get(&addr, "/readyz").0 == 503 }
    })
    .await;
    assert_eq!(http_get(&addr, "/livez").0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_the_leader_hands_over_leadership_and_exits_zero() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    assert_eq!(cluster.call(leader, &["SET", "k", "v"]).await, Reply::ok());
    let old_term = cluster.leader_term(leader).await;
    let status = cluster.signal_and_wait(leader, nix::sys::signal::Signal::SIGTERM);
    assert!(status.success(), "exit status {status:?}");
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != leader).collect();
    let new_leader = cluster.wait_leader_among(&rest).await;
    // Handed over, not elected after a timeout: the old leader asked the new one to take over.
    assert_eq!(cluster.count(new_leader, "raft_transfers_to_me").await, 1);
    assert!(cluster.leader_term(new_leader).await > old_term);
    assert_eq!(cluster.call(rest[0], &["GET", "k"]).await, bulk("v"));
}
