//! The one configuration struct of `raftkv serve`, with its defaults.
//!
//! Settings come from, in order of precedence: command-line flags, `RAFTKV_*` environment
//! variables (both handled by the binary's clap parser), the TOML file given with `--config`,
//! then the defaults here. Unknown keys in the file are rejected, so a typo never silently
//! leaves a setting at its default. The effective config is logged at start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::limits::MAX_WORKER_THREADS;

/// Default client (RESP) listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6379";
/// Default peer (Raft) listen address.
pub const DEFAULT_PEER_LISTEN: &str = "127.0.0.1:7379";
/// Default leader heartbeat period, in milliseconds.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 100;
/// Default lower bound of the election timeout, in milliseconds. Well above the heartbeat so a
/// busy machine does not start spurious elections.
pub const DEFAULT_ELECTION_TIMEOUT_MS_MIN: u64 = 500;
/// Default upper bound of the election timeout, in milliseconds.
pub const DEFAULT_ELECTION_TIMEOUT_MS_MAX: u64 = 1000;
/// Default `min_free_space_bytes`: 64 MiB, four Raft-log chunk files (the unit the log grows
/// by before older chunks can be deleted behind a snapshot). Large enough to warn
/// before appends fail on a busy node, small enough that a CI runner or a laptop with a few
/// hundred MB free never fails `/readyz` or moves leadership because of it.
pub const DEFAULT_MIN_FREE_SPACE_BYTES: u64 = 64 * 1024 * 1024;
/// Default number of applied entries between snapshots.
pub const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 100_000;
/// Default `snapshot_log_bytes`: 64 MiB, Redis's `auto-aof-rewrite-min-size`.
pub const DEFAULT_SNAPSHOT_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// Default most simultaneous client connections.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;
/// Default leader lease, as a fraction of `election_timeout_ms_min` (numerator, denominator):
/// half of it, so 250 ms with the default timeouts.
pub const DEFAULT_READ_LEASE_FRACTION: (u64, u64) = (1, 2);
/// Default clock-drift margin subtracted from the election timeout when validating the lease,
/// as a fraction of `election_timeout_ms_min`: a fifth, so 100 ms with the default timeouts.
pub const DEFAULT_READ_LEASE_MARGIN_FRACTION: (u64, u64) = (1, 5);

/// How the leader confirms it still leads before answering a linearizable read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadPolicy {
    /// Serve from the leader lease while it is valid (no round trip); fall back to a ReadIndex
    /// round when it is not. Assumes bounded clock drift (see docs/reads.md).
    #[default]
    Lease,
    /// Confirm leadership with a quorum (one heartbeat round) for every read batch.
    ReadIndex,
}

impl ReadPolicy {
    /// The name used in flags, the config file and `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadPolicy::Lease => "lease",
            ReadPolicy::ReadIndex => "readindex",
        }
    }
}

impl std::fmt::Display for ReadPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReadPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lease" => Ok(ReadPolicy::Lease),
            "readindex" => Ok(ReadPolicy::ReadIndex),
            _ => Err(format!(
                "unknown read policy {s:?}: expected lease or readindex"
            )),
        }
    }
}

