//! openraft's network traits on top of our peer transport.
//!
//! openraft asks for one [`Network`] per target node (and separate ones for heartbeats and
//! snapshots); each wraps a shared [`PeerClient`] for the target's peer address. Every RPC gets
//! openraft's soft deadline. Connection failures map to `Unreachable` (openraft backs off), other
//! I/O errors and timeouts to `NetworkError`.
//!
//! Snapshots are streamed as a sequence of [`SnapshotChunk`] requests over the snapshot
//! client's own connection, so large transfers never delay heartbeats.

use std::future::Future;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openraft::base::{BoxFuture, BoxStream};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::StreamAppendResult;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::raft::{TransferLeaderRequest, TransferLeaderResponse};
use openraft::RaftNetworkV2;

use super::state_machine::SnapshotData;
use super::types::{LogId, NodeAddr, NodeId, TypeConfig, Vote};
use crate::transport::client::PeerClient;
use crate::transport::peers::Peers;
use crate::wire::{PeerRequest, PeerResponse, SnapshotChunk};

/// Size of one streamed snapshot piece, in bytes.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;
/// Deadline for storing one snapshot piece (and for installing the whole, on the last one).
const SNAPSHOT_CHUNK_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates [`Network`]s for openraft.
#[derive(Clone)]
pub struct NetworkFactory {
    peers: Peers,
}

impl NetworkFactory {
    /// A factory dialing through `peers`.
    pub fn new(peers: Peers) -> NetworkFactory {
        NetworkFactory { peers }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            target,
            client: self.peers.client(target, &node.peer_addr, "raft"),
        }
    }

    async fn new_heartbeat_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            target,
            client: self.peers.client(target, &node.peer_addr, "heartbeat"),
        }
    }

    async fn new_snapshot_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            target,
            client: self.peers.client(target, &node.peer_addr, "snapshot"),
        }
    }
}

/// The RPC client for one target node.
pub struct Network {
    target: NodeId,
    client: Arc<PeerClient>,
}

