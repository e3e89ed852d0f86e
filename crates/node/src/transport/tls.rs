//! Peer connections over mutual TLS: [`TlsTransport`] dials TCP, then runs the TLS handshake
//! before anything else (the hello and its cluster-secret proof travel inside). The dialer
//! presents this node's peer certificate and accepts the listener's only if the peer CA signed
//! it and it names the host of the address dialed; the listener side
//! ([`super::PeerServer::run`] with a [`ServerTls`]) requires a certificate from the same CA.

use std::sync::Arc;

use super::stream::{BoxRead, BoxWrite, ConnectFuture, Transport};
use crate::tls::{ClientTls, ServerTls};

/// The start of the error a failed dialer-side handshake gives (its kind is
/// `PermissionDenied`, like a failed cluster-secret check: callers treat both as unreachable).
pub const HANDSHAKE_FAILED: &str = "TLS handshake with peer";

/// TCP with `TCP_NODELAY`, then TLS.
pub struct TlsTransport {
    tls: Arc<ClientTls>,
}

impl TlsTransport {
    /// Dial peers with `tls` (the peer CA and this node's peer certificate).
    pub fn new(tls: Arc<ClientTls>) -> TlsTransport {
        TlsTransport { tls }
    }
}

impl Transport for TlsTransport {
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let stream = self.tls.connect(stream, addr).await.map_err(|e| {
                crate::counters::PEER_AUTH_FAILURES.incr();
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{HANDSHAKE_FAILED} {addr}: {e}"),
                )
            })?;
            let (r, w) = tokio::io::split(stream);
            Ok((Box::pin(r) as BoxRead, Box::pin(w) as BoxWrite))
        })
    }
}

/// Both halves of peer TLS: how this node accepts peers and how it dials them. Reloaded
/// together on SIGHUP.
#[derive(Clone)]
pub struct PeerTls {
    /// The listener's side.
    pub server: Arc<ServerTls>,
    /// The dialer's side.
    pub dialer: Arc<ClientTls>,
}
