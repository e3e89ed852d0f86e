//! End-to-end tests of the read paths (leader lease, ReadIndex, follower read index, READONLY),
//! pre-vote, and TTLs judged by the leader's clock, on real `raftkv serve` processes.
//!
//! Partitions use the test-only `RAFTKV FAULT ISOLATE|HEAL` commands (`--unsafe-fault-injection`);
//! clock skew uses libfaketime (Debian package `faketime`, installed by `scripts/test`).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{bulk, poll_for, wait_until, Cluster, NodeSetup};
use resp::Reply;

/// Slower Raft timing for the lease tests: lease 1000 ms, margin 400 ms, so a new leader waits
/// 1.4 s before its first lease read, long enough to observe from a test.
const SLOW_TIMING: [&str; 6] = [
    "--heartbeat-interval-ms",
    "100",
    "--election-timeout-ms-min",
    "2000",
    "--election-timeout-ms-max",
    "2500",
];

fn field(info: &HashMap<String, String>, name: &str) -> u64 {
    info.get(name)
        .unwrap_or_else(|| panic!("INFO has no {name}: {info:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number: {info:?}"))
}

async fn counter(cluster: &Cluster, id: u64, name: &str) -> u64 {
    cluster.count(id, name).await
}

/// Wait until INFO of node `id` has `name:value`.
async fn wait_info(cluster: &Cluster, id: u64, name: &str, value: &str) {
    wait_until(
        &format!("node {id} to have {name}:{value}"),
        || async move {
            let info = cluster.info(id).await;
            info.as_ref().and_then(|i| i.get(name)).map(String::as_str) == Some(value)
        },
    )
    .await
}

fn others(of: u64, n: u64) -> Vec<u64> {
    (1..=n).filter(|&i| i != of).collect()
}

/// Cut every link between `node` and `rest`, on both sides.
async fn isolate(cluster: &Cluster, node: u64, rest: &[u64]) {
    let ids: Vec<String> = rest.iter().map(|i| i.to_string()).collect();
    let mut args = vec!["RAFTKV", "FAULT", "ISOLATE"];
    args.extend(ids.iter().map(String::as_str));
    assert_eq!(cluster.call(node, &args).await, Reply::ok());
    let me = node.to_string();
    for &other in rest {
        let reply = cluster
            .call(other, &["RAFTKV", "FAULT", "ISOLATE", &me])
            .await;
        assert_eq!(reply, Reply::ok());
    }
}

async fn heal(cluster: &Cluster, n: u64) {
    for id in 1..=n {
        assert_eq!(
            cluster.call(id, &["RAFTKV", "FAULT", "HEAL"]).await,
            Reply::ok()
        );
    }
}

/// Default reads on the leader come from its lease, on a follower from the leader's read index,
/// on a READONLY connection from the local state machine; INFO counts each path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_read_path_is_used_and_counted() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let follower = others(leader, 3)[0];
    assert_eq!(cluster.call(leader, &["SET", "k", "v"]).await, Reply::ok());
    wait_info(&cluster, leader, "read_lease_valid", "1").await;
    let info = cluster.info(leader).await.expect("INFO");
    assert_eq!(info["read_policy"], "lease");
    assert_eq!(info["raft_pre_vote"], "1");

    let before = counter(&cluster, leader, "reads_lease").await;
    let mut c = cluster.client(leader).await;
    for _ in 0..5 {
        assert_eq!(c.call(&["GET", "k"]).await.unwrap(), bulk("v"));
    }
    assert_eq!(counter(&cluster, leader, "reads_lease").await, before + 5);

    // A follower answers a default read itself, after the leader's read index: it sees the
    // write acknowledged just before, at once.
    assert_eq!(
        cluster.call(follower, &["SET", "k2", "v2"]).await,
        Reply::ok()
    );
    let mut f = cluster.client(follower).await;
    assert_eq!(f.call(&["MGET", "k", "k2"]).await.unwrap(), {
        Reply::Array(vec![bulk("v"), bulk("v2")])
    });
    let finfo = cluster.info(follower).await.expect("INFO");
    assert_eq!(field(&finfo, "reads_follower_readindex"), 1);
    assert_eq!(field(&finfo, "reads_lease"), 0);

    assert_eq!(f.call(&["READONLY"]).await.unwrap(), Reply::ok());
    assert_eq!(f.call(&["GET", "k"]).await.unwrap(), bulk("v"));
    assert_eq!(counter(&cluster, follower, "reads_local").await, 1);
    assert_eq!(f.call(&["READWRITE"]).await.unwrap(), Reply::ok());
    assert_eq!(f.call(&["GET", "k"]).await.unwrap(), bulk("v"));
    assert_eq!(
        counter(&cluster, follower, "reads_follower_readindex").await,
        2
    );
}

