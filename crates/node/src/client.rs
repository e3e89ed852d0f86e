//! A minimal RESP2 client for the node's own tools: joining a cluster, `raftkv local`,
//! `raftkv status`, removal detection and the fault suite. It sends commands as arrays of bulk
//! strings and decodes replies with `redis-protocol` into [`resp::Reply`]. [`info_fields`] and
//! [`RaftInfo`] are the one parser of `INFO` text those tools share.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::types::OwnedFrame;
use resp::{Protocol, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::tls::{BoxIo, ClientTls};

/// One connection to a raftkv (or Redis) server.
pub struct RespClient {
    /// TCP, or TLS over TCP ([`RespClient::connect_tls`]).
    stream: BoxIo,
    buf: BytesMut,
    timeout: Duration,
}

impl RespClient {
    /// Connect to `addr`; every later call must finish within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> io::Result<RespClient> {
        RespClient::connect_tls(addr, timeout, None).await
    }

    /// [`RespClient::connect`], over TLS when `tls` is given (the server's certificate must
    /// name the host of `addr`); the handshake counts against `timeout` too.
    pub async fn connect_tls(
        addr: &str,
        timeout: Duration,
        tls: Option<&ClientTls>,
    ) -> io::Result<RespClient> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} timed out"),
                )
            })??;
        stream.set_nodelay(true)?;
        let stream: BoxIo = match tls {
            None => Box::new(stream),
            Some(tls) => Box::new(
                tokio::time::timeout(timeout, tls.connect(stream, addr))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("TLS handshake with {addr} timed out"),
                        )
                    })??,
            ),
        };
        Ok(RespClient {
            stream,
            buf: BytesMut::with_capacity(4096),
            timeout,
        })
    }

    /// Send one command and read its reply.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        let mut out = BytesMut::new();
        encode_command(args, &mut out);
        self.send_raw(&out).await?;
        self.read_reply().await
    }

    /// Write already-encoded commands.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
    }

    /// Read one reply.
    pub async fn read_reply(&mut self) -> io::Result<Reply> {
        loop {
            match decode(&self.buf) {
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Ok(to_reply(frame));
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
            let n = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))??;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
        }
    }
}

/// Append `args` as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let array = Reply::Array(
        args.iter()
            .map(|a| Reply::bulk(bytes::Bytes::copy_from_slice(a.as_ref())))
            .collect(),
    );
    resp::encode(&array, Protocol::Resp2, out);
}

fn to_reply(frame: OwnedFrame) -> Reply {
    match frame {
        OwnedFrame::SimpleString(s) => {
            Reply::Simple(String::from_utf8_lossy(&s).into_owned().into())
        }
        OwnedFrame::Error(e) => Reply::Error(e),
        OwnedFrame::Integer(i) => Reply::Integer(i),
        OwnedFrame::BulkString(b) => Reply::Bulk(b.into()),
        OwnedFrame::Array(a) => Reply::Array(a.into_iter().map(to_reply).collect()),
        OwnedFrame::Null => Reply::Null,
    }
}

/// `INFO` text as its `field:value` pairs (section headers and blank lines skipped, values
/// trimmed).
pub fn info_fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The Raft fields of a node's `INFO`, typed. Missing or malformed fields read as zero or empty.
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
    /// `raft_removed`: this node learned it was removed from the cluster.
    pub removed: bool,
}

impl RaftInfo {
    /// The Raft fields of `INFO` (or `INFO raft`) text.
    pub fn parse(text: &str) -> RaftInfo {
        RaftInfo::from_fields(&info_fields(text))
    }

    /// The Raft fields from already split `INFO` fields.
    pub fn from_fields(fields: &HashMap<String, String>) -> RaftInfo {
        let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
        let num = |k: &str| get(k).parse().unwrap_or(0);
        let ids = |k: &str| get(k).split(',').filter_map(|x| x.parse().ok()).collect();
        RaftInfo {
            node_id: num("raft_node_id"),
            role: get("raft_role").to_string(),
            term: num("raft_term"),
            leader_id: get("raft_leader_id").parse().ok(),
            commit_index: num("raft_commit_index"),
            applied_index: num("raft_applied_index"),
            voters: ids("raft_voters"),
            learners: ids("raft_learners"),
            removed: get("raft_removed") == "1",
        }
    }

    /// True if `id` is a voter or a learner in this node's view.
    pub fn lists(&self, id: u64) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }
}

#[cfg(test)]
mod info_tests {
    use super::*;

    #[test]
    fn parses_info_raft() {
        let text = "# Raft\r\nraft_node_id:2\r\nraft_role:follower\r\nraft_term:7\r\nraft_leader_id:1\r\nraft_leader_addr:10.77.0.10:6379\r\nraft_commit_index:40\r\nraft_applied_index:39\r\nraft_voters:1,2,3\r\nraft_learners:4\r\nraft_removed:0\r\n";
        let info = RaftInfo::parse(text);
        assert_eq!(info.node_id, 2);
        assert_eq!(info.role, "follower");
        assert_eq!(info.term, 7);
        assert_eq!(info.leader_id, Some(1));
        assert_eq!((info.commit_index, info.applied_index), (40, 39));
        assert_eq!(info.voters, vec![1, 2, 3]);
        assert_eq!(info.learners, vec![4]);
        assert!(!info.removed && info.lists(4) && !info.lists(5));
        assert_eq!(info_fields(text)["raft_leader_addr"], "10.77.0.10:6379");
        assert_eq!(RaftInfo::parse("raft_leader_id:\r\n").leader_id, None);
        assert!(RaftInfo::parse("raft_removed:1\r\n").removed);
    }
}
