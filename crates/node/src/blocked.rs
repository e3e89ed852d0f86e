//! The clients blocked on this node (BLPOP and kin, XREAD/XREADGROUP BLOCK), in line per key,
//! and which of them an applied log entry wakes.
//!
//! A leaf below both the client server (which registers clients and waits, see
//! `server::blocking`) and the state machine (which computes [`Wakes`] under its lock and
//! delivers them after), so that neither imports the other. The rules of turns and the
//! invariants are in `server::blocking`'s module docs.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

/// Most clients blocked at once on one node.
pub const MAX_BLOCKED_CLIENTS: usize = 10_000;

/// Which blocked clients a write to one of their keys wakes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Turn {
    /// The client takes what it finds: only the first in line among the clients of the same
    /// queue is woken. `None` is the queue of the pops; `Some(group)` the queue of XREADGROUP
    /// clients of that consumer group.
    Queue(Option<Bytes>),
    /// The client takes nothing (XREAD): every such client on the key is woken.
    Every,
}

/// Which blocked clients one applied log entry wakes: computed under the state lock (before and
/// after the entry is applied) and delivered to the [`Registry`] after it.
///
/// - Only keys that now hold something new can serve a blocked client: an empty pop (a
///   blocked client's own attempt) wakes nobody, nor does a write that gives nobody anything
///   new (`kv::Command::can_serve_blocked`: a blocked XREADGROUP's own attempts).
/// - Keys the entry deleted wake the consumer groups' queues, so that a blocked XREADGROUP
///   learns its stream is gone; FLUSHDB and FLUSHALL wake every blocked client.
#[derive(Default)]
pub struct Wakes {
    written: Vec<Bytes>,
    deleted: Vec<Bytes>,
    flushed: bool,
}

/// What [`Wakes::after`] compares with: the store's modification counter and the keys the
/// entry writes that were held before it.
pub struct BeforeApply {
    seq: u64,
    held: Vec<Bytes>,
}

impl Wakes {
    /// Taken before `cmds` are applied to `store` (only when clients are blocked).
    pub fn before(store: &kv::Store, cmds: &[kv::Command]) -> BeforeApply {
        let keys = cmds.iter().filter(|cmd| cmd.is_write());
        BeforeApply {
            seq: store.mod_seq(),
            held: keys
                .flat_map(|cmd| cmd.keys())
                .filter(|key| store.holds(key))
                .cloned()
                .collect(),
        }
    }

    /// The wake-ups after `cmds` were applied to `store`.
    pub fn after(before: BeforeApply, store: &kv::Store, cmds: &[kv::Command]) -> Wakes {
        let serving = cmds
            .iter()
            .filter(|cmd| cmd.is_write() && cmd.can_serve_blocked());
        Wakes {
            written: serving
                .flat_map(|cmd| cmd.keys())
                .filter(|key| store.written_since(key, before.seq))
                .cloned()
                .collect(),
            deleted: before
                .held
                .into_iter()
                .filter(|k| !store.holds(k))
                .collect(),
            flushed: cmds
                .iter()
                .any(|cmd| matches!(cmd, kv::Command::FlushAll | kv::Command::FlushDb)),
        }
    }

    /// Wake the clients in `registry`.
    pub fn deliver(self, registry: &Registry) {
        if self.flushed {
            registry.wake_all();
            return;
        }
        if !self.written.is_empty() {
            registry.touched(&self.written);
        }
        if !self.deleted.is_empty() {
            registry.deleted(&self.deleted);
        }
    }
}

/// The clients blocked on one node, in line per key.
pub struct Registry {
    inner: Mutex<Lines>,
    /// How many clients are registered (read without the lock by the apply path).
    blocked: AtomicUsize,
    /// How many of them have found nothing to take and wait (what `INFO` reports); a client
    /// whose first attempt is still in flight is registered but not yet waiting.
    waiting: AtomicUsize,
    limit: usize,
}

#[derive(Default)]
struct Lines {
    next_id: u64,
    /// Per key, the clients waiting on it.
    lines: HashMap<Bytes, KeyLine>,
    /// Per client, its keys, turn and how to wake it.
    clients: HashMap<u64, Client>,
}

/// The clients waiting on one key.
#[derive(Default)]
struct KeyLine {
    /// Per queue (see [`Turn::Queue`]), the ids of its clients, first come first.
    queues: HashMap<Option<Bytes>, VecDeque<u64>>,
    /// The clients woken by every write ([`Turn::Every`]).
    every: Vec<u64>,
}

impl KeyLine {
    fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.every.is_empty()
    }

    fn remove(&mut self, id: u64, turn: &Turn) {
        match turn {
            Turn::Every => self.every.retain(|&c| c != id),
            Turn::Queue(q) => {
                if let Some(line) = self.queues.get_mut(q) {
                    line.retain(|&c| c != id);
                    if line.is_empty() {
                        self.queues.remove(q);
                    }
                }
            }
        }
    }
}

