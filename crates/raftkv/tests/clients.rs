//! Real Redis clients against a real cluster: `redis-cli` and the `redis` crate (RESP2 and RESP3).

mod common;

use std::process::Command;

use common::Cluster;

fn redis_cli(addr: &str, args: &[&str]) -> String {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .expect("redis-cli must be installed (Debian package redis-tools)");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_works_against_any_node() {
    let cluster = Cluster::start(3).await;
    let addrs: Vec<String> = cluster.nodes.iter().map(|n| n.client.clone()).collect();
    assert_eq!(redis_cli(&addrs[0], &["SET", "k", "v1"]), "OK");
    assert_eq!(redis_cli(&addrs[1], &["GET", "k"]), "v1");
    assert_eq!(redis_cli(&addrs[2], &["APPEND", "k", "-more"]), "7");
    assert_eq!(redis_cli(&addrs[2], &["GET", "k"]), "v1-more");
    assert_eq!(redis_cli(&addrs[1], &["GET", "missing"]), "");
    assert_eq!(
        redis_cli(&addrs[0], &["INCR", "k"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(redis_cli(&addrs[0], &["DBSIZE"]), "1");
    // RESP3, as redis-cli -3 speaks it.
    assert_eq!(
        redis_cli(&addrs[1], &["-3", "--no-raw", "GET", "missing"]),
        "(nil)"
    );
    let info = redis_cli(&addrs[2], &["INFO", "raft"]);
    assert!(info.contains("raft_node_id:3"), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crate_resp2_and_resp3() {
    let cluster = Cluster::start(3).await;
    for (i, proto) in ["", "?protocol=resp3"].iter().enumerate() {
        let url = format!("redis://{}/{proto}", cluster.nodes[i].client);
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut con = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let key = format!("key{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("value")
            .arg("EX")
            .arg(100)
            .query_async(&mut con)
            .await
            .unwrap();
        let v: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("value"));
        let missing: Option<String> = redis::cmd("GET")
            .arg("nope")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(missing, None);
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!((99..=100).contains(&ttl));
        let n: i64 = redis::cmd("INCRBY")
            .arg("n")
            .arg(5)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(n, 5 * (i as i64 + 1));
        let err = redis::cmd("SET")
            .arg("a")
            .query_async::<()>(&mut con)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("wrong number of arguments"),
            "{err}"
        );
        let (a, b): (Option<String>, Option<String>) = redis::pipe()
            .cmd("GET")
            .arg(&key)
            .cmd("GET")
            .arg("nope")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!((a.as_deref(), b), (Some("value"), None));
    }
}

/// redis-py connects with HELLO 3 (RESP3) and runs pipelines as MULTI/EXEC by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_over_resp3_and_resp2() {
    let cluster = Cluster::start(3).await;
    let script = r#"
import sys, redis
host, port = sys.argv[1].rsplit(":", 1)
for proto in (3, 2):
    r = redis.Redis(host=host, port=int(port), protocol=proto, decode_responses=True)
    assert r.ping()
    assert r.set("py", "hello", ex=100)
    assert r.get("py") == "hello" and r.get("missing") is None
    assert 99 <= r.ttl("py") <= 100
    p = r.pipeline()  # transactional: MULTI ... EXEC
    p.set("a", 1).incr("a").get("a")
    assert p.execute() == [True, 2, "2"], proto
    try:
        r.incr("py")
        raise SystemExit("INCR on a string must fail")
    except redis.ResponseError as e:
        assert "not an integer" in str(e)
    # Sorted sets: RESP3 sends scores as doubles and WITHSCORES as pairs, which redis-py's
    # RESP3 parsing needs (kombu's sweep of unacknowledged Celery jobs reads them this way).
    # (redis-py gives pairs as tuples in RESP2 and as lists in RESP3, against Redis as well.)
    pairs = lambda reply: [tuple(p) for p in reply]
    r.delete("z")
    assert r.zadd("z", {"a": 1, "b": 2.5}) == 2
    assert pairs(r.zrange("z", 0, -1, withscores=True)) == [("a", 1.0), ("b", 2.5)], proto
    rev = r.zrange("z", 10, 0, byscore=True, desc=True, withscores=True)
    assert pairs(rev) == [("b", 2.5), ("a", 1.0)], proto
    assert r.zscore("z", "b") == 2.5, proto
    assert r.zincrby("z", 1, "a") == 2.0, proto
    assert r.zmscore("z", ["a", "x"]) == [2.0, None], proto
    assert pairs(r.zpopmin("z", 1)) == [("a", 2.0)], proto
    # Streams: RESP3 answers XREAD and XREADGROUP with a map by key, which redis-py's RESP3
    # parsing needs (RESP2: an array of [key, entries] pairs); redis-py turns both into the
    # same shape for its caller only in the protocol it asked for.
    r.delete("s")
    r.xadd("s", {"f": "v"}, id="1-1")
    read = r.xread({"s": "0"})
    expected = {"s": [[("1-1", {"f": "v"})]]} if proto == 3 else [["s", [("1-1", {"f": "v"})]]]
    assert read == expected, (proto, read)
    r.xgroup_create("s", "g", "0")
    read = r.xreadgroup("g", "c", {"s": ">"})
    assert read == expected, (proto, read)
print("ok")
"#;
    // scripts/test points this at the interpreter of the venv it makes (.venv-test/).
    let python = std::env::var("RAFTKV_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", script, &cluster.nodes[1].client])
        .output()
        .unwrap_or_else(|e| {
            panic!("{python} with redis-py >= 5 is needed (scripts/test makes one in .venv-test/): {e}")
        });
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "redis-py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--client-idle-timeout`: a client that sends nothing is closed once the timeout passes; a
/// subscriber (which waits for messages, not commands) is not, as in Redis. The subscriber
/// connects first, so when the idle client is closed it has idled longer still.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_closed_but_subscribers_are_not() {
    use tokio::io::AsyncReadExt;
    let cluster = Cluster::start_with(1, &["--client-idle-timeout", "1"]).await;
    let addr = cluster.node(1).client.clone();
    let mut subscriber = cluster.client(1).await;
    let reply = subscriber.call(&["SUBSCRIBE", "news"]).await.unwrap();
    assert!(matches!(reply, resp::Reply::Array(_)), "{reply:?}");
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(common::WAIT, idle.read_to_end(&mut got))
        .await
        .expect("the idle client is closed")
        .expect("read");
    assert!(got.is_empty(), "closed without a reply: {got:?}");
    assert!(cluster.count(1, "idle_clients_closed").await >= 1);
    let pong = subscriber
        .call(&["PING"])
        .await
        .expect("the subscriber is still connected");
    assert_eq!(
        pong,
        resp::Reply::Array(vec![common::bulk("pong"), common::bulk("")])
    );
}
