//! Test-only fault injection on this node's peer links (`RAFTKV FAULT`, enabled only by
//! `--unsafe-fault-injection`). See [`crate::transport::LinkFaults`].

use super::Cluster;
use crate::ids::NodeId;

impl Cluster {
    /// Stop talking to `peers`, both ways, until [`Cluster::heal`].
    pub fn isolate(&self, peers: &[NodeId]) {
        tracing::warn!(?peers, "fault injection: cutting peer links");
        self.peers.faults().isolate(peers);
    }

    /// Restore every peer link cut by [`Cluster::isolate`].
    pub fn heal(&self) {
        tracing::warn!("fault injection: peer links restored");
        self.peers.faults().heal();
    }
}
