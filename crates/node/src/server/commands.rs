//! Connection-level commands: answered by the node that receives them, never forwarded.
//!
//! PING ECHO HELLO QUIT RESET SELECT AUTH ACL CLIENT COMMAND CONFIG INFO READONLY READWRITE, and the
//! admin family `RAFTKV MEMBER ...` (see docs/operations.md) and, only with
//! `--unsafe-fault-injection`, the test-only `RAFTKV FAULT ISOLATE <id>... | HEAL`.
//! Texts follow Redis 7 exactly where clients depend on them (HELLO's map, CONFIG GET's pairs,
//! error prefixes). Data commands go to `kv` instead.

use bytes::Bytes;
use resp::{Protocol, Reply};

use super::errors::{self, unknown_subcommand, wrong_arity};
pub use super::families::is_connection_command;
use super::session::ClientState;
use super::{help, info, introspection, ServerContext};
use crate::cluster::MemberChange;

pub use super::info::REDIS_VERSION;

/// What the connection does after a command.
pub enum Outcome {
    /// Send the reply and go on.
    Reply(Reply),
    /// Send the reply and close.
    Close(Reply),
}

fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

/// Handle one connection-level command.
pub async fn handle(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Outcome {
    let name = upper(&args[0]);
    if let Some(spec) = kv::command_table::lookup(&args[0]) {
        if !spec.arity_ok(args.len()) {
            return Outcome::Reply(wrong_arity(spec.name));
        }
    }
    let reply = match name.as_str() {
        "PING" => match args.len() {
            1 => Reply::Simple("PONG".into()),
            2 => Reply::Bulk(args[1].clone()),
            _ => wrong_arity("ping"),
        },
        "ECHO" if args.len() == 2 => Reply::Bulk(args[1].clone()),
        "ECHO" => wrong_arity("echo"),
        "QUIT" => return Outcome::Close(Reply::ok()),
        "RESET" => {
            state.name = None;
            state.protocol = Protocol::Resp2;
            state.readonly = false;
            state.transaction = None;
            state.watched.clear();
            state.subscriptions.clear();
            state.user = None;
            Reply::Simple("RESET".into())
        }
        "SELECT" if args.len() == 2 => match resp::parse_i64(&args[1]) {
            Some(0) => Reply::ok(),
            Some(_) => Reply::error("ERR DB index is out of range"),
            None => Reply::error("ERR value is not an integer or out of range"),
        },
        "SELECT" => wrong_arity("select"),
        "AUTH" if args.len() == 2 || args.len() == 3 => super::acl::auth(args, state, ctx),
        "AUTH" => Reply::error("ERR syntax error"),
        "HELLO" => hello(args, state, ctx),
        "ACL" => super::acl::acl(args, state, ctx).await,
        "CLIENT" => client(args, state),
        "COMMAND" => introspection::command(args),
        "CONFIG" => config(args, ctx).await,
        "INFO" => Reply::Verbatim(info::render(args.get(1..).unwrap_or(&[]), state, ctx)),
        "READONLY" if args.len() == 1 => {
            state.readonly = true;
            Reply::ok()
        }
        "RAFTKV" => admin(args, ctx).await,
        "READWRITE" if args.len() == 1 => {
            state.readonly = false;
            Reply::ok()
        }
        other => wrong_arity(other),
    };
    Outcome::Reply(reply)
}

fn hello(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Reply {
    let mut protocol = state.protocol;
    let mut i = 1;
    if let Some(v) = args.get(1) {
        protocol = match resp::parse_i64(v) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => {
                return Reply::error("NOPROTO sorry, this protocol version is not supported.")
            }
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        };
        i = 2;
    }
    let mut name = None;
    let mut auth = None;
    while i < args.len() {
        let opt = upper(&args[i]);
        let left = args.len() - i - 1;
        match opt.as_str() {
            "AUTH" if left >= 2 => {
                auth = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            }
            "SETNAME" if left >= 1 => {
                match valid_client_name(&args[i + 1]) {
                    Ok(n) => name = Some(n),
                    Err(e) => return e,
                }
                i += 2;
            }
            _ => {
                return Reply::error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                ))
            }
        }
    }
    match auth {
        Some((user, password)) => {
            if let Err(reply) = super::acl::authenticate(&user, &password, state, ctx) {
                return reply;
            }
        }
        None if !super::acl::is_authenticated(state, ctx) => {
            return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        None => {}
    }
    state.protocol = protocol;
    if let Some(name) = name {
        state.name = name;
    }
    let proto = if protocol == Protocol::Resp3 { 3 } else { 2 };
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Integer(proto)),
        (Reply::bulk("id"), Reply::Integer(state.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ])
}

fn valid_client_name(name: &[u8]) -> Result<Option<String>, Reply> {
    if name.is_empty() {
        return Ok(None);
    }
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(Some(String::from_utf8_lossy(name).into_owned()))
}