/// The CPUs this process may use (its affinity mask and cgroup quota count), at least one:
/// what `worker_threads` defaults to, and what nodes sharing a machine divide among them.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Everything `raftkv serve` needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This node's Raft id; unique in the cluster, never reused after removal.
    pub node_id: u64,
    /// Directory holding the Raft log and snapshots.
    pub data_dir: PathBuf,
    /// Client (RESP) listen address, `host:port`.
    pub listen: String,
    /// Peer (Raft) listen address, `host:port`.
    pub peer_listen: String,
    /// Client address others should dial; default: `listen`.
    pub advertise: Option<String>,
    /// Peer address others should dial; default: `peer_listen`.
    pub peer_advertise: Option<String>,
    /// Start a new single-node cluster (ignored when the data dir has state).
    pub bootstrap: bool,
    /// Join the cluster through this member's client address (ignored when the data dir has state).
    pub join: Option<String>,
    /// File holding the cluster secret every peer connection must prove (see
    /// `transport::auth`); none: peers prove the empty secret, so only nodes without one talk.
    pub cluster_secret_file: Option<PathBuf>,
    /// Log filter when `RUST_LOG` is unset (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: String,
    /// Leader heartbeat period, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout, in milliseconds.
    pub election_timeout_ms_min: u64,
    /// Upper bound of the randomized election timeout, in milliseconds.
    pub election_timeout_ms_max: u64,
    /// Applied entries between snapshots (the log is purged behind each).
    pub snapshot_threshold: u64,
    /// Also build a snapshot once the Raft log on disk has grown by this many bytes since the
    /// last one, and by at least that snapshot's size (see `raft::compaction`); 0: entries only.
    pub snapshot_log_bytes: u64,
    /// Free space, in bytes, below which the data dir's file system counts as low: `/readyz`
    /// fails and a leader hands leadership to a follower (once per low period). 0 disables.
    pub min_free_space_bytes: u64,
    /// Most simultaneous client connections; more are refused with an error.
    pub max_clients: usize,
    /// Close a client connection that sent nothing for this many seconds; 0 never does
    /// (Redis's `timeout`). Subscribers and blocked clients are exempt, as in Redis.
    pub client_idle_timeout_secs: u64,
    /// Close a client connection that has not taken its pending replies (at most 64 KiB and one
    /// reply) within this many seconds; 0 never does. Redis's `client-output-buffer-limit` for
    /// normal clients, as time: a connection holds at most one chunk of encoded replies and
    /// stops reading from a client that does not read, so only time is left to bound.
    pub client_output_timeout_secs: u64,
    /// Resident memory past which the leader refuses writes that may grow memory with `-OOM`
    /// (Redis's `maxmemory` with `noeviction`); 0: no limit. `CONFIG SET maxmemory` changes it.
    pub maxmemory_bytes: u64,
    /// How the leader confirms leadership before a linearizable read (`lease` or `readindex`).
    pub read_policy: ReadPolicy,
    /// Leader lease for lease reads, in milliseconds; default: half of `election_timeout_ms_min`.
    /// Must be shorter than `election_timeout_ms_min` minus `read_lease_margin_ms`.
    pub read_lease_ms: Option<u64>,
    /// Allowance for clock drift between nodes over one lease, in milliseconds; default: a fifth
    /// of `election_timeout_ms_min`.
    pub read_lease_margin_ms: Option<u64>,
    /// Run a pre-vote round before an election, so a node that cannot win (one that was
    /// partitioned) never raises the term and disrupts a healthy leader. Turn off only for tests
    /// and diagnosis.
    pub pre_vote: bool,
    /// Do not fsync the Raft log. UNSAFE: acknowledged writes can be lost on power failure.
    pub unsafe_no_fsync: bool,
    /// Serve every read from this node's state machine with no read barrier, on any node.
    /// UNSAFE: reads can be stale. Exists so the fault suite can prove it detects stale reads.
    pub unsafe_stale_reads: bool,
    /// On SIGUSR1, simulate a power cut: drop every WAL byte not yet fsynced and exit at once.
    /// Test-only; also enabled by `unsafe_no_fsync`.
    pub unsafe_power_loss_signal: bool,
    /// HTTP listen address (`host:port`) for `/livez`, `/readyz` and `/metrics`; off when unset.
    pub metrics_listen: Option<String>,
    /// Accept `RAFTKV FAULT ISOLATE|HEAL`, which cut and restore this node's peer links.
    /// Test-only: a client could partition the cluster.
    pub unsafe_fault_injection: bool,
    /// Threads that run the node's tasks (connections, Raft, replication, apply); none: one per
    /// CPU this process may use. Nodes that share a machine write with a lower latency and a
    /// shorter tail with its CPUs divided among them (`raftkv local` does so): every thread
    /// past a node's share adds wake-ups and context switches to each write, not work
    /// (docs/benchmarks.md, "Worker threads for nodes that share a machine").
    pub worker_threads: Option<usize>,
    /// Most bytes of pub/sub messages waiting for one subscriber; a subscriber that falls
    /// further behind is disconnected (Redis's `client-output-buffer-limit pubsub`).
    pub pubsub_output_limit_bytes: usize,
    /// TLS on the client and peer ports (the `[tls]` table); off by default.
    pub tls: crate::tls::TlsSettings,
    /// The default user's password while the cluster's ACL table has not configured the
    /// `default` user (a node-local fallback, see docs/acl.md); none: the default user needs
    /// no password, as in Redis.
    pub requirepass: Option<crate::secret::Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            data_dir: PathBuf::from("raftkv-data"),
            listen: DEFAULT_LISTEN.to_string(),
            peer_listen: DEFAULT_PEER_LISTEN.to_string(),
            advertise: None,
            peer_advertise: None,
            bootstrap: false,
            join: None,
            cluster_secret_file: None,
            log_level: "info".to_string(),
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            election_timeout_ms_min: DEFAULT_ELECTION_TIMEOUT_MS_MIN,
            election_timeout_ms_max: DEFAULT_ELECTION_TIMEOUT_MS_MAX,
            snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            snapshot_log_bytes: DEFAULT_SNAPSHOT_LOG_BYTES,
            min_free_space_bytes: DEFAULT_MIN_FREE_SPACE_BYTES,
            max_clients: DEFAULT_MAX_CLIENTS,
            client_idle_timeout_secs: 0,
            client_output_timeout_secs: 60,
            maxmemory_bytes: 0,
            read_policy: ReadPolicy::Lease,
            read_lease_ms: None,
            read_lease_margin_ms: None,
            pre_vote: true,
            unsafe_no_fsync: false,
            unsafe_stale_reads: false,
            unsafe_power_loss_signal: false,
            metrics_listen: None,
            unsafe_fault_injection: false,
            worker_threads: None,
            pubsub_output_limit_bytes: crate::pubsub::DEFAULT_OUTBOX_LIMIT_BYTES,
            tls: crate::tls::TlsSettings::default(),
            requirepass: None,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`] (unknown keys included).
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// A setting is out of range or inconsistent with another.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Config {
    /// Read a TOML file; keys it does not set keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    /// The client address to publish.
    pub fn client_addr(&self) -> &str {
        self.advertise.as_deref().unwrap_or(&self.listen)
    }

    /// The peer address to publish.
    pub fn peer_addr(&self) -> &str {
        self.peer_advertise.as_deref().unwrap_or(&self.peer_listen)
    }

    /// The leader lease in effect, in milliseconds (`read_lease_ms` or its default).
    pub fn lease_ms(&self) -> u64 {
        let (num, den) = DEFAULT_READ_LEASE_FRACTION;
        self.read_lease_ms
            .unwrap_or((self.election_timeout_ms_min * num / den).max(1))
    }

    /// The clock-drift margin in effect, in milliseconds (`read_lease_margin_ms` or its default).
    pub fn lease_margin_ms(&self) -> u64 {
        let (num, den) = DEFAULT_READ_LEASE_MARGIN_FRACTION;
        self.read_lease_margin_ms
            .unwrap_or((self.election_timeout_ms_min * num / den).max(1))
    }

    /// Check ranges and relations between settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.bootstrap && self.join.is_some() {
            return bad("--bootstrap and --join are mutually exclusive".into());
        }
        if self.heartbeat_interval_ms == 0 {
            return bad("heartbeat_interval_ms must be at least 1".into());
        }
        if self.election_timeout_ms_min <= self.heartbeat_interval_ms * 2 {
            return bad(format!(
                "election_timeout_ms_min ({}) must exceed twice heartbeat_interval_ms ({})",
                self.election_timeout_ms_min, self.heartbeat_interval_ms
            ));
        }
        if self.election_timeout_ms_max <= self.election_timeout_ms_min {
            return bad("election_timeout_ms_max must exceed election_timeout_ms_min".into());
        }
        let (lease, margin) = (self.lease_ms(), self.lease_margin_ms());
        if lease == 0 {
            return bad("read_lease_ms must be at least 1".into());
        }
        if margin == 0 {
            return bad("read_lease_margin_ms must be at least 1 (clocks drift)".into());
        }
        if lease.saturating_add(margin) >= self.election_timeout_ms_min {
            return bad(format!(
                "read_lease_ms ({lease}) must be shorter than election_timeout_ms_min ({}) minus read_lease_margin_ms ({margin}): otherwise a new leader could be elected while the old one still serves lease reads",
                self.election_timeout_ms_min
            ));
        }
        if self.snapshot_threshold == 0 {
            return bad("snapshot_threshold must be at least 1".into());
        }
        if self.max_clients == 0 {
            return bad("max_clients must be at least 1".into());
        }
        if let Some(n) = self.worker_threads {
            if !(1..=MAX_WORKER_THREADS).contains(&n) {
                return bad(format!(
                    "worker_threads must be between 1 and {MAX_WORKER_THREADS}, got {n}"
                ));
            }
        }
        if self.pubsub_output_limit_bytes == 0 {
            return bad("pubsub_output_limit_bytes must be at least 1".into());
        }
        let metrics = self.metrics_listen.as_ref();
        for (name, addr) in [("listen", &self.listen), ("peer_listen", &self.peer_listen)]
            .into_iter()
            .chain(metrics.map(|m| ("metrics_listen", m)))
        {
            if !addr.contains(':') {
                return bad(format!("{name} must be host:port, got {addr:?}"));
            }
        }
        self.tls.validate().map_err(ConfigError::Invalid)?;
        if self.join.is_some()
            && self.tls.main_listener_tls()
            && self.tls.node_client_ca().is_none()
        {
            return bad("--join with a TLS client port needs --tls-ca (or --peer-tls-ca) to verify the seed's client port".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn file_keys_override_defaults_and_missing_keys_keep_them() {
        let c = parse("node_id = 7\nlisten = \"0.0.0.0:6400\"\n").unwrap();
        assert_eq!(c.node_id, 7);
        assert_eq!(c.listen, "0.0.0.0:6400");
        assert_eq!(c.peer_listen, DEFAULT_PEER_LISTEN);
        assert_eq!(c.heartbeat_interval_ms, DEFAULT_HEARTBEAT_INTERVAL_MS);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse("node_idd = 7\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `node_idd`"), "{err}");
    }

    #[test]
    fn validation_catches_inconsistent_settings() {
        let ok = Config::default();
        ok.validate().unwrap();
        let no_pubsub_room = Config {
            pubsub_output_limit_bytes: 0,
            ..Config::default()
        };
        assert!(no_pubsub_room
            .validate()
            .unwrap_err()
            .to_string()
            .contains("pubsub_output_limit_bytes"));
        for bad in [0, MAX_WORKER_THREADS + 1] {
            let threads = Config {
                worker_threads: Some(bad),
                ..Config::default()
            };
            let err = threads.validate().unwrap_err().to_string();
            assert!(
                err.contains("worker_threads must be between 1 and"),
                "{err}"
            );
        }
        for good in [1, MAX_WORKER_THREADS] {
            Config {
                worker_threads: Some(good),
                ..Config::default()
            }
            .validate()
            .unwrap();
        }
        let both = Config {
            bootstrap: true,
            join: Some("a:1".into()),
            ..Config::default()
        };
        assert!(both
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mutually exclusive"));
        let tight = Config {
            heartbeat_interval_ms: 300,
            ..Config::default()
        };
        assert!(tight
            .validate()
            .unwrap_err()
            .to_string()
            .contains("twice heartbeat"));
        let inverted = Config {
            election_timeout_ms_max: 400,
            ..Config::default()
        };
        assert!(inverted
            .validate()
            .unwrap_err()
            .to_string()
            .contains("must exceed"));
        let no_port = Config {
            listen: "localhost".into(),
            ..Config::default()
        };
        assert!(no_port
            .validate()
            .unwrap_err()
            .to_string()
            .contains("host:port"));
    }

    #[test]
    fn the_lease_must_fit_inside_the_election_timeout_with_its_margin() {
        let c = Config::default();
        assert_eq!((c.lease_ms(), c.lease_margin_ms()), (250, 100));
        // Defaults scale with the election timeout, so any valid timeout has a valid lease.
        let fast = Config {
            heartbeat_interval_ms: 10,
            election_timeout_ms_min: 30,
            election_timeout_ms_max: 60,
            ..Config::default()
        };
        fast.validate().unwrap();
        let long = Config {
            read_lease_ms: Some(400),
            ..Config::default()
        };
        let err = long.validate().unwrap_err().to_string();
        assert!(err.contains("read_lease_ms (400) must be shorter"), "{err}");
        let no_margin = Config {
            read_lease_margin_ms: Some(0),
            ..Config::default()
        };
        assert!(no_margin.validate().is_err());
        let edge = Config {
            read_lease_ms: Some(399),
            ..Config::default()
        };
        edge.validate().unwrap();
        assert_eq!("readindex".parse::<ReadPolicy>(), Ok(ReadPolicy::ReadIndex));
        assert!("stale".parse::<ReadPolicy>().is_err());
        let file: Config = toml::from_str("read_policy = \"readindex\"\n").unwrap();
        assert_eq!(file.read_policy, ReadPolicy::ReadIndex);
    }

    #[test]
    fn the_shipped_config_file_parses_to_the_defaults() {
        let shipped: Config = toml::from_str(include_str!("../../../config/raftkv.toml")).unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn advertised_addresses_default_to_listen_addresses() {
        let c = Config::default();
        assert_eq!(c.client_addr(), DEFAULT_LISTEN);
        assert_eq!(c.peer_addr(), DEFAULT_PEER_LISTEN);
        let c = Config {
            advertise: Some("db1:6379".into()),
            ..Config::default()
        };
        assert_eq!(c.client_addr(), "db1:6379");
    }
}
