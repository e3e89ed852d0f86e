//! XREAD and XREADGROUP with BLOCK on a 3-node cluster: a reader blocked on a follower is woken
//! by XADD through another node and `$` skips what was there before it blocked; every XREAD
//! client is woken by a write, each group is served first come first served and one entry goes
//! to one consumer of a group; a timeout answers nil on the wire, MULTI and history IDs never
//! block; a stream deleted (or flushed) or a group destroyed while blocked answers Redis 7.0's
//! errors; a consumer blocked across a leader kill gets each entry at most once, and one whose
//! connection closed is given nothing. `INFO clients` `blocked_clients` says when a client is
//! blocked, so nothing sleeps.

mod common;

use common::blocked::{assert_waiters_write_nothing, reply, roles, send, wait_blocked, wire};
use common::{bulk, Cluster};
use resp::Reply;

/// XREAD's or XREADGROUP's reply for one stream and its entries, each with one field `f`.
fn read_reply(key: &str, entries: &[(&str, &str)]) -> Reply {
    let entries = entries
        .iter()
        .map(|(id, v)| Reply::Array(vec![bulk(id), Reply::Array(vec![bulk("f"), bulk(v)])]))
        .collect();
    Reply::Array(vec![Reply::Array(vec![bulk(key), Reply::Array(entries)])])
}

/// The IDs in an XREADGROUP reply for one stream.
fn ids_read(reply: &Reply) -> Vec<String> {
    let Reply::Array(streams) = reply else {
        panic!("XREADGROUP answers an array: {reply:?}");
    };
    let Some(Reply::Array(pair)) = streams.first() else {
        panic!("one stream: {reply:?}");
    };
    let Reply::Array(entries) = &pair[1] else {
        panic!("entries: {reply:?}");
    };
    entries
        .iter()
        .map(|e| match e {
            Reply::Array(parts) => match &parts[0] {
                Reply::Bulk(id) => String::from_utf8_lossy(id).into_owned(),
                other => panic!("an ID: {other:?}"),
            },
            other => panic!("an entry: {other:?}"),
        })
        .collect()
}

/// XPENDING's extended form as (ID, consumer, deliveries).
async fn pending(cluster: &Cluster, id: u64, key: &str, group: &str) -> Vec<(String, String, i64)> {
    let Reply::Array(rows) = cluster
        .call(id, &["XPENDING", key, group, "-", "+", "100"])
        .await
    else {
        panic!("XPENDING answers an array");
    };
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("a bulk string: {other:?}"),
    };
    rows.iter()
        .map(|row| match row {
            Reply::Array(p) => match p[3] {
                Reply::Integer(n) => (text(&p[0]), text(&p[1]), n),
                ref other => panic!("a count: {other:?}"),
            },
            other => panic!("a row: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn xread_on_a_follower_is_woken_by_xadd_on_another_node_and_dollar_skips_older_entries() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    cluster.call(other, &["XADD", "s", "1-0", "f", "old"]).await;
    // A reader waiting for an ID not reached yet is first in line: a write must still wake the
    // reader behind it (readers take nothing, so each is woken).
    let mut later = cluster.client(follower).await;
    send(&mut later, &["XREAD", "BLOCK", "0", "STREAMS", "s", "5-0"]).await;
    wait_blocked(&cluster, follower, 1).await;
    let mut blocked = cluster.client(follower).await;
    send(&mut blocked, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
    wait_blocked(&cluster, follower, 2).await;

    cluster.call(other, &["XADD", "s", "2-0", "f", "new"]).await;
    assert_eq!(
        reply(&mut blocked).await,
        read_reply("s", &[("2-0", "new")]),
        "`$` is the last ID when the client blocked: the entry before it is not returned"
    );
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["XADD", "s", "6-0", "f", "six"]).await;
    assert_eq!(reply(&mut later).await, read_reply("s", &[("6-0", "six")]));

    // `$` of a missing stream is 0-0; a stream deleted meanwhile keeps an XREAD waiting.
    send(
        &mut blocked,
        &[
            "XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "t", "s", "$", "$",
        ],
    )
    .await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["DEL", "s"]).await;
    cluster.call(other, &["XADD", "t", "1-1", "f", "t1"]).await;
    assert_eq!(reply(&mut blocked).await, read_reply("t", &[("1-1", "t1")]));

    // A stream replaced by a string while an XREAD waits is skipped, not an error (Redis 7.0).
    send(
        &mut blocked,
        &["XREAD", "BLOCK", "0", "STREAMS", "t", "u", "$", "$"],
    )
    .await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["SET", "t", "now a string"]).await;
    cluster.call(other, &["XADD", "u", "1-0", "f", "u1"]).await;
    assert_eq!(reply(&mut blocked).await, read_reply("u", &[("1-0", "u1")]));
}

