//! `raftkv member`: list and change the cluster membership through any member's client port.
//!
//! Each subcommand sends one `RAFTKV MEMBER ...` admin command to `--endpoint` (default: see
//! [`crate::endpoints`]); the node routes
//! it to the leader. `list` prints a table (`ID PEER CLIENT ROLE LEADER`, the leader marked `*`).
//! A refused change prints the node's error and exits 1.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use resp::Reply;

/// Deadline of a quick admin command.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of `member add`, which waits for the new node to catch up.
const ADD_TIMEOUT: Duration = Duration::from_secs(600);

/// Flags of `raftkv member`.
#[derive(Args, Debug)]
pub struct MemberArgs {
    /// Client address (host:port) of any member; several comma-separated are tried in turn
    /// [default: $RAFTKV_ENDPOINTS, else .raftkv-local/endpoints, else 127.0.0.1:6379].
    #[arg(long, global = true)]
    endpoint: Option<String>,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    auth: crate::auth::AuthArgs,
    #[command(subcommand)]
    command: MemberCommand,
}

#[derive(Subcommand, Debug)]
enum MemberCommand {
    /// Show every member: id, peer address, client address, voter or learner, leader mark.
    List,
    /// Add a node (started empty, without --bootstrap/--join); it becomes a voter once caught up.
    Add {
        /// The new node's id (never reuse a removed node's id).
        id: u64,
        /// The new node's peer address (host:port).
        peer_addr: String,
        /// The new node's client address (host:port).
        client_addr: String,
        /// Keep it a learner (replicates, does not vote).
        #[arg(long)]
        learner: bool,
    },
    /// Make a learner a voter.
    Promote {
        /// The learner's id.
        id: u64,
    },
    /// Remove a node (the leader hands over leadership first if it is the one removed).
    Remove {
        /// The node's id.
        id: u64,
    },
    /// Ask the leader to hand leadership to a voter.
    TransferLeader {
        /// The voter's id.
        id: u64,
    },
}

/// One row of `RAFTKV MEMBER LIST`.
#[derive(Debug, PartialEq)]
pub struct MemberRow {
    /// Node id.
    pub id: u64,
    /// Peer address.
    pub peer: String,
    /// Client address.
    pub client: String,
    /// `voter` or `learner`.
    pub role: String,
    /// True for the leader.
    pub leader: bool,
}

/// Decode the reply of `RAFTKV MEMBER LIST`.
pub fn parse_member_list(reply: Reply) -> anyhow::Result<Vec<MemberRow>> {
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        Reply::Simple(s) => Ok(s.to_string()),
        other => bail!("expected a string, got {other:?}"),
    };
    let Reply::Array(rows) = reply else {
        bail!("unexpected reply to RAFTKV MEMBER LIST: {reply:?}");
    };
    rows.into_iter()
        .map(|row| match row {
            Reply::Array(f) if f.len() == 5 => match (&f[0], &f[4]) {
                (Reply::Integer(id), Reply::Integer(leader)) => Ok(MemberRow {
                    id: *id as u64,
                    peer: text(&f[1])?,
                    client: text(&f[2])?,
                    role: text(&f[3])?,
                    leader: *leader != 0,
                }),
                _ => bail!("malformed member row {f:?}"),
            },
            other => bail!("malformed member row {other:?}"),
        })
        .collect()
}

/// Render members as an aligned table, sorted by id.
pub fn format_members(rows: &[MemberRow]) -> String {
    let mut table = vec![vec![
        "ID".to_string(),
        "PEER".into(),
        "CLIENT".into(),
        "ROLE".into(),
        "LEADER".into(),
    ]];
    let mut sorted: Vec<&MemberRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.id);
    for r in sorted {
        table.push(vec![
            r.id.to_string(),
            r.peer.clone(),
            r.client.clone(),
            r.role.clone(),
            if r.leader { "*".into() } else { String::new() },
        ]);
    }
    crate::status::render_table(&table)
}

/// Run `raftkv member ...`.
pub fn run(args: MemberArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: MemberArgs) -> anyhow::Result<()> {
    let (cmd, timeout): (Vec<String>, Duration) = match &args.command {
        MemberCommand::List => (words(&["LIST"]), CALL_TIMEOUT),
        MemberCommand::Add {
            id,
            peer_addr,
            client_addr,
            learner,
        } => {
            let mut c = words(&["ADD"]);
            c.extend([id.to_string(), peer_addr.clone(), client_addr.clone()]);
            if *learner {
                c.push("LEARNER".into());
            }
            (c, ADD_TIMEOUT)
        }
        MemberCommand::Promote { id } => (with_id("PROMOTE", *id), CALL_TIMEOUT),
        MemberCommand::Remove { id } => (with_id("REMOVE", *id), CALL_TIMEOUT),
        MemberCommand::TransferLeader { id } => (with_id("TRANSFER-LEADER", *id), CALL_TIMEOUT),
    };
    let mut full = vec!["RAFTKV".to_string(), "MEMBER".to_string()];
    full.extend(cmd);
    let flag: Vec<String> = args.endpoint.iter().cloned().collect();
    let tls = args.tls.client()?;
    let endpoint = crate::endpoints::pick(&crate::endpoints::resolve(&flag)).await?;
    args.auth.install()?;
    let mut client = crate::auth::connect(&endpoint, timeout, tls.as_deref())
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let reply = client
        .call(&full)
        .await
        .with_context(|| format!("no answer from {endpoint}"))?;
    if let Reply::Error(e) = &reply {
        bail!("{endpoint}: {e}");
    }
    match args.command {
        MemberCommand::List => print!("{}", format_members(&parse_member_list(reply)?)),
        _ => println!("OK"),
    }
    Ok(())
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

fn with_id(op: &str, id: u64) -> Vec<String> {
    vec![op.to_string(), id.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, role: &str, leader: i64) -> Reply {
        Reply::Array(vec![
            Reply::Integer(id),
            Reply::bulk(format!("127.0.0.1:{}", 7000 + id)),
            Reply::bulk(format!("127.0.0.1:{}", 6000 + id)),
            Reply::bulk(role.to_string()),
            Reply::Integer(leader),
        ])
    }

    #[test]
    fn parses_and_formats_the_member_list() {
        let rows = parse_member_list(Reply::Array(vec![row(2, "learner", 0), row(1, "voter", 1)]))
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[1].leader);
        let table = format_members(&rows);
        assert_eq!(
            table,
            "ID  PEER            CLIENT          ROLE     LEADER\n\
             1   127.0.0.1:7001  127.0.0.1:6001  voter    *\n\
             2   127.0.0.1:7002  127.0.0.1:6002  learner\n"
        );
    }

    #[test]
    fn rejects_malformed_lists() {
        assert!(parse_member_list(Reply::Integer(1)).is_err());
        assert!(parse_member_list(Reply::Array(vec![Reply::Integer(1)])).is_err());
    }
}
