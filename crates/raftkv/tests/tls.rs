//! TLS end to end, on real node processes: a 3-node cluster with client TLS and peer mutual
//! TLS serves writes through a follower, to the harness, to `redis-cli --tls`, to redis-py
//! with `ssl=True` and to `raftkv status --tls-ca`; a plain client and a client trusting
//! another CA are refused; TLS strangers on the peer port get no byte; a node whose peer
//! certificate another CA signed, and one whose certificate does not name its peer host,
//! cannot join and get nothing while the cluster keeps serving;
//! `--tls-client-auth=required` refuses a client without a good certificate; SIGHUP serves a
//! new certificate to new connections while an open one keeps going, and keeps the old one
//! when the new file is bad; `--tls-listen` serves TLS beside a plain `--listen`; bad TLS flags
//! refuse the start with a clear message; `raftkv local --tls` runs a cluster the CLI reaches
//! with the CA.
//!
//! Certificates are made at test time by `scripts/dev-certs` (openssl); without openssl each
//! test says so and passes without running.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::certs::{cert_naming, dev_certs, stranger_on_peer_port};
use common::{bulk, poll_for, raftkv, serve_must_fail, wait_until, Cluster, NodeSetup};
use node::client::RespClient;
use node::tls::ClientTls;
use resp::Reply;

/// Deadline of one client connection and call.
const CALL: Duration = Duration::from_secs(5);

/// PING over a fresh connection to `addr`, over TLS with `tls` if given.
async fn ping(addr: &str, tls: Option<&ClientTls>) -> Result<Reply, String> {
    let mut c = RespClient::connect_tls(addr, CALL, tls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    c.call(&["PING"]).await.map_err(|e| format!("call: {e}"))
}

fn pong() -> Reply {
    Reply::Simple("PONG".into())
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_serves_tls_clients_and_refuses_strangers_on_both_ports() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ca) = dev_certs(tmp.path(), "a", &["node1", "node2", "node3", "node4"]) else {
        return;
    };
    let other = dev_certs(tmp.path(), "b", &["node4"]).unwrap();
    let mut cluster = Cluster::start_each_tls(3, ca.client(None), |id| NodeSetup {
        flags: ca.node_flags(&format!("node{id}")),
        env: Vec::new(),
    })
    .await;

    // Writes through a follower reach the leader over peer TLS and come back.
    let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
    let followers: Vec<u64> = [1, 2, 3].into_iter().filter(|&i| i != leader).collect();
    assert_eq!(
        cluster.call(followers[0], &["SET", "k", "v"]).await,
        Reply::ok()
    );
    cluster
        .wait_local(followers[1], &["GET", "k"], bulk("v"))
        .await;

    // A plain client on the TLS port, and a TLS client trusting another CA, get nothing.
    let addr = cluster.node(followers[0]).client.clone();
    let plain = ping(&addr, None).await;
    assert!(plain.is_err(), "a plain client on the TLS port: {plain:?}");
    let wrong_ca = ping(&addr, Some(&other.client(None))).await;
    assert!(
        wrong_ca.is_err(),
        "a client trusting another CA: {wrong_ca:?}"
    );
    assert_eq!(ping(&addr, cluster.tls.as_deref()).await, Ok(pong()));

    // redis-cli --tls --cacert, and the raftkv CLI with --tls-ca.
    let port = addr.rsplit_once(':').unwrap().1;
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["--tls", "--cacert", &ca.ca(), "-h", "127.0.0.1", "-p", port])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "cli", "x"]), "OK");
    assert_eq!(cli(&["GET", "cli"]), "x");
    // redis-py with ssl=True, RESP2 and RESP3 (the interpreter as in tests/clients.rs).
    let python = std::env::var("RAFTKV_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import sys, redis
for proto in (2, 3):
    r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2], protocol=proto)
    assert r.set("py", str(proto)) and r.get("py") == str(proto).encode()
