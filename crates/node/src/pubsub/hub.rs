//! [`Hub`]: this node's index of subscriptions, and delivery of applied `PUBLISH`es.
//!
//! Channels are an exact-match map; patterns are scanned and matched as Redis globs on each
//! publish (as Redis does). Each subscriber appears at most once per channel or pattern, keyed
//! by its client id; a subscriber that matches through a channel and a pattern, or through two
//! patterns, receives one message for each and counts once for each, as in Redis.
//!
//! The hub holds its lock only to find the receivers and append to their outboxes, which never
//! waits, so publishing costs the apply loop time proportional to the receivers and patterns.
//! A subscriber cut off for falling behind stays in the index until its connection closes
//! (moments later) but is skipped and not counted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::outbox::{Message, Outbox, Push};

type Subscribers = BTreeMap<u64, Arc<Outbox>>;

#[derive(Default)]
struct Index {
    channels: HashMap<Bytes, Subscribers>,
    patterns: BTreeMap<Bytes, Subscribers>,
}

/// Counters for `INFO pubsub`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Channels with at least one subscriber.
    pub channels: usize,
    /// Patterns with at least one subscriber.
    pub patterns: usize,
    /// `PUBLISH` entries applied on this node.
    pub published: u64,
    /// Messages queued for a local subscriber.
    pub delivered: u64,
    /// Subscribers cut off because their output passed the limit.
    pub cut_off_clients: u64,
}

/// This node's subscriptions and message delivery. Shared by connections and the state machine.
#[derive(Default)]
pub struct Hub {
    index: Mutex<Index>,
    published: AtomicU64,
    delivered: AtomicU64,
    cut_off_clients: AtomicU64,
}

fn live(subs: &Subscribers) -> usize {
    subs.values().filter(|o| !o.is_cut_off()).count()
}

