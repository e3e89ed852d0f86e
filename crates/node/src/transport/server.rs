//! The peer listener: accepts connections from other nodes and answers their requests.
//!
//! A connection starts with the dialer's hello; one meant for another node id (or from a node
//! whose link is cut by test-only fault injection) is answered with a refusal and closed.
//!
//! Per connection, Raft RPCs are handled one at a time in arrival order (Raft messages from
//! one sender must not overtake each other), while forwarded client commands are spawned and
//! answered as they finish, so a slow command never holds up replication. Answers go through
//! one writer task per connection.
//!
//! A streamed snapshot is written piece by piece to a temporary file in the snapshot directory;
//! pieces must arrive in order (offsets are checked) and a new transfer id discards any partial
//! earlier one. On the last piece the file is handed to Raft for installation, which verifies
//! every checksum before replacing any state.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::auth::{PeerAuth, Side};
use super::frame::{self, Hello, HelloAnswer, HelloReply};
use super::handler::PeerHandler;
use crate::disk::ReservingFile;
use crate::tls::ServerTls;
use crate::wire::{Envelope, PeerRequest, PeerResponse, SnapshotChunk};

/// Most answers queued for one connection's writer.
const MAX_QUEUED_ANSWERS: usize = 1024;
/// Deadline for a dialer's whole hello exchange: a peer that sends half a hello and goes
/// silent is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Accepts peer connections and serves them until the listener task is dropped.
pub struct PeerServer;

struct Receiving {
    transfer_id: u64,
    file: ReservingFile,
    path: PathBuf,
    next_offset: u64,
}

impl PeerServer {
    /// Serve peers on `listener` with `handler` until the task is aborted; with `tls`, every
    /// connection must first complete a TLS handshake presenting a certificate the peer CA
    /// signed (one that fails is counted as an authentication failure and closed).
    pub async fn run(
        listener: TcpListener,
        tls: Option<Arc<ServerTls>>,
        handler: Arc<dyn PeerHandler>,
    ) {
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "peer accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let result = match tls {
                    None => {
                        let (r, w) = stream.into_split();
                        serve_connection(r, w, handler).await
                    }
                    Some(tls) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                let (r, w) = tokio::io::split(stream);
                                serve_connection(r, w, handler).await
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(%remote, error = %e, "peer TLS handshake failed; connection refused");
                                crate::counters::PEER_AUTH_FAILURES.incr();
                                Ok(())
                            }
                            Err(_) => Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "no TLS handshake in time",
                            )),
                        }
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "peer connection ended");
                }
            });
        }
    }

    /// Serve one already-accepted connection that need not be TCP (the in-memory network of
    /// [`super::memory`]), with the same hello, ordering and snapshot rules as [`Self::run`].
    pub async fn serve_stream(
        r: super::BoxRead,
        w: super::BoxWrite,
        handler: Arc<dyn PeerHandler>,
    ) -> io::Result<()> {
        serve_connection(r, w, handler).await
    }
}

/// The listener's side of the hello: check who is meant, prove the secret, check the dialer's
/// proof. `Ok(None)` if the connection was refused (and answered so).
async fn handshake(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
    handler: &dyn PeerHandler,
) -> io::Result<Option<Hello>> {
    let hello = frame::read_hello(r).await?;
    let me = handler.node_id();
    let auth: &PeerAuth = handler.peer_auth();
    let answer = if hello.to != me {
        HelloAnswer::WrongNode(me)
    } else if handler.link_faults().is_cut(hello.from) {
        HelloAnswer::Cut
    } else {
        HelloAnswer::Accepted
    };
    let nonce = PeerAuth::nonce()?;
    let reply = HelloReply {
        answer,
        nonce,
        proof: auth.proof(Side::Listener, &hello, &nonce),
    };
    frame::write_hello_answer(w, me, &reply).await?;
    if answer != HelloAnswer::Accepted {
        tracing::info!(
            from = hello.from,
            to = hello.to,
            ?answer,
            "peer connection refused"
        );
        crate::counters::PEER_CONNECTIONS_REFUSED.incr();
        return Ok(None);
    }
    let proof = frame::read_proof(r).await?;
    let authenticated = auth.verify(Side::Dialer, &hello, &nonce, &proof);
    frame::write_verdict(w, authenticated).await?;
    if !authenticated {
        tracing::warn!(
            from = hello.from,
            "a peer failed to prove the cluster secret; connection refused"
        );
        crate::counters::PEER_AUTH_FAILURES.incr();
        return Ok(None);
    }
    Ok(Some(hello))
}

