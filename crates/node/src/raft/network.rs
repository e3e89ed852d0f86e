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

use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::raft::{TransferLeaderRequest, TransferLeaderResponse};
use openraft::RaftNetworkV2;

use super::peers::Peers;
use super::state_machine::SnapshotData;
use super::types::{NodeAddr, NodeId, TypeConfig, Vote};
use crate::transport::message::{PeerRequest, PeerResponse, SnapshotChunk};
use crate::transport::PeerClient;

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
            client: self.peers.client(&node.peer_addr, "raft"),
        }
    }

    async fn new_heartbeat_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            target,
            client: self.peers.client(&node.peer_addr, "heartbeat"),
        }
    }

    async fn new_snapshot_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            target,
            client: self.peers.client(&node.peer_addr, "snapshot"),
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

impl RaftNetworkV2<TypeConfig> for Network {
    type SnapshotData = SnapshotData;

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
