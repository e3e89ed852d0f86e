//! `raftkv serve`: flags, environment and config file merged into one `Config`, then a node.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use node::config::Config;

/// Flags of `raftkv serve`. Each may also be set as `RAFTKV_<NAME>` in the environment or as
/// `<name>` (snake_case) in the TOML file given with `--config`; flags win over the
/// environment, which wins over the file, which wins over the defaults.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML config file (see config/raftkv.toml for every key).
    #[arg(long, env = "RAFTKV_CONFIG")]
    config: Option<PathBuf>,
    /// This node's Raft id (unique in the cluster; never reuse a removed node's id).
    #[arg(long, env = "RAFTKV_NODE_ID")]
    node_id: Option<u64>,
    /// Directory for the Raft log and snapshots.
    #[arg(long, env = "RAFTKV_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Client (RESP) listen address [default: 127.0.0.1:6379].
    #[arg(long, env = "RAFTKV_LISTEN")]
    listen: Option<String>,
    /// Peer (Raft) listen address [default: 127.0.0.1:7379].
    #[arg(long, env = "RAFTKV_PEER_LISTEN")]
    peer_listen: Option<String>,
    /// Client address other nodes and clients should dial [default: --listen].
    #[arg(long, env = "RAFTKV_ADVERTISE")]
    advertise: Option<String>,
    /// Peer address other nodes should dial [default: --peer-listen].
    #[arg(long, env = "RAFTKV_PEER_ADVERTISE")]
    peer_advertise: Option<String>,
    /// Start a new single-node cluster (ignored if the data dir has state).
    #[arg(long, env = "RAFTKV_BOOTSTRAP", num_args = 0..=1, default_missing_value = "true")]
    bootstrap: Option<bool>,
    /// Join an existing cluster through any member's client address (ignored if the data dir has state).
    #[arg(long, env = "RAFTKV_JOIN", conflicts_with = "bootstrap")]
    join: Option<String>,
    /// Log level when RUST_LOG is unset: error, warn, info, debug, trace [default: info].
    #[arg(long, env = "RAFTKV_LOG_LEVEL")]
    log_level: Option<String>,
    /// Leader heartbeat period in milliseconds [default: 100].
    #[arg(long, env = "RAFTKV_HEARTBEAT_INTERVAL_MS")]
    heartbeat_interval_ms: Option<u64>,
    /// Minimum election timeout in milliseconds [default: 500].
    #[arg(long, env = "RAFTKV_ELECTION_TIMEOUT_MS_MIN")]
    election_timeout_ms_min: Option<u64>,
    /// Maximum election timeout in milliseconds [default: 1000].
    #[arg(long, env = "RAFTKV_ELECTION_TIMEOUT_MS_MAX")]
    election_timeout_ms_max: Option<u64>,
    /// Applied entries between snapshots [default: 100000].
    #[arg(long, env = "RAFTKV_SNAPSHOT_THRESHOLD")]
    snapshot_threshold: Option<u64>,
    /// Also snapshot once the Raft log has grown this much since the last snapshot (and by at least that snapshot's size), e.g. 64MiB; 0: only by --snapshot-threshold [default: 64MiB].
    #[arg(long, env = "RAFTKV_SNAPSHOT_LOG_SIZE", value_parser = node::disk::parse_size)]
    snapshot_log_size: Option<u64>,
    /// Free space on the data dir's disk below which /readyz fails and a leader hands off leadership, e.g. 256MiB or 1GB; 0 disables [default: 64MiB].
    #[arg(long, env = "RAFTKV_MIN_FREE_SPACE", value_parser = node::disk::parse_size)]
    min_free_space: Option<u64>,
    /// Resident memory past which the leader refuses writes that may grow memory with -OOM, e.g. 4GiB; 0: no limit [default: 0].
    #[arg(long, env = "RAFTKV_MAXMEMORY", value_parser = node::disk::parse_size)]
    maxmemory: Option<u64>,
    /// Most simultaneous client connections [default: 10000].
    #[arg(long, env = "RAFTKV_MAX_CLIENTS")]
    max_clients: Option<usize>,
    /// Close a client connection idle for this many seconds; 0 never does (Redis's `timeout`) [default: 0].
    #[arg(long = "client-idle-timeout", env = "RAFTKV_CLIENT_IDLE_TIMEOUT")]
    client_idle_timeout_secs: Option<u64>,
    /// Close a client that does not take its pending replies (at most 64 KiB and one reply) within this many seconds; 0 never does [default: 60].
    #[arg(long = "client-output-timeout", env = "RAFTKV_CLIENT_OUTPUT_TIMEOUT")]
    client_output_timeout_secs: Option<u64>,
    /// How the leader confirms it leads before a linearizable read: lease or readindex [default: lease].
    #[arg(long, env = "RAFTKV_READ_POLICY")]
    read_policy: Option<node::config::ReadPolicy>,
    /// Leader lease in milliseconds [default: half of --election-timeout-ms-min].
    #[arg(long, env = "RAFTKV_READ_LEASE_MS")]
    read_lease_ms: Option<u64>,
    /// Clock-drift margin in milliseconds; the lease must be shorter than the minimum election timeout minus this [default: a fifth of --election-timeout-ms-min].
    #[arg(long, env = "RAFTKV_READ_LEASE_MARGIN_MS")]
    read_lease_margin_ms: Option<u64>,
    /// Pre-vote before elections [default: true]. `--pre-vote=false` is for tests and diagnosis only.
    #[arg(long, env = "RAFTKV_PRE_VOTE", num_args = 0..=1, default_missing_value = "true")]
    pre_vote: Option<bool>,
    /// UNSAFE, test-only: accept RAFTKV FAULT ISOLATE|HEAL, which cut this node's peer links.
    #[arg(long, env = "RAFTKV_UNSAFE_FAULT_INJECTION", num_args = 0..=1, default_missing_value = "true")]
    unsafe_fault_injection: Option<bool>,
    /// UNSAFE: never fsync the Raft log (acknowledged writes can be lost on power failure). Tests and benchmarks only.
    #[arg(long, env = "RAFTKV_UNSAFE_NO_FSYNC", num_args = 0..=1, default_missing_value = "true")]
    unsafe_no_fsync: Option<bool>,
    /// UNSAFE: serve reads from the local state machine without a read barrier (may be stale). Fault-suite self-test only.
    #[arg(long, env = "RAFTKV_UNSAFE_STALE_READS", num_args = 0..=1, default_missing_value = "true")]
    unsafe_stale_reads: Option<bool>,
    /// UNSAFE, test-only: on SIGUSR1 drop every WAL byte not yet fsynced and exit (simulated power cut). Implied by --unsafe-no-fsync.
    #[arg(long, env = "RAFTKV_UNSAFE_POWER_LOSS_SIGNAL", num_args = 0..=1, default_missing_value = "true")]
    unsafe_power_loss_signal: Option<bool>,
    /// Threads that run the node; nodes sharing a machine should split its CPUs (1 to 1024) [default: one per CPU].
    #[arg(long, env = "RAFTKV_WORKER_THREADS")]
    worker_threads: Option<usize>,
    /// Most bytes of pub/sub messages queued for one subscriber before it is disconnected [default: 33554432].
    #[arg(long, env = "RAFTKV_PUBSUB_OUTPUT_LIMIT_BYTES")]
    pubsub_output_limit_bytes: Option<usize>,
    /// File with the cluster secret (at least 16 bytes) every peer must prove; all nodes of a cluster use the same [default: none].
    #[arg(long, env = "RAFTKV_CLUSTER_SECRET_FILE")]
    cluster_secret_file: Option<PathBuf>,
    /// HTTP address for /livez, /readyz and /metrics (Prometheus) [default: off].
    #[arg(long, env = "RAFTKV_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// TLS on the client port and the peer port.
    #[command(flatten)]
    tls: crate::serve_tls::ServeTlsArgs,
    /// The default user's password until `ACL SETUSER default ...` configures it cluster-wide (Redis's requirepass) [default: none].
    #[arg(long, env = "RAFTKV_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<node::secret::Secret>,
}

