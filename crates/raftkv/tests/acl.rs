//! Users and permissions end to end (see docs/acl.md): an `ACL SETUSER` sent to one node is
//! enforced by every node once applied; a cluster with auth on keeps serving authenticated
//! clients and refusing unauthenticated ones through a leader kill, a restart of every node
//! and a snapshot that covers the ACL entries; the CLI authenticates with `--user/--password`
//! and `RAFTKV_PASSWORD`.

mod common;

use std::time::Duration;

use common::{bulk, wait_until, Cluster};
use node::client::RespClient;
use resp::Reply;

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const NOPERM_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";

fn err(text: &str) -> Reply {
    Reply::Error(text.into())
}

fn noperm(command: &str) -> Reply {
    err(&format!(
        "NOPERM this user has no permissions to run the '{command}' command"
    ))
}

/// A fresh connection to `addr`, authenticated with `auth` (`[user, password]` or
/// `[password]`) if given; None if the node cannot be reached.
async fn conn(addr: &str, auth: &[&str]) -> Option<(RespClient, Reply)> {
    let mut c = RespClient::connect(addr, Duration::from_secs(2))
        .await
        .ok()?;
    let reply = if auth.is_empty() {
        Reply::ok()
    } else {
        let mut args = vec!["AUTH"];
        args.extend(auth);
        c.call(&args).await.ok()?
    };
    Some((c, reply))
}

/// What `args` answers on a new connection to `addr` authenticated with `auth`: the AUTH
/// error if AUTH fails, else the command's reply.
async fn answer(addr: &str, auth: &[&str], args: &[&str]) -> Option<Reply> {
    let (mut c, reply) = conn(addr, auth).await?;
    if reply != Reply::ok() {
        return Some(reply);
    }
    c.call(args).await.ok()
}

