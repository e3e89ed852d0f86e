//! Leadership hand-off: asking the best-placed voter to take over from this leader, at
//! shutdown, on low free space, and before the leader removes itself from the cluster.

use std::time::{Duration, Instant};

use super::Cluster;
use crate::ids::NodeId;

impl Cluster {
    /// If this node leads and other voters exist, ask the most up-to-date of them to take over
    /// and wait up to `wait` for another node to lead. Returns the new leader, if any. Used at
    /// shutdown.
    pub async fn hand_off_leadership(&self, wait: Duration) -> Option<NodeId> {
        self.hand_over("shutting down as leader", wait).await
    }

    /// [`Self::hand_off_leadership`], logging `why` (e.g. low free space).
    pub async fn hand_off_leadership_because(&self, why: &str, wait: Duration) -> Option<NodeId> {
        self.hand_over(why, wait).await
    }

    /// True if this node leads and another voter could take over.
    pub fn can_hand_off(&self) -> bool {
        self.successor().is_some()
    }

    /// The voter best placed to take over from this leader: the one whose replicated log
    /// reaches furthest, so a voter that is down or lagging (its match index stalls) is never
    /// picked before an up-to-date one. None unless this node leads and another voter exists.
    fn successor(&self) -> Option<NodeId> {
        let m = self.consensus.status();
        if !m.is_leader() {
            return None;
        }
        m.membership
            .voters
            .iter()
            .copied()
            .filter(|v| *v != self.node_id)
            .max_by_key(|v| m.matched.get(v).copied().flatten())
    }

    /// Hand leadership to [`Self::successor`] (logging `why`) and wait up to `wait` for
    /// another node to lead. Returns the new leader, if any. openraft's leader stops proposing
    /// and heartbeating once asked, so even if the successor fails to take over, the other
    /// voters elect a leader after an election timeout.
    pub(super) async fn hand_over(&self, why: &str, wait: Duration) -> Option<NodeId> {
        let target = self.successor()?;
        tracing::info!(to = target, "{why}: transferring leadership");
        crate::counters::HANDOVERS_STARTED.incr();
        if let Err(e) = self.consensus.transfer_leader(target).await {
            tracing::warn!(error = %e, "leadership transfer failed");
            return None;
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let leader = self.consensus.status().leader;
            if let Some(l) = leader.filter(|l| *l != self.node_id) {
                tracing::info!(leader = l, "leadership transferred");
                crate::counters::LEADERSHIP_HANDED_OVER.incr();
                return Some(l);
            }
            self.consensus
                .wait_status_change(deadline.saturating_duration_since(Instant::now()))
                .await;
        }
        tracing::warn!("no other node took over leadership in {wait:?}");
        None
    }
}
