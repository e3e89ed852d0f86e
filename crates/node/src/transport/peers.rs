//! The pool of peer clients, one per (peer node, address, purpose).
//!
//! Raft replication, heartbeats, snapshots and forwarded client commands each get their own
//! connection to a peer, so a large snapshot or a burst of forwarded commands never delays a
//! heartbeat behind it. A client is keyed by the node id as well as the address: every
//! connection names the node it means to reach, so a node that takes over a removed node's
//! address is never mistaken for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::auth::PeerAuth;
use super::client::PeerClient;
use super::faults::LinkFaults;
use super::frame::Hello;
use super::stream::Transport;
use crate::ids::NodeId;

/// Clients by (peer node, peer address, purpose).
type ClientMap = HashMap<(NodeId, String, &'static str), Arc<PeerClient>>;

/// Shared pool of [`PeerClient`]s. Cheap to clone.
#[derive(Clone)]
pub struct Peers {
    me: NodeId,
    transport: Arc<dyn Transport>,
    faults: Arc<LinkFaults>,
    auth: Arc<PeerAuth>,
    clients: Arc<Mutex<ClientMap>>,
}

impl Peers {
    /// An empty pool for node `me`, dialing through `transport` and proving `auth`.
    pub fn new(me: NodeId, transport: Arc<dyn Transport>, auth: PeerAuth) -> Peers {
        Peers {
            me,
            transport,
            faults: Arc::default(),
            auth: Arc::new(auth),
            clients: Arc::default(),
        }
    }

    /// The client for node `to` at `addr`, used for `purpose` (created on first use).
    pub fn client(&self, to: NodeId, addr: &str, purpose: &'static str) -> Arc<PeerClient> {
        let mut clients = self.clients.lock().expect("peers lock poisoned");
        clients
            .entry((to, addr.to_string(), purpose))
            .or_insert_with(|| Arc::new(self.new_client(to, addr)))
            .clone()
    }

    /// Connect to node `to` at `addr` once, through the hello and its authentication, and
    /// hang up; the connection is not kept.
    pub async fn probe(&self, to: NodeId, addr: &str) -> std::io::Result<()> {
        self.new_client(to, addr).check().await
    }

    fn new_client(&self, to: NodeId, addr: &str) -> PeerClient {
        let hello = Hello {
            from: self.me,
            to,
            nonce: Default::default(),
        };
        PeerClient::new(
            hello,
            addr.to_string(),
            self.transport.clone(),
            self.faults.clone(),
            self.auth.clone(),
        )
    }

    /// What this node proves its peers with, shared with the peer server.
    pub fn auth(&self) -> &Arc<PeerAuth> {
        &self.auth
    }

    /// The test-only link faults shared by every client and the peer server.
    pub fn faults(&self) -> &Arc<LinkFaults> {
        &self.faults
    }
}
