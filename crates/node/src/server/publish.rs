//! PUBLISH replies: a PUBLISH is a data command (it goes through the log, see
//! [`crate::pubsub`]); only its reply is adjusted on the node the client talks to, to that
//! node's own receiver count. Used by the connection's batches and by EXEC.

use bytes::Bytes;
use resp::Reply;

use super::ServerContext;

/// The channel of each PUBLISH in `cmds` (`None` for other commands), taken before the batch
/// is sent so [`local_receiver_counts`] can adjust the replies; empty (no allocation) when the
/// batch publishes nothing, the common case.
pub fn publish_channels(cmds: &[kv::Command]) -> Vec<Option<Bytes>> {
    if !cmds
        .iter()
        .any(|c| matches!(c, kv::Command::Publish { .. }))
    {
        return Vec::new();
    }
    cmds.iter()
        .map(|c| match c {
            kv::Command::Publish { channel, .. } => Some(channel.clone()),
            _ => None,
        })
        .collect()
}

/// Make each PUBLISH reply the number of this node's subscribers matching its channel (Redis
/// Cluster's count: receivers on the node the client talks to), instead of the count on the
/// leader that applied it. Errors (an unknown outcome, no leader) are left as they are.
pub fn local_receiver_counts(
    channels: &[Option<Bytes>],
    replies: &mut [Reply],
    ctx: &ServerContext,
) {
    for (channel, reply) in channels.iter().zip(replies.iter_mut()) {
        if let (Some(channel), Reply::Integer(_)) = (channel, &reply) {
            *reply = Reply::Integer(ctx.consensus.view().hub().receivers(channel) as i64);
        }
    }
}
