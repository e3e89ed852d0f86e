//! `raftkv local` as a person uses it, and the admin CLI's defaults and exit codes.
//!
//! - In tmux (a real terminal, so Ctrl-C reaches `local`'s whole process group as it would from
//!   a keyboard): start, see the screen, `redis-cli help set`, `raftkv status` with no flags,
//!   kill the leader and see the screen change, restart it with the command the screen shows,
//!   Ctrl-C, and check that no node is left and every node's log ends with its clean-exit line.
//!   Skipped, with a message, when tmux is not installed.
//! - Closing the terminal (SIGHUP) stops every node cleanly too; `local` on the same dir then
//!   says it resumes the cluster.
//! - A second `local` on busy ports fails at once with the bind error, starting nothing.
//! - `raftkv status` exits non-zero when no endpoint answers, and finds its endpoints in
//!   `RAFTKV_ENDPOINTS` or `.raftkv-local/endpoints`.
//! - A peer down for 10 s costs the leader's log a bounded number of lines, one of them saying
//!   the peer is unreachable.
//!
//! `local` listens on fixed ports (base, base+1, ...; peers at +10000), so each test picks a
//! base whose ports are free at that moment.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Deadline for anything the cluster does (start, elect, stop).
const WAIT: Duration = Duration::from_secs(60);
/// The line a node logs last after a graceful shutdown (`raftkv serve`'s `CLEAN_EXIT_MESSAGE`).
const CLEAN_EXIT: &str = "raftkv node exited cleanly";
/// How long the peer stays down in the log-volume test (the scenario).
const PEER_DOWN: Duration = Duration::from_secs(10);
/// Most lines the leader may log while one peer is down for [`PEER_DOWN`] (before: about 88).
const MAX_LINES_PEER_DOWN: usize = 10;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_raftkv")
}

/// A base port whose client and peer ports for three nodes are free now, different for every
/// call in this process (the tests run in parallel). Client ports lie in 20000-22699 and peer
/// ports in 30000-32699, below Linux's ephemeral range (32768 and up), so the port-0 listeners
/// and outgoing connections of other tests never take them.
fn free_base_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 270) as u16 * 10;
    (0..270u16)
        .map(|_| 20_000 + (start + NEXT.fetch_add(10, Ordering::Relaxed)) % 2_700)
        .find(|&base| {
            (0..3).all(|i| {
                TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                    && TcpListener::bind(("127.0.0.1", base + i + 10_000)).is_ok()
            })
        })
        .expect("a free port range")
}

/// Poll `check` until it gives a value, or panic with `what` after [`WAIT`].
fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    common::poll_sync_within(what, WAIT, check)
}

fn alive(pid: u32) -> bool {
    // A zombie still counts as a process left behind.
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

/// `INFO <section>` of the node on `port`, if it answers.
fn info(port: u16, section: &str) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr = format!("127.0.0.1:{port}");
        let mut c = node::client::RespClient::connect(&addr, Duration::from_secs(2))
            .await
            .ok()?;
        match c.call(&["INFO", section]).await.ok()? {
            resp::Reply::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            resp::Reply::Verbatim(t) => Some(t),
            _ => None,
        }
    })
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `raftkv local` child process, stopped with Ctrl-C's signal on drop (also when a test fails).
struct LocalProcess(Child);

impl Drop for LocalProcess {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGINT);
        let _ = self.0.wait();
    }
}

/// A tmux session, killed on drop.
struct Session(String);

impl Session {
    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-J", "-S", "-200", "-t", &self.0])
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

/// The pid and role of node `id` on the screen (`  node 2  127.0.0.1:P  pid 123  leader`).
fn screen_node(screen: &str, id: usize) -> Option<(u32, String)> {
    let line = screen.lines().rev().find(|l| {
        l.trim_start()
            .starts_with(&format!("node {id}  127.0.0.1:"))
    })?;
    let mut words = line.split_whitespace().skip(3);
    if words.next()? != "pid" {
        return None;
    }
    let pid = words.next()?.parse().ok()?;
    Some((pid, words.next()?.to_string()))
}

/// The leader on the newest screen.
fn screen_leader(screen: &str) -> Option<usize> {
    let line = screen
        .lines()
        .rev()
        .find(|l| l.starts_with("leader: node "))?;
    line["leader: node ".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

#[test]
fn local_in_tmux_fails_over_restarts_and_stops_every_node_cleanly() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux); `raftkv local` was not tested in a terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = free_base_port();
    let name = format!("raftkv-local-test-{}", std::process::id());
    // The default --dir, relative to the session's working directory, so the admin commands
    // below find the cluster with no flags.
    let command = format!(
        "env -u RUST_LOG -u RAFTKV_ENDPOINTS {} local --base-port {base}; echo LOCAL-EXIT-$?; sleep 120",
        exe()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        "220",
        "-y",
        "60",
        "-c",
        tmp.path().to_str().unwrap(),
        &command,
    ]);
    let session = Session(name);
    let dir = tmp.path().join(".raftkv-local");