fn rpc_error(e: io::Error) -> RPCError<TypeConfig> {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::NotFound
        | io::ErrorKind::AddrNotAvailable => RPCError::Unreachable(Unreachable::new(&e)),
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

fn unexpected(resp: PeerResponse) -> RPCError<TypeConfig> {
    let e = io::Error::other(format!("unexpected peer response: {resp:?}"));
    RPCError::Network(NetworkError::new(&e))
}

impl Network {
    async fn call(
        &self,
        req: PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, RPCError<TypeConfig>> {
        let started = std::time::Instant::now();
        let resp = self.client.call(req, timeout).await;
        crate::metrics::record_peer_rtt(self.target, started.elapsed());
        match resp.map_err(rpc_error)? {
            PeerResponse::Error(msg) => Err(RPCError::Network(NetworkError::new(
                &io::Error::other(format!("node {}: {msg}", self.target)),
            ))),
            resp => Ok(resp),
        }
    }
}

/// Most AppendEntries requests in flight to one follower on the replication stream.
pub const APPEND_PIPELINE_DEPTH: usize = 8;
/// Deadline for the answer to one pipelined AppendEntries (at least openraft's soft TTL). Large
/// requests behind others on a busy follower take a while; a dead follower is noticed by the
/// heartbeats, which run on their own connection.
pub const APPEND_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

type AppendResult = Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>;

/// One sent AppendEntries: the log range it covers and where its answer arrives.
type InFlight = (
    Option<LogId>,
    Option<LogId>,
    std::time::Instant,
    tokio::sync::oneshot::Receiver<PeerResponse>,
);

impl RaftNetworkV2<TypeConfig> for Network {
    type SnapshotData = SnapshotData;

    /// Pipelined replication: requests are sent as they come, without waiting for earlier
    /// answers (up to [`APPEND_PIPELINE_DEPTH`] in flight); the follower's peer server handles
    /// them in order on this one connection, and answers are yielded in order. The stream ends
    /// after the first conflict, rejection, partial success or transport error, as openraft
    /// requires.
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, AppendResult>, RPCError<TypeConfig>>>
    where
        S: futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        let client = self.client.clone();
        let target = self.target;
        let timeout = option.soft_ttl().max(APPEND_ANSWER_TIMEOUT);
        Box::pin(async move {
            let (tx, rx) =
                tokio::sync::mpsc::channel::<io::Result<InFlight>>(APPEND_PIPELINE_DEPTH);
            tokio::spawn(async move {
                let mut input = input;
                while let Some(req) = input.next().await {
                    let prev = req.prev_log_id;
                    let last = req.entries.last().map(|e| e.log_id).or(prev);
                    let sent_at = std::time::Instant::now();
                    let sent = client
                        .send(PeerRequest::Append(req))
                        .await
                        .map(|answer| (prev, last, sent_at, answer));
                    let failed = sent.is_err();
                    if tx.send(sent).await.is_err() || failed {
                        break;
                    }
                }
            });
            let answers = futures_util::stream::unfold(Some(rx), move |state| async move {
                let mut rx = state?;
                let (prev, last, sent_at, answer) = match rx.recv().await? {
                    Ok(in_flight) => in_flight,
                    Err(e) => return Some((Err(rpc_error(e)), None)),
                };
                let resp = match tokio::time::timeout(timeout, answer).await {
                    Ok(Ok(PeerResponse::Append(resp))) => {
                        crate::metrics::record_peer_rtt(target, sent_at.elapsed());
                        resp
                    }
                    Ok(Ok(other)) => return Some((Err(unexpected(other)), None)),
                    Ok(Err(_)) => {
                        let e = io::Error::new(io::ErrorKind::ConnectionReset, "connection lost");
                        return Some((Err(rpc_error(e)), None));
                    }
                    Err(_) => {
                        let e =
                            io::Error::new(io::ErrorKind::TimedOut, "no answer to AppendEntries");
                        return Some((Err(rpc_error(e)), None));
                    }
                };
                let partial =
                    matches!(&resp, AppendEntriesResponse::PartialSuccess(l) if *l != last);
                let result = resp.into_stream_result(prev, last);
                let go_on = result.is_ok() && !partial;
                Some((Ok(result), go_on.then_some(rx)))
            });
            Ok(Box::pin(answers) as BoxStream<'s, AppendResult>)
        })
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(PeerRequest::Append(rpc), option.soft_ttl())
            .await?
        {
            PeerResponse::Append(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(PeerRequest::Vote(rpc), option.soft_ttl()).await? {
            PeerResponse::Vote(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        crate::counters::PRE_VOTES_SENT.incr();
        match self
            .call(PeerRequest::PreVote(rpc), option.soft_ttl())
            .await?
        {
            PeerResponse::Vote(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(PeerRequest::TransferLeader(req), option.soft_ttl())
            .await?
        {
            PeerResponse::TransferLeader(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: openraft::alias::SnapshotOf<TypeConfig, SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let stream = async {
            let transfer_id: u64 = rand_id();
            let mut file = snapshot.snapshot.file;
            let mut offset = 0u64;
            loop {
                let mut data = vec![0u8; SNAPSHOT_CHUNK_BYTES];
                let n = read_full(&mut file, &mut data)
                    .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
                data.truncate(n);
                let done = n < SNAPSHOT_CHUNK_BYTES;
                let chunk = SnapshotChunk {
                    vote,
                    meta: snapshot.meta.clone(),
                    transfer_id,
                    offset,
                    data: data.into(),
                    done,
                };
                offset += n as u64;
                let resp = self
                    .call(PeerRequest::SnapshotChunk(chunk), SNAPSHOT_CHUNK_TIMEOUT)
                    .await
                    .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
                match resp {
                    PeerResponse::ChunkStored if !done => continue,
                    PeerResponse::Snapshot(r) if done => return Ok(r),
                    other => {
                        return Err(StreamingError::Network(NetworkError::new(
                            &io::Error::other(format!(
                                "unexpected answer to a snapshot chunk: {other:?}"
                            )),
                        )))
                    }
                }
            }
        };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = stream => r,
        }
    }
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
