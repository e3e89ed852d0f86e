//! The pool of peer clients, one per (peer address, purpose).
//!
//! Raft replication, heartbeats, snapshots and forwarded client commands each get their own
//! connection to a peer, so a large snapshot or a burst of forwarded commands never delays a
//! heartbeat behind it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::transport::{PeerClient, Transport};

/// Clients by (peer address, purpose).
type ClientMap = HashMap<(String, &'static str), Arc<PeerClient>>;

/// Shared pool of [`PeerClient`]s. Cheap to clone.
#[derive(Clone)]
pub struct Peers {
    transport: Arc<dyn Transport>,
    clients: Arc<Mutex<ClientMap>>,
}

impl Peers {
    /// An empty pool dialing through `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Peers {
        Peers {
            transport,
            clients: Arc::default(),
        }
    }

    /// The client for `addr` used for `purpose` (created on first use).
    pub fn client(&self, addr: &str, purpose: &'static str) -> Arc<PeerClient> {
        let mut clients = self.clients.lock().expect("peers lock poisoned");
        clients
            .entry((addr.to_string(), purpose))
            .or_insert_with(|| Arc::new(PeerClient::new(addr.to_string(), self.transport.clone())))
            .clone()
    }
}
