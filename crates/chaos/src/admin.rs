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

pub use node::client::RaftInfo;

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
