//! Node identity: the id and addresses of a cluster member. A leaf: the transport, the Raft
//! glue, the cluster layer and the wire format all name these types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Raft node id. Never reuse the id of a removed node for a node with an empty log.
pub type NodeId = u64;

/// The addresses of one member, kept in the Raft membership config so every node can tell
/// clients and peers where any member (in particular the leader) is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    /// Address other nodes dial for Raft traffic (`host:port`).
    pub peer_addr: String,
    /// Address clients dial for RESP (`host:port`).
    pub client_addr: String,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer={} client={}", self.peer_addr, self.client_addr)
    }
}
