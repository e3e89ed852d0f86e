//! WATCH / UNWATCH on a 3-node cluster, with clients on the followers: a concurrent client's
//! write, an expiry or a FLUSHALL aborts EXEC (nil array, `*-1` in RESP2 and `_` in RESP3); a
//! watch nobody disturbs lets EXEC run; UNWATCH, DISCARD and EXEC clear the watches; and the
//! classic WATCH-GET-MULTI-SET retry loop run by clients on every node loses no update.

mod common;

use bytes::BytesMut;
use common::{bulk, wait_until, Cluster, WAIT};
use node::client::RespClient;
use resp::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Start a 3-node cluster; return it with its two followers.
async fn cluster() -> (Cluster, u64, u64) {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    (cluster, followers[0], followers[1])
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn queued() -> Reply {
    Reply::Simple("QUEUED".into())
}

/// Send a command and check the reply.
async fn expect(client: &mut RespClient, args: &[&str], want: Reply) {
    let got = client.call(args).await.expect("call");
    assert_eq!(got, want, "{args:?}");
}

/// MULTI, one queued command, EXEC: the EXEC reply.
async fn multi_exec(client: &mut RespClient, args: &[&str]) -> Reply {
    expect(client, &["MULTI"], ok()).await;
    expect(client, args, queued()).await;
    client.call(&["EXEC"]).await.expect("exec")
}

/// The client library reads RESP2's nil array as null.
const ABORTED: Reply = Reply::Null;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_write_aborts_exec_and_an_undisturbed_watch_runs() {
    let (cluster, f1, f2) = cluster().await;
    let mut a = cluster.client(f1).await;
    let mut b = cluster.client(f2).await;
    expect(&mut a, &["SET", "k", "0"], ok()).await;

    // Another client on another node changes the watched key: EXEC aborts, nothing runs.
    expect(&mut a, &["WATCH", "k", "other"], ok()).await;
    expect(&mut b, &["SET", "k", "from-b"], ok()).await;
    assert_eq!(multi_exec(&mut a, &["SET", "k", "from-a"]).await, ABORTED);
    expect(&mut a, &["GET", "k"], bulk("from-b")).await;

    // EXEC cleared the watches: the same transaction now runs.
    assert_eq!(
        multi_exec(&mut a, &["SET", "k", "from-a"]).await,
        Reply::Array(vec![ok()])
    );

    // Writes to other keys, and reads of the watched one, do not disturb it.
    expect(&mut a, &["WATCH", "k"], ok()).await;
    expect(&mut b, &["SET", "unrelated", "x"], ok()).await;
    expect(&mut b, &["GET", "k"], bulk("from-a")).await;
    assert_eq!(
        multi_exec(&mut a, &["INCR", "n"]).await,
        Reply::Array(vec![Reply::Integer(1)])
    );

    // A watched key that did not exist and is created meanwhile.
    expect(&mut a, &["WATCH", "fresh"], ok()).await;
    expect(&mut b, &["SET", "fresh", "1"], ok()).await;
    assert_eq!(multi_exec(&mut a, &["INCR", "n"]).await, ABORTED);

    // WATCH inside MULTI is refused (and the transaction still runs, as in Redis).
    expect(&mut a, &["MULTI"], ok()).await;
    expect(
        &mut a,
        &["WATCH", "k"],
        Reply::Error("ERR WATCH inside MULTI is not allowed".into()),
    )
    .await;
    expect(&mut a, &["INCR", "n"], queued()).await;
    expect(&mut a, &["EXEC"], Reply::Array(vec![Reply::Integer(2)])).await;
    expect(
        &mut a,
        &["WATCH"],
        Reply::Error("ERR wrong number of arguments for 'watch' command".into()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwatch_and_discard_clear_the_watches() {
    let (cluster, f1, f2) = cluster().await;
    let mut a = cluster.client(f1).await;
    let mut b = cluster.client(f2).await;

    expect(&mut a, &["WATCH", "k"], ok()).await;
    expect(&mut b, &["SET", "k", "1"], ok()).await;
    expect(&mut a, &["UNWATCH"], ok()).await;
    assert_eq!(
        multi_exec(&mut a, &["SET", "k", "2"]).await,
        Reply::Array(vec![ok()])
    );

    expect(&mut a, &["WATCH", "k"], ok()).await;
    expect(&mut b, &["SET", "k", "3"], ok()).await;
    expect(&mut a, &["MULTI"], ok()).await;
    expect(&mut a, &["DISCARD"], ok()).await;
    assert_eq!(
        multi_exec(&mut a, &["SET", "k", "4"]).await,
        Reply::Array(vec![ok()])
    );
    expect(&mut a, &["GET", "k"], bulk("4")).await;

    // RESET forgets them too.
    expect(&mut a, &["WATCH", "k"], ok()).await;
    expect(&mut b, &["SET", "k", "5"], ok()).await;
    expect(&mut a, &["RESET"], Reply::Simple("RESET".into())).await;
    assert_eq!(
        multi_exec(&mut a, &["SET", "k", "6"]).await,
        Reply::Array(vec![ok()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_flushall_abort_and_the_wire_shows_a_nil_array() {
    let (cluster, f1, f2) = cluster().await;
    let mut a = cluster.client(f1).await;
    let mut b = cluster.client(f2).await;

    // The watched key expires (by time; the node may or may not have reclaimed it yet).
    expect(&mut b, &["SET", "t", "v", "PX", "300"], ok()).await;
    expect(&mut a, &["WATCH", "t"], ok()).await;
    wait_until("t expires", || async {
        cluster.call(f2, &["GET", "t"]).await == Reply::Null
    })
    .await;
    assert_eq!(multi_exec(&mut a, &["SET", "t", "again"]).await, ABORTED);
    expect(&mut a, &["GET", "t"], Reply::Null).await;

    // FLUSHALL from another node.
    expect(&mut b, &["SET", "f", "v"], ok()).await;
    expect(&mut a, &["WATCH", "f"], ok()).await;
    expect(&mut b, &["FLUSHALL"], ok()).await;
    assert_eq!(multi_exec(&mut a, &["SET", "f", "again"]).await, ABORTED);

    // The exact frames: `*-1` in RESP2, `_` in RESP3.
    for (hello, nil) in [("2", &b"*-1\r\n"[..]), ("3", &b"_\r\n"[..])] {
        let mut raw = TcpStream::connect(&cluster.node(f1).client)
            .await
            .expect("connect");
        let mut buf = BytesMut::new();
        send(&mut raw, &["HELLO", hello]).await;
        read_until(&mut raw, &mut buf, b"modules").await;
        buf.clear();
        send(&mut raw, &["WATCH", "w"]).await;
        read_until(&mut raw, &mut buf, b"+OK\r\n").await;
        buf.clear();
        expect(&mut b, &["SET", "w", hello], ok()).await;
        send(&mut raw, &["MULTI"]).await;
        send(&mut raw, &["SET", "w", "x"]).await;
        send(&mut raw, &["EXEC"]).await;
        let mut want = b"+OK\r\n+QUEUED\r\n".to_vec();
        want.extend_from_slice(nil);
        read_until(&mut raw, &mut buf, &want).await;
        assert_eq!(&buf[..], &want[..], "RESP{hello}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_retry_loop_on_every_node_loses_no_update() {
    const CLIENTS_PER_NODE: usize = 2;
    const INCREMENTS: usize = 15;
    let (cluster, _, _) = cluster().await;
    expect(&mut cluster.client(1).await, &["SET", "counter", "0"], ok()).await;
    let mut tasks = Vec::new();
    for id in 1..=3u64 {
        for _ in 0..CLIENTS_PER_NODE {
            let mut client = cluster.client(id).await;
            tasks.push(tokio::spawn(async move {
                let mut aborts = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        expect(&mut client, &["WATCH", "counter"], ok()).await;
                        let Reply::Bulk(value) = client.call(&["GET", "counter"]).await.unwrap()
                        else {
                            panic!("counter is a string")
                        };
                        let value: u64 = std::str::from_utf8(&value).unwrap().parse().unwrap();
                        let next = (value + 1).to_string();
                        match multi_exec(&mut client, &["SET", "counter", &next]).await {
                            Reply::Array(_) => break,
                            Reply::Null => aborts += 1,
                            other => panic!("EXEC answered {other:?}"),
                        }
                    }
                }
                aborts
            }));
        }
    }
    let mut aborts = 0;
    for task in tasks {
        aborts += tokio::time::timeout(WAIT * 4, task)
            .await
            .expect("the clients finish")
            .expect("a client panicked");
    }
    let total = 3 * CLIENTS_PER_NODE * INCREMENTS;
    expect(
        &mut cluster.client(2).await,
        &["GET", "counter"],
        bulk(&total.to_string()),
    )
    .await;
    eprintln!("{total} increments, {aborts} aborted EXECs retried");
}

async fn send(raw: &mut TcpStream, args: &[&str]) {
    let mut out = BytesMut::new();
    node::client::encode_command(args, &mut out);
    raw.write_all(&out).await.expect("send");
}

/// Read into `buf` until it contains `end`.
async fn read_until(raw: &mut TcpStream, buf: &mut BytesMut, end: &[u8]) {
    let read = async {
        while !buf.windows(end.len()).any(|w| w == end) {
            let n = raw.read_buf(buf).await.expect("read");
            assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(buf));
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .unwrap_or_else(|_| panic!("timed out; got {:?}", String::from_utf8_lossy(buf)));
}
