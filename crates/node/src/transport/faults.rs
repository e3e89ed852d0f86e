//! Test-only link faults: cut this node's peer links to chosen nodes, both ways.
//!
//! Used by end-to-end tests (through `RAFTKV FAULT`, only with `--unsafe-fault-injection`) to
//! partition nodes without root or network namespaces. A cut link fails outbound calls at once,
//! as if the peer refused the connection, and drops inbound connections from the cut node on
//! their next request, so established connections are cut too. With nothing cut (always, in
//! production) every check is one uncontended read lock.

use std::collections::BTreeSet;
use std::sync::RwLock;

use crate::ids::NodeId;

/// The set of nodes this node's peer links are cut from.
#[derive(Debug, Default)]
pub struct LinkFaults {
    cut: RwLock<BTreeSet<NodeId>>,
}

impl LinkFaults {
    /// Cut the links to `nodes` (added to any already cut).
    pub fn isolate(&self, nodes: &[NodeId]) {
        self.cut
            .write()
            .expect("faults lock poisoned")
            .extend(nodes.iter().copied());
    }

    /// Restore every link.
    pub fn heal(&self) {
        self.cut.write().expect("faults lock poisoned").clear();
    }

    /// Whether the link to `node` is cut.
    pub fn is_cut(&self, node: NodeId) -> bool {
        self.cut
            .read()
            .expect("faults lock poisoned")
            .contains(&node)
    }

    /// The nodes currently cut off, in id order.
    pub fn cut_nodes(&self) -> Vec<NodeId> {
        self.cut
            .read()
            .expect("faults lock poisoned")
            .iter()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolate_adds_and_heal_clears() {
        let f = LinkFaults::default();
        assert!(!f.is_cut(2));
        f.isolate(&[2, 3]);
        f.isolate(&[5]);
        assert!(f.is_cut(2) && f.is_cut(3) && f.is_cut(5) && !f.is_cut(4));
        assert_eq!(f.cut_nodes(), vec![2, 3, 5]);
        f.heal();
        assert!(f.cut_nodes().is_empty());
    }
}
