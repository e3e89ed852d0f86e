//! Authentication and permissions on the client port: who a connection is (AUTH, HELLO AUTH),
//! whether it may run a call (one check before dispatch), and the `ACL` command.
//!
//! The user table is replicated state (see [`kv::acl`]); this node reads the table it last
//! applied, which the state machine publishes as an `Arc` and a version number. Each
//! connection keeps its own `Arc` and refreshes it only when the version moved (one atomic
//! load per command, no lock), so a permission change applies to every connection of every
//! node as soon as that node has applied it.
//!
//! The check runs on the node the client is connected to, before routing, so a write
//! forwarded to the leader is checked once, here. Replies are Redis 7.0's exact texts
//! (`-NOAUTH Authentication required.`, `-WRONGPASS ...`, `-NOPERM ...`), built by
//! [`kv::Error`].
//!
//! Until a connection authenticates it acts as the `default` user if that user is `on` and
//! `nopass` (Redis's rule); otherwise every command but AUTH, HELLO, QUIT and RESET answers
//! NOAUTH. The `default` user is the table's once `ACL SETUSER default ...` has been
//! applied, and until then this node's fallback ([`fallback_default_user`]): `--requirepass`.

use bytes::Bytes;
use kv::acl::{category, Acl, Target, User, DEFAULT_USER};
use resp::Reply;

use super::errors::{unknown_subcommand, wrong_arity};
use super::session::ClientState;
use super::ServerContext;
use crate::config::Config;

/// The default user while the cluster's table has none: Redis's (`on nopass ~* &* +@all`),
/// with `--requirepass` as its only password if set.
pub fn fallback_default_user(config: &Config) -> User {
    let mut user = User::redis_default();
    if let Some(pass) = &config.requirepass {
        let rule = format!(">{}", pass.0);
        user.apply_rule(b"resetpass")
            .and_then(|()| user.apply_rule(rule.as_bytes()))
            .expect("password rules always apply");
    }
    user
}

/// Refreshes the connection's copy of the table if this node applied a newer one.
fn refresh(state: &mut ClientState, ctx: &ServerContext) {
    let view = ctx.consensus.view();
    if view.acl_version() != state.acl_version {
        let (version, acl) = view.acl();
        state.acl_version = version;
        state.acl = acl;
    }
}

/// The user the connection acts as: its authenticated user, or `default` if that needs no
/// password; None if it must authenticate first (or its user was deleted).
fn current<'a>(state: &'a ClientState, ctx: &'a ServerContext) -> Option<&'a User> {
    match &state.user {
        Some(name) => state.acl.user_or(name, &ctx.default_user),
        None => state
            .acl
            .user_or(DEFAULT_USER.as_bytes(), &ctx.default_user)
            .filter(|u| u.enabled && u.nopass),
    }
}

/// True if the command may run before authentication (AUTH, HELLO, QUIT, RESET: Redis's
/// `no_auth` commands); they are never refused by permissions either.
fn no_auth(name: &[u8]) -> bool {
    kv::command_table::lookup(name).is_some_and(|spec| spec.flags.contains(&"no_auth"))
}