struct Client {
    keys: Vec<Bytes>,
    turn: Turn,
    wake: Arc<Notify>,
}

/// A client's place in the registry; dropping it leaves every line and wakes whoever is then
/// first in its queue on its keys.
pub struct Waiter {
    registry: Arc<Registry>,
    id: u64,
    wake: Arc<Notify>,
    /// Counted in [`Registry::blocked_clients`].
    waiting: bool,
}

impl Waiter {
    /// The client found nothing to take and now waits: count it as blocked.
    pub fn waiting(&mut self) {
        if !self.waiting {
            self.waiting = true;
            self.registry.waiting.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Wait until woken (returns at once if a wake-up came since the last one).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.waiting {
            self.registry.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        self.registry.remove(self.id);
    }
}

impl Registry {
    /// An empty registry that holds at most `limit` clients.
    pub fn new(limit: usize) -> Registry {
        Registry {
            inner: Mutex::new(Lines::default()),
            blocked: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            limit,
        }
    }

    /// Put a client at the end of its queue (or among the clients woken by every write) on
    /// each of `keys`; `None` if the registry is full.
    pub fn register(self: &Arc<Self>, mut keys: Vec<Bytes>, turn: Turn) -> Option<Waiter> {
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        let mut inner = self.inner.lock().expect("blocking lock poisoned");
        if inner.clients.len() >= self.limit {
            return None;
        }
        inner.next_id += 1;
        let id = inner.next_id;
        for key in &keys {
            let line = inner.lines.entry(key.clone()).or_default();
            match &turn {
                Turn::Every => line.every.push(id),
                Turn::Queue(q) => line.queues.entry(q.clone()).or_default().push_back(id),
            }
        }
        let wake = Arc::new(Notify::new());
        let client = Client {
            keys,
            turn,
            wake: wake.clone(),
        };
        inner.clients.insert(id, client);
        self.blocked.store(inner.clients.len(), Ordering::Relaxed);
        Some(Waiter {
            registry: self.clone(),
            id,
            wake,
            waiting: false,
        })
    }

    /// True if any client is blocked (a cheap check for the apply path).
    pub fn has_waiters(&self) -> bool {
        self.blocked.load(Ordering::Relaxed) > 0
    }

    /// How many clients are blocked: registered, and their last attempt found nothing.
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Keys were written: on each, wake the first client of every queue and every client that
    /// takes nothing.
    pub fn touched<'a>(&self, keys: impl IntoIterator<Item = &'a Bytes>) {
        if !self.has_waiters() {
            return;
        }
        let inner = self.inner.lock().expect("blocking lock poisoned");
        for key in keys {
            let Some(line) = inner.lines.get(key) else {
                continue;
            };
            for queue in line.queues.keys() {
                wake_first(&inner, key, queue);
            }
            for id in &line.every {
                wake(&inner, *id);
            }
        }
    }

    /// Keys were deleted: wake the first client of every consumer group's queue on each, so
    /// that a blocked XREADGROUP learns its stream is gone (a pop or XREAD keeps waiting).
    pub fn deleted<'a>(&self, keys: impl IntoIterator<Item = &'a Bytes>) {
        if !self.has_waiters() {
            return;
        }
        let inner = self.inner.lock().expect("blocking lock poisoned");
        for key in keys {
            let Some(line) = inner.lines.get(key) else {
                continue;
            };
            for queue in line.queues.keys().filter(|q| q.is_some()) {
                wake_first(&inner, key, queue);
            }
        }
    }

    /// Wake every blocked client (the whole state changed, as when a snapshot is installed).
    pub fn wake_all(&self) {
        let inner = self.inner.lock().expect("blocking lock poisoned");
        for client in inner.clients.values() {
            client.wake.notify_one();
        }
    }

    fn remove(&self, id: u64) {
        let mut inner = self.inner.lock().expect("blocking lock poisoned");
        let Some(client) = inner.clients.remove(&id) else {
            return;
        };
        for key in &client.keys {
            if let Some(line) = inner.lines.get_mut(key) {
                line.remove(id, &client.turn);
                if line.is_empty() {
                    inner.lines.remove(key);
                }
            }
            // What this client left (or did not need) may be there for the next in its queue.
            if let Turn::Queue(queue) = &client.turn {
                wake_first(&inner, key, queue);
            }
        }
        self.blocked.store(inner.clients.len(), Ordering::Relaxed);
    }
}

fn wake_first(inner: &Lines, key: &Bytes, queue: &Option<Bytes>) {
    let line = inner.lines.get(key).and_then(|line| line.queues.get(queue));
    if let Some(&id) = line.and_then(|line| line.front()) {
        wake(inner, id);
    }
}