impl ServeArgs {
    /// Merge: defaults < file < environment/flags.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = v; } )* };
        }
        set!(
            node_id,
            data_dir,
            listen,
            peer_listen,
            log_level,
            heartbeat_interval_ms
        );
        set!(
            election_timeout_ms_min,
            election_timeout_ms_max,
            snapshot_threshold,
            max_clients,
            client_idle_timeout_secs,
            client_output_timeout_secs,
            read_policy,
            pubsub_output_limit_bytes
        );
        // Booleans too: `--unsafe-no-fsync=false` turns off what the file turned on.
        set!(
            bootstrap,
            unsafe_no_fsync,
            unsafe_stale_reads,
            unsafe_power_loss_signal,
            pre_vote,
            unsafe_fault_injection
        );
        if self.read_lease_ms.is_some() {
            c.read_lease_ms = self.read_lease_ms;
        }
        if self.read_lease_margin_ms.is_some() {
            c.read_lease_margin_ms = self.read_lease_margin_ms;
        }
        if self.advertise.is_some() {
            c.advertise = self.advertise;
        }
        if self.peer_advertise.is_some() {
            c.peer_advertise = self.peer_advertise;
        }
        if self.worker_threads.is_some() {
            c.worker_threads = self.worker_threads;
        }
        if self.metrics_listen.is_some() {
            c.metrics_listen = self.metrics_listen;
        }
        if self.requirepass.is_some() {
            c.requirepass = self.requirepass;
        }
        if self.join.is_some() {
            c.join = self.join;
        }
        if self.cluster_secret_file.is_some() {
            c.cluster_secret_file = self.cluster_secret_file;
        }
        if let Some(bytes) = self.snapshot_log_size {
            c.snapshot_log_bytes = bytes;
        }
        if let Some(bytes) = self.min_free_space {
            c.min_free_space_bytes = bytes;
        }
        if let Some(bytes) = self.maxmemory {
            c.maxmemory_bytes = bytes;
        }
        self.tls.apply(&mut c.tls);
        c.validate()?;
        Ok(c)
    }
}