impl Hub {
    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("pubsub hub lock poisoned")
    }

    /// Subscribe `outbox`'s client to `channel` (a no-op if it already is).
    pub fn subscribe(&self, outbox: &Arc<Outbox>, channel: Bytes) {
        self.index()
            .channels
            .entry(channel)
            .or_default()
            .insert(outbox.client_id(), outbox.clone());
    }

    /// Subscribe `outbox`'s client to `pattern` (a no-op if it already is).
    pub fn psubscribe(&self, outbox: &Arc<Outbox>, pattern: Bytes) {
        self.index()
            .patterns
            .entry(pattern)
            .or_default()
            .insert(outbox.client_id(), outbox.clone());
    }

    /// Remove client `client_id`'s subscription to `channel`, if any.
    pub fn unsubscribe(&self, client_id: u64, channel: &[u8]) {
        let mut index = self.index();
        if let Some(subs) = index.channels.get_mut(channel) {
            subs.remove(&client_id);
            if subs.is_empty() {
                index.channels.remove(channel);
            }
        }
    }

    /// Remove client `client_id`'s subscription to `pattern`, if any.
    pub fn punsubscribe(&self, client_id: u64, pattern: &[u8]) {
        let mut index = self.index();
        if let Some(subs) = index.patterns.get_mut(pattern) {
            subs.remove(&client_id);
            if subs.is_empty() {
                index.patterns.remove(pattern);
            }
        }
    }

    /// Deliver `payload` published to `channel` to every matching local subscriber; returns how
    /// many messages were queued (a subscriber counts once per matching channel or pattern).
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        self.published.fetch_add(1, Ordering::Relaxed);
        let index = self.index();
        // Own copies, made for the first receiver and shared by the others: the arguments may
        // be slices of a larger buffer (a client's read, a peer frame) that queued messages
        // must not keep alive.
        let mut owned: Option<(Bytes, Bytes)> = None;
        let mut queued = 0;
        let mut deliver = |outbox: &Outbox, pattern: Option<&Bytes>| {
            let (channel, payload) = owned.get_or_insert_with(|| {
                (
                    Bytes::copy_from_slice(channel),
                    Bytes::copy_from_slice(payload),
                )
            });
            let message = Message {
                pattern: pattern.cloned(),
                channel: channel.clone(),
                payload: payload.clone(),
            };
            match outbox.push(message) {
                Push::Queued => queued += 1,
                Push::CutOff => {
                    self.cut_off_clients.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        client = outbox.client_id(),
                        "pub/sub subscriber cut off: its output passed the limit"
                    );
                }
                Push::Closed => {}
            }
        };
        if let Some(subs) = index.channels.get(channel) {
            for outbox in subs.values() {
                deliver(outbox, None);
            }
        }
        for (pattern, subs) in &index.patterns {
            if kv::glob_match(pattern, channel) {
                for outbox in subs.values() {
                    deliver(outbox, Some(pattern));
                }
            }
        }
        self.delivered.fetch_add(queued as u64, Ordering::Relaxed);
        queued
    }

    /// How many messages publishing to `channel` would queue now (live subscribers only).
    pub fn receivers(&self, channel: &[u8]) -> usize {
        let index = self.index();
        let direct = index.channels.get(channel).map_or(0, live);
        let by_pattern: usize = index
            .patterns
            .iter()
            .filter(|(p, _)| kv::glob_match(p, channel))
            .map(|(_, subs)| live(subs))
            .sum();
        direct + by_pattern
    }

    /// `PUBSUB CHANNELS [pattern]`: channels with a live subscriber, sorted, optionally only
    /// those matching `pattern`.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let index = self.index();
        let mut names: Vec<Bytes> = index
            .channels
            .iter()
            .filter(|(name, subs)| {
                live(subs) > 0 && pattern.is_none_or(|p| kv::glob_match(p, name))
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// `PUBSUB NUMSUB channel`: live subscribers of exactly `channel` (patterns not counted).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.index().channels.get(channel).map_or(0, live)
    }

    /// `PUBSUB NUMPAT`: patterns with a live subscriber.
    pub fn numpat(&self) -> usize {
        self.index()
            .patterns
            .values()
            .filter(|s| live(s) > 0)
            .count()
    }

    /// Counters for `INFO`.
    pub fn stats(&self) -> HubStats {
        let (channels, patterns) = {
            let index = self.index();
            (index.channels.len(), index.patterns.len())
        };
        HubStats {
            channels,
            patterns,
            published: self.published.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            cut_off_clients: self.cut_off_clients.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn outbox(id: u64) -> Arc<Outbox> {
        Arc::new(Outbox::new(id, crate::pubsub::DEFAULT_OUTBOX_LIMIT_BYTES))
    }

    fn payloads(outbox: &Outbox) -> Vec<(Option<Bytes>, Bytes, Bytes)> {
        outbox
            .take()
            .0
            .into_iter()
            .map(|m| (m.pattern, m.channel, m.payload))
            .collect()
    }

    #[test]
    fn channels_and_patterns_receive_matching_messages_in_order() {
        let hub = Hub::default();
        let (a, c) = (outbox(1), outbox(2));
        hub.subscribe(&a, b("news"));
        hub.psubscribe(&a, b("n*"));
        hub.psubscribe(&c, b("n[aeiou]ws"));
        hub.psubscribe(&c, b("sport.?"));
        assert_eq!(hub.publish(&b("news"), &b("one")), 3);
        assert_eq!(hub.publish(&b("news"), &b("two")), 3);
        assert_eq!(hub.publish(&b("sport.x"), &b("goal")), 1);
        assert_eq!(hub.publish(&b("sport.xy"), &b("none")), 0);
        assert_eq!(hub.publish(&b("weather"), &b("none")), 0);
        assert_eq!(
            payloads(&a),
            vec![
                (None, b("news"), b("one")),
                (Some(b("n*")), b("news"), b("one")),
                (None, b("news"), b("two")),
                (Some(b("n*")), b("news"), b("two")),
            ]
        );
        assert_eq!(
            payloads(&c),
            vec![
                (Some(b("n[aeiou]ws")), b("news"), b("one")),
                (Some(b("n[aeiou]ws")), b("news"), b("two")),
                (Some(b("sport.?")), b("sport.x"), b("goal")),
            ]
        );
        let stats = hub.stats();
        assert_eq!((stats.published, stats.delivered), (5, 7));
    }

    #[test]
    fn counts_follow_subscriptions() {
        let hub = Hub::default();
        let (a, c) = (outbox(1), outbox(2));
        hub.subscribe(&a, b("x"));
        hub.subscribe(&a, b("x")); // again: still one subscription
        hub.subscribe(&c, b("x"));
        hub.subscribe(&c, b("y"));
        hub.psubscribe(&a, b("*"));
        hub.psubscribe(&c, b("*"));
        hub.psubscribe(&c, b("y*"));
        assert_eq!(
            (hub.numsub(b"x"), hub.numsub(b"y"), hub.numsub(b"z")),
            (2, 1, 0)
        );
        assert_eq!(hub.numpat(), 2);
        assert_eq!(hub.channels(None), vec![b("x"), b("y")]);
        assert_eq!(hub.channels(Some(b"y*")), vec![b("y")]);
        assert_eq!(hub.receivers(b"y"), 4);
        hub.unsubscribe(1, b"x");
        hub.unsubscribe(2, b"x");
        hub.unsubscribe(2, b"never");
        hub.punsubscribe(2, b"y*");
        assert_eq!(hub.numsub(b"x"), 0);
        assert_eq!(hub.channels(None), vec![b("y")]);
        assert_eq!(hub.numpat(), 1);
        let stats = hub.stats();
        assert_eq!((stats.channels, stats.patterns), (1, 1));
    }

    #[test]
    fn a_slow_subscriber_is_cut_off_and_the_others_keep_receiving() {
        let hub = Hub::default();
        let one = Message {
            pattern: None,
            channel: b("ch"),
            payload: b("payload"),
        }
        .cost();
        let slow = Arc::new(Outbox::new(1, 3 * one));
        let fast = Arc::new(Outbox::new(2, 3 * one));
        hub.subscribe(&slow, b("ch"));
        hub.subscribe(&fast, b("ch"));
        for i in 0..10 {
            // The fast subscriber writes everything it is given; the slow one never does.
            let n = hub.publish(&b("ch"), &b("payload"));
            assert_eq!(n, if i < 3 { 2 } else { 1 }, "publish {i}");
            let (taken, bytes) = fast.take();
            assert_eq!(taken.len(), 1);
            fast.written(bytes);
        }
        assert!(slow.is_cut_off() && !fast.is_cut_off());
        assert!(slow.take().0.is_empty());
        assert_eq!(
            slow.held_bytes(),
            3 * one,
            "held memory never passes the limit"
        );
        assert_eq!(hub.numsub(b"ch"), 1, "a cut-off subscriber is not counted");
        assert_eq!(hub.receivers(b"ch"), 1);
        let stats = hub.stats();
        assert_eq!((stats.delivered, stats.cut_off_clients), (13, 1));
    }
}