fn wake(inner: &Lines, id: u64) {
    if let Some(client) = inner.clients.get(&id) {
        client.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    /// A client registered on `keys` whose first attempt found nothing.
    fn waiting(r: &Arc<Registry>, keys: Vec<Bytes>) -> Waiter {
        waiting_as(r, keys, Turn::Queue(None))
    }

    /// The same with a turn.
    fn waiting_as(r: &Arc<Registry>, keys: Vec<Bytes>, turn: Turn) -> Waiter {
        let mut w = r.register(keys, turn).unwrap();
        w.waiting();
        w
    }

    /// True if the waiter has a pending wake-up.
    fn is_woken(w: &Waiter) -> bool {
        futures_util::FutureExt::now_or_never(w.woken()).is_some()
    }

    #[test]
    fn a_write_wakes_the_first_in_line_only_and_the_next_when_it_leaves() {
        let r = Arc::new(Registry::new(10));
        let a = waiting(&r, vec![key("q")]);
        let b = waiting(&r, vec![key("q")]);
        r.touched([&key("q")]);
        assert!(is_woken(&a));
        assert!(!is_woken(&b));
        drop(a);
        assert!(
            is_woken(&b),
            "the next in line is woken when the first leaves"
        );
        assert_eq!(r.blocked_clients(), 1);
    }

    #[test]
    fn a_write_wakes_the_first_of_each_queue_and_every_reader() {
        let r = Arc::new(Registry::new(10));
        let group = |g: &str| Turn::Queue(Some(key(g)));
        let reg = |turn: Turn| {
            let mut w = r.register(vec![key("s")], turn).unwrap();
            w.waiting();
            w
        };
        let (g1a, g1b, g2) = (reg(group("g1")), reg(group("g1")), reg(group("g2")));
        let (x, y) = (reg(Turn::Every), reg(Turn::Every));
        r.touched([&key("s")]);
        assert!(is_woken(&g1a) && is_woken(&g2) && is_woken(&x) && is_woken(&y));
        assert!(
            !is_woken(&g1b),
            "one group is served first come first served"
        );
        drop(x);
        assert!(!is_woken(&g1b), "a reader leaving wakes nobody");
        drop(g1a);
        assert!(
            is_woken(&g1b),
            "the next of the group when the first leaves"
        );
        assert!(!is_woken(&g2));
    }

    #[test]
    fn a_deletion_wakes_the_first_of_each_group_only() {
        let r = Arc::new(Registry::new(10));
        let g = waiting_as(&r, vec![key("s")], Turn::Queue(Some(key("g"))));
        let pop = waiting(&r, vec![key("s")]);
        let x = waiting_as(&r, vec![key("s")], Turn::Every);
        r.deleted([&key("s")]);
        assert!(is_woken(&g));
        assert!(!is_woken(&pop) && !is_woken(&x));
    }

    #[test]
    fn a_write_to_another_key_wakes_nobody() {
        let r = Arc::new(Registry::new(10));
        let a = waiting(&r, vec![key("q"), key("p")]);
        r.touched([&key("x")]);
        assert!(!is_woken(&a));
        r.touched([&key("p")]);
        assert!(is_woken(&a));
    }

    #[test]
    fn a_closed_client_leaves_every_line() {
        let r = Arc::new(Registry::new(10));
        let a = waiting(&r, vec![key("q"), key("p"), key("q")]);
        let b = waiting(&r, vec![key("p")]);
        drop(a);
        assert!(!r.inner.lock().unwrap().lines.contains_key(&key("q")));
        assert_eq!(r.blocked_clients(), 1);
        drop(b);
        assert!(!r.has_waiters());
        assert!(r.inner.lock().unwrap().lines.is_empty());
    }

    #[test]
    fn a_client_counts_as_blocked_only_once_it_found_nothing() {
        let r = Arc::new(Registry::new(10));
        let mut a = r.register(vec![key("q")], Turn::Queue(None)).unwrap();
        assert_eq!(
            r.blocked_clients(),
            0,
            "its first attempt is still in flight"
        );
        a.waiting();
        a.waiting();
        assert_eq!(r.blocked_clients(), 1);
        drop(a);
        assert_eq!(r.blocked_clients(), 0);
    }

    #[test]
    fn the_registry_is_bounded() {
        let r = Arc::new(Registry::new(2));
        let _a = waiting(&r, vec![key("q")]);
        let b = waiting(&r, vec![key("q")]);
        assert!(r.register(vec![key("q")], Turn::Queue(None)).is_none());
        drop(b);
        assert!(r.register(vec![key("q")], Turn::Queue(None)).is_some());
    }
}