/// `--read-policy readindex` confirms every read with a quorum round; fault injection is refused
/// without its flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readindex_policy_and_fault_injection_switch() {
    let cluster = Cluster::start_with(1, &["--read-policy", "readindex"]).await;
    assert_eq!(cluster.call(1, &["SET", "k", "v"]).await, Reply::ok());
    assert_eq!(cluster.call(1, &["GET", "k"]).await, bulk("v"));
    let info = cluster.info(1).await.expect("INFO");
    assert_eq!(info["read_policy"], "readindex");
    assert_eq!(field(&info, "reads_readindex"), 1);
    assert_eq!(field(&info, "reads_lease"), 0);
    assert_eq!(
        cluster.call(1, &["RAFTKV", "FAULT", "HEAL"]).await,
        Reply::error("ERR fault injection is disabled (start with --unsafe-fault-injection)")
    );
}

/// A leader cut off from the majority while the majority elects a new leader and acknowledges a
/// write: no read sent to the old leader after that acknowledgement returns the old value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_old_leader_never_serves_the_old_value() {
    let cluster = Cluster::start_with(3, &["--unsafe-fault-injection"]).await;
    let old = cluster.wait_leader_among(&[1, 2, 3]).await;
    let old_term = cluster.leader_term(old).await;
    let rest = others(old, 3);
    assert_eq!(cluster.call(old, &["SET", "x", "old"]).await, Reply::ok());
    wait_info(&cluster, old, "read_lease_valid", "1").await;

    // Read from the old leader continuously: (sent at, reply or None if the call failed).
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Instant, Option<Reply>)>>>;
    let seen: Seen = Default::default();
    let addr = cluster.node(old).client.clone();
    let reader = tokio::spawn({
        let seen = seen.clone();
        async move {
            loop {
                let sent = Instant::now();
                let reply =
                    match node::client::RespClient::connect(&addr, Duration::from_secs(5)).await {
                        Ok(mut c) => c.call(&["GET", "x"]).await.ok(),
                        Err(_) => None,
                    };
                seen.lock().unwrap().push((sent, reply));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });

    isolate(&cluster, old, &rest).await;
    let new = cluster.wait_leader_among(&rest).await;
    assert!(cluster.leader_term(new).await > old_term);
    assert_eq!(cluster.call(new, &["SET", "x", "new"]).await, Reply::ok());
    let acked = Instant::now();
    // Keep reading until three reads sent after the acknowledgement have been answered.
    wait_until("three reads sent after the write to be answered", || {
        let answered = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s > acked)
            .count();
        async move { answered >= 3 }
    })
    .await;
    reader.abort();
    let seen = seen.lock().unwrap().clone();
    let after: Vec<&Option<Reply>> = seen
        .iter()
        .filter(|(sent, _)| *sent > acked)
        .map(|(_, r)| r)
        .collect();
    for reply in &after {
        assert_ne!(
            **reply,
            Some(bulk("old")),
            "the old leader served a stale value after the new leader acknowledged a write: {seen:?}"
        );
    }
    assert!(
        after.iter().any(|r| matches!(r, Some(Reply::Error(e)) if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN"))),
        "the cut-off leader should answer -TRYAGAIN or -CLUSTERDOWN: {after:?}"
    );
    // Before the isolation, the old leader did serve reads (the reader was working).
    assert!(seen
        .iter()
        .any(|(sent, r)| *sent < acked && *r == Some(bulk("old"))));
    // Check-quorum, as an operator sees it: no quorum has acknowledged the cut-off leader for
    // longer than the election timeout (600 ms in tests), so it accepts no writes.
    let info = cluster
        .info(old)
        .await
        .expect("the old leader answers INFO");
    let age: u64 = info["raft_quorum_ack_age_ms"]
        .parse()
        .expect("a leader reports the age");
    assert!(age > 600, "quorum ack age {age} ms on the cut-off leader");
    assert!(
        matches!(cluster.call(old, &["SET", "x", "lost"]).await,
            Reply::Error(e) if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN")),
        "a cut-off leader must refuse writes"
    );

    heal(&cluster, 3).await;
    cluster.wait_leader_among(&[1, 2, 3]).await;
    assert_eq!(cluster.call(old, &["GET", "x"]).await, bulk("new"));
}

/// Isolate a follower for several election timeouts, then heal; return (term before, term after
/// and the leader after).
async fn rejoin_after_partition(pre_vote: &str) -> (u64, u64, u64, u64) {
    let flag = format!("--pre-vote={pre_vote}");
    let cluster = Cluster::start_with(3, &["--unsafe-fault-injection", &flag]).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let lonely = others(leader, 3)[1];
    let term = counter(&cluster, leader, "raft_term").await;
    let lonely_term = counter(&cluster, lonely, "raft_term").await;
    assert_eq!(lonely_term, term);
    isolate(&cluster, lonely, &others(lonely, 3)).await;
    if pre_vote == "false" {
        // Without pre-vote the cut-off node raises its term at every election timeout.
        let c = &cluster;
        wait_until("the isolated node to campaign", || async move {
            counter(c, lonely, "raft_term").await > term + 1
        })
        .await;
    } else {
        // The node tries pre-votes (one per peer per round) but must not raise its term: wait
        // for three rounds.
        let sent = counter(&cluster, lonely, "raft_pre_votes_sent").await;
        let c = &cluster;
        wait_until("three pre-vote rounds", || async move {
            counter(c, lonely, "raft_pre_votes_sent").await >= sent + 6
        })
        .await;
        assert_eq!(counter(&cluster, lonely, "raft_term").await, term);
    }
    heal(&cluster, 3).await;
    // Let the rejoined node hear from the cluster (it applies the write below).
    assert_eq!(
        cluster.call(leader, &["SET", "after", "1"]).await,
        Reply::ok()
    );
    let c = &cluster;
    poll_for("the rejoined node to catch up", || async move {
        let now_leader = c.wait_leader_among(&[1, 2, 3]).await;
        let t = counter(c, now_leader, "raft_term").await;
        let applied = counter(c, lonely, "raft_applied_index").await;
        let commit = counter(c, now_leader, "raft_commit_index").await;
        (applied >= commit).then_some((term, t, leader, now_leader))
    })
    .await
}

/// With pre-vote on (the default), a node that was partitioned rejoins without disturbing the
/// leader: same leader, same term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoining_node_does_not_disturb_the_leader_with_pre_vote() {
    let (term, after, leader, leader_after) = rejoin_after_partition("true").await;
    assert_eq!(after, term, "the term changed");
    assert_eq!(leader_after, leader, "the leader changed");
}

/// The same with `--pre-vote=false`: the rejoining node's higher term deposes the leader, so the
/// test above can tell the difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pre_vote_a_rejoining_node_raises_the_term() {
    let (term, after, _, _) = rejoin_after_partition("false").await;
    assert!(after > term + 1, "term {term} -> {after}");
}

/// A new leader serves no lease read until the old leader's lease must have run out: its first
/// reads go through a ReadIndex round, later ones come from the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_reads_after_a_leader_change_wait_out_the_old_lease() {
    let cluster = Cluster::start_with(3, &SLOW_TIMING).await;
    let old = cluster.wait_leader_among(&[1, 2, 3]).await;
    let next = others(old, 3)[0];
    assert_eq!(cluster.call(old, &["SET", "k", "v"]).await, Reply::ok());
    wait_info(&cluster, old, "read_lease_valid", "1").await;
    let info = cluster.info(next).await.expect("INFO");
    assert_eq!(field(&info, "read_lease_ms"), 1000);
    assert_eq!(field(&info, "read_lease_margin_ms"), 400);

    let to = next.to_string();
    assert_eq!(
        cluster
            .call(old, &["RAFTKV", "MEMBER", "TRANSFER-LEADER", &to])
            .await,
        Reply::ok()
    );
    wait_info(&cluster, next, "raft_role", "leader").await;
    // Read on the new leader until a read comes from the lease; note each read's path.
    let paths = std::cell::RefCell::new(Vec::new());
    let (cl, seen) = (&cluster, &paths);
    poll_for("a lease read on the new leader", || async move {
        let lease = counter(cl, next, "reads_lease").await;
        let index = counter(cl, next, "reads_readindex").await;
        assert_eq!(cl.call(next, &["GET", "k"]).await, bulk("v"));
        let info = cl.info(next).await.expect("INFO");
        let path = if field(&info, "reads_lease") > lease {
            "lease"
        } else if field(&info, "reads_readindex") > index {
            "readindex"
        } else {
            panic!("read counted on no leader path: {info:?}")
        };
        seen.borrow_mut().push(path);
        (path == "lease").then_some(())
    })
    .await;
    let paths = paths.into_inner();
    // The loop ends on the first lease read, so a first read from the lease fails here.
    assert_eq!(paths[0], "readindex", "{paths:?}");
}

