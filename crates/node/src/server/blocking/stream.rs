//! XREAD and XREADGROUP with BLOCK: the attempt a blocked stream read repeats (the waiting is
//! [`super`]'s, shared with the blocking pops).
//!
//! The state machine never waits: it answers XREAD/XREADGROUP with BLOCK at once, nil when
//! there is nothing to read (as inside MULTI). This node makes the client wait by running the
//! read again whenever one of its streams is written, until it answers something other than
//! nil, the timeout passes (nil: `*-1` in RESP2, `_` in RESP3) or the connection closes.
//!
//! Invariants and rules, as Redis 7.0 has them:
//! - `$` is the stream's last ID at the first attempt, resolved in the same read as that
//!   attempt (XINFO STREAM beside XREAD), and the retries ask for entries after it; a missing
//!   stream's `$` is `0-0`.
//! - XREAD is a linearizable read at each attempt and takes nothing, so every XREAD client
//!   blocked on a stream is woken by a write to it ([`Turn::Every`]). A stream deleted, or
//!   replaced by a value of another type, while an XREAD waits is not an error: it keeps
//!   waiting (its retries read each stream apart and skip a key of another type).
//! - XREADGROUP goes through the log at each attempt (it changes the PEL), so an entry is
//!   delivered to one consumer once. Its clients wait in one queue per group
//!   ([`Turn::Queue`]): a write wakes the first of each group, first come first served. Its own
//!   attempts do not wake anybody (see `kv::Command::can_serve_blocked`). A retry carries
//!   `TYPE` of each key in the same log entry; if the read fails because a stream is gone (or
//!   holds another type) the client gets `-UNBLOCKED the stream key no longer exists`, and if
//!   its group is gone, `-NOGROUP the consumer group this client was blocked on no longer
//!   exists`, Redis 7.0's texts.
//! - XREADGROUP with a history ID (not `>`) answers at once, never nil, so it never waits.

use std::time::Duration;

use bytes::Bytes;
use resp::Reply;

use super::{classify, Attempt, Blocked, Shape, Step, Turn};
use crate::server::ServerContext;

/// The error a blocked XREADGROUP gets when its stream was deleted.
pub const STREAM_GONE: &str = "UNBLOCKED the stream key no longer exists";

/// The error a blocked XREADGROUP gets when its consumer group was destroyed.
pub const GROUP_GONE: &str =
    "NOGROUP the consumer group this client was blocked on no longer exists";

/// A blocked XREAD or XREADGROUP.
pub struct StreamRead {
    /// XREAD or XREADGROUP.
    op: kv::Op,
    /// Its arguments after the name; each `$` is replaced by the ID it resolved to after the
    /// first attempt.
    args: Vec<Bytes>,
    /// Where the keys and IDs are in `args`.
    read: kv::BlockingRead,
    /// True until the first attempt ran.
    first: bool,
}

/// XREAD or XREADGROUP with a valid BLOCK option in `args` (with the command name), as a
/// blocked command; None for anything else.
pub fn parse(args: &[Bytes]) -> Option<Blocked> {
    let name = &args[0];
    if !name.eq_ignore_ascii_case(b"xread") && !name.eq_ignore_ascii_case(b"xreadgroup") {
        return None;
    }
    let command = kv::Command::parse(args).ok()?;
    let read = command.blocking_read()?;
    let kv::Command::Aggregate { op, args } = command else {
        return None;
    };
    let keys = args[read.keys_at..read.keys_at + read.streams].to_vec();
    let turn = match op {
        kv::Op::XReadGroup => Turn::Queue(Some(args[1].clone())),
        _ => Turn::Every,
    };
    Some(Blocked {
        attempt: Attempt::Stream(StreamRead {
            op,
            args,
            read,
            first: true,
        }),
        timeout: (read.block_ms > 0).then(|| Duration::from_millis(read.block_ms)),
        keys,
        turn,
    })
}

impl StreamRead {
    fn keys(&self) -> &[Bytes] {
        &self.args[self.read.keys_at..self.read.keys_at + self.read.streams]
    }

    fn command(&self) -> kv::Command {
        kv::Command::Aggregate {
            op: self.op,
            args: self.args.clone(),
        }
    }

    /// Run the read once.
    pub(super) async fn run(&mut self, ctx: &ServerContext) -> Step {
        let first = std::mem::replace(&mut self.first, false);
        let step = match (self.op, first) {
            (kv::Op::XRead, true) => self.first_read(ctx).await,
            (kv::Op::XRead, false) => self.retry_read(ctx).await,
            (_, true) => classify(execute_one(ctx, self.command()).await, Shape::Same),
            (_, false) => self.retry_group(ctx).await,
        };
        if matches!(step, Step::Unreachable) {
            self.first = first; // it did not run: the next attempt is the same one
        }
        step
    }

