//! Node-to-node transport.
//!
//! Nodes talk over persistent connections carrying length-prefixed postcard frames
//! ([`frame`]). A [`PeerClient`] owns one connection to one peer address: it dials lazily,
//! multiplexes any number of in-flight requests by id, puts a deadline on every call, and after
//! a failure drops the connection so the next call redials (openraft's backoff spaces out calls
//! to an unreachable peer). The [`PeerServer`] accepts connections, answers Raft RPCs in arrival
//! order per connection, runs forwarded client commands concurrently, and reassembles streamed
//! snapshots into a file before installing them.
//!
//! Every connection starts with a hello naming the dialer and the node it means to reach; the
//! listener refuses a connection meant for another node id (see [`frame`]), so Raft messages
//! always reach the node they were addressed to, even after an address is reused. The same
//! exchange proves to each side that the other knows the cluster secret ([`auth`]).
//!
//! How bytes move is behind the [`Transport`] trait, so the same node code can run over a
//! simulated network; [`TcpTransport`] is the real one and [`memory::MemoryNetwork`] the one
//! in-process cluster tests use (the peer server takes its streams through
//! [`PeerServer::serve_stream`]).

pub mod auth;
pub mod client;
pub mod faults;
pub mod frame;
pub mod memory;
pub mod message;
pub mod server;

use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

pub use auth::PeerAuth;
pub use client::PeerClient;
pub use faults::LinkFaults;
pub use server::PeerServer;

/// A connected byte stream's read half.
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
/// A connected byte stream's write half.
pub type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// A pending connection attempt.
pub type ConnectFuture<'a> =
    Pin<Box<dyn std::future::Future<Output = io::Result<(BoxRead, BoxWrite)>> + Send + 'a>>;

/// Something that can open byte streams to peer addresses.
pub trait Transport: Send + Sync + 'static {
    /// Dial `addr` (`host:port`).
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a>;
}

/// TCP with `TCP_NODELAY` (small Raft messages must not wait for Nagle).
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpTransport;

impl Transport for TcpTransport {
    fn connect<'a>(
        &'a self,
        addr: &'a str,
    ) -> Pin<Box<dyn std::future::Future<Output = io::Result<(BoxRead, BoxWrite)>> + Send + 'a>>
    {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (r, w) = stream.into_split();
            Ok((Box::pin(r) as BoxRead, Box::pin(w) as BoxWrite))
        })
    }
}
