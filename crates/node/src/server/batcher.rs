//! The batcher: how a pipelined run of data commands becomes one proposal.
//!
//! A client that pipelines sends many commands before reading any reply. The connection reads
//! them in arrival order; consecutive data commands join one [`Batcher`], which the connection
//! then runs as one batch (one Raft entry if any command writes, one read barrier otherwise).
//! Commands that cannot join still keep their place: a command too large for a log entry or one
//! that does not parse gets its reply in its slot at once, and the replies come back in order
//! ([`Batcher::take`], [`Slots::replies`]).
//!
//! Invariants:
//! - a batch never holds more than [`MAX_BATCH_COMMANDS`] commands nor more than
//!   [`MAX_ENTRY_BYTES`] of estimated entry bytes ([`entry_bytes`]): one that would overflow
//!   runs first ([`Batcher::must_run_before`]), one that is full runs at once ([`Batcher::push`]
//!   returns true);
//! - a single command over [`MAX_ENTRY_BYTES`] never joins; it is answered
//!   "command too large" and does not end the batch.
//!
//! Pure: no I/O and no clock, so the rules are unit-tested here.

use bytes::Bytes;
use resp::Reply;

use super::errors;
use crate::limits::MAX_ENTRY_BYTES;

/// Most data commands gathered into one batch (one Raft entry).
pub const MAX_BATCH_COMMANDS: usize = 1024;

/// Estimated bytes a command takes in a log entry: its arguments plus a little framing each.
pub fn entry_bytes(args: &[Bytes]) -> usize {
    args.iter().map(|a| a.len() + 16).sum()
}

/// A reply slot: either ready, or the reply of the next batched command.
#[derive(Debug, PartialEq)]
enum Slot {
    Ready(Reply),
    Batched,
}

/// Commands waiting to run as one batch, with the replies around them, in arrival order.
#[derive(Debug, Default)]
pub struct Batcher {
    slots: Vec<Slot>,
    batch: Vec<kv::Command>,
    /// Estimated log-entry bytes of `batch`.
    batch_bytes: usize,
}

/// The reply slots of a batch taken out of the [`Batcher`], in arrival order.
#[derive(Debug)]
pub struct Slots(Vec<Slot>);

impl Batcher {
    /// True if nothing is waiting (no command and no reply).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Keep a reply's place: a command answered without running (a refusal, a queued
    /// transaction command, ...).
    pub fn ready(&mut self, reply: Reply) {
        self.slots.push(Slot::Ready(reply));
    }

    /// True if the waiting batch must run before the data command `args` joins it, because
    /// together they would overflow one log entry.
    pub fn must_run_before(&self, args: &[Bytes]) -> bool {
        let size = entry_bytes(args);
        size <= MAX_ENTRY_BYTES && self.batch_bytes + size > MAX_ENTRY_BYTES
    }

    /// Add the data command `args` (after [`Self::must_run_before`]). A command too large for
    /// one entry, or one that does not parse, is answered in its slot. Returns true if the
    /// batch is now full and must run before anything else joins.
    pub fn push(&mut self, args: &[Bytes]) -> bool {
        let size = entry_bytes(args);
        if size > MAX_ENTRY_BYTES {
            self.ready(errors::command_too_large(size, MAX_ENTRY_BYTES));
            return false;
        }
        match kv::Command::parse(args) {
            Ok(cmd) => {
                self.slots.push(Slot::Batched);
                self.batch.push(cmd);
                self.batch_bytes += size;
                self.batch.len() >= MAX_BATCH_COMMANDS
            }
            Err(e) => {
                self.ready(e.to_reply());
                false
            }
        }
    }

    /// Take everything waiting, leaving the batcher empty: the commands to run as one batch
    /// (possibly none) and the reply slots.
    pub fn take(&mut self) -> (Vec<kv::Command>, Slots) {
        self.batch_bytes = 0;
        (
            std::mem::take(&mut self.batch),
            Slots(std::mem::take(&mut self.slots)),
        )
    }
}

impl Slots {
    /// Every reply in arrival order, given the batch's replies (one per command, in order).
    pub fn replies(self, batch_replies: Vec<Reply>) -> Vec<Reply> {
        let mut batched = batch_replies.into_iter();
        self.0
            .into_iter()
            .map(|slot| match slot {
                Slot::Ready(r) => r,
                Slot::Batched => batched
                    .next()
                    .unwrap_or_else(|| Reply::error("ERR internal: missing reply")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn a_pipelined_run_becomes_one_batch_with_replies_in_order() {
        let mut b = Batcher::default();
        assert!(b.is_empty());
        assert!(!b.push(&args(&["SET", "a", "1"])));
        b.ready(Reply::error("ERR refused"));
        assert!(!b.push(&args(&["GET", "a"])));
        assert!(!b.push(&args(&["NOSUCHCOMMAND"])));
        assert!(!b.push(&args(&["INCR", "n"])));
        let (cmds, slots) = b.take();
        assert!(b.is_empty());
        assert_eq!(cmds.len(), 3, "{cmds:?}");
        let replies = slots.replies(vec![Reply::ok(), Reply::bulk("1"), Reply::Integer(1)]);
        assert_eq!(replies.len(), 5);
        assert_eq!(replies[0], Reply::ok());
        assert_eq!(replies[1], Reply::error("ERR refused"));
        assert_eq!(replies[2], Reply::bulk("1"));
        assert!(matches!(&replies[3], Reply::Error(e) if e.starts_with("ERR unknown command")));
        assert_eq!(replies[4], Reply::Integer(1));
    }

    #[test]
    fn a_full_batch_runs_at_once() {
        let mut b = Batcher::default();
        for i in 1..MAX_BATCH_COMMANDS {
            assert!(!b.push(&args(&["SET", "k", &i.to_string()])), "full at {i}");
        }
        assert!(b.push(&args(&["SET", "k", "last"])));
        assert_eq!(b.take().0.len(), MAX_BATCH_COMMANDS);
    }

    #[test]
    fn a_batch_never_overflows_one_log_entry() {
        let mut b = Batcher::default();
        let big = "x".repeat(MAX_ENTRY_BYTES / 2);
        let set_big = args(&["SET", "k", &big]);
        assert!(!b.must_run_before(&set_big));
        assert!(!b.push(&set_big));
        assert!(
            b.must_run_before(&set_big),
            "a second half-entry command must wait for the next batch"
        );
        assert!(!b.must_run_before(&args(&["GET", "k"])));
        let (cmds, _) = b.take();
        assert!(!b.must_run_before(&set_big), "an empty batch takes it");
        assert_eq!(cmds.len(), 1);
    }

    #[test]
    fn a_command_too_large_for_any_entry_is_answered_in_place() {
        let mut b = Batcher::default();
        let huge = args(&["SET", "k", &"x".repeat(MAX_ENTRY_BYTES)]);
        assert!(
            !b.must_run_before(&huge),
            "it never joins, so nothing runs first"
        );
        assert!(!b.push(&huge));
        let (cmds, slots) = b.take();
        assert!(cmds.is_empty());
        let replies = slots.replies(vec![]);
        assert!(
            matches!(&replies[..], [Reply::Error(e)] if e.contains("exceeds the largest replicated entry")),
            "{replies:?}"
        );
    }
}
