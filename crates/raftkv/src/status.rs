//! `raftkv status`: one line per node, read from each node's `INFO`.
//!
//! Every endpoint is asked concurrently with a short deadline; one that does not answer is
//! shown as unreachable (with the reason) and does not fail the command while another answers;
//! when none answers, the command exits with [`EXIT_NONE_ANSWERED`]. The endpoints default as
//! [`crate::endpoints`] describes.
//!
//! Table columns: `ENDPOINT ID ROLE TERM LEADER COMMIT APPLIED KEYS LOG SNAPSHOT FSYNC-P50
//! FSYNC-P99` (sizes in human units, fsync in milliseconds). `--output json` prints an array of
//! objects with the fields of [`NodeStatus`] (sizes in bytes, fsync in microseconds).

use std::time::Duration;

use clap::{Args, ValueEnum};
use node::client::{info_fields, RaftInfo};
use node::tls::ClientTls;
use resp::Reply;
use serde_json::json;

/// Exit status when no endpoint answered.
pub const EXIT_NONE_ANSWERED: u8 = 1;
/// Deadline for one node's answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Output {
    /// An aligned table.
    Table,
    /// A JSON array, one object per endpoint.
    Json,
}

/// Flags of `raftkv status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Client addresses (host:port) of the nodes, comma-separated
    /// [default: $RAFTKV_ENDPOINTS, else .raftkv-local/endpoints, else 127.0.0.1:6379].
    #[arg(long, value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    auth: crate::auth::AuthArgs,
}

/// What one node reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeStatus {
    /// Node id.
    pub id: u64,
    /// `leader`, `follower`, `candidate` or `learner` (`removed` once removed).
    pub role: String,
    /// Current term.
    pub term: u64,
    /// The leader's id, if known.
    pub leader: Option<u64>,
    /// Commit index.
    pub commit_index: u64,
    /// Applied index.
    pub applied_index: u64,
    /// Live keys.
    pub keys: u64,
    /// Raft log size on disk, in bytes.
    pub log_bytes: u64,
    /// Snapshot size on disk, in bytes.
    pub snapshot_bytes: u64,
    /// Raft-log fsync latency p50 since start, in microseconds.
    pub fsync_p50_us: u64,
    /// Raft-log fsync latency p99 since start, in microseconds.
    pub fsync_p99_us: u64,
}

/// Parse `INFO` text into a [`NodeStatus`].
pub fn parse_info(info: &str) -> NodeStatus {
    let fields = info_fields(info);
    let raft = RaftInfo::from_fields(&fields);
    let num = |k: &str| fields.get(k).and_then(|v| v.parse().ok()).unwrap_or(0u64);
    let keys = fields
        .get("db0")
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("keys=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let role = if raft.removed {
        "removed".to_string()
    } else {
        raft.role
    };
    NodeStatus {
        id: raft.node_id,
        role,
        term: raft.term,
        leader: raft.leader_id,
        commit_index: raft.commit_index,
        applied_index: raft.applied_index,
        keys,
        log_bytes: num("raft_log_disk_bytes"),
        snapshot_bytes: num("raft_snapshot_disk_bytes"),
        fsync_p50_us: num("raft_log_fsync_p50_us"),
        fsync_p99_us: num("raft_log_fsync_p99_us"),
    }
}

/// `1536` → `1.5KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

/// Align `rows` (the first is the header) in columns two spaces apart; no trailing spaces. A
/// row may be shorter than the header: its last cell then runs on unaligned.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            // A row's last cell is never padded, so it does not widen its column.
            rows.iter()
                .filter(|r| c + 1 < r.len())
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