print("ok")
"#;
    let out = Command::new(&python)
        .args(["-c", script, port, &ca.ca()])
        .output()
        .unwrap_or_else(|e| panic!("{python} with redis-py >= 5 is needed (scripts/test): {e}"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "redis-py over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let endpoints = cluster.client_addrs(&[1, 2, 3]).join(",");
    let (ok, out, err) = raftkv(&["status", "--endpoints", &endpoints, "--tls-ca", &ca.ca()]);
    assert!(
        ok && out.contains("leader") && out.contains("follower"),
        "{out}{err}"
    );
    let (ok, out, _) = raftkv(&["status", "--endpoints", &endpoints]);
    assert!(!ok, "status without TLS reaches no node: {out}");

    // TLS clients on the peer port without a certificate, or with one from another CA, get
    // no byte of the hello answer; each refusal is counted.
    let peer = cluster.node(leader).peer.clone();
    let before = cluster.count(leader, "peer_auth_failures").await;
    let foreign = ClientTls::new(
        "test",
        Path::new(&ca.ca()),
        Some((
            Path::new(&other.cert("node4")),
            Path::new(&other.key("node4")),
        )),
    )
    .unwrap();
    for tls in [ca.client(None), foreign] {
        let got = stranger_on_peer_port(&peer, leader, &tls).await;
        assert!(
            got.as_ref().is_err() || got.as_ref().is_ok_and(Vec::is_empty),
            "{got:?}"
        );
    }
    wait_until("both refusals counted", || async {
        cluster.count(leader, "peer_auth_failures").await >= before + 2
    })
    .await;

    // A node whose peer certificate another CA signed cannot be added, and gets nothing.
    let seed = cluster.node(leader).client.clone();
    let before = cluster.count(leader, "peer_auth_failures").await;
    let mut flags = other.node_flags("node4");
    // Its client port uses the cluster's CA, so the harness can still ask it for INFO.
    for (i, v) in [(1, ca.cert("node4")), (3, ca.key("node4")), (5, ca.ca())] {
        flags[i] = v;
    }
    cluster.spawn_empty(4, &refs(&flags));
    let (peer4, client4) = (cluster.node(4).peer.clone(), cluster.node(4).client.clone());
    let (ok, _, err) = raftkv(&[
        "member",
        "add",
        "4",
        &peer4,
        &client4,
        "--endpoint",
        &seed,
        "--tls-ca",
        &ca.ca(),
    ]);
    assert!(
        !ok,
        "adding a node with a certificate from another CA must fail"
    );
    assert!(err.contains("failed the peer TLS check"), "{err}");
    assert!(cluster.count(leader, "peer_auth_failures").await > before);
    let info4 = cluster.info(4).await.expect("node 4 answers INFO");
    assert_eq!(
        info4["raft_voters"], "",
        "node 4 got a membership: {info4:?}"
    );
    assert!(
        info4["peer_auth_failures"].parse::<u64>().unwrap() > 0,
        "{info4:?}"
    );

    // A node with a certificate from the cluster's CA that does not name its peer host (the
    // leader dials 127.0.0.1; the certificate names only node5.invalid) is refused too.
    cert_naming(&ca, "node5", "DNS:node5.invalid");
    let mut flags = ca.node_flags("node5");
    for (i, v) in [(1, ca.cert("node4")), (3, ca.key("node4"))] {
        flags[i] = v;
    }
    cluster.spawn_empty(5, &refs(&flags));
    let (peer5, client5) = (cluster.node(5).peer.clone(), cluster.node(5).client.clone());
    let (ok, _, err) = raftkv(&[
        "member",
        "add",
        "5",
        &peer5,
        &client5,
        "--endpoint",
        &seed,
        "--tls-ca",
        &ca.ca(),
    ]);
    assert!(
        !ok,
        "adding a node whose certificate does not name it must fail"
    );
    assert!(err.contains("failed the peer TLS check"), "{err}");
    let info = cluster.info(leader).await.expect("the leader answers INFO");
    assert_eq!(
        (info["raft_voters"].as_str(), info["raft_learners"].as_str()),
        ("1,2,3", "")
    );

    // The cluster never stopped serving.
    assert_eq!(
        cluster.call(followers[1], &["SET", "k", "w"]).await,
        Reply::ok()
    );
    cluster
        .wait_local(followers[0], &["GET", "k"], bulk("w"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_auth_refuses_a_client_without_a_good_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ca) = dev_certs(tmp.path(), "a", &["node1", "client"]) else {
        return;
    };
    let other = dev_certs(tmp.path(), "b", &["client"]).unwrap();
    let mut flags = ca.node_flags("node1");
    flags.extend(["--tls-client-auth".into(), "required".into()]);
    let cluster = Cluster::start_each_tls(1, ca.client(Some("client")), |_| NodeSetup {
        flags: flags.clone(),
        env: Vec::new(),
    })
    .await;
    let addr = cluster.node(1).client.clone();
    assert_eq!(
        ping(&addr, Some(&ca.client(Some("client")))).await,
        Ok(pong())
    );
    let anonymous = ping(&addr, Some(&ca.client(None))).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate: {anonymous:?}"
    );
    // A certificate from another CA (the client trusts the node's CA, so only the node can
    // refuse): the client's certificate and the CA file must both be right.
    let foreign = ClientTls::new(
        "test",
        Path::new(&ca.ca()),
        Some((
            Path::new(&other.cert("client")),
            Path::new(&other.key("client")),
        )),
    )
    .unwrap();
    let foreign = ping(&addr, Some(&foreign)).await;
    assert!(
        foreign.is_err(),
        "a client certificate from another CA: {foreign:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_serves_a_new_certificate_to_new_connections_and_keeps_open_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ca) = dev_certs(tmp.path(), "a", &["node1"]) else {
        return;
    };
    let next = dev_certs(tmp.path(), "b", &["node1"]).unwrap();
    // The node reads its certificate from paths the test rewrites.
    let (cert, key) = (tmp.path().join("live.crt"), tmp.path().join("live.key"));
    std::fs::copy(ca.cert("node1"), &cert).unwrap();
    std::fs::copy(ca.key("node1"), &key).unwrap();
    let flags: Vec<String> = [
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let cluster = Cluster::start_each_tls(1, ca.client(None), |_| NodeSetup {
        flags: flags.clone(),
        env: Vec::new(),
    })
    .await;
    let addr = cluster.node(1).client.clone();
    let mut open = RespClient::connect_tls(&addr, CALL, Some(&ca.client(None)))
        .await
        .unwrap();
    assert_eq!(open.call(&["SET", "k", "1"]).await.unwrap(), Reply::ok());
    let pid = cluster.info(1).await.unwrap()["process_id"].clone();
    let hup = || {
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    };

    // New files, SIGHUP: new connections get the certificate of the new CA.
    std::fs::copy(next.cert("node1"), &cert).unwrap();
    std::fs::copy(next.key("node1"), &key).unwrap();
    hup();
    let new_ca = next.client(None);
    poll_for("a new connection served the new certificate", || {
        let (addr, tls) = (addr.clone(), new_ca.clone());
        async move { ping(&addr, Some(&tls)).await.ok() }
    })
    .await;
    let old = ping(&addr, Some(&ca.client(None))).await;
    assert!(
        old.is_err(),
        "the old certificate is no longer served: {old:?}"
    );
    // The connection opened before the reload keeps going.
    assert_eq!(open.call(&["GET", "k"]).await.unwrap(), bulk("1"));

    // A bad new file is logged and the certificate in use kept.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    hup();
    let log = cluster.node(1).log.clone();
    wait_until("the failed reload logged", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("TLS reload failed")
        }
    })
    .await;
    assert_eq!(ping(&addr, Some(&new_ca)).await, Ok(pong()));
    assert_eq!(open.call(&["GET", "k"]).await.unwrap(), bulk("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listen_serves_tls_beside_a_plain_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ca) = dev_certs(tmp.path(), "a", &["node1"]) else {
        return;
    };
    let flags: Vec<String> = [
        "--tls-cert",
        &ca.cert("node1"),
        "--tls-key",
        &ca.key("node1"),
        "--tls-listen",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec();
    // The harness talks plain: --listen stays plain.
    let cluster = Cluster::start_with(1, &refs(&flags)).await;
    let plain = cluster.node(1).client.clone();
    let log = std::fs::read_to_string(&cluster.node(1).log).unwrap();
    let tls = log
        .lines()
        .find_map(node::launch::ready_tls)
        .expect("the ready line names the TLS listener");
    assert_ne!(tls, plain);
    assert_eq!(ping(&plain, None).await, Ok(pong()));
    assert_eq!(ping(&tls, Some(&ca.client(None))).await, Ok(pong()));
    assert!(ping(&tls, None).await.is_err(), "plain on the TLS listener");
    assert!(
        ping(&plain, Some(&ca.client(None))).await.is_err(),
        "TLS on the plain one"
    );
}

#[test]
fn bad_tls_settings_refuse_the_start_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(ca) = dev_certs(tmp.path(), "a", &["node1"]) else {
        return;
    };
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let garbage = garbage.display().to_string();
    let missing = tmp.path().join("missing.pem").display().to_string();
    let (cert, key) = (ca.cert("node1"), ca.key("node1"));
    let cases: [(&[&str], &str); 7] = [
        (&["--tls-cert", &cert], "--tls-key is not"),
        (&["--tls-cert", &cert, "--tls-key", &missing], "missing.pem"),
        (
            &["--tls-cert", &garbage, "--tls-key", &key],
            "holds no CERTIFICATE",
        ),
        (
            &["--tls-cert", &cert, "--tls-key", &garbage],
            "holds no PRIVATE KEY",
        ),
        (
            &["--tls-listen", "127.0.0.1:0"],
            "--tls-listen needs --tls-cert",
        ),
        (
            &[
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-auth",
                "required",
            ],
            "needs --tls-ca",
        ),
        (
            &[
                "--peer-tls-cert",
                &cert,
                "--peer-tls-key",
                &key,
                "--peer-tls-ca",
                &garbage,
            ],
            "holds no CERTIFICATE",
        ),
    ];
    for (i, (flags, expected)) in cases.iter().enumerate() {
        let data = tmp.path().join(format!("d{i}"));
        let err = serve_must_fail(&data, flags);
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
}

/// A base port whose three client ports and peer ports (10000 up) are free now: client ports
/// in 12000-12999, peer ports in 22000-22999, below Linux's ephemeral range, so port-0
/// listeners of other tests never take them.
fn free_base_port() -> u16 {
    let start = (std::process::id() % 100) as u16 * 10;
    (0..100u16)
        .map(|i| 12_000 + (start + i * 10) % 1_000)
        .find(|&base| {
            (0..3).all(|i| {
                std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                    && std::net::TcpListener::bind(("127.0.0.1", base + i + 10_000)).is_ok()
            })
        })
        .expect("a free port range")
}

/// `raftkv local`, stopped with SIGTERM (which stops its nodes) when dropped, also when the
/// test fails.
struct StopLocal(std::process::Child);

impl Drop for StopLocal {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.0.wait();
        }
    }
}

#[test]
fn local_with_tls_runs_a_cluster_the_cli_reaches_with_the_ca() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: openssl is not installed (apt-get install openssl); TLS not tested");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("local");
    let base = free_base_port().to_string();
    let local = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["local", "--tls", "--base-port", &base, "--dir"])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start raftkv local");
    let mut local = StopLocal(local);
    let local = &mut local.0;
    // `local` writes the endpoints file once every node answers it (over TLS) as a voter.
    let endpoints = dir.join("endpoints");
    let list = common::poll_sync("raftkv local --tls to come up", || {
        assert!(local.try_wait().unwrap().is_none(), "raftkv local exited");
        std::fs::read_to_string(&endpoints).ok()
    });
    let list = list.trim().replace('\n', ",");
    let ca = dir.join("certs/ca.crt").display().to_string();
    let (ok, out, err) = raftkv(&["status", "--endpoints", &list, "--tls-ca", &ca]);
    assert!(ok && out.contains("leader"), "{out}{err}");
    let (ok, _, _) = raftkv(&["status", "--endpoints", &list]);
    assert!(!ok, "the nodes refuse plain clients");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(local.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = common::poll_sync("raftkv local to stop", || local.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
}
