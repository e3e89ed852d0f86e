//! `raftkv local`: a cluster on loopback for trying raftkv out.
//!
//! Starts N separate `raftkv serve` processes (so you can `kill -9` one and watch fail-over):
//! node 1 bootstraps, the others join through it. Data and logs go under `--dir` (node N in
//! `<dir>/nodeN`, its log in `<dir>/nodeN.log`); starting `raftkv local` again with the same dir
//! resumes the same cluster and its data, and says so.
//!
//! # Start-up
//!
//! Before starting anything, every client and peer port is bound once to check it is free: a
//! port in use fails `local` at once with the bind error on the screen (another `local`, or a
//! Redis on 7001, is the usual cause). A node that exits while the cluster comes up fails
//! `local` the same way, with the end of its log. The cluster is up when every node answers
//! `INFO` as the process `local` started (its `process_id` and `raft_node_id`), so nothing else
//! listening on those ports can pass for it, and all agree on one leader with every node a
//! voter. `local` then writes the client addresses to `<dir>/endpoints`, where the admin
//! commands look by default (see [`crate::endpoints`]).
//!
//! # While running
//!
//! The screen ([`crate::local_view`]) is redrawn whenever a node's role, leader or process
//! changes: a killed node is reaped at once and shown down, with the command that restarts it
//! (its log appended to `<dir>/nodeN.log`); a node restarted that way is shown up again with its
//! new pid.
//!
//! # Stopping
//!
//! Each node runs in its own process group, so the terminal's Ctrl-C (SIGINT) reaches only
//! `local` (SIGTERM, and SIGHUP when the terminal closes, do the same; so does a Ctrl-C while
//! the cluster is still coming up). `local` then sends exactly one SIGTERM to each running node (also to one restarted by
//! hand), waits up to [`STOP_GRACE`] for every node to finish its graceful shutdown (leader
//! hand-off, drain, log flush; the log's last line is
//! [`crate::serve::CLEAN_EXIT_MESSAGE`]), SIGKILLs any still
//! running after that, and reports how each node stopped.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::local_node::{ended_cleanly, LocalNode};
use crate::local_view::{self, NodeView, StopSignals};

/// `println!` that ignores a closed terminal: after SIGHUP the nodes must still be stopped, and
/// `println!` would panic on the write error first.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Most nodes `raftkv local` starts.
const MAX_LOCAL_NODES: usize = 9;
/// Offset from a node's client port to its peer port.
pub const PEER_PORT_OFFSET: usize = 10_000;
/// How long to wait for the cluster to elect a leader and admit every node.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long nodes get to finish a graceful shutdown after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long to wait for a process to vanish after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Flags of `raftkv local`.
#[derive(Args, Debug)]
pub struct LocalArgs {
    /// Number of nodes (3 or 5 survive a minority failing).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Directory for the nodes' data and logs; an existing one is resumed.
    #[arg(long, default_value = ".raftkv-local")]
    dir: PathBuf,
    /// Client port of node 1; node N listens on base+N-1 (clients) and base+N-1+10000 (peers).
    #[arg(long, default_value_t = 7001)]
    base_port: u16,
    /// Pass --unsafe-no-fsync to every node (benchmarks only).
    #[arg(long)]
    unsafe_no_fsync: bool,
    /// Serve TLS on the client ports and mutual TLS between nodes, with a CA and node
    /// certificates made in DIR/certs (DIR: --dir) by scripts/dev-certs (needs openssl).
    #[arg(long)]
    tls: bool,
}