/// The last line a node logs after a graceful shutdown, once everything is flushed and closed;
/// `raftkv local` looks for it.
pub const CLEAN_EXIT_MESSAGE: &str = "raftkv node exited cleanly";

/// Log targets whose per-attempt lines (every failed heartbeat or replication RPC, storage
/// housekeeping) stay below INFO by default: a dead peer would otherwise write about ten WARN
/// lines a second. The node logs each state change once instead (`node::raft::state_log`).
/// `RUST_LOG` overrides all of this, and `--log-level debug` or `trace` shows them again.
const QUIET_TARGETS: &[(&str, &str)] = &[
    ("openraft", "warn"),
    ("openraft::core::heartbeat", "error"),
    ("openraft::replication", "error"),
    ("openraft::engine::handler::replication_handler", "error"),
    ("openraft::core::raft_core", "error"),
    ("openraft::network", "error"),
    // A refused membership change (two nodes joining at once) is returned to our caller, which
    // logs it and retries; openraft's own ERROR line for it only alarms.
    ("openraft::raft::api::management", "off"),
    ("chunked_wal", "warn"),
    ("raft_log", "warn"),
];

/// The default log filter for `--log-level level` when `RUST_LOG` is not set.
pub fn default_filter(level: &str) -> String {
    let verbose = matches!(level.to_ascii_lowercase().as_str(), "debug" | "trace");
    let mut filter = level.to_string();
    if !verbose {
        for (target, at) in QUIET_TARGETS {
            filter.push_str(&format!(",{target}={at}"));
        }
    }
    filter
}

