//! One multiplexed connection to one peer.
//!
//! Calls are tagged with increasing ids; a writer task sends frames, a reader task hands each
//! answer to the waiting caller by id. Any I/O error or protocol violation poisons the
//! connection: every waiting caller gets the error, and the next call dials again. Every call has
//! a deadline; a call that misses it gets `TimedOut` (its answer, if it ever comes, is dropped).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use super::auth::{PeerAuth, Side};
use super::faults::LinkFaults;
use super::frame::{self, Hello, HelloAnswer};
use super::stream::Transport;
use crate::wire::{Envelope, PeerRequest, PeerResponse};

/// Deadline for establishing a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Most requests queued for the writer of one connection.
const MAX_QUEUED_REQUESTS: usize = 1024;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>>;

struct Connection {
    requests: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    /// Set when the connection failed; the next call redials.
    broken: Arc<std::sync::atomic::AtomicBool>,
}

/// A client for one node at one peer address. Cheap to share behind an `Arc`.
pub struct PeerClient {
    /// The hello this client sends, less the nonce (fresh for every connection).
    hello: Hello,
    addr: String,
    transport: Arc<dyn Transport>,
    faults: Arc<LinkFaults>,
    auth: Arc<PeerAuth>,
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    next_id: AtomicU64,
}

impl PeerClient {
    /// A client from node `hello.from` to node `hello.to` at `addr`, proving `auth`; it does
    /// not dial until the first call. Calls fail at once while `faults` cuts the link.
    pub fn new(
        hello: Hello,
        addr: String,
        transport: Arc<dyn Transport>,
        faults: Arc<LinkFaults>,
        auth: Arc<PeerAuth>,
    ) -> PeerClient {
        PeerClient {
            hello,
            addr,
            transport,
            faults,
            auth,
            conn: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// The peer address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Send `req` and wait at most `timeout` for its answer.
    pub async fn call(&self, req: PeerRequest, timeout: Duration) -> io::Result<PeerResponse> {
        let rx = tokio::time::timeout(timeout, self.send(req))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {}", self.addr),
                )
            })??;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("connection to {} lost", self.addr),
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer from {} within {timeout:?}", self.addr),
            )),
        }
    }

    /// Queue `req` on the connection (dialing if needed) and return where its answer will come.
    pub async fn send(&self, req: PeerRequest) -> io::Result<oneshot::Receiver<PeerResponse>> {
        if self.faults.is_cut(self.hello.to) {
            return Err(self.refused("the link is cut by fault injection"));
        }
        let conn = self.connection().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut buf = Vec::new();
        frame::encode(&Envelope { id, body: req }, &mut buf)?;
        let (tx, rx) = oneshot::channel();
        conn.pending
            .lock()
            .expect("pending lock poisoned")
            .insert(id, tx);
        if conn.requests.send(buf).await.is_err() {
            conn.pending
                .lock()
                .expect("pending lock poisoned")
                .remove(&id);
            conn.broken.store(true, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("connection to {} closed", self.addr),
            ));
        }
        Ok(rx)
    }

    /// An error that openraft treats as an unreachable node (it backs off before retrying).
    fn refused(&self, why: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("node {} at {}: {why}", self.hello.to, self.addr),
        )
    }

    /// A failed authentication: `PermissionDenied`, which callers treat as unreachable (no
    /// request was sent) and membership changes report as a wrong secret.
    fn unauthenticated(&self, why: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("node {} at {}: {why}", self.hello.to, self.addr),
        )
    }

    /// Connect (with the hello and its authentication) if not connected yet, sending nothing.
    pub async fn check(&self) -> io::Result<()> {
        self.connection().await.map(|_| ())
    }

    async fn connection(&self) -> io::Result<Arc<Connection>> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.broken.load(Ordering::Relaxed) {
                return Ok(c.clone());
            }
        }
        *guard = None;
        let (mut r, mut w) =
            tokio::time::timeout(CONNECT_TIMEOUT, self.transport.connect(&self.addr))
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connect to {} timed out", self.addr),
                    )
                })??;
        let hello = Hello {
            nonce: PeerAuth::nonce()?,
            ..self.hello
        };
        let handshake = async {
            frame::write_hello(&mut w, hello).await?;
            let reply = frame::read_hello_answer(&mut r).await?;
            match reply.answer {
                HelloAnswer::Accepted => {}
                HelloAnswer::WrongNode(id) => {
                    return Err(self.refused(&format!("the address now belongs to node {id}")))
                }
                HelloAnswer::Cut => return Err(self.refused("the link is cut by fault injection")),
            }
            if !self
                .auth
                .verify(Side::Listener, &hello, &reply.nonce, &reply.proof)
            {
                crate::counters::PEER_AUTH_FAILURES.incr();
                return Err(self.unauthenticated(
                    "it could not prove the cluster secret (the secrets differ, or only one \
                     side has --cluster-secret-file)",
                ));
            }
            let proof = self.auth.proof(Side::Dialer, &hello, &reply.nonce);
            frame::write_proof(&mut w, &proof).await?;
            if !frame::read_verdict(&mut r).await? {
                return Err(self.unauthenticated(
                    "it refused this node's proof of the cluster secret (the secrets differ, \
                     or only one side has --cluster-secret-file)",
                ));
            }
            Ok(())
        };
        tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no hello answer from {} in time", self.addr),
                )
            })??;
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(MAX_QUEUED_REQUESTS);
        let pending: Pending = Arc::default();
        let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conn = Arc::new(Connection {
            requests: tx,
            pending: pending.clone(),
            broken: broken.clone(),
        });

        let addr = self.addr.clone();
        let broken_w = broken.clone();
        tokio::spawn(async move {
            // Write whatever is queued, then flush once: many requests per syscall under load.
            while let Some(first) = rx.recv().await {
                let mut batch = first;
                while let Ok(more) = rx.try_recv() {
                    batch.extend_from_slice(&more);
                    if batch.len() > 1 << 20 {
                        break;
                    }
                }
                if let Err(e) = w.write_all(&batch).await {
                    tracing::debug!(peer = %addr, error = %e, "peer write failed");
                    broken_w.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        let addr = self.addr.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                match frame::read::<Envelope<PeerResponse>, _>(&mut r, &mut buf).await {
                    Ok(Some(env)) => {
                        let waiter = pending
                            .lock()
                            .expect("pending lock poisoned")
                            .remove(&env.id);
                        if let Some(waiter) = waiter {
                            let _ = waiter.send(env.body);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(peer = %addr, error = %e, "peer read failed");
                        break;
                    }
                }
            }
            broken.store(true, Ordering::Relaxed);
            // Dropping the senders wakes every waiter with an error.
            pending.lock().expect("pending lock poisoned").clear();
        });
        *guard = Some(conn.clone());
        Ok(conn)
    }
}
