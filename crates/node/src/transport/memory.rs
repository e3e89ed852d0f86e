//! An in-memory network: several nodes in one process talk through it instead of TCP, and a
//! test breaks its links at will (the in-process cluster tests in `crates/node/tests/sim`).
//!
//! Each node registers a [`MemoryListener`] at its peer address ([`MemoryNetwork::listen`]) and
//! dials through its own [`MemoryTransport`] ([`MemoryNetwork::transport`]), which knows the
//! dialing node's id, so every connection belongs to one directed link `dialer -> listener`.
//! A dial hands the listener one end of an in-memory byte pipe and the dialer the other; between
//! them a relay task copies bytes both ways, which is where faults act:
//!
//! - **cut** (a partition is a set of cuts): a dial over a cut link is refused at once
//!   (`ConnectionRefused`, as a TCP peer that is down), and the relay of every established
//!   connection over it stops as soon as the cut is made, closing both ends: the node code sees
//!   a broken connection, exactly as with TCP;
//! - **delay**: the relay holds each chunk of bytes that long before passing it on (in order);
//! - **down** ([`MemoryNetwork::disconnect`], for a crashed node): its listener is gone, so
//!   dials to it are refused, and every connection to or from it is closed.
//!
//! Faults are symmetric: [`MemoryNetwork::cut`] and [`MemoryNetwork::partition`] cut both
//! directions, and a connection breaks when either direction is cut. Nothing here is random, so
//! a test's faults happen exactly where its script puts them.
//!
//! Invariants: a connection never outlives a cut of its link (checked on every fault change and
//! before every chunk is delivered), and bytes are delivered in order or not at all.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, watch};

use super::{BoxRead, BoxWrite, ConnectFuture, Transport};

/// A node id, the same `u64` as Raft's (spelled out so the transport imports nothing of Raft).
type NodeId = u64;

/// Bytes each in-memory pipe buffers before a writer waits.
pub const PIPE_BUFFER_BYTES: usize = 256 * 1024;
/// Most bytes a relay moves in one step.
const RELAY_CHUNK_BYTES: usize = 64 * 1024;
/// Most accepted connections queued for a listener that has not taken them yet.
const MAX_PENDING_ACCEPTS: usize = 128;

/// One accepted connection's halves, as a listener receives it.
pub type Accepted = (BoxRead, BoxWrite);

/// The faults on one directed link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFault {
    /// Dials are refused and open connections are closed.
    pub cut: bool,
    /// How long each chunk of bytes waits before it is delivered.
    pub delay: Duration,
}

#[derive(Default)]
struct State {
    /// Peer address -> the node listening there and where its accepted connections go.
    listeners: HashMap<String, (NodeId, mpsc::Sender<Accepted>)>,
    /// Faults on directed links `(from, to)`; a missing entry is a healthy link.
    links: HashMap<(NodeId, NodeId), LinkFault>,
    /// Nodes that are down (crashed): no connection to or from them.
    down: BTreeSet<NodeId>,
}

impl State {
    fn link(&self, from: NodeId, to: NodeId) -> LinkFault {
        self.links.get(&(from, to)).copied().unwrap_or_default()
    }

    /// Whether a connection between `a` and `b` (either way) may carry bytes.
    fn open(&self, a: NodeId, b: NodeId) -> bool {
        !self.down.contains(&a)
            && !self.down.contains(&b)
            && !self.link(a, b).cut
            && !self.link(b, a).cut
    }
}

struct Inner {
    state: Mutex<State>,
    /// Bumped on every fault change, so relays look again at once.
    changes: watch::Sender<u64>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("memory network lock poisoned")
    }

    fn changed(&self) {
        self.changes.send_modify(|g| *g += 1);
    }
}

/// The shared in-memory network. Cheap to clone; every clone is the same network.
#[derive(Clone)]
pub struct MemoryNetwork {
    inner: Arc<Inner>,
}

impl Default for MemoryNetwork {
    fn default() -> Self {
        MemoryNetwork::new()
    }
}

