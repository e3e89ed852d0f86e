//! One client connection: read, decode, dispatch, reply; and, once subscribed, write the
//! pub/sub messages queued in its outbox (a subscriber cut off for falling behind is closed).
//!
//! Replies are written as they are encoded, at least every [`OUTPUT_CHUNK_BYTES`], and the
//! connection reads and runs nothing more until they are written: a client that pipelines big
//! reads and never reads the answers stops its own connection, it does not grow the node's
//! memory. One that has not taken its pending replies (at most [`OUTPUT_CHUNK_BYTES`] and one
//! reply) within `client_output_timeout_secs` is closed.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use resp::{Protocol, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use super::batcher::{entry_bytes, Batcher};
use super::blocking;
use super::commands::{self, Outcome};
use super::errors;
use super::pubsub;
use super::subscriptions::Subscriptions;
use super::transaction;
use super::ServerContext;
use crate::limits::{MAX_ENTRY_BYTES, OUTPUT_CHUNK_BYTES};

pub use super::batcher::MAX_BATCH_COMMANDS;
/// Initial read buffer size, in bytes.
const READ_BUFFER_BYTES: usize = 16 * 1024;
pub use super::session::ClientState;
pub use crate::limits::MAX_QUERY_BUFFER_BYTES;

/// Sleep for `timeout`, or forever if there is none.
async fn idle_for(timeout: Option<std::time::Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// A client's byte stream: a `TcpStream`, or a TLS stream over one. The connection code is
/// generic over it, so a plain connection runs the same code with no indirection.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for T {}

/// Serve one client until it disconnects, sends QUIT, or sends malformed RESP.
pub async fn serve<S: ClientStream>(mut stream: S, addr: SocketAddr, ctx: Arc<ServerContext>) {
    let id = ctx.next_client_id.fetch_add(1, Ordering::Relaxed);
    let open = ctx.connected_clients.fetch_add(1, Ordering::Relaxed) + 1;
    if open > ctx.config.max_clients {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        ctx.connected_clients.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let span = tracing::debug_span!("client", id, %addr);
    let outbox = Arc::new(crate::pubsub::Outbox::new(
        id,
        ctx.config.pubsub_output_limit_bytes,
    ));
    let mut state = ClientState {
        id,
        name: None,
        protocol: Protocol::Resp2,
        readonly: false,
        addr,
        transaction: None,
        watched: Default::default(),
        subscriptions: Subscriptions::new(ctx.consensus.view().hub().clone(), outbox.clone()),
        user: None,
        acl: Default::default(),
        acl_version: u64::MAX,
    };
    // A subscriber that falls behind is closed even while its task is stuck writing to it.
    tokio::select! {
        result = run(&mut stream, &mut state, &ctx).instrument(span) => {
            if let Err(e) = result {
                tracing::debug!(id, error = %e, "client connection ended");
            }
        }
        () = outbox.cut_off() => {
            tracing::info!(id, %addr, "closing a pub/sub subscriber that fell behind");
        }
    }
    drop(state); // unsubscribes everything
    ctx.connected_clients.fetch_sub(1, Ordering::Relaxed);
}

async fn run(
    stream: &mut impl ClientStream,
    state: &mut ClientState,
    ctx: &ServerContext,
) -> std::io::Result<()> {
    let limits = resp::Limits::default();
    let mut decoder = resp::RequestDecoder::new();
    let mut input = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut out = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let outbox = state.subscriptions.outbox().clone();
    let idle_timeout = match ctx.config.client_idle_timeout_secs {
        0 => None,
        secs => Some(std::time::Duration::from_secs(secs)),
    };
    loop {
        // Subscribers wait for messages, not commands: only other clients time out.
        let idle = idle_timeout.filter(|_| !state.subscriptions.active());
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read?,
            () = outbox.ready() => {
                if !deliver(&outbox, state.protocol, stream, &mut out).await? {
                    return Ok(());
                }
                continue;
            }
            () = idle_for(idle) => {
                tracing::debug!(id = state.id, "closing an idle client");
                ctx.idle_clients_closed.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        };
        if read == 0 {
            return Ok(());
        }
        if input.len() > MAX_QUERY_BUFFER_BYTES {
            let reply = Reply::error("ERR Protocol error: client query buffer limit exceeded");
            resp::encode(&reply, state.protocol, &mut out);
            write_out(stream, &mut out, ctx).await?;
            return Ok(());
        }
        let mut pending = Batcher::default();
        let mut close = false;
        loop {
            if out.len() >= OUTPUT_CHUNK_BYTES {
                write_out(stream, &mut out, ctx).await?;
            }
            let args = match decoder.decode(&mut input, &limits) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(e) => {
                    flush(&mut pending, state, ctx, stream, &mut out).await?;
                    resp::encode(&e.to_reply(), state.protocol, &mut out);
                    close = true;
                    break;
                }
            };
            if args.is_empty() {
                continue;
            }
            ctx.total_commands.fetch_add(1, Ordering::Relaxed);
            if let Some(refusal) = ctx.refusal(&args[0]) {
                pending.ready(refusal);
                continue;
            }
            if let Some(reply) = super::acl::check(&args, state, ctx) {
                pending.ready(reply);
                continue;
            }
            if let Some(reply) = pubsub::subscribed_mode_reply(&args, state) {
                pending.ready(reply);
                continue;
            }
            if transaction::is_transaction_command(&args[0]) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
                let reply =
                    transaction::handle(&args, &mut state.transaction, &mut state.watched, ctx)
                        .await;
                resp::encode(&reply, state.protocol, &mut out);
                continue;
            }
            if let Some(t) = state.transaction.as_mut() {
                pending.ready(t.queue(&args));
                continue;
            }
            if let Some(parsed) = blocking::blocking_command(&args) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
                // Each attempt is a log entry, so the command must fit in one, like any other.
                let size = entry_bytes(&args);
                let reply = match parsed {
                    _ if size > MAX_ENTRY_BYTES => errors::command_too_large(size, MAX_ENTRY_BYTES),
                    Ok(blocked) => match blocking::run(blocked, ctx, stream, &mut input).await? {
                        Some(reply) => reply,
                        None => return Ok(()), // closed while blocked
                    },
                    Err(reply) => reply,
                };
                resp::encode(&reply, state.protocol, &mut out);
                write_out(stream, &mut out, ctx).await?;
                continue;
            }
            if pubsub::is_pubsub_command(&args[0]) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
                let before = (state.subscriptions.active(), state.protocol);
                let mut replies = BytesMut::new();
                pubsub::handle(&args, state, ctx, &mut replies);
                flush_if_unsubscribed(before, state, &mut out);
                out.extend_from_slice(&replies);
                continue;
            }
            if commands::is_connection_command(&args[0]) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
                let before = (state.subscriptions.active(), state.protocol);
                let outcome = commands::handle(&args, state, ctx).await;
                flush_if_unsubscribed(before, state, &mut out);
                match outcome {
                    Outcome::Reply(reply) => resp::encode(&reply, state.protocol, &mut out),
                    Outcome::Close(reply) => {
                        resp::encode(&reply, state.protocol, &mut out);
                        close = true;
                        break;
                    }
                }
                continue;
            }
            // A data command joins the batch (see `batcher`): every command must fit in one log
            // entry, and a batch ends before it would overflow one or when it is full.
            if pending.must_run_before(&args) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
            }
            if pending.push(&args) {
                flush(&mut pending, state, ctx, stream, &mut out).await?;
            }
        }
        flush(&mut pending, state, ctx, stream, &mut out).await?;
        write_out(stream, &mut out, ctx).await?;
        if close {
            return Ok(());
        }
    }
}