#[tokio::test]
async fn a_timeout_answers_nil_and_multi_and_history_ids_never_block() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    cluster
        .call(other, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
        .await;
    let addr = &cluster.client_addrs(&[follower])[0];
    let nil2 = "*-1\r\n";
    let xread = ["XREAD", "BLOCK", "100", "STREAMS", "s", "$"];
    assert_eq!(wire(addr, &[], &xread, nil2).await, nil2);
    let group = [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "100",
        "STREAMS",
        "s",
        ">",
    ];
    assert_eq!(wire(addr, &[], &group, nil2).await, nil2);
    let resp3 = wire(addr, &["HELLO", "3"], &xread, "_\r\n").await;
    assert!(resp3.starts_with('%'), "HELLO 3 answers a map: {resp3:?}");

    let mut c = cluster.client(follower).await;
    assert_eq!(
        c.call(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"])
            .await
            .unwrap(),
        Reply::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        c.call(&["XREAD", "BLOCK", "0.5", "STREAMS", "s", "$"])
            .await
            .unwrap(),
        Reply::Error("ERR timeout is not an integer or out of range".into())
    );
    // A history ID answers at once, even with BLOCK 0.
    assert_eq!(
        c.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            "0"
        ])
        .await
        .unwrap(),
        Reply::Array(vec![Reply::Array(vec![bulk("s"), Reply::Array(vec![])])])
    );
    // A missing group is refused at once.
    assert!(matches!(
        c.call(&["XREADGROUP", "GROUP", "nope", "c", "BLOCK", "0", "STREAMS", "s", ">"])
            .await
            .unwrap(),
        Reply::Error(e) if e.starts_with("NOGROUP No such key 's' or consumer group 'nope'")
    ));
    assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
    for args in [&xread[..], &group[..]] {
        assert_eq!(c.call(args).await.unwrap(), Reply::Simple("QUEUED".into()));
    }
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::Array(vec![Reply::Null, Reply::Null]) // `*-1` each on the wire
    );
}

#[tokio::test]
async fn xreadgroup_is_woken_and_each_entry_goes_to_one_consumer_of_a_group() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    for group in ["g", "h"] {
        cluster
            .call(other, &["XGROUP", "CREATE", "s", group, "$", "MKSTREAM"])
            .await;
    }
    let read = |group: &'static str, consumer: &'static str| {
        [
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]
    };
    let mut c1 = cluster.client(follower).await;
    send(&mut c1, &read("g", "c1")).await;
    wait_blocked(&cluster, follower, 1).await;
    let mut c2 = cluster.client(follower).await;
    send(&mut c2, &read("g", "c2")).await;
    wait_blocked(&cluster, follower, 2).await;
    let mut h1 = cluster.client(follower).await;
    send(&mut h1, &read("h", "h1")).await;
    wait_blocked(&cluster, follower, 3).await;
    assert_waiters_write_nothing(&cluster, follower, other).await;

    cluster.call(other, &["XADD", "s", "1-0", "f", "one"]).await;
    let one = read_reply("s", &[("1-0", "one")]);
    assert_eq!(reply(&mut c1).await, one, "the first of group g to block");
    assert_eq!(reply(&mut h1).await, one, "group h gets its own copy");
    wait_blocked(&cluster, follower, 1).await; // c2 still waits
    cluster.call(other, &["XADD", "s", "2-0", "f", "two"]).await;
    assert_eq!(reply(&mut c2).await, read_reply("s", &[("2-0", "two")]));

    let want = vec![
        ("1-0".to_string(), "c1".to_string(), 1),
        ("2-0".to_string(), "c2".to_string(), 1),
    ];
    assert_eq!(
        pending(&cluster, other, "s", "g").await,
        want,
        "each entry pending once, for the consumer that got it"
    );
    assert_eq!(
        pending(&cluster, other, "s", "h").await,
        vec![("1-0".to_string(), "h1".to_string(), 1)]
    );
}

