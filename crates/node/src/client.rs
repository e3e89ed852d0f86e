//! A minimal RESP2 client for the node's own tools: joining a cluster, `raftkv local`,
//! `raftkv status` and `raftkv bench`. It sends commands as arrays of bulk strings and decodes
//! replies with `redis-protocol` into [`resp::Reply`].

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::types::OwnedFrame;
use resp::{Protocol, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to a raftkv (or Redis) server.
pub struct RespClient {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl RespClient {
    /// Connect to `addr`; every later call must finish within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> io::Result<RespClient> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} timed out"),
                )
            })??;
        stream.set_nodelay(true)?;
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
        OwnedFrame::SimpleString(s) => Reply::Simple(String::from_utf8_lossy(&s).into_owned()),
        OwnedFrame::Error(e) => Reply::Error(e),
        OwnedFrame::Integer(i) => Reply::Integer(i),
        OwnedFrame::BulkString(b) => Reply::Bulk(b.into()),
        OwnedFrame::Array(a) => Reply::Array(a.into_iter().map(to_reply).collect()),
        OwnedFrame::Null => Reply::Null,
    }
}