    let pids: Vec<u32> = wait_for("the cluster on the screen", || {
        let s = session.screen();
        screen_leader(&s)?;
        (1..=3).map(|id| screen_node(&s, id).map(|n| n.0)).collect()
    });
    let screen = session.screen();
    assert!(screen.contains("starting a new cluster"), "{screen}");

    // redis-cli's help comes from COMMAND DOCS.
    if let Ok(out) = Command::new("redis-cli")
        .args(["-p", &base.to_string(), "help", "set"])
        .output()
    {
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Set the string value of a key"), "{help}");
        assert!(help.contains("key value [NX | XX]"), "{help}");
    } else {
        eprintln!("redis-cli is not installed: `help set` not checked");
    }

    // The admin commands find the local cluster from .raftkv-local/endpoints.
    let status = Command::new(exe())
        .arg("status")
        .current_dir(tmp.path())
        .env_remove("RAFTKV_ENDPOINTS")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{table}");
    assert_eq!(table.matches(" leader ").count(), 1, "{table}");
    assert!(
        table.contains(&format!("127.0.0.1:{}", base + 2)),
        "{table}"
    );

    // Kill the leader: the screen shows it down, with its restart command, and a new leader.
    let old = screen_leader(&session.screen()).unwrap();
    kill(Pid::from_raw(pids[old - 1] as i32), Signal::SIGKILL).unwrap();
    let restart = wait_for("the dead leader and a new one on the screen", || {
        let s = session.screen();
        let new = screen_leader(&s)?;
        let down = s.lines().any(|l| {
            l.contains(&format!("node {old}  ")) && l.contains("down (killed by signal 9)")
        });
        let restart = s
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("node {old}: ")))?
            .split_once(": ")?
            .1
            .to_string();
        (new != old && down).then_some(restart)
    });
    assert!(
        !alive(pids[old - 1]),
        "the killed leader was reaped, not left defunct"
    );
    assert!(
        restart.contains(&format!("--node-id {old}")) && restart.contains(".raftkv-local/node"),
        "{restart}"
    );

    // Restart it with that command: the screen shows it back, with its new pid.
    let restart = restart.trim_end().trim_end_matches('&').trim_end();
    let mut restarted: Child = Command::new("sh")
        .args(["-c", &format!("exec {restart}")])
        .current_dir(tmp.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let new_pid = wait_for("the restarted node on the screen", || {
        let s = session.screen();
        let line = s.lines().rev().find(|l| {
            l.trim_start()
                .starts_with(&format!("node {old}  127.0.0.1:"))
        })?;
        line.contains("(restarted)")
            .then(|| screen_node(&s, old).unwrap().0)
    });
    assert_ne!(new_pid, pids[old - 1]);

    // Ctrl-C: every node gets one SIGTERM and stops gracefully; nothing is left running.
    tmux(&["send-keys", "-t", &session.0, "C-c"]);
    let screen = wait_for("local to exit", || {
        let s = session.screen();
        s.contains("LOCAL-EXIT-").then_some(s)
    });
    assert!(screen.contains("LOCAL-EXIT-0"), "{screen}");
    for id in 1..=3 {
        assert!(
            screen.contains(&format!("node {id}: stopped cleanly")),
            "{screen}"
        );
    }
    restarted.wait().unwrap();
    for (id, pid) in pids.iter().enumerate() {
        assert!(!alive(*pid), "node {} (pid {pid}) is still running", id + 1);
    }
    assert!(!alive(new_pid), "the restarted node is still running");
    for id in 1..=3 {
        let log = dir.join(format!("node{id}.log"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains("second signal"),
            "node {id} got two signals:\n{text}"
        );
        assert!(
            last_line(&log).ends_with(CLEAN_EXIT),
            "node {id}'s log ends {:?}",
            last_line(&log)
        );
    }
    assert!(
        !dir.join("endpoints").exists(),
        "the endpoints file is removed on stop"
    );
}

#[test]
fn closing_the_terminal_stops_every_node_cleanly_and_a_restart_resumes() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = free_base_port();
    let name = format!("raftkv-local-hup-{}", std::process::id());
    let command = format!(
        "env -u RUST_LOG {} local --base-port {base} --dir {}",
        exe(),
        tmp.path().join("c").display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        "200",
        "-y",
        "50",
        &command,
    ]);
    let session = Session(name);
    let pids: Vec<u32> = wait_for("the cluster on the screen", || {
        let s = session.screen();
        screen_leader(&s)?;
        (1..=3).map(|id| screen_node(&s, id).map(|n| n.0)).collect()
    });
    // Closing the window sends SIGHUP to `local`, which must still stop its nodes.
    drop(session);
    wait_for("every node to exit", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    for id in 1..=3 {
        let log = tmp.path().join(format!("c/node{id}.log"));
        wait_for("the clean-exit line", || {
            last_line(&log).ends_with(CLEAN_EXIT).then_some(())
        });
    }
    // Started again on the same dir, `local` says it resumes the cluster.
    let out = tmp.path().join("again.out");
    let _again = LocalProcess(
        Command::new(exe())
            .args(["local", "--base-port", &base.to_string(), "--dir"])
            .arg(tmp.path().join("c"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("`local` to say it resumes the cluster", || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.contains("resuming the cluster in").then_some(())
    });
}

#[test]
fn a_second_local_on_busy_ports_fails_at_once_with_the_bind_error() {
    let tmp = tempfile::tempdir().unwrap();
    let base = free_base_port();
    // What the first `local` would hold: node 2's client port.
    let _busy = TcpListener::bind(("127.0.0.1", base + 1)).unwrap();
    let out = Command::new(exe())
        .args(["local", "--base-port", &base.to_string(), "--dir"])
        .arg(tmp.path().join("c"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("cannot bind 127.0.0.1:{}", base + 1)),
        "{err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
    assert!(
        !tmp.path().join("c").join("node1").exists(),
        "no node was started"
    );
}

#[test]
fn status_exits_nonzero_when_no_endpoint_answers_and_finds_its_endpoints() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let status = |flags: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(exe());
        cmd.arg("status").args(flags).current_dir(tmp.path());
        match env {
            Some(e) => cmd.env("RAFTKV_ENDPOINTS", e),
            None => cmd.env_remove("RAFTKV_ENDPOINTS"),
        };
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = status(&["--endpoints", &closed], None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&closed) && out.contains("unreachable"),
        "{out}"
    );
    let (code, out) = status(&[], Some(&closed));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&closed), "RAFTKV_ENDPOINTS is used: {out}");
    std::fs::create_dir(tmp.path().join(".raftkv-local")).unwrap();
    std::fs::write(
        tmp.path().join(".raftkv-local/endpoints"),
        format!("{closed}\n"),
    )
    .unwrap();
    let (code, out) = status(&[], None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&closed),
        ".raftkv-local/endpoints is used: {out}"
    );
}