/// Start the cluster, show it until Ctrl-C, then stop every node gracefully.
pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > MAX_LOCAL_NODES {
        bail!("--nodes must be between 1 and {MAX_LOCAL_NODES}");
    }
    if args.base_port as usize + args.nodes + PEER_PORT_OFFSET > u16::MAX as usize {
        bail!(
            "--base-port {} leaves no room for {} nodes",
            args.base_port,
            args.nodes
        );
    }
    let exe = std::env::current_exe().context("locating the raftkv binary")?;
    let mut nodes: Vec<LocalNode> = (1..=args.nodes).map(|i| plan(&args, i)).collect();
    check_ports_free(&nodes)?;
    if args.tls {
        let tls = crate::local_tls::LocalTls::prepare(&args.dir, args.nodes)?;
        say!("TLS on: CA and node certificates in {}", tls.dir.display());
        for n in &mut nodes {
            n.tls = Some(tls.clone());
        }
    }
    let resuming = nodes.iter().any(|n| has_data(&n.data_dir));
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    if resuming {
        say!(
            "resuming the cluster in {} (its data from an earlier run is kept; delete the directory to start empty)",
            args.dir.display()
        );
    } else {
        say!("starting a new cluster in {}", args.dir.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // From here on Ctrl-C, SIGTERM and SIGHUP (the terminal closing) stop the nodes first.
    let mut signals = runtime.block_on(async { StopSignals::new() })?;
    let outcome = runtime.block_on(async {
        for n in &mut nodes {
            spawn(n, &exe, &args)?;
        }
        tokio::select! {
            ready = local_view::wait_ready(&mut nodes, READY_TIMEOUT) => ready?,
            why = signals.recv() => bail!("{why} while the cluster was coming up"),
        }
        let endpoints = args.dir.join(crate::endpoints::LOCAL_FILE_NAME);
        let list: Vec<&str> = nodes.iter().map(|n| n.client.as_str()).collect();
        std::fs::write(&endpoints, list.join("\n") + "\n")
            .with_context(|| format!("writing {}", endpoints.display()))?;
        local_view::watch(&mut nodes, &exe, &args.dir, args.base_port, &mut signals).await
    });
    say!(
        "stopping {} nodes (one SIGTERM each; up to {STOP_GRACE:?} for all to stop cleanly)...",
        nodes.len()
    );
    let views = runtime.block_on(local_view::poll_all(&mut nodes));
    stop(&mut nodes, &views);
    let _ = std::fs::remove_file(args.dir.join(crate::endpoints::LOCAL_FILE_NAME));
    outcome
}

fn plan(args: &LocalArgs, i: usize) -> LocalNode {
    let port = args.base_port as usize + i - 1;
    LocalNode {
        id: i,
        client: format!("127.0.0.1:{port}"),
        peer: format!("127.0.0.1:{}", port + PEER_PORT_OFFSET),
        data_dir: args.dir.join(format!("node{i}")),
        log_path: args.dir.join(format!("node{i}.log")),
        child: None,
        started_pid: 0,
        exit: None,
        tls: None,
        worker_threads: cpu_share(args.nodes),
    }
}

/// Each node's share of the CPUs this process may use, at least one. Nodes on one machine
/// write with a lower latency and a shorter tail on their share than each on one thread per
/// CPU, whose extra threads add wake-ups and context switches, not work (docs/benchmarks.md,
/// "Worker threads for nodes that share a machine").
fn cpu_share(nodes: usize) -> usize {
    (node::config::available_cpus() / nodes.max(1)).max(1)
}

fn has_data(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Bind every port once, so a busy one fails `local` before any node starts.
fn check_ports_free(nodes: &[LocalNode]) -> anyhow::Result<()> {
    for n in nodes {
        for (what, addr) in [("client", &n.client), ("peer", &n.peer)] {
            if let Err(e) = TcpListener::bind(addr.as_str()) {
                bail!(
                    "cannot bind {addr} (node {}'s {what} port): {e}; is another raftkv local or a Redis running? Stop it, or pick other ports with --base-port",
                    n.id
                );
            }
        }
    }
    Ok(())
}

fn spawn(n: &mut LocalNode, exe: &Path, args: &LocalArgs) -> anyhow::Result<()> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&n.log_path)
        .with_context(|| format!("opening {}", n.log_path.display()))?;
    let mut flags = Vec::new();
    if n.id == 1 {
        flags.push("--bootstrap".to_string());
    } else {
        flags.extend([
            "--join".to_string(),
            format!("127.0.0.1:{}", args.base_port),
        ]);
    }
    if args.unsafe_no_fsync {
        flags.push("--unsafe-no-fsync".to_string());
    }
    let mut cmd = n.launch(flags).command(exe);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: the terminal's Ctrl-C goes to `local` alone, which then
        // stops each node with one SIGTERM.
        .process_group(0);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting node {}", n.id))?;
    n.started_pid = child.id();
    n.child = Some(child);
    n.exit = None;
    Ok(())
}

/// SIGTERM every running node once, wait up to [`STOP_GRACE`], SIGKILL what is left.
fn stop(nodes: &mut [LocalNode], views: &[NodeView]) {
    // The pid to stop: our child, or the process that answers as this node (restarted by hand).
    let pids: Vec<Option<i32>> = nodes
        .iter_mut()
        .zip(views)
        .map(|(n, v)| match n.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => Some(n.started_pid as i32),
            _ => v.pid.map(|p| p as i32),
        })
        .collect();
    for pid in pids.iter().flatten() {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    let mut killed = vec![false; nodes.len()];
    for (i, n) in nodes.iter_mut().enumerate() {
        let Some(pid) = pids[i] else { continue };
        while Instant::now() < deadline && alive(n, pid) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(n, pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed[i] = true;
            let deadline = Instant::now() + KILL_WAIT;
            while alive(n, pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        let how = if pids[i].is_none() {
            "was not running".to_string()
        } else if killed[i] {
            format!("did not stop within {STOP_GRACE:?}: killed")
        } else if ended_cleanly(&n.log_path) {
            "stopped cleanly".to_string()
        } else {
            format!(
                "exited without its clean shutdown line; see {}",
                n.log_path.display()
            )
        };
        say!("  node {}: {how}", n.id);
    }
}

/// True while `pid` runs; reaps our own child once it exits. A process `local` did not start
/// (restarted by hand) counts as gone once it is a zombie: its parent reaps it, not us.
fn alive(n: &mut LocalNode, pid: i32) -> bool {
    if let Some(child) = n.child.as_mut() {
        if child.id() as i32 == pid {
            return matches!(child.try_wait(), Ok(None));
        }
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}