/// Render results as a table; unreachable endpoints show `unreachable: <why>`.
pub fn format_table(results: &[(String, Result<NodeStatus, String>)]) -> String {
    let mut rows = vec![[
        "ENDPOINT",
        "ID",
        "ROLE",
        "TERM",
        "LEADER",
        "COMMIT",
        "APPLIED",
        "KEYS",
        "LOG",
        "SNAPSHOT",
        "FSYNC-P50",
        "FSYNC-P99",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for (endpoint, r) in results {
        match r {
            Ok(s) => rows.push(vec![
                endpoint.clone(),
                s.id.to_string(),
                s.role.clone(),
                s.term.to_string(),
                s.leader
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "-".into()),
                s.commit_index.to_string(),
                s.applied_index.to_string(),
                s.keys.to_string(),
                human_bytes(s.log_bytes),
                human_bytes(s.snapshot_bytes),
                ms(s.fsync_p50_us),
                ms(s.fsync_p99_us),
            ]),
            Err(e) => rows.push(vec![
                endpoint.clone(),
                "-".into(),
                format!("unreachable: {e}"),
            ]),
        }
    }
    render_table(&rows)
}

/// Render results as a JSON array.
pub fn format_json(results: &[(String, Result<NodeStatus, String>)]) -> String {
    let items: Vec<serde_json::Value> = results
        .iter()
        .map(|(endpoint, r)| match r {
            Ok(s) => json!({
                "endpoint": endpoint,
                "reachable": true,
                "id": s.id,
                "role": s.role,
                "term": s.term,
                "leader": s.leader,
                "commit_index": s.commit_index,
                "applied_index": s.applied_index,
                "keys": s.keys,
                "log_bytes": s.log_bytes,
                "snapshot_bytes": s.snapshot_bytes,
                "fsync_p50_us": s.fsync_p50_us,
                "fsync_p99_us": s.fsync_p99_us,
            }),
            Err(e) => json!({"endpoint": endpoint, "reachable": false, "error": e}),
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("JSON of plain values") + "\n"
}

/// Ask one node for its status, over TLS when `tls` is given.
pub async fn fetch(endpoint: &str, tls: Option<&ClientTls>) -> Result<NodeStatus, String> {
    let ask = async {
        let mut c = crate::auth::connect(endpoint, ASK_TIMEOUT, tls).await?;
        c.call(&["INFO", "all"]).await
    };
    match ask.await {
        Ok(Reply::Bulk(b)) => Ok(parse_info(&String::from_utf8_lossy(&b))),
        Ok(other) => Err(format!("unexpected INFO reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The exit status for these results (see the module docs).
pub fn exit_status(results: &[(String, Result<NodeStatus, String>)]) -> u8 {
    let answered = results.iter().filter(|(_, r)| r.is_ok()).count();
    if answered == 0 {
        EXIT_NONE_ANSWERED
    } else {
        0
    }
}

/// Run `raftkv status`; returns the exit status.
pub fn run(args: StatusArgs) -> anyhow::Result<u8> {
    args.auth.install()?;
    let endpoints = crate::endpoints::resolve(&args.endpoints);
    let tls = args.tls.client()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(async {
        let tasks: Vec<_> = endpoints
            .iter()
            .map(|e| {
                let (e, tls) = (e.clone(), tls.clone());
                tokio::spawn(async move { fetch(&e, tls.as_deref()).await })
            })
            .collect();
        let mut results = Vec::new();
        for (endpoint, task) in endpoints.iter().zip(tasks) {
            let r = task.await.unwrap_or_else(|e| Err(e.to_string()));
            results.push((endpoint.clone(), r));
        }
        results
    });
    match args.output {
        Output::Table => print!("{}", format_table(&results)),
        Output::Json => print!("{}", format_json(&results)),
    }
    Ok(exit_status(&results))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Keyspace\r\ndb0:keys=42,expires=0,avg_ttl=0\r\n\r\n# Raft\r\nraft_node_id:2\r\nraft_role:follower\r\nraft_term:5\r\nraft_leader_id:1\r\nraft_commit_index:100\r\nraft_applied_index:99\r\nraft_log_disk_bytes:2048\r\nraft_snapshot_disk_bytes:0\r\nraft_log_fsync_p50_us:150\r\nraft_log_fsync_p99_us:2500\r\nraft_removed:0\r\n";

    #[test]
    fn parses_info() {
        let s = parse_info(INFO);
        assert_eq!(
            s,
            NodeStatus {
                id: 2,
                role: "follower".into(),
                term: 5,
                leader: Some(1),
                commit_index: 100,
                applied_index: 99,
                keys: 42,
                log_bytes: 2048,
                snapshot_bytes: 0,
                fsync_p50_us: 150,
                fsync_p99_us: 2500,
            }
        );
        let removed = parse_info(&INFO.replace("raft_removed:0", "raft_removed:1"));
        assert_eq!(removed.role, "removed");
        assert_eq!(parse_info("raft_leader_id:\r\n").leader, None);
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0MiB");
    }

    #[test]
    fn table_and_json_show_unreachable_nodes() {
        let results = vec![
            ("a:1".to_string(), Ok(parse_info(INFO))),
            ("b:2".to_string(), Err("connection refused".to_string())),
        ];
        let table = format_table(&results);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ENDPOINT  ID  ROLE"));
        assert!(lines[1].contains("follower") && lines[1].contains("2.0KiB"));
        assert!(lines[1].ends_with("0.15ms     2.50ms"), "{}", lines[1]);
        assert!(lines[2].contains("unreachable: connection refused"));
        assert!(lines[0].contains("  ID  ROLE      TERM"), "{table}");
        let v: serde_json::Value = serde_json::from_str(&format_json(&results)).unwrap();
        assert_eq!(v[0]["id"], 2);
        assert_eq!(v[0]["keys"], 42);
        assert_eq!(v[1]["reachable"], false);
        assert_eq!(v[1]["error"], "connection refused");
        assert_eq!(exit_status(&results), 0);
        assert_eq!(exit_status(&results[..1]), 0);
        assert_eq!(exit_status(&results[1..]), EXIT_NONE_ANSWERED);
    }
}
