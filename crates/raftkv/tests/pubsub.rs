//! Pub/sub across a 3-node cluster: a message published on one node reaches the subscribers on
//! every node in publish order, in RESP2 (subscribed mode) and RESP3 (push frames); PUBSUB
//! introspection; the RESP2 subscribed-mode rules; a slow subscriber cut off while the others
//! keep receiving. Subscribers are raw sockets checked byte for byte against Redis 7's frames.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::{wait_until, Cluster, WAIT};
use resp::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw connection that checks the exact bytes the server sends.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn connect(addr: &str) -> Raw {
        Raw::over(TcpStream::connect(addr).await.expect("connect"))
    }

    fn over(stream: TcpStream) -> Raw {
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, args: &[&str]) {
        let mut out = BytesMut::new();
        node::client::encode_command(args, &mut out);
        self.stream.write_all(&out).await.expect("send");
    }

    /// Read until `want` has arrived and check it is exactly what came next.
    async fn expect(&mut self, want: &[u8]) {
        let read = async {
            while self.buf.len() < want.len() {
                let n = self.stream.read_buf(&mut self.buf).await.expect("read");
                assert!(n > 0, "connection closed; got {:?}", show(&self.buf));
            }
        };
        if tokio::time::timeout(WAIT, read).await.is_err() {
            panic!(
                "timed out waiting for {:?}; got {:?}",
                show(want),
                show(&self.buf)
            );
        }
        let got = self.buf.split_to(want.len());
        assert_eq!(show(&got), show(want));
    }

    /// Read and drop everything up to and including `end`.
    async fn skip_through(&mut self, end: &[u8]) {
        let read = async {
            loop {
                if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                    let _ = self.buf.split_to(at + end.len());
                    return;
                }
                let n = self.stream.read_buf(&mut self.buf).await.expect("read");
                assert!(n > 0, "connection closed; got {:?}", show(&self.buf));
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("skip_through timed out");
    }

    /// Send a command and check its reply bytes.
    async fn call(&mut self, args: &[&str], want: &[u8]) {
        self.send(args).await;
        self.expect(want).await;
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A frame of bulk strings and a trailing integer or not: `>` in RESP3, `*` in RESP2.
fn frame(resp3: bool, parts: &[&str], count: Option<i64>) -> Vec<u8> {
    let n = parts.len() + usize::from(count.is_some());
    let mut s = format!("{}{n}\r\n", if resp3 { '>' } else { '*' });
    for p in parts {
        s.push_str(&bulk(p));
    }
    if let Some(c) = count {
        s.push_str(&format!(":{c}\r\n"));
    }
    s.into_bytes()
}

/// Start a 3-node cluster (extra flags for every node) and return it with its leader.
async fn cluster(extra: &[&str]) -> (Cluster, u64) {
    let cluster = Cluster::start_with(3, extra).await;
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    (cluster, leader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_published_on_one_node_reach_subscribers_on_the_others_in_order() {
    let (cluster, leader) = cluster(&[]).await;
    // Publish through a follower, so the PUBLISH is forwarded; subscribe on the other two.
    let publisher = if leader == 1 { 2 } else { 1 };
    let others: Vec<u64> = (1..=3).filter(|&id| id != publisher).collect();
    let (resp2_node, resp3_node) = (others[0], others[1]);

    let mut resp2 = Raw::connect(&cluster.node(resp2_node).client).await;
    resp2
        .call(
            &["SUBSCRIBE", "news"],
            &frame(false, &["subscribe", "news"], Some(1)),
        )
        .await;
    resp2
        .call(
            &["PSUBSCRIBE", "n?ws"],
            &frame(false, &["psubscribe", "n?ws"], Some(2)),
        )
        .await;
    let mut resp3 = Raw::connect(&cluster.node(resp3_node).client).await;
    resp3.send(&["HELLO", "3"]).await;
    resp3.skip_through(b"$7\r\nmodules\r\n*0\r\n").await; // the end of HELLO's map
    resp3
        .call(
            &["PSUBSCRIBE", "ne*"],
            &frame(true, &["psubscribe", "ne*"], Some(1)),
        )
        .await;

    // Sequential publishes and a pipelined run of them: both keep the publisher's order.
    let mut publish = cluster.client(publisher).await;
    for i in 0..20 {
        let reply = publish.call(&["PUBLISH", "news", &format!("m{i}")]).await;
        assert_eq!(
            reply.unwrap(),
            Reply::Integer(0),
            "no subscriber on the publisher's node"
        );
    }
    let mut pipeline = BytesMut::new();
    for i in 20..40 {
        node::client::encode_command(&["PUBLISH", "news", &format!("m{i}")], &mut pipeline);
    }
    publish.send_raw(&pipeline).await.unwrap();
    for _ in 20..40 {
        assert_eq!(publish.read_reply().await.unwrap(), Reply::Integer(0));
    }
    // A channel nobody matches is delivered to nobody.
    assert_eq!(
        publish.call(&["PUBLISH", "sports", "x"]).await.unwrap(),
        Reply::Integer(0)
    );

    for i in 0..40 {
        let m = format!("m{i}");
        resp2
            .expect(&frame(false, &["message", "news", &m], None))
            .await;
        resp2
            .expect(&frame(false, &["pmessage", "n?ws", "news", &m], None))
            .await;
        resp3
            .expect(&frame(true, &["pmessage", "ne*", "news", &m], None))
            .await;
    }
    // In RESP3 every command still works between pushes; PING is a normal reply.
    resp3.call(&["GET", "k"], b"_\r\n").await;
    resp3.call(&["PING"], b"+PONG\r\n").await;

    // A PUBLISH answers the receivers on the node it was sent to (Redis Cluster's count):
    // two frames for the RESP2 subscriber (channel and pattern).
    let mut local = cluster.client(resp2_node).await;
    assert_eq!(
        local.call(&["PUBLISH", "news", "last"]).await.unwrap(),
        Reply::Integer(2)
    );
    resp2
        .expect(&frame(false, &["message", "news", "last"], None))
        .await;
    resp2
        .expect(&frame(false, &["pmessage", "n?ws", "news", "last"], None))
        .await;
    resp3
        .expect(&frame(true, &["pmessage", "ne*", "news", "last"], None))
        .await;
    // Nothing else was delivered: the next frames are the replies to these commands.
    resp2
        .call(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        .await;
    resp3.call(&["PING", "x"], b"$1\r\nx\r\n").await;
    for id in [resp2_node, resp3_node] {
        assert_eq!(cluster.count(id, "pubsub_published").await, 42);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_introspection_and_resp2_subscribed_mode() {
    let (cluster, _) = cluster(&[]).await;
    let mut a = Raw::connect(&cluster.node(2).client).await;
    a.call(
        &["SUBSCRIBE", "x", "y"],
        &[
            frame(false, &["subscribe", "x"], Some(1)),
            frame(false, &["subscribe", "y"], Some(2)),
        ]
        .concat(),
    )
    .await;
    let mut b = Raw::connect(&cluster.node(2).client).await;
    b.call(
        &["SUBSCRIBE", "x"],
        &frame(false, &["subscribe", "x"], Some(1)),
    )
    .await;
    b.call(
        &["PSUBSCRIBE", "x*"],
        &frame(false, &["psubscribe", "x*"], Some(2)),
    )
    .await;
    // Pub/sub state is per node: node 2 sees its subscribers, node 1 none.
    let mut c2 = cluster.client(2).await;
    let numsub = |x, y, z| {
        Reply::Array(vec![
            common::bulk("x"),
            Reply::Integer(x),
            common::bulk("y"),
            Reply::Integer(y),
            common::bulk("z"),
            Reply::Integer(z),
        ])
    };
    assert_eq!(
        c2.call(&["PUBSUB", "NUMSUB", "x", "y", "z"]).await.unwrap(),
        numsub(2, 1, 0)
    );
    assert_eq!(
        c2.call(&["PUBSUB", "NUMPAT"]).await.unwrap(),
        Reply::Integer(1)
    );
    assert_eq!(
        c2.call(&["PUBSUB", "CHANNELS"]).await.unwrap(),
        Reply::Array(vec![common::bulk("x"), common::bulk("y")])
    );
    assert_eq!(
        c2.call(&["PUBSUB", "CHANNELS", "y*"]).await.unwrap(),
        Reply::Array(vec![common::bulk("y")])
    );
    let mut c1 = cluster.client(1).await;
    assert_eq!(
        c1.call(&["PUBSUB", "NUMSUB", "x", "y", "z"]).await.unwrap(),
        numsub(0, 0, 0)
    );
    assert_eq!(
        c1.call(&["PUBSUB", "NUMPAT"]).await.unwrap(),
        Reply::Integer(0)
    );
    assert_eq!(
        c1.call(&["PUBSUB", "CHANNELS"]).await.unwrap(),
        Reply::Array(vec![])
    );

    // RESP2 subscribed mode: only (un)subscribe, PING, QUIT and RESET.
    a.call(
        &["GET", "k"],
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    a.call(
        &["PUBLISH", "x", "m"],
        b"-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    a.call(&["PING", "hi"], b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n")
        .await;
    // Unsubscribing from everything leaves subscribed mode.
    a.call(
        &["UNSUBSCRIBE"],
        &[
            frame(false, &["unsubscribe", "x"], Some(1)),
            frame(false, &["unsubscribe", "y"], Some(0)),
        ]
        .concat(),
    )
    .await;
    a.call(
        &["UNSUBSCRIBE"],
        b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    )
    .await;
    a.call(&["GET", "k"], b"$-1\r\n").await;
    a.call(&["PING"], b"+PONG\r\n").await;
    // RESET unsubscribes too.
    b.call(&["RESET"], b"+RESET\r\n").await;
    b.call(&["GET", "k"], b"$-1\r\n").await;
    assert_eq!(
        c2.call(&["PUBSUB", "NUMSUB", "x", "y", "z"]).await.unwrap(),
        numsub(0, 0, 0)
    );
    assert_eq!(
        c2.call(&["PUBSUB", "NUMPAT"]).await.unwrap(),
        Reply::Integer(0)
    );
    // A closed connection's subscriptions go with it.
    a.call(
        &["PSUBSCRIBE", "q*"],
        &frame(false, &["psubscribe", "q*"], Some(1)),
    )
    .await;
    assert_eq!(
        c2.call(&["PUBSUB", "NUMPAT"]).await.unwrap(),
        Reply::Integer(1)
    );
    drop(a);
    wait_until("the closed subscriber's pattern to go", || {
        let addr = cluster.node(2).client.clone();
        async move {
            let mut c = node::client::RespClient::connect(&addr, Duration::from_secs(2))
                .await
                .expect("connect");
            c.call(&["PUBSUB", "NUMPAT"]).await.ok() == Some(Reply::Integer(0))
        }
    })
    .await;
    assert_eq!(
        c2.call(&["PUBSUB", "NUMPAT", "extra"]).await.unwrap(),
        Reply::Error("ERR wrong number of arguments for 'pubsub|numpat' command".into())
    );
    assert_eq!(
        c2.call(&["SUBSCRIBE"]).await.unwrap(),
        Reply::Error("ERR wrong number of arguments for 'subscribe' command".into())
    );
}

/// The output limit the slow-subscriber test runs with: small, so the test publishes little.
const LIMIT: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_cut_off_while_others_keep_receiving() {
    let limit = LIMIT.to_string();
    let (cluster, _) = cluster(&["--pubsub-output-limit-bytes", &limit]).await;
    // The slow subscriber never reads; a small receive buffer makes it fall behind sooner.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = cluster.node(2).client.parse().unwrap();
    let mut slow = Raw::over(socket.connect(addr).await.expect("connect"));
    slow.call(
        &["SUBSCRIBE", "feed"],
        &frame(false, &["subscribe", "feed"], Some(1)),
    )
    .await;
    // Fast subscribers on the same node and on another one.
    let mut fast = Vec::new();
    for id in [2, 3] {
        let mut c = Raw::connect(&cluster.node(id).client).await;
        c.call(
            &["SUBSCRIBE", "feed"],
            &frame(false, &["subscribe", "feed"], Some(1)),
        )
        .await;
        fast.push(c);
    }

    let payload = "p".repeat(16 * 1024);
    let mut publisher = cluster.client(1).await;
    let mut sent = 0;
    while cluster.count(2, "pubsub_clients_cut_off").await == 0 {
        // Bounded: kernel socket buffers hold a few MiB before the outbox fills.
        assert!(sent < 2000, "the slow subscriber was never cut off");
        let m = format!("{sent}:{payload}");
        publisher.call(&["PUBLISH", "feed", &m]).await.unwrap();
        for c in &mut fast {
            c.expect(&frame(false, &["message", "feed", &m], None))
                .await;
        }
        sent += 1;
    }
    eprintln!(
        "slow subscriber cut off after {sent} messages of {} bytes",
        payload.len()
    );
    // Memory stayed bounded: the node dropped the slow subscriber's queue and closes it.
    let closed = async {
        let mut sink = vec![0u8; 1 << 16];
        loop {
            match slow.stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, closed)
        .await
        .expect("the slow subscriber's connection is closed");
    assert_eq!(cluster.count(2, "pubsub_clients_cut_off").await, 1);
    assert_eq!(cluster.count(3, "pubsub_clients_cut_off").await, 0);
    let mut c2 = cluster.client(2).await;
    assert_eq!(
        c2.call(&["PUBSUB", "NUMSUB", "feed"]).await.unwrap(),
        Reply::Array(vec![common::bulk("feed"), Reply::Integer(1)])
    );
    // The others keep receiving, in order.
    for i in 0..5 {
        let m = format!("after{i}");
        assert_eq!(
            publisher.call(&["PUBLISH", "feed", &m]).await.unwrap(),
            Reply::Integer(0)
        );
        for c in &mut fast {
            c.expect(&frame(false, &["message", "feed", &m], None))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_node_catches_up_and_a_leader_change_loses_no_acknowledged_message() {
    let (mut cluster, leader) = cluster(&["--unsafe-fault-injection"]).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let (cut, live) = (followers[0], followers[1]);
    let mut subs = Vec::new();
    for id in [cut, live] {
        let mut c = Raw::connect(&cluster.node(id).client).await;
        c.call(
            &["SUBSCRIBE", "ch"],
            &frame(false, &["subscribe", "ch"], Some(1)),
        )
        .await;
        subs.push(c);
    }
    // Cut one follower off from the other two nodes (its clients still reach it).
    let (l, v) = (leader.to_string(), live.to_string());
    let c = cut.to_string();
    let isolate_cut = ["RAFTKV", "FAULT", "ISOLATE", &l, &v];
    assert_eq!(cluster.call(cut, &isolate_cut).await, Reply::ok());
    for id in [leader, live] {
        assert_eq!(
            cluster.call(id, &["RAFTKV", "FAULT", "ISOLATE", &c]).await,
            Reply::ok()
        );
    }
    let mut publisher = cluster.client(live).await;
    for i in 0..10 {
        let m = format!("m{i}");
        assert_eq!(
            publisher.call(&["PUBLISH", "ch", &m]).await.unwrap(),
            Reply::Integer(1)
        );
        subs[1]
            .expect(&frame(false, &["message", "ch", &m], None))
            .await;
    }
    assert_eq!(
        cluster.count(cut, "pubsub_published").await,
        0,
        "the partitioned node applied nothing"
    );
    // Healed, it applies the log it missed and delivers those messages, in order.
    for id in [cut, leader, live] {
        assert_eq!(
            cluster.call(id, &["RAFTKV", "FAULT", "HEAL"]).await,
            Reply::ok()
        );
    }
    for i in 0..10 {
        let m = format!("m{i}");
        subs[0]
            .expect(&frame(false, &["message", "ch", &m], None))
            .await;
    }
    // The leader dies; after the election every acknowledged message reaches both subscribers
    // exactly once, in order.
    cluster.kill(leader);
    cluster.wait_leader_among(&[cut, live]).await;
    let mut publisher = cluster.client(cut).await;
    for i in 10..20 {
        let m = format!("m{i}");
        assert_eq!(
            publisher.call(&["PUBLISH", "ch", &m]).await.unwrap(),
            Reply::Integer(1)
        );
    }
    for sub in &mut subs {
        for i in 10..20 {
            let m = format!("m{i}");
            sub.expect(&frame(false, &["message", "ch", &m], None))
                .await;
        }
        sub.call(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    }
}

/// A client library's pub/sub API works unchanged, in RESP2 and RESP3: the `redis` crate
/// subscribes on two nodes and receives what it publishes through the third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_crate_subscribes_and_receives_in_resp2_and_resp3() {
    let (cluster, _) = cluster(&[]).await;
    let mut subscribers = Vec::new();
    for (id, proto) in [(2, ""), (3, "?protocol=resp3")] {
        let url = format!("redis://{}/{proto}", cluster.node(id).client);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        subscribers.push((
            ready_rx,
            std::thread::spawn(move || {
                let client = redis::Client::open(url.as_str()).expect("url");
                let mut con = client.get_connection().expect("connect");
                let mut pubsub = con.as_pubsub();
                pubsub.set_read_timeout(Some(WAIT)).unwrap();
                pubsub.subscribe("jobs").expect("subscribe");
                pubsub.psubscribe("job?").expect("psubscribe");
                ready_tx.send(()).unwrap();
                let mut got = Vec::new();
                for _ in 0..6 {
                    let msg = pubsub.get_message().expect("a message");
                    let pattern: Option<String> = msg.get_pattern().ok();
                    let payload: String = msg.get_payload().expect("payload");
                    got.push((msg.get_channel_name().to_string(), pattern, payload));
                }
                got
            }),
        ));
    }
    for (ready, _) in &subscribers {
        ready.recv_timeout(WAIT).expect("subscribed");
    }
    let url = format!("redis://{}/", cluster.node(1).client);
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for i in 0..3 {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("jobs")
            .arg(format!("job{i}"))
            .query_async(&mut con)
            .await
            .expect("publish");
        assert_eq!(n, 0, "no subscriber on node 1");
    }
    for (_, thread) in subscribers {
        let got = tokio::task::spawn_blocking(move || thread.join().expect("subscriber"))
            .await
            .unwrap();
        let want: Vec<_> = (0..3)
            .flat_map(|i| {
                let m = format!("job{i}");
                [
                    ("jobs".to_string(), None, m.clone()),
                    ("jobs".to_string(), Some("job?".to_string()), m),
                ]
            })
            .collect();
        assert_eq!(got, want);
    }
}

/// A node so far behind that it catches up through a snapshot skips the messages the snapshot
/// covers (a snapshot holds keys, not messages) and delivers the rest in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_catches_up_through_a_snapshot_skips_the_messages_it_covers() {
    let flags = ["--unsafe-fault-injection", "--snapshot-threshold", "20"];
    let (cluster, leader) = cluster(&flags).await;
    let lagging = (1..=3).find(|&i| i != leader).unwrap();
    let writer = (1..=3).find(|&i| i != leader && i != lagging).unwrap();
    let mut sub = cluster.client(lagging).await;
    assert_eq!(
        sub.call(&["SUBSCRIBE", "ch"]).await.unwrap(),
        Reply::Array(vec![
            common::bulk("subscribe"),
            common::bulk("ch"),
            Reply::Integer(1)
        ])
    );
    let (l, w, g) = (leader.to_string(), writer.to_string(), lagging.to_string());
    let cut = ["RAFTKV", "FAULT", "ISOLATE", &l, &w];
    assert_eq!(cluster.call(lagging, &cut).await, Reply::ok());
    for id in [leader, writer] {
        let cut = ["RAFTKV", "FAULT", "ISOLATE", &g];
        assert_eq!(cluster.call(id, &cut).await, Reply::ok());
    }
    let mut publisher = cluster.client(writer).await;
    for i in 0..120 {
        let m = format!("m{i}");
        publisher.call(&["PUBLISH", "ch", &m]).await.unwrap();
    }
    let c = &cluster;
    wait_until(
        "the leader to purge its log behind a snapshot",
        || async move { c.count(leader, "raft_purged_index").await > 40 },
    )
    .await;
    for id in [lagging, leader, writer] {
        let heal = ["RAFTKV", "FAULT", "HEAL"];
        assert_eq!(cluster.call(id, &heal).await, Reply::ok());
    }
    c.wait_local(lagging, &["EXISTS", "nothing"], Reply::Integer(0))
        .await;
    wait_until("the lagging node to install a snapshot", || async move {
        c.count(lagging, "raft_snapshots_installed").await == 1
    })
    .await;
    publisher.call(&["PUBLISH", "ch", "after"]).await.unwrap();
    // What arrives is an in-order run of the last messages, then the new one.
    let mut got = Vec::new();
    loop {
        let Reply::Array(frame) = sub.read_reply().await.expect("a message") else {
            panic!("not a message frame");
        };
        assert_eq!(frame[..2], [common::bulk("message"), common::bulk("ch")]);
        let Reply::Bulk(payload) = &frame[2] else {
            panic!("payload");
        };
        let payload = String::from_utf8_lossy(payload).into_owned();
        if payload == "after" {
            break;
        }
        got.push(payload[1..].parse::<u32>().expect("m<number>"));
    }
    assert!(
        got.first().is_none_or(|&first| first > 0),
        "messages covered by the snapshot are skipped, got {got:?}"
    );
    let want: Vec<u32> = match got.first() {
        Some(&first) => (first..120).collect(),
        None => Vec::new(),
    };
    assert_eq!(got, want, "the messages after the snapshot, in order");
    eprintln!(
        "after the snapshot the lagging node delivered {} of 120 messages",
        got.len()
    );
}

/// A connection's subscriptions are bounded: a SUBSCRIBE that would pass the limit is refused
/// whole; patterns longer than the glob limit are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_per_connection_and_pattern_sizes_are_bounded() {
    let (cluster, _) = cluster(&[]).await;
    let max = node::pubsub::MAX_SUBSCRIPTIONS_PER_CLIENT;
    let names: Vec<String> = (0..=max).map(|i| format!("c{i}")).collect();
    let mut c = cluster.client(2).await;
    let mut args = vec!["SUBSCRIBE"];
    args.extend(names.iter().map(String::as_str));
    let too_many = format!(
        "ERR too many subscriptions: a connection may hold at most {max} channels and patterns"
    );
    assert_eq!(c.call(&args).await.unwrap(), Reply::Error(too_many.clone()));
    // Nothing was subscribed, so the connection is not in subscribed mode.
    assert_eq!(c.call(&["GET", "k"]).await.unwrap(), Reply::Null);
    // Up to the limit is fine, then one more is refused (a repeat is not "more").
    args.pop();
    let mut out = BytesMut::new();
    node::client::encode_command(&args, &mut out);
    c.send_raw(&out).await.unwrap();
    for i in 0..max {
        let Reply::Array(frame) = c.read_reply().await.unwrap() else {
            panic!("subscribe frame");
        };
        assert_eq!(frame[2], Reply::Integer(i as i64 + 1));
    }
    assert_eq!(
        c.call(&["SUBSCRIBE", "c0"]).await.unwrap(),
        Reply::Array(vec![
            common::bulk("subscribe"),
            common::bulk("c0"),
            Reply::Integer(max as i64)
        ])
    );
    assert_eq!(
        c.call(&["PSUBSCRIBE", "one-more*"]).await.unwrap(),
        Reply::Error(too_many)
    );
    let long = "x".repeat(1025); // the glob pattern limit is 1024 bytes
    let mut p = cluster.client(3).await;
    assert_eq!(
        p.call(&["PSUBSCRIBE", &long]).await.unwrap(),
        Reply::Error("ERR pattern exceeds maximum allowed size (1024 bytes)".into())
    );
    assert_eq!(
        cluster.count(2, "pubsub_channels").await,
        max as u64,
        "INFO counts this node's channels"
    );
}

/// Messages queued for a connection before it leaves subscribed mode come before the reply
/// that ends it, never after (a RESP2 client would take a late message for its next reply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_before_unsubscribing_come_before_its_reply() {
    let (cluster, leader) = cluster(&[]).await;
    // On the leader, a PUBLISH is applied, so queued for this very connection, before its reply.
    let mut c = Raw::connect(&cluster.node(leader).client).await;
    c.send(&["HELLO", "3"]).await;
    c.skip_through(b"$7\r\nmodules\r\n*0\r\n").await;
    c.call(
        &["SUBSCRIBE", "ch"],
        &frame(true, &["subscribe", "ch"], Some(1)),
    )
    .await;
    let mut pipeline = BytesMut::new();
    node::client::encode_command(&["PUBLISH", "ch", "m1"], &mut pipeline);
    node::client::encode_command(&["UNSUBSCRIBE"], &mut pipeline);
    node::client::encode_command(&["SUBSCRIBE", "ch"], &mut pipeline);
    node::client::encode_command(&["PUBLISH", "ch", "m2"], &mut pipeline);
    node::client::encode_command(&["RESET"], &mut pipeline);
    node::client::encode_command(&["GET", "k"], &mut pipeline);
    c.stream.write_all(&pipeline).await.unwrap();
    c.expect(b":1\r\n").await;
    c.expect(&frame(true, &["message", "ch", "m1"], None)).await;
    c.expect(&frame(true, &["unsubscribe", "ch"], Some(0)))
        .await;
    c.expect(&frame(true, &["subscribe", "ch"], Some(1))).await;
    c.expect(b":1\r\n").await;
    c.expect(&frame(true, &["message", "ch", "m2"], None)).await;
    c.expect(b"+RESET\r\n").await;
    c.expect(b"$-1\r\n").await; // RESET went back to RESP2
    c.call(&["PING"], b"+PONG\r\n").await;
}

/// `/metrics` exports the pub/sub counts of `INFO pubsub`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_export_the_pubsub_counts() {
    let (cluster, _) = cluster(&["--metrics-listen", "127.0.0.1:0"]).await;
    let mut sub = Raw::connect(&cluster.node(2).client).await;
    sub.call(
        &["PSUBSCRIBE", "a*"],
        &frame(false, &["psubscribe", "a*"], Some(1)),
    )
    .await;
    for i in 0..3 {
        cluster.call(1, &["PUBLISH", "abc", &i.to_string()]).await;
        sub.expect(&frame(
            false,
            &["pmessage", "a*", "abc", &i.to_string()],
            None,
        ))
        .await;
    }
    let addr = cluster.http_addr(2);
    let metrics = tokio::task::spawn_blocking(move || common::http_get(&addr, "/metrics").1)
        .await
        .unwrap();
    for want in [
        "raftkv_pubsub_channels 0\n",
        "raftkv_pubsub_patterns 1\n",
        "raftkv_pubsub_published_total 3\n",
        "raftkv_pubsub_messages_delivered_total 3\n",
        "raftkv_pubsub_clients_cut_off_total 0\n",
    ] {
        assert!(metrics.contains(want), "missing {want:?} in:\n{metrics}");
    }
}

/// PUBLISH inside MULTI/EXEC is delivered when the transaction's entry is applied, and EXEC
/// reports the receivers on the node it was sent to, like a lone PUBLISH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_in_a_transaction_counts_local_receivers() {
    let (cluster, _) = cluster(&[]).await;
    let mut sub = Raw::connect(&cluster.node(2).client).await;
    sub.call(
        &["SUBSCRIBE", "ch"],
        &frame(false, &["subscribe", "ch"], Some(1)),
    )
    .await;
    for (id, want) in [(2, 1), (1, 0)] {
        let mut c = cluster.client(id).await;
        assert_eq!(c.call(&["MULTI"]).await.unwrap(), Reply::ok());
        let m = format!("from{id}");
        for args in [&["PUBLISH", "ch", &m][..], &["SET", "k", &m][..]] {
            assert_eq!(c.call(args).await.unwrap(), Reply::Simple("QUEUED".into()));
        }
        assert_eq!(
            c.call(&["EXEC"]).await.unwrap(),
            Reply::Array(vec![Reply::Integer(want), Reply::ok()])
        );
        sub.expect(&frame(false, &["message", "ch", &m], None))
            .await;
    }
}

/// Keyspace notifications are emitted where the write is applied, so on every node: with
/// `notify-keyspace-events` set through one node (it is replicated state), a subscriber on a
/// follower sees `__keyevent@0__:set` for a SET made through another node, in order with the
/// keyspace channel, and `expired` when the leader's periodic expiry deletes the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_notifications_reach_subscribers_on_every_node() {
    let (cluster, leader) = cluster(&[]).await;
    let follower = if leader == 1 { 2 } else { 1 };
    let writer = (1..=3).find(|&id| id != follower && id != leader).unwrap();
    let mut config = Raw::connect(&cluster.node(writer).client).await;
    config
        .call(
            &["CONFIG", "SET", "notify-keyspace-events", "KEA?"],
            b"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n",
        )
        .await;
    config
        .call(
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
            b"+OK\r\n",
        )
        .await;
    // The follower reads the replicated setting (Redis's canonical form), also among others.
    let mut reader = Raw::connect(&cluster.node(follower).client).await;
    let pair = frame(false, &["notify-keyspace-events", "AKE"], None);
    reader
        .call(&["CONFIG", "GET", "notify-keyspace-events"], &pair)
        .await;
    reader
        .call(
            &["CONFIG", "GET", "notify-*", "timeout"],
            &frame(
                false,
                &["timeout", "0", "notify-keyspace-events", "AKE"],
                None,
            ),
        )
        .await;

    let mut sub = Raw::connect(&cluster.node(follower).client).await;
    sub.call(
        &["SUBSCRIBE", "__keyevent@0__:set"],
        &frame(false, &["subscribe", "__keyevent@0__:set"], Some(1)),
    )
    .await;
    sub.call(
        &["PSUBSCRIBE", "__keyspace@0__:job*"],
        &frame(false, &["psubscribe", "__keyspace@0__:job*"], Some(2)),
    )
    .await;
    sub.call(
        &["SUBSCRIBE", "__keyevent@0__:expired"],
        &frame(false, &["subscribe", "__keyevent@0__:expired"], Some(3)),
    )
    .await;

    let mut client = cluster.client(writer).await;
    let reply = client.call(&["SET", "job1", "v", "PX", "300"]).await;
    assert_eq!(reply.unwrap(), Reply::ok());
    let space = "__keyspace@0__:job1";
    let pattern = "__keyspace@0__:job*";
    sub.expect(&frame(false, &["pmessage", pattern, space, "set"], None))
        .await;
    sub.expect(&frame(
        false,
        &["message", "__keyevent@0__:set", "job1"],
        None,
    ))
    .await;
    sub.expect(&frame(false, &["pmessage", pattern, space, "expire"], None))
        .await;
    // No read reaches the log, so the key is reported expired when the leader's expiry entry
    // deletes it, on this node as on every other.
    sub.expect(&frame(
        false,
        &["pmessage", pattern, space, "expired"],
        None,
    ))
    .await;
    sub.expect(&frame(
        false,
        &["message", "__keyevent@0__:expired", "job1"],
        None,
    ))
    .await;

    // Turned off (through the same node), nothing more is emitted.
    config
        .call(&["CONFIG", "SET", "notify-keyspace-events", ""], b"+OK\r\n")
        .await;
    let reply = client.call(&["SET", "job2", "v"]).await;
    assert_eq!(reply.unwrap(), Reply::ok());
    reader
        .call(
            &["CONFIG", "GET", "notify-keyspace-events"],
            &frame(false, &["notify-keyspace-events", ""], None),
        )
        .await;
    sub.call(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
}
