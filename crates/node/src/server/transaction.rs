//! MULTI / EXEC / DISCARD: transactions as one log entry.
//!
//! Between MULTI and EXEC a connection queues data commands (answering `+QUEUED`); EXEC sends
//! the queue to the consensus facade as one batch, which becomes one Raft entry (or one read
//! barrier if nothing writes). The state machine applies an entry under one lock, so the
//! commands run together with nothing from other clients in between, as in Redis. A command
//! that fails to parse while queued aborts the transaction (`-EXECABORT` at EXEC), as in Redis.
//! Connection commands cannot be queued, and WATCH (optimistic locking) is not offered.

use bytes::Bytes;
use resp::Reply;

use super::connection::{entry_bytes, ClientState};
use super::ServerContext;
use crate::errors::{command_too_large, wrong_arity};
use crate::raft::MAX_ENTRY_BYTES;

/// The transaction commands handled here.
pub const TRANSACTION_COMMANDS: &[&str] = &["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"];

/// Commands queued since MULTI.
#[derive(Debug, Default)]
pub struct Transaction {
    cmds: Vec<kv::Command>,
    /// Blocking commands queued, by position, with how their replies are reshaped.
    blocking: Vec<(usize, super::blocking::Shape)>,
    bytes: usize,
    failed: bool,
}

/// True if `name` is a transaction command.
pub fn is_transaction_command(name: &[u8]) -> bool {
    TRANSACTION_COMMANDS
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

impl Transaction {
    /// Queue one command; the reply is `+QUEUED` or the error that will abort EXEC.
    pub fn queue(&mut self, args: &[Bytes]) -> Reply {
        if super::commands::is_connection_command(&args[0])
            || super::pubsub::is_pubsub_command(&args[0])
        {
            self.failed = true;
            return Reply::error(format!(
                "ERR '{}' inside MULTI is not supported by raftkv",
                String::from_utf8_lossy(&args[0])
            ));
        }
        let size = entry_bytes(args);
        if self.bytes + size > MAX_ENTRY_BYTES {
            self.failed = true;
            return command_too_large(self.bytes + size, MAX_ENTRY_BYTES);
        }
        // Inside MULTI a blocking command never blocks: it runs as its non-blocking form.
        let parsed = if super::blocking::is_blocking_command(&args[0]) {
            super::blocking::parse(args).map(|pop| {
                self.blocking.push((self.cmds.len(), pop.shape));
                pop.command
            })
        } else {
            kv::Command::parse(args).map_err(|e| e.to_reply())
        };
        match parsed {
            Ok(cmd) => {
                self.cmds.push(cmd);
                self.bytes += size;
                Reply::Simple("QUEUED".into())
            }
            Err(reply) => {
                self.failed = true;
                reply
            }
        }
    }
}

/// Handle MULTI, EXEC, DISCARD, WATCH or UNWATCH.
pub async fn handle(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let arity_ok = match name.as_str() {
        "WATCH" => args.len() >= 2,
        _ => args.len() == 1,
    };
    if !arity_ok {
        return wrong_arity(&name);
    }
    match name.as_str() {
        "MULTI" if state.transaction.is_some() => Reply::error("ERR MULTI calls can not be nested"),
        "MULTI" => {
            state.transaction = Some(Transaction::default());
            Reply::ok()
        }
        "EXEC" => match state.transaction.take() {
            None => Reply::error("ERR EXEC without MULTI"),
            Some(t) if t.failed => {
                Reply::error("EXECABORT Transaction discarded because of previous errors.")
            }
            Some(t) if t.cmds.is_empty() => Reply::Array(vec![]),
            Some(t) => {
                let published = super::pubsub::publish_channels(&t.cmds);
                let mut replies = ctx.consensus.execute(t.cmds).await;
                super::pubsub::local_receiver_counts(&published, &mut replies, ctx);
                for &(i, shape) in &t.blocking {
                    if let Some(r) = replies.get_mut(i) {
                        *r = shape.apply(std::mem::replace(r, Reply::Null));
                    }
                }
                Reply::Array(replies)
            }
        },
        "DISCARD" => match state.transaction.take() {
            None => Reply::error("ERR DISCARD without MULTI"),
            Some(_) => Reply::ok(),
        },
        "WATCH" if state.transaction.is_some() => {
            Reply::error("ERR WATCH inside MULTI is not allowed")
        }
        "WATCH" => Reply::error(
            "ERR WATCH is not supported by raftkv: MULTI/EXEC runs atomically as one log entry, without optimistic locking",
        ),
        _ => Reply::ok(), // UNWATCH: nothing is ever watched
    }
}
