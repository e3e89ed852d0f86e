//! End-to-end tests on real `raftkv serve` processes.

mod common;

use std::time::Duration;

use common::{bulk, wait_until, Cluster};
use node::client::RespClient;
use resp::Reply;

fn follower_of(leader: u64, n: u64) -> u64 {
    (1..=n).find(|&i| i != leader).expect("a follower")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_a_follower_are_read_on_every_node() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let follower = follower_of(leader, 3);

    assert_eq!(
        cluster.call(follower, &["SET", "greeting", "hello"]).await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(follower, &["INCR", "counter"]).await,
        Reply::Integer(1)
    );
    for id in 1..=3 {
        // Default reads are linearizable on any node: they see the acknowledged write at once.
        assert_eq!(
            cluster.call(id, &["GET", "greeting"]).await,
            bulk("hello"),
            "node {id}"
        );
        assert_eq!(
            cluster.call(id, &["GET", "counter"]).await,
            bulk("1"),
            "node {id}"
        );
    }
    // Every state machine holds the data locally (READONLY reads the local copy).
    for id in 1..=3 {
        cluster
            .wait_local(id, &["GET", "greeting"], bulk("hello"))
            .await;
        let info = cluster.info(id).await.expect("info");
        assert_eq!(info["raft_node_id"], id.to_string());
        assert_eq!(info["raft_voters"], "1,2,3");
        assert_eq!(info["raft_leader_id"], leader.to_string());
        assert_eq!(info["raft_leader_addr"], cluster.node(leader).client);
        let role = if id == leader { "leader" } else { "follower" };
        assert_eq!(info["raft_role"], role);
        assert_eq!(info["role"], if id == leader { "master" } else { "slave" });
        assert!(
            info["db0"].starts_with("keys=2,"),
            "node {id}: {}",
            info["db0"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_crash_elects_a_new_leader_and_the_old_one_catches_up() {
    let mut cluster = Cluster::start(3).await;
    let old = cluster.wait_leader_among(&[1, 2, 3]).await;
    let old_term = cluster.leader_term(old).await;
    let survivor = follower_of(old, 3);
    assert_eq!(
        cluster.call(survivor, &["SET", "before", "1"]).await,
        Reply::ok()
    );

    cluster.kill(old);
    let rest: Vec<u64> = (1..=3).filter(|&i| i != old).collect();
    let new = cluster.wait_leader_among(&rest).await;
    assert!(
        cluster.leader_term(new).await > old_term,
        "the survivors elected a leader"
    );

    for i in 0..20 {
        let key = format!("after{i}");
        assert_eq!(
            cluster.call(survivor, &["SET", &key, "x"]).await,
            Reply::ok()
        );
    }
    assert_eq!(cluster.call(survivor, &["GET", "before"]).await, bulk("1"));

    cluster.restart(old);
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    assert_eq!(
        leader, new,
        "a restarted node must not disturb a healthy leader"
    );
    cluster
        .wait_local(old, &["GET", "after19"], bulk("x"))
        .await;
    cluster.wait_local(old, &["GET", "before"], bulk("1")).await;
}

/// Regression (fault suite, append seed 2): a new node started on a dead member's peer address
/// answered the leader's appends for that member from its empty log, and openraft panicked the
/// leader ("follower log reversion"). Connections now name the node they are meant for, and the
/// new node refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_on_a_dead_members_address_is_not_mistaken_for_it() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let gone = follower_of(leader, 3);
    for i in 0..20 {
        let key = format!("before{i}");
        assert_eq!(cluster.call(leader, &["SET", &key, "x"]).await, Reply::ok());
    }
    cluster.kill(gone);
    let peer = cluster.node(gone).peer.clone();
    cluster.spawn_empty_at(4, &peer);

    // The leader keeps replicating to `gone`'s address, which node 4 now holds.
    let mut i = 0;
    let c = &cluster;
    wait_until("node 4 to refuse a connection", || {
        let key = format!("after{i}");
        i += 1;
        async move {
            assert_eq!(c.call(leader, &["SET", &key, "y"]).await, Reply::ok());
            c.count(4, "peer_connections_refused").await > 0
        }
    })
    .await;
    for j in 0..20 {
        let key = format!("more{j}");
        assert_eq!(cluster.call(leader, &["SET", &key, "z"]).await, Reply::ok());
    }
    // Raft on the leader is alive (a panicked Raft core fails every write above) and still leads.
    let info = cluster.info(leader).await.expect("leader answers INFO");
    assert_eq!(info["raft_role"], "leader", "{info:?}");
}

/// Regression (fault suite, append seed 2): a node whose addition as a learner was appended but
/// never committed (the leader died; the next leader's log does without it) concluded it had
/// been *removed*, and refused service for good, even after it was added again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_addition_rolled_back_can_be_added_again() {
    const FAULTS: &str = "--unsafe-fault-injection";
    let mut cluster = Cluster::start_with(3, &[FAULTS]).await;
    let old = cluster.wait_leader_among(&[1, 2, 3]).await;
    let rest: Vec<u64> = (1..=3).filter(|&i| i != old).collect();
    assert_eq!(cluster.call(old, &["SET", "k", "v"]).await, Reply::ok());
    // Cut the leader off from the other voters (both directions).
    let (a, b) = (rest[0].to_string(), rest[1].to_string());
    let isolate_old = ["RAFTKV", "FAULT", "ISOLATE", &a, &b];
    assert_eq!(cluster.call(old, &isolate_old).await, Reply::ok());
    let old_id = old.to_string();
    for &id in &rest {
        let isolate = ["RAFTKV", "FAULT", "ISOLATE", &old_id];
        assert_eq!(cluster.call(id, &isolate).await, Reply::ok());
    }
    cluster.spawn_empty(4, &[FAULTS]);
    let (peer4, client4) = (cluster.node(4).peer.clone(), cluster.node(4).client.clone());
    // The old leader appends the learner change and replicates it to node 4 only, so it cannot
    // commit it; the call stays pending.
    let via = cluster.node(old).client.clone();
    let (p, c) = (peer4.clone(), client4.clone());
    let pending = tokio::spawn(async move {
        let mut conn = RespClient::connect(&via, Duration::from_secs(2)).await?;
        conn.call(&["RAFTKV", "MEMBER", "ADD", "4", &p, &c]).await
    });
    let c = &cluster;
    wait_until("node 4 to see itself added as a learner", || async move {
        c.info(4)
            .await
            .and_then(|i| i.get("raft_learners").cloned())
            == Some("4".into())
    })
    .await;
    cluster.kill(old);
    pending.abort();
    let new = cluster.wait_leader_among(&rest).await;
    let info = cluster
        .info(new)
        .await
        .expect("the new leader answers INFO");
    assert_eq!(
        info["raft_learners"], "",
        "the addition must have rolled back"
    );
    // Node 4 checks its membership every 2 s (removal::CHECK_INTERVAL): let it run two checks
    // after the rollback, then it must still not think it was removed.
    let checks = cluster.count(4, "raft_removal_checks").await;
    let c = &cluster;
    wait_until("node 4 to run two removal checks", || async move {
        c.count(4, "raft_removal_checks").await >= checks + 2
    })
    .await;
    assert_eq!(
        cluster.count(4, "raft_removed").await,
        0,
        "node 4 was never a member"
    );
    assert_eq!(
        cluster
            .call(new, &["RAFTKV", "MEMBER", "ADD", "4", &peer4, &client4])
            .await,
        Reply::ok()
    );
    let c = &cluster;
    wait_until("node 4 to serve the data", || async move {
        c.call(4, &["GET", "k"]).await == bulk("v")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_is_the_same_on_every_node() {
    let cluster = Cluster::start(3).await;
    assert_eq!(
        cluster.call(2, &["SET", "short", "v", "PX", "300"]).await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(3, &["SET", "long", "v", "EX", "1000"]).await,
        Reply::ok()
    );
    let ttl = cluster.call(1, &["TTL", "long"]).await;
    assert!(
        matches!(ttl, Reply::Integer(t) if (998..=1000).contains(&t)),
        "{ttl:?}"
    );
    // The leader proposes an expiry entry once the deadline passes; every replica deletes the key.
    for id in 1..=3 {
        let c = &cluster;
        wait_until(
            &format!("node {id} to delete the expired key"),
            || async move {
                let info = c.info(id).await.expect("info");
                info.get("db0").is_some_and(|k| k.starts_with("keys=1,"))
            },
        )
        .await;
        cluster.wait_local(id, &["GET", "short"], Reply::Null).await;
    }
}

/// Writes of many clients at once share log entries (the proposer gathers every batch queued
/// while an entry is in flight), and each client still gets exactly its own replies, in order;
/// a transaction whose WATCH guard fails meanwhile skips only its own commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_share_entries_and_get_their_own_replies() {
    const CLIENTS: u64 = 24;
    const WRITES: i64 = 30;
    const WATCHERS: u64 = 4;
    const ABORTS: u64 = 20;
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let before = cluster.last_log_index(leader).await;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        // Every third client writes through a follower, whose forwards join the same queue.
        let id = if i % 3 == 0 {
            follower_of(leader, 3)
        } else {
            leader
        };
        let mut c = cluster.client(id).await;
        tasks.push(tokio::spawn(async move {
            for n in 1..=WRITES {
                let key = format!("counter:{i}");
                assert_eq!(
                    c.call(&["INCR", &key]).await.unwrap(),
                    Reply::Integer(n),
                    "client {i}, write {n}"
                );
            }
        }));
    }
    // Meanwhile: transactions whose watched key changed, each answered nil.
    for w in 0..WATCHERS {
        let mut watcher = cluster.client(leader).await;
        let mut spoiler = cluster.client(leader).await;
        tasks.push(tokio::spawn(async move {
            let (watched, queued) = (format!("w:{w}"), format!("x:{w}"));
            for _ in 0..ABORTS {
                assert_eq!(
                    watcher.call(&["WATCH", &watched]).await.unwrap(),
                    Reply::ok()
                );
                spoiler.call(&["INCR", &watched]).await.unwrap();
                watcher.call(&["MULTI"]).await.unwrap();
                watcher.call(&["INCR", &queued]).await.unwrap();
                // RESP2's nil array, which this client reads as a nil.
                assert_eq!(watcher.call(&["EXEC"]).await.unwrap(), Reply::Null);
            }
            assert_eq!(watcher.call(&["GET", &queued]).await.unwrap(), Reply::Null);
        }));
    }
    for t in tasks {
        t.await.expect("every client got its own replies");
    }
    let writes = CLIENTS * WRITES as u64 + WATCHERS * ABORTS * 2;
    let entries = cluster.last_log_index(leader).await - before;
    assert!(
        entries < writes / 2,
        "{writes} writes of {CLIENTS} concurrent clients took {entries} log entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_keep_their_order() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let follower = follower_of(leader, 3);
    let mut c = cluster.client(follower).await;
    let mut buf = bytes::BytesMut::new();
    for i in 0..100 {
        node::client::encode_command(&["SET", "p", &i.to_string()], &mut buf);
        node::client::encode_command(&["GET", "p"], &mut buf);
        node::client::encode_command(&["PING"], &mut buf);
    }
    c.send_raw(&buf).await.unwrap();
    for i in 0..100 {
        assert_eq!(c.read_reply().await.unwrap(), Reply::ok());
        assert_eq!(c.read_reply().await.unwrap(), bulk(&i.to_string()));
        assert_eq!(c.read_reply().await.unwrap(), Reply::Simple("PONG".into()));
    }

    // Without connection commands in between (each of which ends a batch), a pipelined run of
    // data commands is one batch: far fewer log entries than its 100 writes, which would take one
    // entry each without batching.
    let mut buf = bytes::BytesMut::new();
    for i in 0..100 {
        node::client::encode_command(&["SET", "q", &i.to_string()], &mut buf);
        node::client::encode_command(&["GET", "q"], &mut buf);
    }
    let before = cluster.last_log_index(leader).await;
    c.send_raw(&buf).await.unwrap();
    for i in 0..100 {
        assert_eq!(c.read_reply().await.unwrap(), Reply::ok());
        assert_eq!(c.read_reply().await.unwrap(), bulk(&i.to_string()));
    }
    let entries = cluster.last_log_index(leader).await - before;
    assert!(
        (1..=5).contains(&entries),
        "100 pipelined writes took {entries} log entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_the_compacted_log_catches_up_through_a_snapshot() {
    let mut cluster = Cluster::start_with(3, &["--snapshot-threshold", "50"]).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let lagging = (1..=3).find(|&i| i != leader).unwrap();
    let writer = (1..=3).find(|&i| i != leader && i != lagging).unwrap();
    cluster.kill(lagging);
    let mut c = cluster.client(writer).await;
    for i in 0..300 {
        assert_eq!(
            c.call(&["SET", &format!("k{i}"), &i.to_string()])
                .await
                .unwrap(),
            Reply::ok()
        );
    }
    // The leader snapshots and purges its log behind the snapshot. openraft purges lazily (not
    // while a replication stream may still read the entries), so wait for the purge itself.
    let c = &cluster;
    wait_until(
        "the leader to purge its log behind a snapshot",
        || async move { c.count(leader, "raft_purged_index").await > 100 },
    )
    .await;
    cluster.restart(lagging);
    cluster
        .wait_local(lagging, &["GET", "k299"], bulk("299"))
        .await;
    let mut c = cluster.client(lagging).await;
    c.call(&["READONLY"]).await.unwrap();
    for i in [0, 150, 298] {
        assert_eq!(
            c.call(&["GET", &format!("k{i}")]).await.unwrap(),
            bulk(&i.to_string())
        );
    }
    assert_eq!(
        cluster.count(lagging, "raft_snapshots_installed").await,
        1,
        "catch-up must go through a snapshot"
    );
    assert_eq!(
        cluster.count(lagging, "raft_resumed_from_state").await,
        1,
        "a node with state resumes (ignoring --join)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_few_large_entries_is_compacted_by_its_size() {
    // Pipelined writes gather into few, large entries: far below --snapshot-threshold in
    // number, so only the rule on the log's size (--snapshot-log-size) builds a snapshot.
    let cluster = Cluster::start_with(1, &["--snapshot-log-size", "256KiB"]).await;
    let mut c = cluster.client(1).await;
    let value = "v".repeat(1000);
    for round in 0..20 {
        let mut buf = bytes::BytesMut::new();
        for i in 0..100 {
            node::client::encode_command(&["SET", &format!("k{i}"), &value], &mut buf);
        }
        c.send_raw(&buf).await.unwrap();
        for _ in 0..100 {
            assert_eq!(c.read_reply().await.unwrap(), Reply::ok(), "round {round}");
        }
    }
    let entries = cluster.last_log_index(1).await;
    assert!(
        entries < 1000,
        "2,000 pipelined writes took {entries} entries: the entry threshold alone would apply"
    );
    let c = &cluster;
    wait_until("a snapshot by the log's size", || async move {
        c.count(1, "raft_snapshot_index").await > 0
    })
    .await;
    assert_eq!(
        cluster.call(1, &["GET", "k99"]).await,
        bulk(&value),
        "the data survives the snapshot"
    );
    // Apply read every entry from memory, decoded or from the payload cache, which INFO reports.
    assert!(cluster.count(1, "raft_log_cache_entries").await > 0);
    assert!(cluster.count(1, "raft_log_cache_bytes").await > 0);
    assert!(cluster.count(1, "raft_log_recent_entries").await > 0);
    let recent_hits = cluster.count(1, "raft_log_recent_hits").await;
    assert!(recent_hits > 0, "apply reads the newest entries decoded");
    assert!(recent_hits + cluster.count(1, "raft_log_cache_hits").await >= entries);
    assert_eq!(cluster.count(1, "raft_log_cache_misses").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_replicate_and_oversized_commands_are_refused() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let lagging = (1..=3).find(|&i| i != leader).unwrap();
    let mut c = cluster.client(leader).await;
    let big = "x".repeat(7 * 1024 * 1024);
    // One command larger than a log entry may be: refused, and the cluster goes on.
    match c
        .call(&["MSET", "a", &big, "b", &big, "c", &big])
        .await
        .unwrap()
    {
        Reply::Error(e) => assert!(e.contains("exceeds the largest replicated entry"), "{e}"),
        other => panic!("oversized MSET answered {other:?}"),
    }
    assert_eq!(c.call(&["SET", "small", "1"]).await.unwrap(), Reply::ok());

    // 40 MiB of pipelined 1 MiB values: split into several entries; a follower that missed them
    // catches up although they do not fit in one message.
    cluster.kill(lagging);
    let mb = "y".repeat(1024 * 1024);
    let mut buf = bytes::BytesMut::new();
    for i in 0..40 {
        node::client::encode_command(&["SET", &format!("big{i}"), &mb], &mut buf);
    }
    c.send_raw(&buf).await.unwrap();
    for _ in 0..40 {
        assert_eq!(c.read_reply().await.unwrap(), Reply::ok());
    }
    cluster.restart(lagging);
    cluster
        .wait_local(lagging, &["STRLEN", "big39"], Reply::Integer(1024 * 1024))
        .await;
    cluster
        .wait_local(lagging, &["GET", "small"], bulk("1"))
        .await;
}