    /// XREAD's first attempt: read, and resolve each `$` to its stream's last ID in the same
    /// linearizable read.
    async fn first_read(&mut self, ctx: &ServerContext) -> Step {
        let ids_at = self.read.keys_at + self.read.streams;
        let dollars: Vec<usize> = (0..self.read.streams)
            .filter(|&i| self.args[ids_at + i].as_ref() == b"$")
            .collect();
        let mut batch: Vec<kv::Command> = dollars
            .iter()
            .filter_map(|&i| xinfo_stream(&self.keys()[i]))
            .collect();
        if batch.len() != dollars.len() {
            return Step::Done(Reply::error("ERR internal: cannot resolve $"));
        }
        batch.push(self.command());
        let mut replies = ctx.execute(batch).await;
        let reply = replies
            .pop()
            .unwrap_or_else(|| Reply::error("ERR internal: missing reply"));
        let step = classify(reply, Shape::Same);
        if matches!(step, Step::Empty) {
            for (&i, info) in dollars.iter().zip(&replies) {
                self.args[ids_at + i] = last_generated_id(info);
            }
        }
        step
    }

    /// XREAD's later attempts: one read per stream, all in one linearizable read, so that a
    /// key that now holds another type is skipped (Redis keeps such a client waiting, and
    /// serves it from its other streams).
    async fn retry_read(&mut self, ctx: &ServerContext) -> Step {
        let (at, n) = (self.read.keys_at, self.read.streams);
        let batch = (0..n)
            .map(|i| {
                let mut args = self.args[..at].to_vec();
                args.push(self.args[at + i].clone());
                args.push(self.args[at + n + i].clone());
                kv::Command::Aggregate { op: self.op, args }
            })
            .collect();
        let mut served = Vec::new();
        for reply in ctx.execute(batch).await {
            match reply {
                Reply::Keyed(streams) => served.extend(streams),
                Reply::Null | Reply::NullArray => {}
                Reply::Error(e) if e.starts_with("WRONGTYPE") => {}
                other => return classify(other, Shape::Same),
            }
        }
        if served.is_empty() {
            Step::Empty
        } else {
            Step::Done(Reply::Keyed(served))
        }
    }

    /// XREADGROUP's later attempts: the read, with each key's TYPE in the same log entry to
    /// tell why the read failed if a stream or its group went away while the client waited.
    async fn retry_group(&mut self, ctx: &ServerContext) -> Step {
        let keys = self.keys().to_vec();
        let mut batch: Vec<kv::Command> = keys
            .into_iter()
            .map(|key| kv::Command::Type { key })
            .collect();
        batch.push(self.command());
        let mut replies = ctx.execute(batch).await;
        let reply = replies
            .pop()
            .unwrap_or_else(|| Reply::error("ERR internal: missing reply"));
        match reply {
            Reply::Error(e) if e.starts_with("NOGROUP") || e.starts_with("WRONGTYPE") => {
                let gone = replies.iter().any(|t| !is_stream_type(t));
                Step::Done(Reply::error(if gone { STREAM_GONE } else { GROUP_GONE }))
            }
            reply => classify(reply, Shape::Same),
        }
    }
}

/// Run one command and take its reply.
async fn execute_one(ctx: &ServerContext, command: kv::Command) -> Reply {
    ctx.execute(vec![command])
        .await
        .pop()
        .unwrap_or_else(|| Reply::error("ERR internal: missing reply"))
}

/// `XINFO STREAM key`.
fn xinfo_stream(key: &Bytes) -> Option<kv::Command> {
    let args = [
        Bytes::from_static(b"XINFO"),
        Bytes::from_static(b"STREAM"),
        key.clone(),
    ];
    kv::Command::parse(&args).ok()
}

/// The `last-generated-id` of an XINFO STREAM reply; `0-0` for a missing stream (an error).
fn last_generated_id(info: &Reply) -> Bytes {
    let zero = Bytes::from_static(b"0-0");
    let Reply::Map(fields) = info else {
        return zero;
    };
    fields
        .iter()
        .find_map(|(name, value)| match (name, value) {
            (Reply::Bulk(n), Reply::Bulk(id)) if n.as_ref() == b"last-generated-id" => {
                Some(id.clone())
            }
            _ => None,
        })
        .unwrap_or(zero)
}

/// True if a TYPE reply says `stream`.
fn is_stream_type(reply: &Reply) -> bool {
    match reply {
        Reply::Simple(t) => t == "stream",
        Reply::Bulk(t) => t.as_ref() == b"stream",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn only_reads_with_block_are_blocking() {
        assert!(parse(&args("XREAD STREAMS s 0")).is_none());
        assert!(parse(&args("XREAD BLOCK x STREAMS s 0")).is_none());
        assert!(parse(&args("GET s")).is_none());
        let b = parse(&args("XREAD COUNT 2 BLOCK 0 STREAMS s t $ 0")).unwrap();
        assert_eq!(b.keys, args("s t"));
        assert_eq!(b.timeout, None);
        assert_eq!(b.turn, Turn::Every);
        let b = parse(&args("xreadgroup GROUP g c BLOCK 1500 NOACK STREAMS s >")).unwrap();
        assert_eq!(b.keys, args("s"));
        assert_eq!(b.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(b.turn, Turn::Queue(Some(Bytes::from_static(b"g"))));
    }

    #[test]
    fn dollar_resolves_to_the_last_generated_id() {
        let info = Reply::Map(vec![
            (Reply::Bulk("length".into()), Reply::Integer(1)),
            (
                Reply::Bulk("last-generated-id".into()),
                Reply::Bulk("5-1".into()),
            ),
        ]);
        assert_eq!(last_generated_id(&info), Bytes::from_static(b"5-1"));
        assert_eq!(
            last_generated_id(&Reply::error("ERR no such key")),
            Bytes::from_static(b"0-0")
        );
    }
}