impl std::fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.state();
        f.debug_struct("MemoryNetwork")
            .field("listeners", &s.listeners.len())
            .field("down", &s.down)
            .finish()
    }
}

impl MemoryNetwork {
    /// An empty network with every link healthy.
    pub fn new() -> MemoryNetwork {
        MemoryNetwork {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changes: watch::Sender::new(0),
            }),
        }
    }

    /// Listen as node `id` at `addr` (any `host:port` text: nothing is bound). Replaces an
    /// earlier listener at `addr`, and brings `id` back up if it was down.
    pub fn listen(&self, id: NodeId, addr: &str) -> MemoryListener {
        let (tx, rx) = mpsc::channel(MAX_PENDING_ACCEPTS);
        let mut s = self.inner.state();
        s.listeners.insert(addr.to_string(), (id, tx));
        s.down.remove(&id);
        MemoryListener {
            addr: addr.to_string(),
            rx,
        }
    }

    /// The transport node `id` dials with.
    pub fn transport(&self, id: NodeId) -> MemoryTransport {
        MemoryTransport {
            net: self.clone(),
            from: id,
        }
    }

    /// Take node `id` down: drop its listener and close every connection to or from it.
    pub fn disconnect(&self, id: NodeId) {
        {
            let mut s = self.inner.state();
            s.down.insert(id);
            s.listeners.retain(|_, (node, _)| *node != id);
        }
        self.inner.changed();
    }

    /// Cut the links between `a` and `b`, both ways.
    pub fn cut(&self, a: NodeId, b: NodeId) {
        self.update(a, b, |l| l.cut = true);
    }

    /// Delay every chunk between `a` and `b`, both ways, by `delay`.
    pub fn delay(&self, a: NodeId, b: NodeId, delay: Duration) {
        self.update(a, b, |l| l.delay = delay);
    }

    /// Split the nodes into `groups`: every link between two nodes of different groups is cut
    /// (links inside a group are left as they are; nodes in no group are not touched).
    pub fn partition(&self, groups: &[Vec<NodeId>]) {
        {
            let mut s = self.inner.state();
            for (i, g) in groups.iter().enumerate() {
                for other in &groups[i + 1..] {
                    for &a in g {
                        for &b in other {
                            s.links.entry((a, b)).or_default().cut = true;
                            s.links.entry((b, a)).or_default().cut = true;
                        }
                    }
                }
            }
        }
        self.inner.changed();
    }

    /// Restore every link: no cuts, no delays (nodes that are down stay down).
    pub fn heal(&self) {
        self.inner.state().links.clear();
        self.inner.changed();
    }

    /// The faults on the directed link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> LinkFault {
        self.inner.state().link(from, to)
    }

    fn update(&self, a: NodeId, b: NodeId, f: impl Fn(&mut LinkFault)) {
        {
            let mut s = self.inner.state();
            f(s.links.entry((a, b)).or_default());
            f(s.links.entry((b, a)).or_default());
        }
        self.inner.changed();
    }

    fn dial(&self, from: NodeId, addr: &str) -> io::Result<Accepted> {
        let refused = |why: &str| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("memory network: {addr}: {why}"),
            )
        };
        let (to, listener) = {
            let s = self.inner.state();
            let Some((to, tx)) = s.listeners.get(addr) else {
                return Err(refused("nobody listens there"));
            };
            if !s.open(from, *to) {
                return Err(refused("the link is cut or the node is down"));
            }
            (*to, tx.clone())
        };
        let (dialer_end, dialer_relay) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        let (listener_relay, listener_end) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        let (lr, lw) = tokio::io::split(listener_end);
        listener
            .try_send((Box::pin(lr) as BoxRead, Box::pin(lw) as BoxWrite))
            .map_err(|_| refused("the listener is gone or not accepting"))?;
        tokio::spawn(relay(
            self.inner.clone(),
            from,
            to,
            dialer_relay,
            listener_relay,
        ));
        let (dr, dw) = tokio::io::split(dialer_end);
        Ok((Box::pin(dr) as BoxRead, Box::pin(dw) as BoxWrite))
    }
}

