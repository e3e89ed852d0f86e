//! [`Subscriptions`]: the channels and patterns one connection is subscribed to.
//!
//! The connection's own record, kept in step with the node's [`Hub`]: every change here is
//! made in the hub too, and dropping the record (the connection closed, or was cut off for
//! falling behind) removes all its subscriptions from the hub, so the hub never keeps a closed
//! connection. A connection with at least one subscription is in "subscribed mode".

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::pubsub::{Hub, Outbox};

/// One connection's subscriptions and the outbox its messages arrive in.
pub struct Subscriptions {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("client", &self.outbox.client_id())
            .field("channels", &self.channels.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Subscriptions {
    /// No subscriptions yet; messages will be queued in `outbox`.
    pub fn new(hub: Arc<Hub>, outbox: Arc<Outbox>) -> Subscriptions {
        Subscriptions {
            hub,
            outbox,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        }
    }

    /// Where this connection's messages are queued.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Channels plus patterns subscribed (the count Redis puts in (un)subscribe replies).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// True in subscribed mode (at least one channel or pattern).
    pub fn active(&self) -> bool {
        self.count() > 0
    }

    /// How many of `names` are new channels (`pattern` false) or new patterns.
    pub fn new_among(&self, names: &[Bytes], pattern: bool) -> usize {
        let set = if pattern {
            &self.patterns
        } else {
            &self.channels
        };
        names
            .iter()
            .filter(|n| !set.contains(*n))
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// The subscribed channels (`pattern` false) or patterns, sorted.
    pub fn names(&self, pattern: bool) -> Vec<Bytes> {
        let set = if pattern {
            &self.patterns
        } else {
            &self.channels
        };
        set.iter().cloned().collect()
    }

    /// Subscribe to a channel or pattern; returns the new count.
    pub fn add(&mut self, name: Bytes, pattern: bool) -> usize {
        if pattern {
            if self.patterns.insert(name.clone()) {
                self.hub.psubscribe(&self.outbox, name);
            }
        } else if self.channels.insert(name.clone()) {
            self.hub.subscribe(&self.outbox, name);
        }
        self.count()
    }

    /// Unsubscribe from a channel or pattern (nothing if not subscribed); returns the new count.
    pub fn remove(&mut self, name: &[u8], pattern: bool) -> usize {
        let id = self.outbox.client_id();
        if pattern {
            if self.patterns.remove(name) {
                self.hub.punsubscribe(id, name);
            }
        } else if self.channels.remove(name) {
            self.hub.unsubscribe(id, name);
        }
        self.count()
    }

    /// Unsubscribe from everything (RESET, or the connection closing).
    pub fn clear(&mut self) {
        for name in self.names(false) {
            self.remove(&name, false);
        }
        for name in self.names(true) {
            self.remove(&name, true);
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.clear();
    }
}
