//! Talking to one node as an operator would: `PING`, `INFO raft`, `RAFTKV MEMBER ...`.
//!
//! Every call opens a fresh connection with a deadline on the connect and on the reply (a paused
//! node still completes TCP handshakes, so only a deadline notices it). Failures are plain
//! strings: the runner logs them and decides what to retry; nothing here retries on its own.

use std::time::Duration;

use node::client::RespClient;
use resp::Reply;

/// Deadline of a quick admin call (PING, INFO, MEMBER LIST, REMOVE).
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of `RAFTKV MEMBER ADD`, which blocks until the new node has caught up.
pub const MEMBER_ADD_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of `RAFTKV MEMBER REMOVE` (a membership change through joint consensus).
pub const MEMBER_REMOVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The fields of `INFO raft` the suite uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftInfo {
    /// `raft_node_id`.
    pub node_id: u64,
    /// `raft_role`: leader, follower, candidate or learner.
    pub role: String,
    /// `raft_term`.
    pub term: u64,
    /// `raft_leader_id`, if a leader is known.
    pub leader_id: Option<u64>,
    /// `raft_commit_index`.
    pub commit_index: u64,
    /// `raft_applied_index`.
    pub applied_index: u64,
    /// `raft_voters`.
    pub voters: Vec<u64>,
    /// `raft_learners`.
    pub learners: Vec<u64>,
}

impl RaftInfo {
    /// Parses the `field:value` lines of `INFO raft`.
    pub fn parse(text: &str) -> RaftInfo {
        let mut info = RaftInfo::default();
        let ids = |v: &str| -> Vec<u64> { v.split(',').filter_map(|x| x.parse().ok()).collect() };
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once(':') else {
                continue;
            };
            match k {
                "raft_node_id" => info.node_id = v.parse().unwrap_or(0),
                "raft_role" => info.role = v.to_string(),
                "raft_term" => info.term = v.parse().unwrap_or(0),
                "raft_leader_id" => info.leader_id = v.parse().ok(),
                "raft_commit_index" => info.commit_index = v.parse().unwrap_or(0),
                "raft_applied_index" => info.applied_index = v.parse().unwrap_or(0),
                "raft_voters" => info.voters = ids(v),
                "raft_learners" => info.learners = ids(v),
                _ => {}
            }
        }
        info
    }
}

/// Sends one command on a fresh connection; the reply, or why there is none.
pub async fn call(addr: &str, args: &[&str], timeout: Duration) -> Result<Reply, String> {
    let mut client = RespClient::connect(addr, timeout)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    client
        .call(args)
        .await
        .map_err(|e| format!("{} on {addr}: {e}", args.join(" ")))
}

/// Sends one command and expects `+OK`-like success.
async fn expect_ok(addr: &str, args: &[&str], timeout: Duration) -> Result<(), String> {
    match call(addr, args, timeout).await? {
        Reply::Error(e) => Err(e),
        _ => Ok(()),
    }
}

/// `PING`: true if the node answers in time.
pub async fn ping(addr: &str) -> bool {
    matches!(
        call(addr, &["PING"], ADMIN_TIMEOUT).await,
        Ok(Reply::Simple(_))
    )
}

/// `INFO raft`.
pub async fn raft_info(addr: &str) -> Result<RaftInfo, String> {
    match call(addr, &["INFO", "raft"], ADMIN_TIMEOUT).await? {
        Reply::Bulk(b) => Ok(RaftInfo::parse(&String::from_utf8_lossy(&b))),
        Reply::Verbatim(s) => Ok(RaftInfo::parse(&s)),
        other => Err(format!("unexpected INFO reply {other:?}")),
    }
}

/// `RAFTKV MEMBER ADD id peer client`: blocks until the node caught up and is a voter.
pub async fn member_add(addr: &str, id: u64, peer: &str, client: &str) -> Result<(), String> {
    let id = id.to_string();
    expect_ok(
        addr,
        &["RAFTKV", "MEMBER", "ADD", &id, peer, client],
        MEMBER_ADD_TIMEOUT,
    )
    .await
}

/// `RAFTKV MEMBER REMOVE id`.
pub async fn member_remove(addr: &str, id: u64) -> Result<(), String> {
    let id = id.to_string();
    expect_ok(
        addr,
        &["RAFTKV", "MEMBER", "REMOVE", &id],
        MEMBER_REMOVE_TIMEOUT,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_raft() {
        let text = "# Raft\r\nraft_node_id:2\r\nraft_role:follower\r\nraft_term:7\r\nraft_leader_id:1\r\nraft_leader_addr:10.77.0.10:6379\r\nraft_commit_index:40\r\nraft_applied_index:39\r\nraft_voters:1,2,3\r\nraft_learners:\r\n";
        let info = RaftInfo::parse(text);
        assert_eq!(info.node_id, 2);
        assert_eq!(info.role, "follower");
        assert_eq!(info.term, 7);
        assert_eq!(info.leader_id, Some(1));
        assert_eq!(info.commit_index, 40);
        assert_eq!(info.voters, vec![1, 2, 3]);
        assert!(info.learners.is_empty());
        assert_eq!(RaftInfo::parse("raft_leader_id:\r\n").leader_id, None);
    }
}
