//! The pub/sub commands a connection answers itself: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
//! PUNSUBSCRIBE and PUBSUB (CHANNELS NUMSUB NUMPAT HELP), subscribed mode, and the frames
//! messages are written as. PUBLISH is a data command (it goes through the log, see
//! [`crate::pubsub`]); only its reply is adjusted ([`super::publish`]).
//!
//! Replies follow Redis 7: each (un)subscription is its own `[kind, name, count]` frame, an
//! array in RESP2 and a push (`>`) in RESP3, where `count` is the connection's channels plus
//! patterns; messages are `[message, channel, payload]` and `[pmessage, pattern, channel,
//! payload]` frames of the same kind. In RESP2 a connection in subscribed mode may only
//! (un)subscribe, PING (answered `[pong, arg-or-empty]`), QUIT and RESET; in RESP3 every command
//! is allowed and pushes arrive between replies. PUBSUB answers about this node's subscribers.

use bytes::{Bytes, BytesMut};
use resp::{Protocol, Reply};

use super::errors::{subscribed_mode, too_many_subscriptions, unknown_subcommand, wrong_arity};
use super::families::{is_connection_command, is_transaction_command};
pub use super::families::{is_pubsub_command, PUBSUB_COMMANDS};
pub use super::publish::{local_receiver_counts, publish_channels};
use super::session::ClientState;
use super::ServerContext;
use crate::pubsub::{Message, MAX_SUBSCRIPTIONS_PER_CLIENT};

/// What a RESP2 connection in subscribed mode may run besides [`PUBSUB_COMMANDS`] minus PUBSUB.
const SUBSCRIBED_MODE_ALLOWED: &[&str] = &[
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PSUBSCRIBE",
    "PUNSUBSCRIBE",
    "PING",
    "QUIT",
    "RESET",
];

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "HELP",
    "    Prints this help.",
];

