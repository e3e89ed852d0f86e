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
//! *committed* membership has listed it checks at all: a node whose addition was appended but
//! never committed (a later leader's log does without it) was never a member, and a later
//! `MEMBER ADD` must still work for it. A node that received the entry removing it (so its own
//! latest membership no longer lists it) still checks, and learns it from the leader.
//!
//! Once removed, the flag [`watch`] sets (the server's `ServerContext::removed`) makes the client listener answer every
//! command except `INFO` with [`REMOVED_ERROR`]. The process keeps running (so an operator sees
//! the reason instead of a refused connection) until it is stopped. If a leader adds the same id
//! back, the node sees a newer membership that lists it and serves again; still, a node that
//! rejoins should get a new id and an empty dir.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{RaftInfo, RespClient};
use crate::credentials::Credentials;
use crate::raft::Consensus;
use crate::tls::ClientTls;

/// How often a follower checks whether it is still a member.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Deadline for asking one peer.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// The error every client command gets once this node was removed.
pub const REMOVED_ERROR: &str = "ERR this node was removed from the cluster";

/// True if `peer` (a node's `INFO raft`) proves that node `me`, which last knew of a leader in
/// `my_term`, is no longer a member.
pub fn proves_removed(peer: &RaftInfo, me: u64, my_term: u64) -> bool {
    peer.role == "leader" && peer.term >= my_term && !peer.lists(me)
}

async fn ask(
    addr: &str,
    tls: Option<&ClientTls>,
    credentials: Option<&Credentials>,
) -> Option<RaftInfo> {
    let mut c = RespClient::connect_as(addr, ASK_TIMEOUT, tls, credentials)
        .await
        .ok()?;
    match c.call(&["INFO", "raft"]).await.ok()? {
        resp::Reply::Bulk(b) => Some(RaftInfo::parse(&String::from_utf8_lossy(&b))),
        resp::Reply::Verbatim(s) => Some(RaftInfo::parse(&s)),
        _ => None,
    }
}

/// Watch for this node's removal until the task is aborted; sets `removed` when proven, and
/// clears it if the node is later added back (a newer membership lists it again). Other nodes'
/// client ports are dialed with `tls` when given, and `credentials` authenticate there (see
/// [`crate::credentials`]).
pub async fn watch(
    consensus: Arc<Consensus>,
    removed: Arc<AtomicBool>,
    tls: Option<Arc<ClientTls>>,
    credentials: Option<Credentials>,
) {
    let me = consensus.node_id();
    // Not this node's current term: a removed node hears from no one, times out and campaigns,
    // so its own term climbs past the real leader's.
    let mut leader_term = 0;
    // The membership this node held when it concluded it was removed.
    let mut verdict: Option<Option<(u64, u64)>> = None;
    // Whether a committed membership of this process ever listed this node.
    let mut was_member = false;
    loop {
        tokio::time::sleep(CHECK_INTERVAL).await;
        crate::counters::REMOVAL_CHECKS.incr();
        let m = consensus.status();
        let view = &m.membership;
        leader_term = leader_term.max(view.term);
        if m.leader.is_some() {
            leader_term = leader_term.max(m.term);
        }
        let membership_id = m.membership_log;
        if let Some(held) = &verdict {
            if *held != membership_id && view.contains(me) && m.leader.is_some() {
                tracing::warn!(node_id = me, "this node was added back to the cluster");
                removed.store(false, Ordering::Relaxed);
                verdict = None;
            }
            continue;
        }
        // Only a node whose membership was committed can have been removed: one whose addition
        // never committed (a new leader's log did without it) is not a member yet, not removed.
        // Once committed it stays "was a member" even when the entry removing it reaches this
        // node, which then no longer lists itself but must still find out.
        was_member |= m.committed_members.contains(&me);
        if m.is_leader() || !was_member {
            // A leader is a member by definition; a node never committed as a member is still
            // joining or not yet initialized.
            continue;
        }
        let mut peers: Vec<(u64, String)> = view
            .nodes
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(id, a)| (*id, a.client_addr.clone()))
            .collect();
        peers.sort_by_key(|(id, _)| Some(*id) != m.leader);
        for (_, addr) in peers {
            let Some(peer) = ask(&addr, tls.as_deref(), credentials.as_ref()).await else {
                continue;
            };
            if proves_removed(&peer, me, leader_term) {
                tracing::error!(
                    node_id = me,
                    leader_addr = %addr,
                    "this node was removed from the cluster; refusing client commands"
                );
                removed.store(true, Ordering::Relaxed);
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
    fn only_a_current_leader_without_me_proves_removal() {
        let v = RaftInfo::parse(INFO);
        assert!(proves_removed(&v, 2, 7));
        assert!(proves_removed(&v, 2, 6));
        assert!(!proves_removed(&v, 2, 8), "a stale leader proves nothing");
        assert!(!proves_removed(&v, 3, 7), "a voter is a member");
        assert!(!proves_removed(&v, 4, 7), "a learner is a member");
        let follower = RaftInfo {
            role: "follower".into(),
            ..v
        };
        assert!(!proves_removed(&follower, 2, 7));
    }
}