/// Run the pending batch and encode every pending reply in order.
/// Replies already encoded are written before waiting on consensus, so a long pipeline gets its
/// first answers while later batches are still in flight.
async fn flush(
    pending: &mut Batcher,
    state: &ClientState,
    ctx: &ServerContext,
    stream: &mut impl ClientStream,
    out: &mut BytesMut,
) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let (batch, slots) = pending.take();
    let published = pubsub::publish_channels(&batch);
    if !batch.is_empty() {
        write_out(stream, out, ctx).await?;
    }
    let mut replies = if batch.is_empty() {
        Vec::new()
    } else if (state.readonly || ctx.config.unsafe_stale_reads)
        && !batch.iter().any(|c| c.is_write())
    {
        ctx.consensus.local_read(&batch)
    } else {
        let timer = crate::metrics::BatchTimer::start(&batch);
        let replies = ctx.execute(batch).await;
        timer.finish();
        replies
    };
    pubsub::local_receiver_counts(&published, &mut replies, ctx);
    for reply in slots.replies(replies) {
        resp::encode(&reply, state.protocol, out);
        if out.len() >= OUTPUT_CHUNK_BYTES {
            write_out(stream, out, ctx).await?;
        }
    }
    Ok(())
}

/// Write the encoded replies in `out` and clear it. A client that does not take them all within
/// `client_output_timeout_secs` is counted and the connection ends with an error.
async fn write_out(
    stream: &mut impl ClientStream,
    out: &mut BytesMut,
    ctx: &ServerContext,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let write = stream.write_all(out);
    match ctx.config.client_output_timeout_secs {
        0 => write.await?,
        secs => match tokio::time::timeout(std::time::Duration::from_secs(secs), write).await {
            Ok(written) => written?,
            Err(_) => {
                tracing::info!("closing a client that did not take its replies within {secs} s");
                ctx.output_stalled_clients_closed
                    .fetch_add(1, Ordering::Relaxed);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client did not take its replies within the output timeout",
                ));
            }
        },
    }
    out.clear();
    Ok(())
}

/// If the command just handled left subscribed mode (UNSUBSCRIBE from the last channel,
/// RESET), encode every message still queued before its reply, in the protocol the connection
/// had (`before`): queued messages were published before the command ran, and a RESP2 client
/// that reads a message where it expects the reply of its next command would lose track.
fn flush_if_unsubscribed(before: (bool, Protocol), state: &ClientState, out: &mut BytesMut) {
    let (was_subscribed, protocol) = before;
    if !was_subscribed || state.subscriptions.active() {
        return;
    }
    let outbox = state.subscriptions.outbox();
    let (messages, bytes) = outbox.take();
    for message in &messages {
        pubsub::encode_message(message, protocol, out);
    }
    outbox.written(bytes);
}

/// Write the oldest messages queued in `outbox`, one bounded chunk (the outbox stays ready if
/// more remain). False if the subscriber was cut off (the connection must close).
async fn deliver(
    outbox: &crate::pubsub::Outbox,
    protocol: Protocol,
    stream: &mut impl ClientStream,
    out: &mut BytesMut,
) -> std::io::Result<bool> {
    let (messages, bytes) = outbox.take_up_to(crate::pubsub::DELIVERY_CHUNK_BYTES);
    if outbox.is_cut_off() {
        return Ok(false);
    }
    if messages.is_empty() {
        return Ok(true);
    }
    for message in &messages {
        pubsub::encode_message(message, protocol, out);
    }
    stream.write_all(out).await?;
    out.clear();
    outbox.written(bytes);
    Ok(true)
}
