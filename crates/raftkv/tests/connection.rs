//! Connection-level commands and failure replies on real processes.

mod common;

use std::time::{Duration, Instant};

use common::{bulk, Cluster};
use resp::Reply;

fn simple(s: &str) -> Reply {
    Reply::Simple(s.to_string().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_commands_answer_like_redis() {
    let cluster = Cluster::start(1).await;
    let mut c = cluster.client(1).await;
    assert_eq!(c.call(&["PING"]).await.unwrap(), simple("PONG"));
    assert_eq!(c.call(&["ping", "hi"]).await.unwrap(), bulk("hi"));
    assert_eq!(c.call(&["ECHO", "x y"]).await.unwrap(), bulk("x y"));
    assert_eq!(c.call(&["SELECT", "0"]).await.unwrap(), Reply::ok());
    assert_eq!(
        c.call(&["SELECT", "1"]).await.unwrap(),
        Reply::error("ERR DB index is out of range")
    );
    assert_eq!(
        c.call(&["SELECT", "x"]).await.unwrap(),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(c.call(&["CLIENT", "GETNAME"]).await.unwrap(), Reply::Null);
    assert_eq!(
        c.call(&["CLIENT", "SETNAME", "worker-1"]).await.unwrap(),
        Reply::ok()
    );
    assert_eq!(
        c.call(&["CLIENT", "GETNAME"]).await.unwrap(),
        bulk("worker-1")
    );
    assert!(matches!(c.call(&["CLIENT", "ID"]).await.unwrap(), Reply::Integer(id) if id > 0));
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"])
            .await
            .unwrap(),
        Reply::ok()
    );
    assert_eq!(
        c.call(&["CLIENT", "SETNAME", "a b"]).await.unwrap(),
        Reply::error("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(
        c.call(&["CONFIG", "GET", "save"]).await.unwrap(),
        Reply::Array(vec![bulk("save"), bulk("")])
    );
    assert_eq!(
        c.call(&["CONFIG", "GET", "APPEND*"]).await.unwrap(),
        Reply::Array(vec![bulk("appendonly"), bulk("no")])
    );
    let Reply::Integer(count) = c.call(&["COMMAND", "COUNT"]).await.unwrap() else {
        panic!("COMMAND COUNT is an integer")
    };
    match c.call(&["COMMAND", "LIST"]).await.unwrap() {
        Reply::Array(names) => assert_eq!(names.len() as i64, count),
        other => panic!("COMMAND LIST is an array, got {other:?}"),
    }
    // redis-cli's `help get` reads this (RESP2: a map as a flat array).
    match c.call(&["COMMAND", "DOCS", "GET"]).await.unwrap() {
        Reply::Array(docs) => {
            assert_eq!(docs[0], bulk("get"));
            assert!(format!("{:?}", docs[1]).contains("Get the value of a key"));
        }
        other => panic!("COMMAND DOCS is a map, got {other:?}"),
    }
    for (words, error) in [
        (
            &["CLIENT", "NOPE"][..],
            "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.",
        ),
        (
            &["RAFTKV", "MEMBER", "NOPE"][..],
            "ERR unknown subcommand 'NOPE'. Try RAFTKV HELP.",
        ),
        (
            &["RAFTKV", "MEMBER", "PROMOTE"][..],
            "ERR wrong number of arguments for 'raftkv|member' command",
        ),
    ] {
        assert_eq!(c.call(words).await.unwrap(), Reply::error(error));
    }
    for container in ["CLIENT", "COMMAND", "CONFIG", "RAFTKV", "OBJECT"] {
        match c.call(&[container, "HELP"]).await.unwrap() {
            Reply::Array(lines) => assert!(
                format!("{:?}", lines[0]).contains(&format!("{container} <subcommand>")),
                "{container} HELP: {lines:?}"
            ),
            other => panic!("{container} HELP is an array of lines, got {other:?}"),
        }
    }
    match c.call(&["HELLO", "2"]).await.unwrap() {
        Reply::Array(fields) => {
            assert_eq!(fields[0], bulk("server"));
            assert_eq!(fields[1], bulk("redis"));
            assert!(fields.contains(&bulk("proto")));
        }
        other => panic!("HELLO 2 must answer a flat array, got {other:?}"),
    }
    assert_eq!(
        c.call(&["HELLO", "4"]).await.unwrap(),
        Reply::error("NOPROTO sorry, this protocol version is not supported.")
    );
    assert_eq!(
        c.call(&["NOSUCH", "a", "b"]).await.unwrap(),
        Reply::error("ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        c.call(&["GET"]).await.unwrap(),
        Reply::error("ERR wrong number of arguments for 'get' command")
    );
    // A command error never closes the connection; QUIT does, after +OK.
    assert_eq!(c.call(&["PING"]).await.unwrap(), simple("PONG"));
    assert_eq!(c.call(&["QUIT"]).await.unwrap(), Reply::ok());
    assert!(
        c.call(&["PING"]).await.is_err(),
        "the server closes after QUIT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_error_is_answered_then_the_connection_closes() {
    let cluster = Cluster::start(1).await;
    let mut c = cluster.client(1).await;
    c.send_raw(b"*1\r\n$abc\r\n").await.unwrap();
    assert_eq!(
        c.read_reply().await.unwrap(),
        Reply::error("ERR Protocol error: invalid bulk length")
    );
    assert!(
        c.read_reply().await.is_err(),
        "closed after a protocol error"
    );
    // The node is fine.
    assert_eq!(cluster.call(1, &["PING"]).await, simple("PONG"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_quorum_requests_fail_with_clusterdown_and_the_connection_stays_open() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let survivor = (1..=3).find(|&i| i != leader).unwrap();
    let mut c = cluster.client(survivor).await;
    assert_eq!(c.call(&["SET", "k", "v"]).await.unwrap(), Reply::ok());
    for id in (1..=3).filter(|&i| i != survivor) {
        cluster.kill(id);
    }
    let started = Instant::now();
    for cmd in [&["SET", "k", "w"][..], &["GET", "k"][..]] {
        match c.call(cmd).await.unwrap() {
            Reply::Error(e) => assert!(
                e.starts_with("CLUSTERDOWN") || e.starts_with("TRYAGAIN"),
                "{cmd:?} without quorum: {e}"
            ),
            other => panic!("{cmd:?} without quorum answered {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "requests must fail after a bounded wait"
    );
    assert_eq!(
        c.call(&["PING"]).await.unwrap(),
        simple("PONG"),
        "the connection stays usable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_runs_the_queue_as_one_unit() {
    let cluster = Cluster::start(3).await;
    let mut c = cluster.client(2).await;
    let queued = Reply::Simple("QUEUED".into());
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::error("ERR EXEC without MULTI")
    );
    assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
    assert_eq!(
        c.call(&["MULTI"]).await.unwrap(),
        Reply::error("ERR MULTI calls can not be nested")
    );
    assert_eq!(c.call(&["SET", "t", "1"]).await.unwrap(), queued);
    assert_eq!(c.call(&["INCR", "t"]).await.unwrap(), queued);
    assert_eq!(c.call(&["GET", "t"]).await.unwrap(), queued);
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::Array(vec![Reply::ok(), Reply::Integer(2), bulk("2")])
    );
    // A command that fails to parse while queued aborts the whole transaction.
    assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
    assert_eq!(c.call(&["SET", "t", "9"]).await.unwrap(), queued);
    assert!(c.call(&["SET", "t"]).await.unwrap().is_error());
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(
        c.call(&["GET", "t"]).await.unwrap(),
        bulk("2"),
        "nothing of the aborted transaction ran"
    );
    assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
    assert_eq!(c.call(&["DEL", "t"]).await.unwrap(), queued);
    assert_eq!(c.call(&["DISCARD"]).await.unwrap(), Reply::ok());
    assert_eq!(
        cluster.call(3, &["GET", "t"]).await,
        bulk("2"),
        "a discarded transaction never runs"
    );
}

/// EXEC is one log entry, and a concurrent client's writes never land between its commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_one_entry_and_no_other_client_interleaves() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let mut c = cluster.client(leader).await;
    let before = cluster.last_log_index(leader).await;
    c.call(&["MULTI"]).await.unwrap();
    for _ in 0..3 {
        c.call(&["INCR", "n"]).await.unwrap();
    }
    assert_eq!(
        c.call(&["EXEC"]).await.unwrap(),
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Integer(2),
            Reply::Integer(3)
        ])
    );
    let after = cluster.last_log_index(leader).await;
    assert_eq!(
        after - before,
        1,
        "EXEC of three writes took {} entries",
        after - before
    );

    // Another client increments `n` as fast as it can while transactions run INCR twice: each
    // EXEC must see its two increments back to back.
    let addr = cluster.node(2).client.clone();
    let other = tokio::spawn(async move {
        let mut o = node::client::RespClient::connect(&addr, Duration::from_secs(5))
            .await
            .unwrap();
        loop {
            o.call(&["INCR", "n"]).await.unwrap();
        }
    });
    // Run transactions until the other client's writes have landed between two of them ten
    // times: proof that it was writing concurrently, so a transaction run command by command
    // would have let them in.
    let (mut last, mut between, mut runs) = (3, 0, 0);
    while between < 10 {
        runs += 1;
        assert!(
            runs <= 2000,
            "the other client never wrote between two transactions"
        );
        c.call(&["MULTI"]).await.unwrap();
        c.call(&["INCR", "n"]).await.unwrap();
        c.call(&["INCR", "n"]).await.unwrap();
        let Reply::Array(replies) = c.call(&["EXEC"]).await.unwrap() else {
            panic!("EXEC did not answer an array")
        };
        let (Reply::Integer(a), Reply::Integer(b)) = (&replies[0], &replies[1]) else {
            panic!("{replies:?}")
        };
        assert_eq!(
            *b,
            a + 1,
            "another client's write ran inside the transaction (run {runs})"
        );
        between += usize::from(*a > last + 1);
        last = *b;
    }
    other.abort();
}