/// The libfaketime preload library, or a clear failure.
fn libfaketime() -> String {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ];
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
        .expect("libfaketime not found: install the Debian package faketime (scripts/test does)")
}

/// One node's wall clock 10 minutes ahead, another's 10 minutes behind: TTLs are judged at the
/// leader's time on every node, on default and READONLY reads, and afterwards every node holds
/// the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_follow_the_leaders_clock_on_nodes_with_skewed_clocks() {
    let lib = libfaketime();
    let cluster = Cluster::start_each(3, |id| {
        let skew = match id {
            2 => Some("+10m"),
            3 => Some("-10m"),
            _ => None,
        };
        NodeSetup {
            // Only node 1 (normal clock) may lead: the others never time out during the test.
            flags: if id == 1 {
                Vec::new()
            } else {
                [
                    "--election-timeout-ms-min",
                    "60000",
                    "--election-timeout-ms-max",
                    "61000",
                ]
                .map(String::from)
                .to_vec()
            },
            env: skew
                .map(|s| {
                    vec![
                        ("LD_PRELOAD".to_string(), lib.clone()),
                        ("FAKETIME".to_string(), s.to_string()),
                        ("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".to_string()),
                    ]
                })
                .unwrap_or_default(),
        }
    })
    .await;
    assert_eq!(cluster.wait_leader_among(&[1, 2, 3]).await, 1);
    for i in 0..3 {
        let (p, t) = (format!("p{i}"), format!("t{i}"));
        assert_eq!(cluster.call(1, &["SET", &p, "v"]).await, Reply::ok());
        assert_eq!(
            cluster.call(1, &["SET", &t, "v", "PX", "3000"]).await,
            Reply::ok()
        );
    }
    let ttl_ok = |r: &Reply| matches!(r, Reply::Integer(ms) if *ms > 0 && *ms <= 3000);
    for id in 1..=3 {
        // Default reads: the leader's time comes with the read index.
        let r = cluster.call(id, &["PTTL", "t0"]).await;
        assert!(ttl_ok(&r), "node {id}: PTTL {r:?}");
        assert_eq!(
            cluster.call(id, &["GET", "t0"]).await,
            bulk("v"),
            "node {id}"
        );
        // READONLY reads: the estimate from the last applied entry's stamp.
        let mut c = cluster.client(id).await;
        assert_eq!(c.call(&["READONLY"]).await.unwrap(), Reply::ok());
        cluster
            .wait_local(id, &["EXISTS", "t2"], Reply::Integer(1))
            .await;
        let r = c.call(&["PTTL", "t0"]).await.unwrap();
        assert!(ttl_ok(&r), "node {id} READONLY: PTTL {r:?}");
    }
    // Once the leader says the key expired, a default read on any node agrees at once.
    let c = &cluster;
    wait_until("t0 to expire on the leader", || async move {
        c.call(1, &["GET", "t0"]).await == Reply::Null
    })
    .await;
    for id in 2..=3 {
        assert_eq!(
            cluster.call(id, &["GET", "t0"]).await,
            Reply::Null,
            "node {id}"
        );
    }
    // The expiry entries reach every node: the same keys everywhere.
    for id in 1..=3 {
        let c = &cluster;
        wait_until(&format!("node {id} to hold 3 keys"), || async move {
            let info = c.info(id).await;
            info.and_then(|i| i.get("db0").cloned())
                .is_some_and(|db0| db0.starts_with("keys=3,"))
        })
        .await;
        assert_eq!(cluster.call(id, &["DBSIZE"]).await, Reply::Integer(3));
    }
}