/// Copy bytes both ways between the dialer's and the listener's pipes until either side
/// closes or the link is cut; returning drops both pipes, which closes both ends.
async fn relay(
    net: Arc<Inner>,
    from: NodeId,
    to: NodeId,
    dialer: DuplexStream,
    listener: DuplexStream,
) {
    let (dr, dw) = tokio::io::split(dialer);
    let (lr, lw) = tokio::io::split(listener);
    let mut changes = net.changes.subscribe();
    let cut = async {
        loop {
            if !net.state().open(from, to) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = cut => {}
        () = pump(&net, (from, to), dr, lw) => {}
        () = pump(&net, (to, from), lr, dw) => {}
    }
}

/// One direction of a relay, over the directed link `link`.
async fn pump(
    net: &Inner,
    link: (NodeId, NodeId),
    mut r: impl tokio::io::AsyncRead + Unpin,
    mut w: impl tokio::io::AsyncWrite + Unpin,
) {
    let mut buf = vec![0u8; RELAY_CHUNK_BYTES];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let delay = net.state().link(link.0, link.1).delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if !net.state().open(link.0, link.1) || w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Where one node's accepted in-memory connections arrive.
pub struct MemoryListener {
    addr: String,
    rx: mpsc::Receiver<Accepted>,
}

impl MemoryListener {
    /// The address this listener was registered at.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The next connection, or `None` once the node was taken down.
    pub async fn accept(&mut self) -> Option<Accepted> {
        self.rx.recv().await
    }
}

/// One node's way into a [`MemoryNetwork`].
#[derive(Clone)]
pub struct MemoryTransport {
    net: MemoryNetwork,
    from: NodeId,
}

impl Transport for MemoryTransport {
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a> {
        Box::pin(async move { self.net.dial(self.from, addr) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_once(listener: &mut MemoryListener) {
        let (mut r, mut w) = listener.accept().await.expect("a connection");
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok(n) = r.read(&mut buf).await {
                if n == 0 || w.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }

    #[tokio::test]
    async fn bytes_flow_both_ways_until_the_link_is_cut() {
        let net = MemoryNetwork::new();
        let mut l2 = net.listen(2, "n2:1");
        let t1 = net.transport(1);
        let (mut r, mut w) = t1.connect("n2:1").await.unwrap();
        echo_once(&mut l2).await;
        w.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");

        net.partition(&[vec![1], vec![2, 3]]);
        // The open connection is closed: the dialer reads EOF (or an error), never "ping".
        let mut rest = Vec::new();
        let _ = r.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
        let err = t1.connect("n2:1").await.err().expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(net.link(2, 1).cut && !net.link(2, 3).cut);

        net.heal();
        let (_r, mut w) = t1.connect("n2:1").await.unwrap();
        w.write_all(b"x").await.unwrap();
    }

    #[tokio::test]
    async fn a_node_taken_down_refuses_dials_until_it_listens_again() {
        let net = MemoryNetwork::new();
        let _l2 = net.listen(2, "n2:1");
        net.disconnect(2);
        let err = net.transport(1).connect("n2:1").await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let _l2 = net.listen(2, "n2:1");
        assert!(net.transport(1).connect("n2:1").await.is_ok());
    }

    #[tokio::test]
    async fn delay_holds_bytes_back() {
        let net = MemoryNetwork::new();
        let mut l2 = net.listen(2, "n2:1");
        net.delay(1, 2, Duration::from_millis(50));
        let (mut r, mut w) = net.transport(1).connect("n2:1").await.unwrap();
        echo_once(&mut l2).await;
        let start = tokio::time::Instant::now();
        w.write_all(b"hi").await.unwrap();
        let mut got = [0u8; 2];
        r.read_exact(&mut got).await.unwrap();
        // There and back: two delayed hops (a lower bound only: sleeps never end early).
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
