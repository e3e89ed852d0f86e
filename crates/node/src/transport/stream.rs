//! How bytes move between nodes: the [`Transport`] trait (dial an address, get a byte stream)
//! and [`TcpTransport`], the real one. A leaf, so the same node code can run over another
//! network (an in-memory one in tests).

use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

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
