//! Pub/sub: who is subscribed to what on this node, and the delivery of published messages.
//!
//! `PUBLISH` goes through the Raft log as a [`kv::Command::Publish`] entry that changes no key.
//! When a node applies such an entry (the state machine calls [`Hub::publish`]), its hub hands
//! the message to this node's subscribers whose channel matches exactly or whose pattern matches
//! as a Redis glob ([`kv::glob_match`]). Every node applies the same log in the same order, so
//! every node delivers the same messages in the same order; a subscriber sees one publisher's
//! messages in the order that publisher's `PUBLISH`es were acknowledged.
//!
//! Delivery never blocks the apply loop: each subscriber has an [`Outbox`], a queue bounded by
//! bytes. The hub only appends to it; the subscriber's connection task drains it onto its
//! socket. A subscriber whose queue would pass [`DEFAULT_OUTBOX_LIMIT_BYTES`] (or the configured
//! limit) is cut off: its queue is dropped, it receives nothing more, and its connection closes,
//! as Redis does with `client-output-buffer-limit pubsub`.
//!
//! Invariants: the hub holds only live subscriptions of open connections (a connection removes
//! its own when it closes, see `server::subscriptions`); an outbox's byte count covers the
//! messages queued plus those taken and not yet written, so a subscriber costs at most its
//! limit however slowly it reads.

mod hub;
mod outbox;

pub use hub::{Hub, HubStats};
pub use outbox::{Message, Outbox, Push};

/// Default most bytes of messages waiting for one subscriber (Redis's default hard limit for
/// pub/sub clients is also 32 MiB). Set with `pubsub_output_limit_bytes`.
pub const DEFAULT_OUTBOX_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// Bytes a queued message is charged beyond its channel, pattern and payload (frame headers
/// and bookkeeping), so a flood of empty messages is bounded too.
pub const MESSAGE_OVERHEAD_BYTES: usize = 64;
/// Most bytes of messages a connection encodes and writes at once, so delivering a long
/// backlog never copies it all into one buffer.
pub const DELIVERY_CHUNK_BYTES: usize = 256 * 1024;
/// Most channels plus patterns one connection may be subscribed to.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 100_000;
