//! [`Outbox`]: one subscriber's bounded queue of messages waiting to be written.
//!
//! The hub pushes (from the apply loop, never waiting); the connection task takes everything
//! queued, writes it, then reports the bytes written. The byte count covers both the queued
//! messages and those taken but not yet written, so it bounds everything this subscriber holds.
//! Passing the limit cuts the subscriber off for good: the queue is dropped, later pushes are
//! refused, and [`Outbox::cut_off`] wakes so the connection closes.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

use super::MESSAGE_OVERHEAD_BYTES;

/// One published message as a subscriber receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The pattern that matched, for a `pmessage`; `None` for a `message` (exact channel).
    pub pattern: Option<Bytes>,
    /// The channel it was published to.
    pub channel: Bytes,
    /// The payload.
    pub payload: Bytes,
}

impl Message {
    /// Bytes this message is charged in an outbox.
    pub fn cost(&self) -> usize {
        self.pattern.as_ref().map_or(0, Bytes::len)
            + self.channel.len()
            + self.payload.len()
            + MESSAGE_OVERHEAD_BYTES
    }
}

/// What happened to a pushed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// Queued for the subscriber.
    Queued,
    /// It would have passed the limit: the subscriber is now cut off (reported once).
    CutOff,
    /// The subscriber was already cut off; the message is dropped.
    Closed,
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    /// Bytes queued plus bytes taken and not yet reported written.
    bytes: usize,
    cut_off: bool,
}

/// A subscriber's queue of messages; shared by the hub and the connection.
pub struct Outbox {
    client_id: u64,
    limit_bytes: usize,
    queue: Mutex<Queue>,
    ready: Notify,
    cut: Notify,
}

impl Outbox {
    /// An empty outbox for client `client_id` holding at most `limit_bytes`.
    pub fn new(client_id: u64, limit_bytes: usize) -> Outbox {
        Outbox {
            client_id,
            limit_bytes,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            cut: Notify::new(),
        }
    }

    /// The client this outbox belongs to.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Queue `message` unless that would pass the limit, in which case the subscriber is cut off.
    pub fn push(&self, message: Message) -> Push {
        let mut q = self.queue.lock().expect("outbox lock poisoned");
        if q.cut_off {
            return Push::Closed;
        }
        let cost = message.cost();
        if q.bytes + cost > self.limit_bytes {
            q.cut_off = true;
            q.messages = VecDeque::new();
            drop(q);
            self.cut.notify_one();
            self.ready.notify_one();
            return Push::CutOff;
        }
        q.bytes += cost;
        q.messages.push_back(message);
        drop(q);
        self.ready.notify_one();
        Push::Queued
    }

    /// Take every queued message; the caller must report their bytes with
    /// [`Outbox::written`] once they are on the socket.
    pub fn take(&self) -> (Vec<Message>, usize) {
        self.take_up_to(usize::MAX)
    }

    /// Take queued messages, oldest first, while they cost at most `max_bytes` in all (always
    /// at least one, if any is queued), so the caller encodes a bounded chunk at a time. If
    /// some remain, the outbox stays ready. Report the bytes with [`Outbox::written`].
    pub fn take_up_to(&self, max_bytes: usize) -> (Vec<Message>, usize) {
        let mut q = self.queue.lock().expect("outbox lock poisoned");
        let (mut messages, mut bytes) = (Vec::new(), 0);
        while let Some(next) = q.messages.front() {
            let cost = next.cost();
            if !messages.is_empty() && bytes + cost > max_bytes {
                break;
            }
            bytes += cost;
            messages.extend(q.messages.pop_front());
        }
        let more = !q.messages.is_empty();
        drop(q);
        if more {
            self.ready.notify_one();
        }
        (messages, bytes)
    }

    /// Release `bytes` taken with [`Outbox::take`] and now written.
    pub fn written(&self, bytes: usize) {
        let mut q = self.queue.lock().expect("outbox lock poisoned");
        q.bytes = q.bytes.saturating_sub(bytes);
    }

    /// True once the subscriber was cut off.
    pub fn is_cut_off(&self) -> bool {
        self.queue.lock().expect("outbox lock poisoned").cut_off
    }

    /// Bytes held for this subscriber (queued or being written).
    pub fn held_bytes(&self) -> usize {
        self.queue.lock().expect("outbox lock poisoned").bytes
    }

    /// Wait until a message may be queued (spurious wake-ups possible).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Wait until the subscriber is cut off.
    pub async fn cut_off(&self) {
        while !self.is_cut_off() {
            self.cut.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(payload: &'static str) -> Message {
        Message {
            pattern: None,
            channel: Bytes::from_static(b"ch"),
            payload: Bytes::from_static(payload.as_bytes()),
        }
    }

    #[test]
    fn bytes_cover_queued_and_unwritten_messages() {
        let one = msg("x").cost();
        let outbox = Outbox::new(1, 3 * one);
        assert_eq!(outbox.push(msg("x")), Push::Queued);
        assert_eq!(outbox.push(msg("x")), Push::Queued);
        let (taken, bytes) = outbox.take();
        assert_eq!((taken.len(), bytes), (2, 2 * one));
        // Taken but not written still counts: one more fits, a second does not.
        assert_eq!(outbox.push(msg("x")), Push::Queued);
        outbox.written(bytes);
        assert_eq!(outbox.held_bytes(), one);
        assert_eq!(outbox.push(msg("x")), Push::Queued);
        assert_eq!(outbox.push(msg("x")), Push::Queued);
        assert_eq!(outbox.push(msg("x")), Push::CutOff);
        assert!(outbox.is_cut_off());
        assert_eq!(outbox.push(msg("x")), Push::Closed);
        assert!(outbox.take().0.is_empty(), "a cut-off queue is dropped");
    }

    #[test]
    fn take_up_to_takes_bounded_chunks_in_order() {
        let outbox = Outbox::new(1, 1 << 20);
        for p in ["a", "b", "c"] {
            outbox.push(Message {
                payload: Bytes::copy_from_slice(p.as_bytes()),
                ..msg("")
            });
        }
        let one = msg("a").cost();
        let payloads = |(m, _): (Vec<Message>, usize)| -> Vec<Bytes> {
            m.into_iter().map(|m| m.payload).collect()
        };
        assert_eq!(payloads(outbox.take_up_to(2 * one)), ["a", "b"]);
        assert_eq!(payloads(outbox.take_up_to(1)), ["c"], "at least one");
        assert!(outbox.take_up_to(1).0.is_empty());
    }

    #[tokio::test]
    async fn cut_off_wakes_the_waiter() {
        let outbox = std::sync::Arc::new(Outbox::new(1, 10));
        let waiter = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.cut_off().await }
        });
        // Let the waiter run until it waits (the test runtime has one thread).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        assert_eq!(outbox.push(msg("too big for ten bytes")), Push::CutOff);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the cut-off waiter wakes")
            .unwrap();
    }
}