fn client(args: &[Bytes], state: &mut ClientState) -> Reply {
    let Some(sub) = args.get(1) else {
        return wrong_arity("client");
    };
    match upper(sub).as_str() {
        "SETNAME" if args.len() == 3 => match valid_client_name(&args[2]) {
            Ok(n) => {
                state.name = n;
                Reply::ok()
            }
            Err(e) => e,
        },
        "GETNAME" if args.len() == 2 => match &state.name {
            Some(n) => Reply::bulk(n.clone()),
            None => Reply::Null,
        },
        "ID" if args.len() == 2 => Reply::Integer(state.id as i64),
        "HELP" if args.len() == 2 => help::reply(help::CLIENT),
        "SETINFO" if args.len() == 4 => match upper(&args[2]).as_str() {
            "LIB-NAME" | "LIB-VER" => Reply::ok(),
            _ => Reply::error(format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(&args[2])
            )),
        },
        "INFO" if args.len() == 2 => Reply::Verbatim(format!(
            "id={} addr={} name={} db=0 resp={}\n",
            state.id,
            state.addr,
            state.name.as_deref().unwrap_or(""),
            if state.protocol == Protocol::Resp3 {
                3
            } else {
                2
            }
        )),
        "SETNAME" | "GETNAME" | "ID" | "SETINFO" | "INFO" | "HELP" => Reply::error(format!(
            "ERR wrong number of arguments for 'client|{}' command",
            upper(sub).to_lowercase()
        )),
        _ => unknown_subcommand("client", sub),
    }
}

/// The settings CONFIG GET reports (tools like redis-benchmark ask for some at start).
const CONFIG_VALUES: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "no"),
    ("databases", "1"),
    ("maxmemory-policy", "noeviction"),
    ("timeout", "0"),
];

/// CONFIG. `notify-keyspace-events` is replicated state (see `kv::notify`): setting it goes
/// through the log like a write, so every node emits the same notifications, and reading it
/// reads the store. Every other setting is this node's own.
async fn config(args: &[Bytes], ctx: &ServerContext) -> Reply {
    let Some(sub) = args.get(1) else {
        return wrong_arity("config");
    };
    if let Some(parsed) = kv::notify::parse_config(args) {
        return match parsed {
            Ok(cmd) => ctx.execute(vec![cmd]).await.swap_remove(0),
            Err(e) => e.to_reply(),
        };
    }
    match upper(sub).as_str() {
        "GET" if args.len() >= 3 => {
            let maxmemory = ctx.cluster.memory().limit().to_string();
            let wants = |name: &str| {
                args[2..]
                    .iter()
                    .any(|p| kv::glob_match(&p.to_ascii_lowercase(), name.as_bytes()))
            };
            let mut notify = None;
            if wants(kv::notify::NOTIFY_PARAMETER) {
                let get = kv::Command::Notify(kv::notify::NotifyCommand::Get);
                match ctx.execute(vec![get]).await.swap_remove(0) {
                    Reply::Map(pairs) => match pairs.first() {
                        Some((_, Reply::Bulk(flags))) => {
                            notify = Some(String::from_utf8_lossy(flags).into_owned())
                        }
                        _ => return Reply::error("ERR notify-keyspace-events unreadable"),
                    },
                    error => return error,
                }
            }
            let values = CONFIG_VALUES
                .iter()
                .map(|&(k, v)| (k, v.to_string()))
                .chain([("maxmemory", maxmemory)])
                .chain(notify.map(|flags| (kv::notify::NOTIFY_PARAMETER, flags)));
            let mut pairs = Vec::new();
            for (k, v) in values {
                if wants(k) {
                    pairs.push((Reply::bulk(k), Reply::bulk(v)));
                }
            }
            Reply::Map(pairs)
        }
        "GET" => Reply::error("ERR wrong number of arguments for 'config|get' command"),
        // Only maxmemory changes at run time (on this node; the leader's decides).
        "SET" if args.len() == 4 && args[2].eq_ignore_ascii_case(b"maxmemory") => {
            match crate::disk::parse_size(&String::from_utf8_lossy(&args[3])) {
                Ok(bytes) => {
                    ctx.cluster.memory().set_limit(bytes);
                    Reply::ok()
                }
                Err(_) => Reply::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument couldn't be parsed into an integer: {}",
                    String::from_utf8_lossy(&args[3])
                )),
            }
        }
        "SET" => Reply::error(
            "ERR CONFIG SET is not supported by raftkv except for maxmemory and notify-keyspace-events; use the config file or flags",
        ),
        "RESETSTAT" => Reply::ok(),
        "HELP" if args.len() == 2 => help::reply(help::CONFIG),
        _ => unknown_subcommand("config", sub),
    }
}

