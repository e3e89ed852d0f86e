//! `maxmemory` (`--maxmemory`, `CONFIG SET maxmemory`): past it the leader refuses every write
//! that may grow memory with Redis's `-OOM` text, on every node alike (a follower passes on the
//! leader's answer), while reads, deletes and pops keep working; a transaction holding such a
//! write is refused whole; a follower's own limit decides nothing.

mod common;

use common::{bulk, Cluster};
use resp::Reply;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn oom() -> Reply {
    Reply::Error(OOM.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_maxmemory_the_leader_refuses_writes_that_grow_memory_on_every_node() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    for (args, want) in [
        (&["SET", "k", "v"][..], Reply::ok()),
        (&["RPUSH", "l", "a", "b"][..], Reply::Integer(2)),
    ] {
        assert_eq!(cluster.call(follower, args).await, want);
    }

    // A follower's own limit decides nothing: the leader's does.
    assert_eq!(
        cluster
            .call(follower, &["CONFIG", "SET", "maxmemory", "1"])
            .await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(follower, &["SET", "k2", "v"]).await,
        Reply::ok()
    );

    // Any process is past one byte.
    assert_eq!(
        cluster
            .call(leader, &["CONFIG", "SET", "maxmemory", "1"])
            .await,
        Reply::ok()
    );
    let maxmemory = cluster.call(leader, &["CONFIG", "GET", "maxmemory"]).await;
    assert_eq!(
        maxmemory,
        Reply::Array(vec![bulk("maxmemory"), bulk("1")]),
        "{maxmemory:?}"
    );
    for id in [leader, follower] {
        assert_eq!(
            cluster.call(id, &["SET", "k", "w"]).await,
            oom(),
            "node {id}"
        );
        assert_eq!(cluster.call(id, &["LPUSH", "l", "c"]).await, oom());
        assert_eq!(cluster.call(id, &["INCR", "n"]).await, oom());
        assert_eq!(
            cluster
                .call(id, &["EVAL", "return redis.call('DEL', 'x')", "0"])
                .await,
            oom()
        );
        assert_eq!(cluster.call(id, &["GET", "k"]).await, bulk("v"));
        assert_eq!(
            cluster
                .call(id, &["EVAL_RO", "return redis.call('GET', 'k')", "0"])
                .await,
            bulk("v")
        );
    }
    assert_eq!(cluster.call(follower, &["LPOP", "l"]).await, bulk("a"));
    assert_eq!(
        cluster.call(follower, &["EXPIRE", "k2", "100"]).await,
        Reply::Integer(1)
    );
    assert_eq!(
        cluster.call(follower, &["DEL", "k2"]).await,
        Reply::Integer(1)
    );

    // A transaction with a write that may grow memory is refused whole; one that only deletes
    // runs.
    let mut c = cluster.client(follower).await;
    for (args, want) in [
        (&["MULTI"][..], Reply::ok()),
        (&["DEL", "l"][..], Reply::Simple("QUEUED".into())),
        (&["SET", "k", "x"][..], Reply::Simple("QUEUED".into())),
        (&["EXEC"][..], oom()),
        (&["GET", "k"][..], bulk("v")),
        (&["LLEN", "l"][..], Reply::Integer(1)),
        (&["MULTI"][..], Reply::ok()),
        (&["DEL", "l"][..], Reply::Simple("QUEUED".into())),
        (&["EXEC"][..], Reply::Array(vec![Reply::Integer(1)])),
    ] {
        assert_eq!(c.call(args).await.unwrap(), want, "{args:?}");
    }
    let refused = cluster.count(leader, "oom_writes_refused").await;
    assert!(refused >= 9, "oom_writes_refused {refused}");

    // Lifting the limit lets writes through again.
    assert_eq!(
        cluster
            .call(leader, &["CONFIG", "SET", "maxmemory", "0"])
            .await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(follower, &["SET", "k", "w"]).await,
        Reply::ok()
    );
    assert_eq!(
        cluster.call(leader, &["CONFIG", "SET", "maxmemory", "lots"]).await,
        Reply::Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer: lots".into())
    );
}
