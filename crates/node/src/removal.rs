//! Noticing that this node was removed from the cluster.
//!
//! A removed node usually never learns it from Raft: the leader drops its replication stream
//! as soon as it *appends* the membership that excludes the node, so the node keeps the older
//! membership (which still lists it) and simply stops hearing from anyone. So every
//! [`CHECK_INTERVAL`] a non-leader node that is (or was) a member asks the other members of its
//! membership for `INFO raft`, believed leader first. It concludes it was removed only when a
//! node that reports itself `raft_role:leader`, in a term at least that of the latest leader
//! this node knows of (the one that proposed its membership, or one it followed since), lists
//! neither this node's id among its voters nor among its learners. Node ids are never reused,
//! and a node being added is not yet a member in its own view, so neither case misfires; a
//! leader from an older term (a stale, partitioned one) is ignored. Only a node whose own
//! *committed* membership lists it checks at all: a node whose addition was appended but never
//! committed (a later leader's log does without it) was never a member, and a later `MEMBER ADD`
//! must still work for it.
//!
//! Once removed, the flag in [`ServerContext::removed`] makes the client listener answer every
//! command except `INFO` with [`REMOVED_ERROR`]. The process keeps running (so an operator sees
//! the reason instead of a refused connection) until it is stopped. If a leader adds the same id
//! back, the node sees a newer membership that lists it and serves again; still, a node that
//! rejoins should get a new id and an empty dir.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;

use crate::client::RespClient;
use crate::raft::types::LogId;
use crate::server::ServerContext;

/// How often a follower checks whether it is still a member.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Deadline for asking one peer.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// The error every client command gets once this node was removed.
pub const REMOVED_ERROR: &str = "ERR this node was removed from the cluster";

/// What one peer said about the cluster, from its `INFO raft`.
#[derive(Debug, Default, PartialEq)]
pub struct PeerView {
    /// `raft_role`.
    pub role: String,
    /// `raft_term`.
    pub term: u64,
    /// `raft_voters` and `raft_learners`, together.
    pub members: Vec<u64>,
}

/// Parse the fields [`PeerView`] needs from `INFO raft` text.
pub fn parse_peer_view(info: &str) -> PeerView {
    let mut v = PeerView::default();
    for line in info.lines() {
        let Some((k, val)) = line.split_once(':') else {
            continue;
        };
        let val = val.trim();
        match k {
            "raft_role" => v.role = val.to_string(),
            "raft_term" => v.term = val.parse().unwrap_or(0),
            "raft_voters" | "raft_learners" => v
                .members
                .extend(val.split(',').filter_map(|s| s.parse::<u64>().ok())),
            _ => {}
        }
    }
    v
}

/// True if `peer` proves that node `me`, which last knew of a leader in `my_term`, is no longer
/// a member.
pub fn proves_removed(peer: &PeerView, me: u64, my_term: u64) -> bool {
    peer.role == "leader" && peer.term >= my_term && !peer.members.contains(&me)
}

async fn ask(addr: &str) -> Option<PeerView> {
    let mut c = RespClient::connect(addr, ASK_TIMEOUT).await.ok()?;
    match c.call(&["INFO", "raft"]).await.ok()? {
        resp::Reply::Bulk(b) => Some(parse_peer_view(&String::from_utf8_lossy(&b))),
        resp::Reply::Verbatim(s) => Some(parse_peer_view(&s)),
        _ => None,
    }
}

/// Watch for this node's removal until the task is aborted; sets `ctx.removed` when proven,
/// and clears it if the node is later added back (a newer membership lists it again).
pub async fn watch(ctx: Arc<ServerContext>) {
    let consensus = ctx.consensus.clone();
    let me = consensus.node_id();
    // Not this node's current term: a removed node hears from no one, times out and campaigns,
    // so its own term climbs past the real leader's.
    let mut leader_term = 0;
    // The membership this node held when it concluded it was removed.
    let mut verdict: Option<Option<LogId>> = None;
    loop {
        tokio::time::sleep(CHECK_INTERVAL).await;
        let m = consensus.metrics();
        let view = consensus.membership_view();
        leader_term = leader_term.max(view.term);
        if m.current_leader.is_some() {
            leader_term = leader_term.max(m.current_term);
        }
        let membership_id = *m.membership_config.log_id();
        if let Some(held) = &verdict {
            if *held != membership_id && view.contains(me) && m.current_leader.is_some() {
                tracing::warn!(node_id = me, "this node was added back to the cluster");
                ctx.removed.store(false, Ordering::Relaxed);
                verdict = None;
            }
            continue;
        }
        // Only a node whose membership was committed can have been removed: one whose addition
        // never committed (a new leader's log did without it) is not a member yet, not removed.
        let committed_member = m
            .committed_membership_config
            .membership()
            .get_node(&me)
            .is_some();
        if m.state == ServerState::Leader || !view.contains(me) || !committed_member {
            // A leader is a member by definition; a node absent from its own membership was
            // never added (still joining) or not yet initialized.
            continue;
        }
        let mut peers: Vec<(u64, String)> = view
            .nodes
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(id, a)| (*id, a.client_addr.clone()))
            .collect();
        peers.sort_by_key(|(id, _)| Some(*id) != m.current_leader);
        for (_, addr) in peers {
            let Some(peer) = ask(&addr).await else {
                continue;
            };
            if proves_removed(&peer, me, leader_term) {
                tracing::error!(
                    node_id = me,
                    leader_addr = %addr,
                    "this node was removed from the cluster; refusing client commands"
                );
                ctx.removed.store(true, Ordering::Relaxed);
                verdict = Some(membership_id);
                break;
            }
            if peer.role == "leader" {
                break; // the current leader lists this node: still a member
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Raft\r\nraft_node_id:1\r\nraft_role:leader\r\nraft_term:7\r\nraft_voters:1,3\r\nraft_learners:4\r\n";

    #[test]
    fn parses_info_raft() {
        let v = parse_peer_view(INFO);
        assert_eq!(
            v,
            PeerView {
                role: "leader".into(),
                term: 7,
                members: vec![1, 3, 4]
            }
        );
    }

    #[test]
    fn only_a_current_leader_without_me_proves_removal() {
        let v = parse_peer_view(INFO);
        assert!(proves_removed(&v, 2, 7));
        assert!(proves_removed(&v, 2, 6));
        assert!(!proves_removed(&v, 2, 8), "a stale leader proves nothing");
        assert!(!proves_removed(&v, 3, 7), "a voter is a member");
        assert!(!proves_removed(&v, 4, 7), "a learner is a member");
        let follower = PeerView {
            role: "follower".into(),
            ..v
        };
        assert!(!proves_removed(&follower, 2, 7));
    }
}