/// Waits until every node answers each `(auth, command, reply)`.
async fn wait_everywhere(cluster: &Cluster, ids: &[u64], checks: &[(&[&str], &[&str], Reply)]) {
    for &id in ids {
        let addr = cluster.node(id).client.clone();
        for (auth, args, want) in checks {
            wait_until(
                &format!("node {id} to answer {args:?} as {auth:?} with {want:?}"),
                || {
                    let addr = addr.clone();
                    async move { answer(&addr, auth, args).await.as_ref() == Some(want) }
                },
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_change_reaches_every_node() {
    let cluster = Cluster::start(3).await;
    let all = [1, 2, 3];
    let alice: &[&str] = &["alice", "pw"];
    let set = cluster
        .call(
            2,
            &[
                "ACL",
                "SETUSER",
                "alice",
                "on",
                ">pw",
                "~app:*",
                "+@read",
                "+set",
                "-@dangerous",
            ],
        )
        .await;
    assert_eq!(set, Reply::ok());
    assert_eq!(cluster.call(1, &["SET", "app:1", "v"]).await, Reply::ok());
    wait_everywhere(
        &cluster,
        &all,
        &[
            (alice, &["SET", "app:2", "w"], Reply::ok()),
            (alice, &["GET", "app:1"], bulk("v")),
            (alice, &["SET", "other", "w"], err(NOPERM_KEY)),
            (alice, &["GET", "other"], err(NOPERM_KEY)),
            (alice, &["MGET", "app:1", "other"], err(NOPERM_KEY)),
            (alice, &["XINFO", "STREAM", "other"], err(NOPERM_KEY)),
            (alice, &["ZUNION", "2", "app:z", "other"], err(NOPERM_KEY)),
            (
                alice,
                &["MGET", "app:1", "app:2"],
                Reply::Array(vec![bulk("v"), bulk("w")]),
            ),
            (alice, &["DEL", "app:1"], noperm("del")),
            (alice, &["KEYS", "*"], noperm("keys")),
            (alice, &["FLUSHALL"], noperm("flushall")),
            (alice, &["RAFTKV", "MEMBER", "LIST"], noperm("raftkv")),
            (alice, &["ACL", "WHOAMI"], noperm("acl|whoami")),
            (&["alice", "bad"], &["PING"], err(WRONGPASS)),
        ],
    )
    .await;
    // Nothing alice was refused reached the data.
    assert_eq!(
        cluster.call(1, &["EXISTS", "other"]).await,
        Reply::Integer(0)
    );
    assert_eq!(cluster.call(3, &["GET", "app:1"]).await, bulk("v"));

    // A change through another node: every node refuses SET now, and then the user is gone.
    assert_eq!(
        cluster.call(3, &["ACL", "SETUSER", "alice", "-set"]).await,
        Reply::ok()
    );
    wait_everywhere(
        &cluster,
        &all,
        &[(alice, &["SET", "app:3", "x"], noperm("set"))],
    )
    .await;
    assert_eq!(
        cluster.call(1, &["ACL", "DELUSER", "alice"]).await,
        Reply::Integer(1)
    );
    wait_everywhere(&cluster, &all, &[(alice, &["PING"], err(WRONGPASS))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_on_survives_a_leader_kill_restarts_and_a_snapshot() {
    let mut cluster = Cluster::start_with(
        3,
        &["--requirepass", "s3cret", "--snapshot-threshold", "20"],
    )
    .await;
    let all = [1, 2, 3];
    let app: &[&str] = &["app", "app-pw"];
    assert_eq!(
        cluster
            .call(
                1,
                &["ACL", "SETUSER", "app", "on", ">app-pw", "~*", "+@all", "-@admin"]
            )
            .await,
        Reply::ok()
    );
    wait_everywhere(
        &cluster,
        &all,
        &[
            (&[], &["GET", "k"], err(NOAUTH)),
            (&[], &["PING"], err(NOAUTH)),
            (&["wrong"], &["PING"], err(WRONGPASS)),
            (app, &["SET", "k", "v0"], Reply::ok()),
            (
                app,
                &["CONFIG", "SET", "maxmemory", "0"],
                noperm("config|set"),
            ),
        ],
    )
    .await;

    // Kill the leader: the others elect one and keep serving only authenticated clients.
    let leader = cluster.wait_leader_among(&all).await;
    cluster.kill(leader);
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != leader).collect();
    cluster.wait_leader_among(&rest).await;
    wait_everywhere(
        &cluster,
        &rest,
        &[
            (app, &["SET", "k", "v1"], Reply::ok()),
            (app, &["GET", "k"], bulk("v1")),
            (&[], &["GET", "k"], err(NOAUTH)),
            (&[], &["SET", "k", "evil"], err(NOAUTH)),
        ],
    )
    .await;
    cluster.restart(leader);

    // Enough writes that every node snapshots past the ACL entry and purges the log behind it.
    let (mut c, reply) = conn(&cluster.node(rest[0]).client, app).await.unwrap();
    assert_eq!(reply, Reply::ok());
    for i in 0..60 {
        let key = format!("fill:{i}");
        assert_eq!(
            c.call(&["SET", key.as_str(), "x"]).await.unwrap(),
            Reply::ok()
        );
    }
    for &id in &all {
        let cluster = &cluster;
        wait_until(
            &format!("node {id} to purge its log past the ACL entry"),
            || async move {
                cluster.info(id).await.is_some_and(|i| {
                    i.get("raft_purged_index")
                        .and_then(|p| p.parse::<u64>().ok())
                        .is_some_and(|p| p > 10)
                })
            },
        )
        .await;
    }

    // Every node down at once, then back: the users come from the snapshot.
    cluster.kill_all(&all);
    for id in all {
        cluster.restart(id);
    }
    cluster.wait_leader_among(&all).await;
    wait_everywhere(
        &cluster,
        &all,
        &[
            (app, &["GET", "k"], bulk("v1")),
            (app, &["FLUSHALL"], noperm("flushall")),
            (&[], &["GET", "k"], err(NOAUTH)),
            (&["app", "nope"], &["GET", "k"], err(WRONGPASS)),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_authenticates_with_flags_and_environment() {
    let cluster = Cluster::start_with(1, &["--requirepass", "s3cret"]).await;
    let addr = cluster.node(1).client.clone();
    assert_eq!(
        cluster
            .call(
                1,
                &["ACL", "SETUSER", "ops", "on", ">ops-pw", "+@admin", "+info"]
            )
            .await,
        Reply::ok()
    );
    let list = ["member", "list", "--endpoint", addr.as_str()];
    let (ok, _, stderr) = common::raftkv(&list);
    assert!(!ok, "unauthenticated member list must fail");
    assert!(stderr.contains("NOAUTH"), "{stderr}");

    let with = |extra: &[&str]| {
        let mut args = list.to_vec();
        args.extend(extra);
        common::raftkv(&args)
    };
    let (ok, stdout, stderr) = with(&["--user", "ops", "--password", "ops-pw"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&addr), "{stdout}");
    let (ok, _, stderr) = with(&["--user", "ops", "--password", "bad"]);
    assert!(!ok && stderr.contains("WRONGPASS"), "{stderr}");

    // RAFTKV_PASSWORD, as the default user (its password is the node's --requirepass).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["status", "--endpoints", addr.as_str()])
        .env("RAFTKV_PASSWORD", "s3cret")
        .output()
        .expect("run raftkv status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("leader"), "{stdout}");
}