/// The error to answer `args` with instead of running it (NOAUTH, NOPERM), if any.
pub fn check(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Option<Reply> {
    refresh(state, ctx);
    if no_auth(&args[0]) {
        return None;
    }
    let Some(user) = current(state, ctx) else {
        return Some(kv::Error::NoAuth.to_reply());
    };
    let target = category::target(args);
    if !user.may_run(&target) {
        let name = match target {
            Target::Id(id) => category::name_of(id).to_string(),
            _ => args
                .iter()
                .take(2)
                .map(|a| String::from_utf8_lossy(a).to_lowercase())
                .collect::<Vec<_>>()
                .join("|"),
        };
        return Some(kv::Error::NoPermCommand(name).to_reply());
    }
    if !user.unrestricted_keys() && !keys_allowed(user, args) {
        return Some(kv::Error::NoPermKey.to_reply());
    }
    if !user.all_channels && !channels_allowed(user, args) {
        return Some(kv::Error::NoPermChannel.to_reply());
    }
    None
}

/// True if `user` may touch every key `args` names: a write command needs write access to each
/// key, any other read access (Redis 7 decides per key; see docs/acl.md).
fn keys_allowed(user: &User, args: &[Bytes]) -> bool {
    let Some(spec) = kv::command_table::lookup(&args[0]) else {
        return true;
    };
    let write = spec.flags.contains(&"write");
    let movable = spec.flags.contains(&"movablekeys");
    if (movable || spec.first_key == 0) && spec.served_by == kv::command_table::ServedBy::Data {
        // EVAL, ZUNION, XREAD, XGROUP, OBJECT...: only the parsed command knows its keys.
        return match kv::Command::parse(args) {
            Ok(cmd) => cmd
                .keys()
                .iter()
                .all(|k| user.may_access_key(k, cmd.is_write())),
            Err(_) => true, // refused anyway, touching nothing
        };
    }
    // Fixed key positions (most commands): read from the table, no parse.
    let keys: Vec<&Bytes> = if movable {
        // BLMPOP / BZMPOP: timeout numkeys key...
        let n = args.get(2).and_then(|n| resp::parse_u64(n)).unwrap_or(0) as usize;
        args.iter().skip(3).take(n).collect()
    } else if spec.first_key > 0 {
        let first = spec.first_key as usize;
        let last = if spec.last_key < 0 {
            args.len().saturating_sub((-spec.last_key) as usize)
        } else {
            spec.last_key as usize
        };
        let step = spec.key_step.max(1) as usize;
        (first..=last.min(args.len().saturating_sub(1)))
            .step_by(step)
            .map(|i| &args[i])
            .collect()
    } else {
        Vec::new()
    };
    keys.iter().all(|k| user.may_access_key(k, write))
}

/// True if `user` may use every channel `args` names (PUBLISH, SUBSCRIBE, PSUBSCRIBE).
fn channels_allowed(user: &User, args: &[Bytes]) -> bool {
    let name = &args[0];
    if name.eq_ignore_ascii_case(b"publish") {
        return args
            .get(1)
            .is_none_or(|c| user.may_access_channel(c, false));
    }
    let pattern = name.eq_ignore_ascii_case(b"psubscribe");
    if pattern || name.eq_ignore_ascii_case(b"subscribe") {
        return args[1..]
            .iter()
            .all(|c| user.may_access_channel(c, pattern));
    }
    true
}

/// Authenticates the connection as `name` with `password`: OK, or WRONGPASS (unknown user,
/// wrong password, or a user that is `off`), leaving the connection as it was.
pub fn authenticate(
    name: &Bytes,
    password: &[u8],
    state: &mut ClientState,
    ctx: &ServerContext,
) -> Result<(), Reply> {
    refresh(state, ctx);
    match state.acl.user_or(name, &ctx.default_user) {
        Some(user) if user.enabled && user.password_matches(password) => {
            state.user = Some(name.clone());
            Ok(())
        }
        _ => Err(kv::Error::WrongPass.to_reply()),
    }
}

/// `AUTH [username] password`.
pub fn auth(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Reply {
    let (name, password) = match args.len() {
        2 => (Bytes::from_static(DEFAULT_USER.as_bytes()), &args[1]),
        3 => (args[1].clone(), &args[2]),
        _ => return Reply::error("ERR syntax error"),
    };
    refresh(state, ctx);
    if args.len() == 2 {
        let default = state
            .acl
            .user_or(DEFAULT_USER.as_bytes(), &ctx.default_user);
        if default.is_some_and(|u| u.nopass) {
            return Reply::error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        }
    }
    match authenticate(&name, password, state, ctx) {
        Ok(()) => Reply::ok(),
        Err(reply) => reply,
    }
}

/// True if the connection may run commands without authenticating first (HELLO's check).
pub fn is_authenticated(state: &mut ClientState, ctx: &ServerContext) -> bool {
    refresh(state, ctx);
    current(state, ctx).is_some()
}

/// The `ACL` command: SETUSER and DELUSER go through the log; GETUSER, LIST, USERS, WHOAMI
/// and CAT read this node's table.
pub async fn acl(args: &[Bytes], state: &mut ClientState, ctx: &ServerContext) -> Reply {
    let Some(sub) = args.get(1) else {
        return wrong_arity("acl");
    };
    let sub_lower = String::from_utf8_lossy(sub).to_lowercase();
    let arity_ok = match sub_lower.as_str() {
        "setuser" | "deluser" => args.len() >= 3,
        "getuser" => args.len() == 3,
        "whoami" | "users" | "list" | "help" => args.len() == 2,
        "cat" => args.len() <= 3,
        _ => return unknown_subcommand("acl", sub),
    };
    if !arity_ok {
        return Reply::error(format!(
            "ERR wrong number of arguments for 'acl|{sub_lower}' command"
        ));
    }
    if let Some(parsed) = kv::acl::AclCommand::parse(args) {
        return match parsed {
            Ok(cmd) => ctx.execute(vec![cmd]).await.swap_remove(0),
            Err(e) => e.to_reply(),
        };
    }
    refresh(state, ctx);
    match sub_lower.as_str() {
        "getuser" => match state.acl.user_or(&args[2], &ctx.default_user) {
            Some(user) => getuser(user),
            None => Reply::Null,
        },
        "list" => Reply::Array(
            users(&state.acl, &ctx.default_user)
                .map(|(name, user)| {
                    let mut line = format!("user {}", String::from_utf8_lossy(name));
                    for rule in user.rules() {
                        line.push(' ');
                        line.push_str(&rule);
                    }
                    Reply::bulk(line)
                })
                .collect(),
        ),
        "users" => Reply::Array(
            users(&state.acl, &ctx.default_user)
                .map(|(name, _)| Reply::Bulk(Bytes::copy_from_slice(name)))
                .collect(),
        ),
        "whoami" => Reply::Bulk(
            state
                .user
                .clone()
                .unwrap_or_else(|| Bytes::from_static(DEFAULT_USER.as_bytes())),
        ),
        "cat" => cat(args.get(2)),
        _ => super::help::reply(super::help::ACL),
    }
}

/// Every user by name, the fallback `default` included while the table has none.
fn users<'a>(acl: &'a Acl, fallback: &'a User) -> impl Iterator<Item = (&'a [u8], &'a User)> {
    let default = acl
        .user(DEFAULT_USER.as_bytes())
        .is_none()
        .then_some((DEFAULT_USER.as_bytes(), fallback));
    let mut all: Vec<(&[u8], &User)> = acl.users().map(|(n, u)| (&n[..], u)).collect();
    all.extend(default);
    all.sort_by(|a, b| a.0.cmp(b.0));
    all.into_iter()
}

/// `ACL GETUSER`'s map: flags, passwords, commands, keys, channels, selectors.
fn getuser(user: &User) -> Reply {
    let mut flags = vec![Reply::bulk(if user.enabled { "on" } else { "off" })];
    if user.nopass {
        flags.push(Reply::bulk("nopass"));
    }
    let passwords = user
        .passwords
        .iter()
        .map(|d| Reply::bulk(kv::acl::user::hex(d)))
        .collect();
    Reply::Map(vec![
        (Reply::bulk("flags"), Reply::Array(flags)),
        (Reply::bulk("passwords"), Reply::Array(passwords)),
        (
            Reply::bulk("commands"),
            Reply::bulk(user.command_rules().join(" ")),
        ),
        (Reply::bulk("keys"), Reply::bulk(user.key_rules().join(" "))),
        (
            Reply::bulk("channels"),
            Reply::bulk(user.channel_patterns().join(" ")),
        ),
        (Reply::bulk("selectors"), Reply::Array(Vec::new())),
    ])
}

/// `ACL CAT [category]`.
fn cat(category_name: Option<&Bytes>) -> Reply {
    let Some(name) = category_name else {
        return Reply::Array(
            category::CATEGORIES
                .iter()
                .map(|c| Reply::bulk(*c))
                .collect(),
        );
    };
    let lower = String::from_utf8_lossy(name).to_lowercase();
    let Some(index) = category::category_index(&lower) else {
        return Reply::error(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(name)
        ));
    };
    let cat = category::CATEGORIES[index];
    Reply::Array(
        category::COMMAND_CATEGORIES
            .iter()
            .filter(|(_, cats)| cats.contains(&cat))
            .map(|(n, _)| Reply::bulk(*n))
            .collect(),
    )
}
