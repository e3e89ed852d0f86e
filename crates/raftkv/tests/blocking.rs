//! Blocking pops on a 3-node cluster: a client blocked on a follower is woken by a push through
//! another node; a timeout answers nil; two clients blocked on one key are served in the order
//! they blocked; a client blocked across a leader kill gets exactly one element and every
//! element pushed is popped once or still in the list; a blocked connection that closes takes
//! nothing; a waiting client adds nothing to the log. `INFO clients` `blocked_clients` says when
//! a client is blocked (its first attempt found nothing), so nothing sleeps.

mod common;

use common::blocked::{assert_waiters_write_nothing, reply, roles, send, wait_blocked, wire};
use common::{bulk, Cluster};
use resp::Reply;

#[tokio::test]
async fn a_client_blocked_on_a_follower_is_woken_by_a_push_on_another_node() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    let mut blocked = cluster.client(follower).await;

    send(&mut blocked, &["BLPOP", "q1", "q2", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    assert_waiters_write_nothing(&cluster, follower, other).await;
    assert_eq!(
        cluster.call(other, &["RPUSH", "q2", "a", "b"]).await,
        Reply::Integer(2)
    );
    assert_eq!(
        reply(&mut blocked).await,
        Reply::Array(vec![bulk("q2"), bulk("a")])
    );
    wait_blocked(&cluster, follower, 0).await;

    send(&mut blocked, &["BZPOPMIN", "z", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    cluster
        .call(other, &["ZADD", "z", "2", "y", "1", "x"])
        .await;
    assert_eq!(
        reply(&mut blocked).await,
        Reply::Array(vec![bulk("z"), bulk("x"), bulk("1")])
    );

    send(
        &mut blocked,
        &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"],
    )
    .await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["RPUSH", "src", "m"]).await;
    assert_eq!(reply(&mut blocked).await, bulk("m"));
    assert_eq!(
        cluster.call(other, &["LRANGE", "dst", "0", "-1"]).await,
        Reply::Array(vec![bulk("m")])
    );
}

#[tokio::test]
async fn a_timeout_answers_nil_and_multi_never_blocks() {
    let cluster = Cluster::start(3).await;
    let (_, follower, _) = roles(&cluster).await;
    // The test client reads both nils as `Null`: check the bytes on the wire.
    let addr = &cluster.client_addrs(&[follower])[0];
    let nil2 = "*-1\r\n";
    assert_eq!(wire(addr, &[], &["BLPOP", "q", "0.2"], nil2).await, nil2);
    let bzmpop = ["BZMPOP", "0.1", "1", "z", "MIN"];
    assert_eq!(wire(addr, &[], &bzmpop, nil2).await, nil2);
    // RESP3: the HELLO map, then `_` (the map itself holds no `_`).
    let resp3 = wire(addr, &["HELLO", "3"], &["BRPOP", "q", "0.1"], "_\r\n").await;
    assert!(resp3.starts_with('%'), "HELLO 3 answers a map: {resp3:?}");
    let mut c = cluster.client(follower).await;
    assert_eq!(
        c.call(&["BLPOP", "q", "-1"]).await.unwrap(),
        Reply::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        c.call(&["BRPOP", "q", "soon"]).await.unwrap(),
        Reply::Error("ERR timeout is not a float or out of range".into())
    );
    assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
    assert_eq!(
        c.call(&["BLPOP", "q", "0"]).await.unwrap(),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(
        c.call(&["RPUSH", "q", "v"]).await.unwrap(),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(
        c.call(&["BRPOP", "q", "0"]).await.unwrap(),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::Array(vec![
            Reply::Null, // `*-1` on the wire; the test client reads it as Null
            Reply::Integer(1),
            Reply::Array(vec![bulk("q"), bulk("v")]),
        ])
    );
}

#[tokio::test]
async fn two_blocked_clients_are_served_in_the_order_they_blocked() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    let mut first = cluster.client(follower).await;
    let mut second = cluster.client(follower).await;
    send(&mut first, &["BLPOP", "q", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    send(&mut second, &["BLPOP", "q", "0"]).await;
    wait_blocked(&cluster, follower, 2).await;
    cluster.call(other, &["RPUSH", "q", "one", "two"]).await;
    assert_eq!(
        reply(&mut first).await,
        Reply::Array(vec![bulk("q"), bulk("one")])
    );
    assert_eq!(
        reply(&mut second).await,
        Reply::Array(vec![bulk("q"), bulk("two")])
    );
    assert_eq!(cluster.call(other, &["LLEN", "q"]).await, Reply::Integer(0));
}

#[tokio::test]
async fn a_client_blocked_across_a_leader_kill_gets_exactly_one_element() {
    let mut cluster = Cluster::start(3).await;
    let (leader, follower, other) = roles(&cluster).await;
    let mut blocked = cluster.client(follower).await;
    send(&mut blocked, &["BLPOP", "jobs", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;

    cluster.kill(leader);
    cluster.wait_leader_among(&[follower, other]).await;
    let pushed = ["j1", "j2", "j3", "j4", "j5"];
    let mut args = vec!["RPUSH", "jobs"];
    args.extend(pushed);
    assert_eq!(cluster.call(other, &args).await, Reply::Integer(5));

    let got = match reply(&mut blocked).await {
        Reply::Array(parts) if parts.len() == 2 && parts[0] == bulk("jobs") => parts[1].clone(),
        other => panic!("unexpected BLPOP reply {other:?}"),
    };
    wait_blocked(&cluster, follower, 0).await;
    let Reply::Array(left) = cluster.call(other, &["LRANGE", "jobs", "0", "-1"]).await else {
        panic!("LRANGE answers an array");
    };
    let mut seen: Vec<Reply> = left.into_iter().chain([got]).collect();
    assert_eq!(
        seen.len(),
        pushed.len(),
        "one element popped, the rest still there"
    );
    seen.sort_by_key(|r| format!("{r:?}"));
    let want: Vec<Reply> = pushed.iter().map(|p| bulk(p)).collect();
    assert_eq!(seen, want, "every element popped once or still in the list");
}

#[tokio::test]
async fn a_closed_blocked_connection_takes_nothing() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    let mut gone = cluster.client(follower).await;
    send(&mut gone, &["BLPOP", "q", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    drop(gone);
    wait_blocked(&cluster, follower, 0).await;

    let mut waiting = cluster.client(follower).await;
    send(&mut waiting, &["BLPOP", "q", "0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["RPUSH", "q", "only"]).await;
    assert_eq!(
        reply(&mut waiting).await,
        Reply::Array(vec![bulk("q"), bulk("only")])
    );
    assert_eq!(cluster.call(other, &["LLEN", "q"]).await, Reply::Integer(0));
}

/// Each attempt of a blocking command is a log entry, so it must fit in one like any command.
#[tokio::test]
async fn a_blocking_command_larger_than_an_entry_is_refused() {
    let cluster = Cluster::start(3).await;
    let (_, follower, _) = roles(&cluster).await;
    let mut c = cluster.client(follower).await;
    let keys: Vec<String> = (0..300)
        .map(|i| format!("{i}:{}", "k".repeat(60_000)))
        .collect();
    let mut args = vec!["BLPOP"];
    args.extend(keys.iter().map(String::as_str));
    args.push("0.1");
    let Reply::Error(e) = c.call(&args).await.unwrap() else {
        panic!("an oversized BLPOP must be refused");
    };
    assert!(
        e.starts_with("ERR command of") && e.contains("exceeds the largest replicated entry"),
        "{e}"
    );
}
