//! Lua scripts on a 3-node cluster: SCRIPT LOAD on one node and EVALSHA on the others (the
//! cache is replicated state), a node that catches up through a snapshot has the scripts too,
//! read-only scripts on followers, and a redis-py `Lock`-style compare-and-delete release
//! script that keeps mutual exclusion between clients on different nodes, and a script's push
//! to a key it declares waking a client blocked on another node, and a script's PUBLISH
//! reaching a subscriber on another node. Functions: FUNCTION LOAD on one node, FCALL and
//! FCALL_RO on the others, and the library still there after every node restarted from its
//! snapshot.

mod common;

use bytes::BytesMut;
use common::{bulk, wait_until, Cluster, WAIT};
use node::client::RespClient;
use resp::Reply;

/// The release script of redis-py's `Lock` (and of most lock recipes): delete the lock only
/// if it still holds our token.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Send a command and check the reply.
async fn expect(client: &mut RespClient, args: &[&str], want: Reply) {
    let got = client.call(args).await.expect("call");
    assert_eq!(got, want, "{args:?}");
}

/// SCRIPT LOAD `body` through `client`; its SHA-1.
async fn load(client: &mut RespClient, body: &str) -> String {
    match client.call(&["SCRIPT", "LOAD", body]).await.expect("call") {
        Reply::Bulk(sha) => String::from_utf8(sha.to_vec()).unwrap(),
        other => panic!("SCRIPT LOAD: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_load_on_one_node_runs_on_every_node() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let (f1, f2) = (followers[0], followers[1]);
    let mut a = cluster.client(f1).await;
    let mut b = cluster.client(f2).await;

    let sha = load(&mut a, "return redis.call('INCRBY', KEYS[1], ARGV[1])").await;
    expect(&mut b, &["EVALSHA", &sha, "1", "n", "5"], Reply::Integer(5)).await;
    let mut l = cluster.client(leader).await;
    expect(&mut l, &["EVALSHA", &sha, "1", "n", "2"], Reply::Integer(7)).await;
    // Every node holds the script in its own state (a local read).
    for id in 1..=3 {
        cluster
            .wait_local(
                id,
                &["SCRIPT", "EXISTS", &sha],
                Reply::Array(vec![Reply::Integer(1)]),
            )
            .await;
    }
    // Read-only scripts on a follower: reads work, writes are refused.
    expect(
        &mut b,
        &["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "n"],
        bulk("7"),
    )
    .await;
    let refused = b
        .call(&["EVAL_RO", "return redis.call('SET', 'x', 'y')", "0"])
        .await
        .expect("call");
    let Reply::Error(text) = refused else {
        panic!("{refused:?}");
    };
    assert!(
        text.starts_with("ERR Write commands are not allowed from read-only scripts."),
        "{text}"
    );
    // SCRIPT FLUSH on one node empties every node's cache.
    expect(&mut l, &["SCRIPT", "FLUSH"], Reply::ok()).await;
    expect(
        &mut a,
        &["EVALSHA", &sha, "1", "n", "1"],
        Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into()),
    )
    .await;
    expect(&mut b, &["GET", "n"], bulk("7")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_catching_up_through_a_snapshot_has_the_scripts() {
    let mut cluster = Cluster::start_with(3, &["--snapshot-threshold", "50"]).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let lagging = (1..=3).find(|&i| i != leader).unwrap();
    let writer = (1..=3).find(|&i| i != leader && i != lagging).unwrap();
    cluster.kill(lagging);
    let mut c = cluster.client(writer).await;
    let sha = load(&mut c, "return 'from the cache'").await;
    for i in 0..300 {
        let key = format!("k{i}");
        expect(&mut c, &["SET", &key, "v"], Reply::ok()).await;
    }
    let c = &cluster;
    wait_until(
        "the leader to purge its log behind a snapshot",
        || async move { c.count(leader, "raft_purged_index").await > 100 },
    )
    .await;
    cluster.restart(lagging);
    cluster
        .wait_local(lagging, &["GET", "k299"], bulk("v"))
        .await;
    assert_eq!(
        cluster.count(lagging, "raft_snapshots_installed").await,
        1,
        "catch-up must go through a snapshot"
    );
    cluster
        .wait_local(lagging, &["EVALSHA_RO", &sha, "0"], bulk("from the cache"))
        .await;
}

/// One client's turns at the lock: acquire (`SET lock token NX PX`), increment the counter
/// with a plain GET and SET (racy without the lock), release with [`RELEASE`].
async fn worker(mut client: RespClient, name: String, turns: usize, release: String) {
    for turn in 0..turns {
        let token = format!("{name}-{turn}");
        loop {
            let reply = client
                .call(&["SET", "lock", &token, "NX", "PX", "30000"])
                .await
                .expect("acquire");
            if reply == Reply::ok() {
                break;
            }
        }
        let n = match client.call(&["GET", "counter"]).await.expect("get") {
            Reply::Bulk(b) => std::str::from_utf8(&b).unwrap().parse::<u64>().unwrap(),
            Reply::Null => 0,
            other => panic!("{other:?}"),
        };
        let next = (n + 1).to_string();
        expect(&mut client, &["SET", "counter", &next], Reply::ok()).await;
        // A wrong token never releases someone else's lock.
        expect(
            &mut client,
            &["EVALSHA", &release, "1", "lock", "not-mine"],
            Reply::Integer(0),
        )
        .await;
        expect(
            &mut client,
            &["EVALSHA", &release, "1", "lock", &token],
            Reply::Integer(1),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compare_and_delete_lock_keeps_mutual_exclusion_across_nodes() {
    const TURNS: usize = 15;
    let cluster = Cluster::start(3).await;
    cluster.wait_leader_among(&[1, 2, 3]).await;
    let release = load(&mut cluster.client(1).await, RELEASE).await;
    let mut tasks = Vec::new();
    for id in 1..=3u64 {
        let client = cluster.client(id).await;
        tasks.push(tokio::spawn(worker(
            client,
            format!("c{id}"),
            TURNS,
            release.clone(),
        )));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    // No increment was lost: the lock excluded the others every time.
    expect(
        &mut cluster.client(2).await,
        &["GET", "counter"],
        bulk(&(3 * TURNS).to_string()),
    )
    .await;
    expect(
        &mut cluster.client(3).await,
        &["EXISTS", "lock"],
        Reply::Integer(0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_push_wakes_a_client_blocked_on_another_node() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let (waiting_on, pushing_on) = (followers[0], followers[1]);
    let mut blocked = cluster.client(waiting_on).await;
    let mut out = BytesMut::new();
    node::client::encode_command(&["BLPOP", "jobs", "0"], &mut out);
    blocked.send_raw(&out).await.expect("send");
    let c = &cluster;
    wait_until("the client to block", || async move {
        c.count(waiting_on, "blocked_clients").await == 1
    })
    .await;
    // A queue's enqueue script: push the job and count it, both keys declared.
    expect(
        &mut cluster.client(pushing_on).await,
        &[
            "EVAL",
            "redis.call('INCR', KEYS[2]); return redis.call('RPUSH', KEYS[1], ARGV[1])",
            "2",
            "jobs",
            "enqueued",
            "job-1",
        ],
        Reply::Integer(1),
    )
    .await;
    let reply = tokio::time::timeout(WAIT, blocked.read_reply())
        .await
        .expect("a reply within the deadline")
        .expect("read a reply");
    assert_eq!(reply, Reply::Array(vec![bulk("jobs"), bulk("job-1")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_publish_reaches_a_subscriber_on_another_node() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let mut subscriber = cluster.client(followers[0]).await;
    expect(
        &mut subscriber,
        &["SUBSCRIBE", "events"],
        Reply::Array(vec![bulk("subscribe"), bulk("events"), Reply::Integer(1)]),
    )
    .await;
    // The script sees 0 receivers on every node; the subscriber gets both messages, in order.
    expect(
        &mut cluster.client(followers[1]).await,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('PUBLISH', 'events', 'a'), redis.call('PUBLISH', 'events', 'b')}",
            "1",
            "k",
            "v",
        ],
        Reply::Array(vec![Reply::Integer(0), Reply::Integer(0)]),
    )
    .await;
    for payload in ["a", "b"] {
        let reply = tokio::time::timeout(WAIT, subscriber.read_reply())
            .await
            .expect("a message within the deadline")
            .expect("read a message");
        assert_eq!(
            reply,
            Reply::Array(vec![bulk("message"), bulk("events"), bulk(payload)])
        );
    }
}

/// A library with a write function and a `no-writes` one.
const LIBRARY: &str = "#!lua name=counter\n\
redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n\
redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_load_on_one_node_runs_everywhere_and_survives_restarts() {
    let mut cluster = Cluster::start_with(3, &["--snapshot-threshold", "50"]).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let (f1, f2) = (followers[0], followers[1]);
    let mut a = cluster.client(f1).await;
    let mut b = cluster.client(f2).await;

    expect(&mut a, &["FUNCTION", "LOAD", LIBRARY], bulk("counter")).await;
    expect(&mut b, &["FCALL", "bump", "1", "n", "5"], Reply::Integer(5)).await;
    // FCALL_RO is a read on a follower; a write function is refused there.
    expect(&mut b, &["FCALL_RO", "peek", "1", "n"], bulk("5")).await;
    expect(
        &mut a,
        &["FCALL_RO", "bump", "1", "n", "1"],
        Reply::Error("ERR Can not execute a script with write flag using *_ro command.".into()),
    )
    .await;
    // Every node holds the library in its own state (a local read).
    for id in 1..=3 {
        cluster
            .wait_local(id, &["FCALL_RO", "peek", "1", "n"], bulk("5"))
            .await;
    }
    // Enough writes for every node to snapshot and purge its log: the library must come
    // back from the snapshot.
    for i in 0..300 {
        let key = format!("k{i}");
        expect(&mut a, &["SET", &key, "v"], Reply::ok()).await;
    }
    let c = &cluster;
    wait_until(
        "the leader to purge its log behind a snapshot",
        || async move { c.count(leader, "raft_purged_index").await > 100 },
    )
    .await;
    drop((a, b));
    for id in 1..=3 {
        cluster.kill(id);
    }
    for id in 1..=3 {
        cluster.restart(id);
    }
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let other = (1..=3).find(|&id| id != leader).unwrap();
    let mut c = cluster.client(other).await;
    expect(&mut c, &["FCALL", "bump", "1", "n", "2"], Reply::Integer(7)).await;
    expect(&mut c, &["FUNCTION", "DELETE", "counter"], Reply::ok()).await;
    for id in 1..=3 {
        cluster
            .wait_local(
                id,
                &["FCALL_RO", "peek", "1", "n"],
                Reply::Error("ERR Function not found".into()),
            )
            .await;
    }
}