/// The admin family: `RAFTKV MEMBER ADD <id> <peer-addr> <client-addr> [LEARNER]`,
/// `RAFTKV MEMBER PROMOTE|REMOVE|TRANSFER-LEADER <id>`, `RAFTKV MEMBER LIST`.
async fn admin(args: &[Bytes], ctx: &ServerContext) -> Reply {
    let words: Vec<String> = args.iter().skip(1).take(2).map(|a| upper(a)).collect();
    match (
        words.first().map(String::as_str),
        words.get(1).map(String::as_str),
    ) {
        (Some("MEMBER"), Some("ADD")) if args.len() == 6 || args.len() == 7 => {
            let Some(id) = resp::parse_u64(&args[3]) else {
                return Reply::error("ERR node id must be a non-negative integer");
            };
            let learner = match args.get(6) {
                None => false,
                Some(a) if upper(a) == "LEARNER" => true,
                Some(_) => return Reply::error("ERR syntax error"),
            };
            let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
            let addr = crate::ids::NodeAddr {
                peer_addr: text(&args[4]),
                client_addr: text(&args[5]),
            };
            for a in [&addr.peer_addr, &addr.client_addr] {
                if a.rsplit_once(':')
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .is_none()
                {
                    return Reply::error(format!("ERR invalid address '{a}': expected host:port"));
                }
            }
            match ctx
                .cluster
                .change_members(MemberChange::Add { id, addr, learner })
                .await
            {
                Ok(()) => Reply::ok(),
                Err(e) => errors::cluster(&e),
            }
        }
        (Some("MEMBER"), Some(op @ ("PROMOTE" | "REMOVE" | "TRANSFER-LEADER")))
            if args.len() == 4 =>
        {
            let Some(id) = resp::parse_u64(&args[3]) else {
                return Reply::error("ERR node id must be a non-negative integer");
            };
            let change = match op {
                "PROMOTE" => MemberChange::Promote { id },
                "REMOVE" => MemberChange::Remove { id },
                _ => MemberChange::TransferLeader { id },
            };
            match ctx.cluster.change_members(change).await {
                Ok(()) => Reply::ok(),
                Err(e) => errors::cluster(&e),
            }
        }
        (Some("MEMBER"), Some("LIST")) if args.len() == 3 => {
            let m = ctx.consensus.status();
            let voters = &m.membership.voters;
            let rows = m
                .membership
                .nodes
                .iter()
                .map(|(id, addr)| {
                    Reply::Array(vec![
                        Reply::Integer(*id as i64),
                        Reply::bulk(addr.peer_addr.clone()),
                        Reply::bulk(addr.client_addr.clone()),
                        Reply::bulk(if voters.contains(id) {
                            "voter"
                        } else {
                            "learner"
                        }),
                        Reply::Integer((m.leader == Some(*id)) as i64),
                    ])
                })
                .collect();
            Reply::Array(rows)
        }
        (Some("HELP"), _) if args.len() == 2 => help::reply(help::RAFTKV),
        (Some("SNAPSHOT"), _) => super::backup::handle(args, ctx).await,
        (Some("FAULT"), _) => fault(args, ctx),
        (Some("MEMBER"), Some("ADD" | "PROMOTE" | "REMOVE" | "TRANSFER-LEADER" | "LIST")) => {
            wrong_arity("raftkv|member")
        }
        // An unknown MEMBER operation is an unknown subcommand, pointing at RAFTKV HELP.
        (Some("MEMBER"), Some(_)) => unknown_subcommand("raftkv", &args[2]),
        (Some("MEMBER"), None) | (None, _) => wrong_arity("raftkv"),
        (Some(_), _) => unknown_subcommand("raftkv", &args[1]),
    }
}

/// Test-only link faults: `RAFTKV FAULT ISOLATE <node-id> [<node-id> ...]` stops this node
/// talking to those nodes both ways; `RAFTKV FAULT HEAL` restores every link. Refused unless the
/// node runs with `--unsafe-fault-injection`.
fn fault(args: &[Bytes], ctx: &ServerContext) -> Reply {
    if !ctx.config.unsafe_fault_injection {
        return Reply::error(
            "ERR fault injection is disabled (start with --unsafe-fault-injection)",
        );
    }
    match args.get(2).map(|a| upper(a)).as_deref() {
        Some("ISOLATE") if args.len() >= 4 => {
            let mut ids = Vec::with_capacity(args.len() - 3);
            for a in &args[3..] {
                match resp::parse_u64(a) {
                    Some(id) => ids.push(id),
                    None => return Reply::error("ERR node id must be a non-negative integer"),
                }
            }
            ctx.cluster.isolate(&ids);
            Reply::ok()
        }
        Some("HEAL") if args.len() == 3 => {
            ctx.cluster.heal();
            Reply::ok()
        }
        Some("ISOLATE" | "HEAL") | None => wrong_arity("raftkv|fault"),
        Some(_) => unknown_subcommand("raftkv fault", &args[2]),
    }
}
