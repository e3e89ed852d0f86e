//! Test-only fault injection on this node's peer links (`RAFTKV FAULT`, enabled only by
//! `--unsafe-fault-injection`). See [`crate::transport::LinkFaults`].

use super::types::NodeId;
use super::Consensus;
use crate::transport::LinkFaults;

impl Consensus {
    /// Stop talking to `peers`, both ways, until [`Consensus::heal`].
    pub fn isolate(&self, peers: &[NodeId]) {
        tracing::warn!(?peers, "fault injection: cutting peer links");
        self.peers.faults().isolate(peers);
    }

    /// Restore every peer link cut by [`Consensus::isolate`].
    pub fn heal(&self) {
        tracing::warn!("fault injection: peer links restored");
        self.peers.faults().heal();
    }

    /// The link faults, for the peer server's checks.
    pub(crate) fn link_faults(&self) -> &LinkFaults {
        self.peers.faults()
    }
}