fn is_one_of(list: &[&str], name: &[u8]) -> bool {
    list.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

/// In RESP2 subscribed mode, the reply for a command that is not a pub/sub command: PING's
/// `[pong, arg]` or the subscribed-mode error. `None` if the command runs normally (not in
/// subscribed mode, RESP3, an allowed command other than PING, or an unknown command, which
/// gets the unknown-command error as in Redis).
pub fn subscribed_mode_reply(args: &[Bytes], state: &ClientState) -> Option<Reply> {
    if state.protocol != Protocol::Resp2 || !state.subscriptions.active() {
        return None;
    }
    let name = &args[0];
    if name.eq_ignore_ascii_case(b"PING") {
        return Some(match args.len() {
            1 => Reply::Array(vec![Reply::bulk("pong"), Reply::bulk("")]),
            2 => Reply::Array(vec![Reply::bulk("pong"), Reply::Bulk(args[1].clone())]),
            _ => wrong_arity("ping"),
        });
    }
    if is_one_of(SUBSCRIBED_MODE_ALLOWED, name) || !is_known_command(name) {
        return None;
    }
    Some(subscribed_mode(name))
}

fn is_known_command(name: &[u8]) -> bool {
    is_connection_command(name)
        || is_transaction_command(name)
        || is_pubsub_command(name)
        || kv::COMMANDS
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

/// Append a `[items...]` frame: a push in RESP3, an array in RESP2.
pub fn encode_push(items: &[Reply], protocol: Protocol, out: &mut BytesMut) {
    let kind = if protocol == Protocol::Resp3 {
        '>'
    } else {
        '*'
    };
    out.extend_from_slice(format!("{kind}{}\r\n", items.len()).as_bytes());
    for item in items {
        resp::encode(item, protocol, out);
    }
}

/// Append one delivered message as a `message` or `pmessage` frame.
pub fn encode_message(message: &Message, protocol: Protocol, out: &mut BytesMut) {
    let mut items = Vec::with_capacity(4);
    match &message.pattern {
        Some(pattern) => {
            items.push(Reply::bulk("pmessage"));
            items.push(Reply::Bulk(pattern.clone()));
        }
        None => items.push(Reply::bulk("message")),
    }
    items.push(Reply::Bulk(message.channel.clone()));
    items.push(Reply::Bulk(message.payload.clone()));
    encode_push(&items, protocol, out);
}

/// Run one of [`PUBSUB_COMMANDS`], appending its reply frames to `out`.
pub fn handle(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext, out: &mut BytesMut) {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let protocol = state.protocol;
    let pattern = name.starts_with('p') && name != "pubsub";
    match name.as_str() {
        "subscribe" | "psubscribe" if args.len() < 2 => {
            resp::encode(&wrong_arity(&name), protocol, out)
        }
        "subscribe" | "psubscribe" => subscribe(&args[1..], pattern, &name, state, out),
        "unsubscribe" | "punsubscribe" => unsubscribe(&args[1..], pattern, &name, state, out),
        _ => resp::encode(&introspect(args, ctx), protocol, out),
    }
}

fn subscribe(
    names: &[Bytes],
    pattern: bool,
    kind: &str,
    state: &mut ClientState,
    out: &mut BytesMut,
) {
    let protocol = state.protocol;
    let subs = &mut state.subscriptions;
    if subs.count() + subs.new_among(names, pattern) > MAX_SUBSCRIPTIONS_PER_CLIENT {
        resp::encode(
            &too_many_subscriptions(MAX_SUBSCRIPTIONS_PER_CLIENT),
            protocol,
            out,
        );
        return;
    }
    if pattern
        && names
            .iter()
            .any(|p| p.len() > kv::limits::MAX_PATTERN_BYTES)
    {
        resp::encode(&kv::Error::PatternTooLarge.to_reply(), protocol, out);
        return;
    }
    for name in names {
        let count = subs.add(name.clone(), pattern);
        let items = [
            Reply::bulk(kind.to_string()),
            Reply::Bulk(name.clone()),
            Reply::Integer(count as i64),
        ];
        encode_push(&items, protocol, out);
    }
}

fn unsubscribe(
    names: &[Bytes],
    pattern: bool,
    kind: &str,
    state: &mut ClientState,
    out: &mut BytesMut,
) {
    let protocol = state.protocol;
    let subs = &mut state.subscriptions;
    let names = if names.is_empty() {
        subs.names(pattern)
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        let items = [
            Reply::bulk(kind.to_string()),
            Reply::Null,
            Reply::Integer(subs.count() as i64),
        ];
        encode_push(&items, protocol, out);
        return;
    }
    for name in names {
        let count = subs.remove(&name, pattern);
        let items = [
            Reply::bulk(kind.to_string()),
            Reply::Bulk(name),
            Reply::Integer(count as i64),
        ];
        encode_push(&items, protocol, out);
    }
}

/// `PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP`, about this node.
fn introspect(args: &[Bytes], ctx: &ServerContext) -> Reply {
    let Some(sub) = args.get(1) else {
        return wrong_arity("pubsub");
    };
    let hub = ctx.consensus.view().hub();
    let sub_name = String::from_utf8_lossy(sub).to_ascii_lowercase();
    match sub_name.as_str() {
        "channels" if args.len() <= 3 => Reply::Array(
            hub.channels(args.get(2).map(|p| &p[..]))
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
        "numsub" => Reply::Array(
            args[2..]
                .iter()
                .flat_map(|ch| {
                    [
                        Reply::Bulk(ch.clone()),
                        Reply::Integer(hub.numsub(ch) as i64),
                    ]
                })
                .collect(),
        ),
        "numpat" if args.len() == 2 => Reply::Integer(hub.numpat() as i64),
        "help" if args.len() == 2 => {
            Reply::Array(HELP.iter().map(|l| Reply::Simple((*l).into())).collect())
        }
        // Redis 7.0's own text for CHANNELS with too many arguments.
        "channels" => Reply::error(
            "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.",
        ),
        "numpat" | "help" => wrong_arity(&format!("pubsub|{sub_name}")),
        _ => unknown_subcommand("pubsub", sub),
    }
}
