//! Node-level failures as Redis error replies: the one place their texts live, and the one
//! place a typed error ([`ConsensusError`], [`ClusterError`]) becomes a RESP reply.
//!
//! Clients map error prefixes to exception types, so each failure gets the conventional
//! prefix: `-TRYAGAIN` when retrying soon is likely to work and nothing was applied,
//! `-CLUSTERDOWN` when this node sees no leader (no quorum, or an election in progress), and
//! `-ERR ... outcome unknown` when a write may or may not have been applied (a blind retry of a
//! non-idempotent command could apply it twice), and `-MISCONF` (Redis's reply when it cannot
//! persist) when this node cannot write its Raft log and so refuses writes it has not proposed.
//! No text here carries Rust debug syntax (`LogId { .. }`, `Custom { kind: .. }`): openraft's
//! and the OS's errors are reduced to plain words before they get here. Command errors (wrong arity, WRONGTYPE, ...)
//! come from the `kv` crate and protocol errors from `resp`.

use resp::Reply;

use crate::cluster::error::ClusterError;
use crate::raft::error::ConsensusError;

/// No leader could be found or confirmed before the routing deadline.
pub fn unavailable(leader_known: bool) -> Reply {
    if leader_known {
        Reply::error("TRYAGAIN the leader could not be reached or confirmed, try again")
    } else {
        Reply::error(
            "CLUSTERDOWN no leader: the cluster has no quorum or is electing one, try again",
        )
    }
}

/// A write whose fate is unknown.
pub fn outcome_unknown(why: &str) -> Reply {
    Reply::error(format!(
        "ERR write outcome unknown: {why}; check before retrying"
    ))
}

/// A consensus failure that routing does not retry.
pub fn consensus(e: &ConsensusError) -> Reply {
    match e {
        ConsensusError::NotLeader { leader } => unavailable(leader.is_some()),
        ConsensusError::NoQuorum => unavailable(false),
        ConsensusError::OutcomeUnknown(why) => outcome_unknown(why),
        ConsensusError::Stopped(why) => Reply::error(format!("ERR node stopped: {why}")),
        ConsensusError::StorageFailed(os_error) => Reply::error(format!(
            "MISCONF raftkv cannot write its Raft log: {os_error}"
        )),
        ConsensusError::Membership(why) => {
            Reply::error(format!("ERR membership change refused: {why}"))
        }
        ConsensusError::Behind { index, waited } => Reply::error(format!(
            "TRYAGAIN this node has not applied up to the read index {index} within {} ms, try again",
            waited.as_millis()
        )),
    }
}

/// A routing failure (see [`crate::cluster::router`]).
pub fn cluster(e: &ClusterError) -> Reply {
    match e {
        ClusterError::Consensus(e) => consensus(e),
        ClusterError::Unavailable { leader_known } => unavailable(*leader_known),
        ClusterError::StorageReadRefused(os_error) => storage_read_refused(os_error),
        ClusterError::Refused(text) => Reply::Error(text.clone()),
    }
}

/// A read refused because this node cannot write its Raft log: its Raft has stopped, so it
/// cannot confirm a linearizable read; another node can.
pub fn storage_read_refused(os_error: &str) -> Reply {
    Reply::error(format!(
        "TRYAGAIN this node cannot write its Raft log ({os_error}) and serves no linearizable reads; try another node"
    ))
}

/// A command this node does not support.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_uppercase()
    ))
}

/// Wrong number of arguments, in Redis's words.
pub fn wrong_arity(cmd: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{}' command",
        cmd.to_lowercase()
    ))
}

/// A command too large to replicate as one log entry.
pub fn command_too_large(bytes: usize, max: usize) -> Reply {
    Reply::error(format!(
        "ERR command of {bytes} bytes exceeds the largest replicated entry ({max} bytes)"
    ))
}

/// A RESP2 connection in subscribed mode sent a command other than the pub/sub ones, PING, QUIT
/// or RESET (Redis 7's text; `name` is the command as the client spelled it).
pub fn subscribed_mode(name: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        String::from_utf8_lossy(name).to_lowercase()
    ))
}

/// A (P)SUBSCRIBE would take a connection past its subscription limit.
pub fn too_many_subscriptions(max: usize) -> Reply {
    Reply::error(format!(
        "ERR too many subscriptions: a connection may hold at most {max} channels and patterns"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: Reply) -> String {
        match r {
            Reply::Error(e) => e,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn storage_failures_read_as_redis_errors_without_debug_syntax() {
        let misconf = text(consensus(&ConsensusError::StorageFailed(
            "No space left on device".into(),
        )));
        assert_eq!(
            misconf,
            "MISCONF raftkv cannot write its Raft log: No space left on device"
        );
        let read = text(storage_read_refused("No space left on device"));
        assert!(read.starts_with("TRYAGAIN "), "{read}");
        let unknown = text(consensus(&ConsensusError::OutcomeUnknown(
            "this node could not write its Raft log (No space left on device)".into(),
        )));
        assert!(
            unknown.starts_with("ERR write outcome unknown: "),
            "{unknown}"
        );
        let behind = text(consensus(&ConsensusError::Behind {
            index: 7,
            waited: std::time::Duration::from_millis(1500),
        }));
        assert!(behind.contains("within 1500 ms"), "{behind}");
        for t in [misconf, read, unknown, behind] {
            assert!(!t.contains('{') && !t.contains("os error"), "{t}");
        }
    }

    #[test]
    fn routing_failures_keep_their_redis_prefixes() {
        assert!(
            text(cluster(&ClusterError::Unavailable { leader_known: true }))
                .starts_with("TRYAGAIN ")
        );
        assert!(text(cluster(&ClusterError::Unavailable {
            leader_known: false
        }))
        .starts_with("CLUSTERDOWN "));
        assert!(text(cluster(&ClusterError::StorageReadRefused(
            "disk full".into()
        )))
        .starts_with("TRYAGAIN this node cannot write its Raft log (disk full)"));
        assert_eq!(
            text(cluster(&ClusterError::Refused(
                "ERR membership change refused: node 9 is not a member".into()
            ))),
            "ERR membership change refused: node 9 is not a member",
            "a leader's refusal is passed on verbatim"
        );
        assert!(text(cluster(&ClusterError::Consensus(
            ConsensusError::StorageFailed("disk full".into())
        )))
        .starts_with("MISCONF "));
    }
}