#[tokio::test]
async fn a_deleted_stream_or_destroyed_group_unblocks_xreadgroup_with_redis_errors() {
    // DEL, XGROUP DESTROY and FLUSHALL, each while a consumer waits.
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    let create = ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"];
    let read = [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    let mut c = cluster.client(follower).await;

    cluster.call(other, &create).await;
    send(&mut c, &read).await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["DEL", "s"]).await;
    assert_eq!(
        reply(&mut c).await,
        Reply::Error("UNBLOCKED the stream key no longer exists".into())
    );

    cluster.call(other, &create).await;
    send(&mut c, &read).await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["XGROUP", "DESTROY", "s", "g"]).await;
    assert_eq!(
        reply(&mut c).await,
        Reply::Error(
            "NOGROUP the consumer group this client was blocked on no longer exists".into()
        )
    );

    cluster.call(other, &create).await;
    send(&mut c, &read).await;
    wait_blocked(&cluster, follower, 1).await;
    cluster.call(other, &["FLUSHALL"]).await;
    assert_eq!(
        reply(&mut c).await,
        Reply::Error("UNBLOCKED the stream key no longer exists".into())
    );
}

#[tokio::test]
async fn a_consumer_blocked_across_a_leader_kill_gets_each_entry_at_most_once() {
    let mut cluster = Cluster::start(3).await;
    let (leader, follower, other) = roles(&cluster).await;
    cluster
        .call(other, &["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"])
        .await;
    let mut blocked = cluster.client(follower).await;
    send(
        &mut blocked,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "BLOCK",
            "0",
            "STREAMS",
            "jobs",
            ">",
        ],
    )
    .await;
    wait_blocked(&cluster, follower, 1).await;

    cluster.kill(leader);
    cluster.wait_leader_among(&[follower, other]).await;
    let added = ["1-0", "2-0", "3-0"];
    for id in added {
        cluster.call(other, &["XADD", "jobs", id, "f", id]).await;
    }
    let got = ids_read(&reply(&mut blocked).await);
    assert!(!got.is_empty(), "the blocked consumer is served");
    wait_blocked(&cluster, follower, 0).await;
    // The rest go to another consumer; together each entry was delivered exactly once.
    let rest = cluster
        .call(
            other,
            &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "jobs", ">"],
        )
        .await;
    let rest = if rest == Reply::Null {
        Vec::new()
    } else {
        ids_read(&rest)
    };
    let mut all: Vec<String> = got.iter().chain(&rest).cloned().collect();
    all.sort();
    assert_eq!(
        all, added,
        "every entry delivered once: {got:?} then {rest:?}"
    );
    let pel = pending(&cluster, other, "jobs", "g").await;
    for (id, consumer, deliveries) in &pel {
        let owner = if got.contains(id) { "c1" } else { "c2" };
        assert_eq!((consumer.as_str(), *deliveries), (owner, 1), "{id}");
    }
    assert_eq!(pel.len(), added.len());
}

#[tokio::test]
async fn a_closed_blocked_consumer_is_given_nothing() {
    let cluster = Cluster::start(3).await;
    let (_, follower, other) = roles(&cluster).await;
    cluster
        .call(other, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
        .await;
    let mut gone = cluster.client(follower).await;
    send(
        &mut gone,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "gone",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    )
    .await;
    wait_blocked(&cluster, follower, 1).await;
    drop(gone);
    wait_blocked(&cluster, follower, 0).await;
    cluster.call(other, &["XADD", "s", "1-0", "f", "v"]).await;
    assert_eq!(
        cluster
            .call(
                other,
                &["XREADGROUP", "GROUP", "g", "next", "STREAMS", "s", ">"]
            )
            .await,
        read_reply("s", &[("1-0", "v")]),
        "the entry is still there for the group"
    );
    assert_eq!(
        pending(&cluster, other, "s", "g").await,
        vec![("1-0".to_string(), "next".to_string(), 1)]
    );
}