#[test]
fn a_peer_down_for_ten_seconds_costs_a_bounded_number_of_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let base = free_base_port();
    let local = LocalProcess(
        Command::new(exe())
            .args(["local", "--base-port", &base.to_string(), "--dir"])
            .arg(&dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the cluster to come up", || {
        dir.join("endpoints").exists().then_some(())
    });
    let field = |text: &str, name: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}:")).map(String::from))
    };
    let leader: u16 = wait_for("a leader", || {
        field(&info(base, "raft")?, "raft_leader_id")?.parse().ok()
    });
    let follower = if leader == 1 { 2 } else { 1 };
    let server = info(base + follower - 1, "server").expect("the follower answers");
    // The three nodes share this machine: each runs on its share of the CPUs.
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        field(&server, "worker_threads"),
        Some((cpus / 3).max(1).to_string()),
        "{server}"
    );
    let pid: i32 = field(&server, "process_id")
        .and_then(|p| p.parse().ok())
        .expect("the follower's pid");
    let leader_log = dir.join(format!("node{leader}.log"));
    let before = std::fs::read_to_string(&leader_log)
        .unwrap()
        .lines()
        .count();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    // The scenario is "down for 10 s": this sleep is the outage, not a wait for a condition.
    std::thread::sleep(PEER_DOWN);
    let text = std::fs::read_to_string(&leader_log).unwrap();
    let during: Vec<&str> = text.lines().skip(before).collect();
    drop(local);
    assert!(
        during
            .iter()
            .any(|l| l.contains("peer unreachable") && l.contains(&format!("peer={follower}"))),
        "the leader says once that the peer is unreachable:\n{}",
        during.join("\n")
    );
    assert!(
        during.len() <= MAX_LINES_PEER_DOWN,
        "{} lines in {PEER_DOWN:?} with one peer down (at most {MAX_LINES_PEER_DOWN}):\n{}",
        during.len(),
        during.join("\n")
    );
}
