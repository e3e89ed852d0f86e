//! `raftkv local`: a cluster on loopback for trying raftkv out.
//!
//! Starts N separate `raftkv serve` processes (so you can `kill -9` one and watch fail-over):
//! node 1 bootstraps, the others join through it. Data and logs go under `--dir` (node N in
//! `<dir>/nodeN`, its log in `<dir>/nodeN.log`); restarting `raftkv local` with the same dir
//! resumes the same cluster. Ctrl-C stops every node (SIGTERM, then SIGKILL after a grace
//! period).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use node::client::RespClient;

/// Most nodes `raftkv local` starts.
const MAX_LOCAL_NODES: usize = 9;
/// How long to wait for the cluster to elect a leader and admit every node.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long nodes get to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Flags of `raftkv local`.
#[derive(Args, Debug)]
pub struct LocalArgs {
    /// Number of nodes (3 or 5 survive a minority failing).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Directory for the nodes' data and logs.
    #[arg(long, default_value = ".raftkv-local")]
    dir: PathBuf,
    /// Client port of node 1; node N listens on base+N-1 (clients) and base+N-1+10000 (peers).
    #[arg(long, default_value_t = 7001)]
    base_port: u16,
    /// Pass --unsafe-no-fsync to every node (benchmarks only).
    #[arg(long)]
    unsafe_no_fsync: bool,
}

struct Running {
    id: usize,
    client: String,
    child: Child,
}

/// Start the cluster, print how to reach it, and stop it on Ctrl-C.
pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > MAX_LOCAL_NODES {
        bail!("--nodes must be between 1 and {MAX_LOCAL_NODES}");
    }
    if args.base_port as usize + args.nodes + 10_000 > u16::MAX as usize {
        bail!(
            "--base-port {} leaves no room for {} nodes",
            args.base_port,
            args.nodes
        );
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let exe = std::env::current_exe().context("locating the raftkv binary")?;
    let seed = format!("127.0.0.1:{}", args.base_port);
    let mut nodes = Vec::new();
    for i in 1..=args.nodes {
        let client = format!("127.0.0.1:{}", args.base_port as usize + i - 1);
        let peer = format!("127.0.0.1:{}", args.base_port as usize + i - 1 + 10_000);
        let log_path = args.dir.join(format!("node{i}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut cmd = Command::new(&exe);
        cmd.arg("serve")
            .args(["--node-id", &i.to_string()])
            .arg("--data-dir")
            .arg(args.dir.join(format!("node{i}")))
            .args(["--listen", &client, "--peer-listen", &peer])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if i == 1 {
            cmd.arg("--bootstrap");
        } else {
            cmd.args(["--join", &seed]);
        }
        if args.unsafe_no_fsync {
            cmd.arg("--unsafe-no-fsync");
        }
        let child = cmd.spawn().with_context(|| format!("starting node {i}"))?;
        nodes.push(Running {
            id: i,
            client,
            child,
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ready = runtime.block_on(wait_ready(&nodes));
    match ready {
        Ok(leader) => {
            println!(
                "raftkv local cluster of {} nodes is up (data and logs in {}):",
                nodes.len(),
                args.dir.display()
            );
            for n in &nodes {
                let mark = if Some(n.id) == leader {
                    "  (leader)"
                } else {
                    ""
                };
                println!(
                    "  node {}  client {}  pid {}{mark}",
                    n.id,
                    n.client,
                    n.child.id()
                );
            }
            println!(
                "connect:  redis-cli -p {}      (any node accepts any command)",
                args.base_port
            );
            println!(
                "fail-over: kill -9 <pid of the leader>, then keep writing through another node"
            );
            println!("stop:     Ctrl-C");
        }
        Err(e) => {
            eprintln!(
                "raftkv local: the cluster did not come up: {e:#}; see the logs in {}",
                args.dir.display()
            );
            stop(&mut nodes);
            return Err(e);
        }
    }
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    println!("stopping...");
    stop(&mut nodes);
    Ok(())
}

/// Wait until every node reports the same leader; returns the leader's id.
async fn wait_ready(nodes: &[Running]) -> anyhow::Result<Option<usize>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let mut leaders = Vec::new();
        let mut voters = 0;
        for n in nodes {
            if let Ok(info) = info_raft(&n.client).await {
                leaders.push(field(&info, "raft_leader_id"));
                voters = voters.max(
                    field(&info, "raft_voters")
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .count(),
                );
            }
        }
        let agreed = leaders.len() == nodes.len()
            && leaders.iter().all(|l| !l.is_empty() && *l == leaders[0]);
        if agreed && voters == nodes.len() {
            return Ok(leaders[0].parse().ok());
        }
        if Instant::now() > deadline {
            bail!(
                "no agreed leader with {} voters after {READY_TIMEOUT:?}",
                nodes.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn info_raft(addr: &str) -> anyhow::Result<String> {
    let mut c = RespClient::connect(addr, Duration::from_secs(1)).await?;
    match c.call(&["INFO", "raft"]).await? {
        resp::Reply::Bulk(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        other => bail!("unexpected INFO reply {other:?}"),
    }
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn stop(nodes: &mut [Running]) {
    for n in nodes.iter() {
        let _ = kill(Pid::from_raw(n.child.id() as i32), Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    for n in nodes.iter_mut() {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = n.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = n.child.try_wait() {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }
}