async fn serve_connection(
    mut r: impl tokio::io::AsyncRead + Unpin,
    mut w: impl tokio::io::AsyncWrite + Unpin + Send + 'static,
    handler: Arc<dyn PeerHandler>,
) -> io::Result<()> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut r, &mut w, &*handler));
    let hello = match handshake.await {
        Ok(Ok(Some(hello))) => hello,
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete hello in time",
            ))
        }
    };
    let (tx, mut rx) = mpsc::channel::<Envelope<PeerResponse>>(MAX_QUEUED_ANSWERS);
    let writer = tokio::spawn(async move {
        let mut buf = Vec::new();
        while let Some(first) = rx.recv().await {
            buf.clear();
            frame::encode(&first, &mut buf)?;
            while let Ok(more) = rx.try_recv() {
                frame::encode(&more, &mut buf)?;
            }
            w.write_all(&buf).await?;
        }
        Ok::<_, io::Error>(())
    });
    let mut buf = Vec::new();
    let mut receiving: Option<Receiving> = None;
    let result = loop {
        let env: Envelope<PeerRequest> = match frame::read(&mut r, &mut buf).await {
            Ok(Some(env)) => env,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if handler.link_faults().is_cut(hello.from) {
            break Ok(());
        }
        let id = env.id;
        match env.body {
            PeerRequest::Forward(fwd) => {
                let handler = handler.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let body = handler.handle(PeerRequest::Forward(fwd)).await;
                    let _ = tx.send(Envelope { id, body }).await;
                });
            }
            PeerRequest::SnapshotChunk(chunk) => {
                let body = receive_chunk(&*handler, &mut receiving, chunk).await;
                if tx.send(Envelope { id, body }).await.is_err() {
                    break Ok(());
                }
            }
            req => {
                let body = handler.handle(req).await;
                if tx.send(Envelope { id, body }).await.is_err() {
                    break Ok(());
                }
            }
        }
    };
    drop(tx);
    if let Some(rcv) = receiving.take() {
        let _ = std::fs::remove_file(&rcv.path);
    }
    let _ = writer.await;
    result
}

async fn receive_chunk(
    handler: &dyn PeerHandler,
    receiving: &mut Option<Receiving>,
    chunk: SnapshotChunk,
) -> PeerResponse {
    if receiving
        .as_ref()
        .is_none_or(|r| r.transfer_id != chunk.transfer_id)
    {
        if let Some(old) = receiving.take() {
            let _ = std::fs::remove_file(&old.path);
        }
        if chunk.offset != 0 {
            return PeerResponse::Error(format!(
                "snapshot transfer {} must start at offset 0",
                chunk.transfer_id
            ));
        }
        let path = handler.snapshot_receive_path(&format!("{:016x}", chunk.transfer_id));
        match ReservingFile::create(&path) {
            Ok(file) => {
                *receiving = Some(Receiving {
                    transfer_id: chunk.transfer_id,
                    file,
                    path,
                    next_offset: 0,
                })
            }
            Err(e) => return PeerResponse::Error(format!("cannot create {}: {e}", path.display())),
        }
    }
    let rcv = receiving.as_mut().expect("set above");
    if chunk.offset != rcv.next_offset {
        let expected = rcv.next_offset;
        let _ = std::fs::remove_file(&rcv.path);
        *receiving = None;
        return PeerResponse::Error(format!(
            "snapshot piece at offset {}, expected {expected}",
            chunk.offset
        ));
    }
    if let Err(e) = rcv.file.write_all(&chunk.data) {
        // A partial file would hold the space a full disk needs back (the sender starts over).
        let _ = std::fs::remove_file(&rcv.path);
        *receiving = None;
        return PeerResponse::Error(format!("writing received snapshot: {e}"));
    }
    rcv.next_offset += chunk.data.len() as u64;
    if !chunk.done {
        return PeerResponse::ChunkStored;
    }
    let rcv = receiving.take().expect("set above");
    if let Err(e) = rcv.file.sync_all() {
        return PeerResponse::Error(format!("syncing received snapshot: {e}"));
    }
    drop(rcv.file);
    handler.install_snapshot(chunk, rcv.path).await
}
