//! A byte stream that may or may not be encrypted, for code that holds either behind one type
//! (the node's own RESP client). The client listener does not use it: it is generic over the
//! stream, so a plain connection pays for no indirection.

use tokio::io::{AsyncRead, AsyncWrite};

/// A connected, bidirectional byte stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed [`Io`]: a `TcpStream` or a TLS stream over one.
pub type BoxIo = Box<dyn Io>;