/// Run one node until SIGTERM or SIGINT, then shut it down gracefully.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(&config.log_level)));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    // Always set, so tokio's own TOKIO_WORKER_THREADS (which panics on a bad value) is not read:
    // `--worker-threads` is the one setting, validated with the rest.
    let threads = config
        .worker_threads
        .unwrap_or_else(node::config::available_cpus);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        let node = node::node::Node::start(config)
            .await
            .context("cannot start the node")?;
        let http = node
            .metrics_addr
            .map_or_else(|| "off".to_string(), |a| a.to_string());
        let tls = node
            .tls_addr
            .map_or_else(|| "off".to_string(), |a| a.to_string());
        tracing::info!(client = %node.client_addr, peer = %node.peer_addr, http = %http, tls = %tls, "{}", node::launch::READY_MARKER);
        if let Err(code) = node.run_until(shutdown_signal()).await {
            // Raft stopped on a storage failure (already logged): exit at once with the
            // documented status so a supervisor restarts the node.
            std::process::exit(code);
        }
        Ok(())
    });
    // Dropping the runtime closes the log store's files; only then is the exit clean.
    drop(runtime);
    if result.is_ok() {
        tracing::info!("{CLEAN_EXIT_MESSAGE}");
    }
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    // A second signal exits at once.
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("raftkv: second signal, exiting now");
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn the_default_filter_quiets_per_attempt_targets_unless_debugging() {
        let info = default_filter("info");
        assert!(info.starts_with("info,openraft=warn,"), "{info}");
        assert!(info.contains("openraft::core::heartbeat=error"), "{info}");
        assert_eq!(default_filter("debug"), "debug");
        assert!(tracing_subscriber::EnvFilter::try_new(info).is_ok());
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("raftkv.toml");
        std::fs::write(
            &file,
            "node_id = 3\nlisten = \"127.0.0.1:7000\"\nsnapshot_threshold = 5\nworker_threads = 2\n",
        )
        .unwrap();
        let w = Wrapper::try_parse_from([
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:7100",
        ])
        .unwrap();
        let c = w.args.into_config().unwrap();
        assert_eq!(c.node_id, 3, "from the file");
        assert_eq!(c.listen, "127.0.0.1:7100", "the flag wins over the file");
        assert_eq!(c.snapshot_threshold, 5, "from the file");
        assert_eq!(c.peer_listen, node::config::DEFAULT_PEER_LISTEN, "default");
        assert_eq!(c.worker_threads, Some(2), "from the file");
        let path = file.to_str().unwrap();
        let w =
            Wrapper::try_parse_from(["serve", "--config", path, "--worker-threads", "1"]).unwrap();
        assert_eq!(w.args.into_config().unwrap().worker_threads, Some(1));
        let w = Wrapper::try_parse_from(["serve", "--worker-threads", "0"]).unwrap();
        let err = w.args.into_config().unwrap_err().to_string();
        assert!(
            err.contains("worker_threads must be between 1 and 1024"),
            "{err}"
        );
    }

    #[test]
    fn a_flag_can_turn_off_a_boolean_the_file_turned_on() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("raftkv.toml");
        std::fs::write(&file, "unsafe_no_fsync = true\n").unwrap();
        let path = file.to_str().unwrap();
        let on = Wrapper::try_parse_from(["serve", "--config", path]).unwrap();
        assert!(on.args.into_config().unwrap().unsafe_no_fsync);
        let off = Wrapper::try_parse_from(["serve", "--config", path, "--unsafe-no-fsync=false"])
            .unwrap();
        assert!(!off.args.into_config().unwrap().unsafe_no_fsync);
        let bare = Wrapper::try_parse_from(["serve", "--unsafe-no-fsync"]).unwrap();
        assert!(bare.args.into_config().unwrap().unsafe_no_fsync);
    }

    #[test]
    fn read_flags_are_parsed_and_a_lease_too_long_for_the_timeout_is_refused() {
        let w = Wrapper::try_parse_from([
            "serve",
            "--read-policy",
            "readindex",
            "--pre-vote=false",
            "--unsafe-fault-injection",
        ])
        .unwrap();
        let c = w.args.into_config().unwrap();
        assert_eq!(c.read_policy, node::config::ReadPolicy::ReadIndex);
        assert!(!c.pre_vote);
        assert!(c.unsafe_fault_injection);
        assert!(Wrapper::try_parse_from(["serve", "--read-policy", "stale"]).is_err());
        let w = Wrapper::try_parse_from(["serve", "--read-lease-ms", "450"]).unwrap();
        let err = w.args.into_config().unwrap_err().to_string();
        assert!(err.contains("read_lease_ms (450)"), "{err}");
    }

    #[test]
    fn bootstrap_and_join_conflict() {
        assert!(Wrapper::try_parse_from(["serve", "--bootstrap", "--join", "a:1"]).is_err());
    }

    #[test]
    fn a_bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listne = \"x\"\n").unwrap();
        let w = Wrapper::try_parse_from(["serve", "--config", file.to_str().unwrap()]).unwrap();
        let err = w.args.into_config().unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("listne"), "{err}");
    }
}
