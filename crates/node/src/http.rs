//! The operations HTTP endpoint (`--metrics-listen`): `/livez`, `/readyz`, `/metrics`.
//!
//! A deliberately tiny HTTP/1.1 responder on tokio: one request per connection (`Connection:
//! close`), `GET` or `HEAD` only, the request head capped at [`MAX_HEAD_BYTES`] and read within
//! [`READ_TIMEOUT`]. Anything malformed gets `400`, an unknown path `404`, another method `405`;
//! no request can crash the listener.
//!
//! - `GET /livez`: `200 ok` while the process serves.
//! - `GET /readyz`: `200 ready` only if a leader is known and a linearizable read through the
//!   normal read path completes within [`READY_DEADLINE`]; otherwise `503` with the reason
//!   (also `503` once the node was removed from the cluster, while free space on the data dir
//!   is below `--min-free-space`, and once the Raft log could not be written).
//! - `GET /metrics`: the Prometheus text exposition (see [`crate::metrics`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::ServerContext;

/// Largest request head accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for its linearizable read.
pub const READY_DEADLINE: Duration = Duration::from_secs(1);

/// A parsed request line.
#[derive(Debug, PartialEq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path without a query string.
    pub path: String,
}

/// Parse the request line of a complete request head; `None` if it is not HTTP/1.x.
pub fn parse_request(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let line = text.split("\r\n").next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !version.starts_with("HTTP/1.")
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
    {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some(Request {
        method: method.to_string(),
        path: path.to_string(),
    })
}

/// A response: status code, content type, body.
#[derive(Debug, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// Serialize with `Content-Length` and `Connection: close`; `HEAD` omits the body.
    pub fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            503 => "Service Unavailable",
            _ => "Unknown",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// Serve the endpoint on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, ctx: Arc<ServerContext>, prometheus: PrometheusHandle) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        let prometheus = prometheus.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &ctx, &prometheus).await {
                tracing::debug!(error = %e, "metrics connection ended");
            }
        });
    }
}

/// Read a request head (up to the blank line); `None` if it is too large or never completes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let n = match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn handle(
    mut stream: TcpStream,
    ctx: &ServerContext,
    prometheus: &PrometheusHandle,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let request = head.as_deref().and_then(parse_request);
    let (response, head_only) = match request {
        None => (Response::text(400, "bad request\n"), false),
        Some(r) if r.method != "GET" && r.method != "HEAD" => {
            (Response::text(405, "only GET and HEAD\n"), false)
        }
        Some(r) => (route(&r.path, ctx, prometheus).await, r.method == "HEAD"),
    };
    stream.write_all(&response.to_bytes(head_only)).await?;
    stream.shutdown().await
}

async fn route(path: &str, ctx: &ServerContext, prometheus: &PrometheusHandle) -> Response {
    match path {
        "/livez" => Response::text(200, "ok\n"),
        "/readyz" => {
            if ctx.removed.load(Ordering::Relaxed) {
                return Response::text(503, "not ready: this node was removed from the cluster\n");
            }
            if let Some(fault) = ctx.consensus.storage_fault() {
                return Response::text(503, format!("not ready: {fault}\n"));
            }
            if let Some(why) = ctx.disk.not_ready_reason() {
                return Response::text(503, format!("not ready: {why}\n"));
            }
            match ready_for_read(ctx, READY_DEADLINE).await {
                Ok(()) => Response::text(200, "ready\n"),
                Err(why) => Response::text(503, format!("not ready: {why}\n")),
            }
        }
        "/metrics" => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: crate::exporter::render(prometheus, &ctx.consensus),
        },
        _ => Response::text(404, "not found\n"),
    }
}

/// Ok if a leader is known and a linearizable read through the normal read path (forwarded
/// to the leader if need be) completes within `deadline`; otherwise why not.
async fn ready_for_read(ctx: &ServerContext, deadline: Duration) -> Result<(), String> {
    if ctx.consensus.status().leader.is_none() {
        return Err("no leader known".into());
    }
    match tokio::time::timeout(deadline, ctx.execute(vec![kv::Command::DbSize])).await {
        Err(_) => Err(format!("a linearizable read took longer than {deadline:?}")),
        Ok(replies) => match replies.first() {
            Some(resp::Reply::Integer(_)) => Ok(()),
            Some(resp::Reply::Error(e)) => Err(e.clone()),
            other => Err(format!("unexpected read reply {other:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_request(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(Request {
                method: "GET".into(),
                path: "/metrics".into()
            })
        );
        assert_eq!(
            parse_request(b"HEAD /livez HTTP/1.0\r\n\r\n").map(|r| r.method),
            Some("HEAD".into())
        );
        for bad in [
            &b"GET /livez\r\n\r\n"[..],
            b"GET livez HTTP/1.1\r\n\r\n",
            b"GET /livez HTTP/2 x\r\n\r\n",
            b"get /livez HTTP/1.1\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
            b"\r\n\r\n",
            b"GET /livez SPDY/3\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn responses_carry_length_and_close() {
        let r = Response::text(503, "not ready\n");
        let text = String::from_utf8(r.to_bytes(false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(text.contains("Content-Length: 10\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nnot ready\n"));
        let head = String::from_utf8(r.to_bytes(true)).unwrap();
        assert!(head.ends_with("\r\n\r\n"));
    }
}
