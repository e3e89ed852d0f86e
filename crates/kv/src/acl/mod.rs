//! Users and permissions in the style of Redis 7 ACLs, as replicated state.
//!
//! The user table ([`Acl`]) lives in the store, so it is cluster state: `ACL SETUSER` and
//! `ACL DELUSER` are [`crate::Command::Acl`] log entries ([`AclCommand`]), applied alike on
//! every replica, kept in snapshots (a users chunk, format 7) and so in backups and across
//! restarts. Reading the table (`ACL GETUSER`, `LIST`, `USERS`, `WHOAMI`, `CAT`) and checking
//! a call against it happen on the node, which keeps an `Arc` of the table it last applied.
//!
//! # Invariants
//!
//! - Passwords never enter the log or a snapshot in clear: [`AclCommand::parse`] turns `>pass`
//!   into `#<sha256>` and `<pass` into `!<sha256>` on the node that received the command.
//! - `ACL SETUSER` is all or nothing: the rules are applied to a copy of the user, which
//!   replaces it only if every rule succeeded; an error reply leaves the table unchanged.
//! - The `default` user is in the table only once `ACL SETUSER default ...` has been applied.
//!   Until then each node uses its own fallback ([`Acl::user_or`]): Redis's default
//!   (`on nopass ~* &* +@all`), or that with the node's `--requirepass`. The replicated rule,
//!   once there, wins on every node.
//! - At most [`MAX_USERS`] users; names are 1 to [`MAX_USER_NAME_BYTES`] bytes without spaces
//!   or control characters.

pub mod category;
pub mod category_table;
pub mod user;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use category::{CommandSet, Target};
pub use user::User;

use crate::Error;

/// The most users the table holds.
pub const MAX_USERS: usize = 10_000;
/// The longest user name, in bytes.
pub const MAX_USER_NAME_BYTES: usize = 256;
/// The name of the default user.
pub const DEFAULT_USER: &str = "default";

/// A replicated change of the user table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclCommand {
    /// `ACL SETUSER name rule...`, passwords already hashed (`#hex`, `!hex`).
    SetUser {
        /// The user's name.
        name: Bytes,
        /// The rules, in order.
        rules: Vec<Bytes>,
    },
    /// `ACL DELUSER name...`: answers how many existed.
    DelUser {
        /// The names.
        names: Vec<Bytes>,
    },
}

impl AclCommand {
    /// Parses `ACL SETUSER ...` / `ACL DELUSER ...` (None for any other call), hashing
    /// passwords. Arity is checked by the caller (Redis: SETUSER -3, DELUSER -3).
    pub fn parse(args: &[Bytes]) -> Option<Result<crate::Command, Error>> {
        let is = |i: usize, w: &[u8]| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
        if !is(0, b"acl") || args.len() < 3 {
            return None;
        }
        let cmd = if is(1, b"setuser") {
            if let Err(e) = check_name(&args[2]) {
                return Some(Err(e));
            }
            let rules = args[3..].iter().map(hide_password).collect();
            AclCommand::SetUser {
                name: args[2].clone(),
                rules,
            }
        } else if is(1, b"deluser") {
            AclCommand::DelUser {
                names: args[2..].to_vec(),
            }
        } else {
            return None;
        };
        Some(Ok(crate::Command::Acl(cmd)))
    }
}

/// `>pass` as `#<sha256 hex>`, `<pass` as `!<sha256 hex>`; other rules unchanged.
fn hide_password(rule: &Bytes) -> Bytes {
    match rule.first() {
        Some(b'>') => Bytes::from(format!("#{}", user::hex(&user::hash_password(&rule[1..])))),
        Some(b'<') => Bytes::from(format!("!{}", user::hex(&user::hash_password(&rule[1..])))),
        _ => rule.clone(),
    }
}

/// Checks a user name.
fn check_name(name: &[u8]) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > MAX_USER_NAME_BYTES
        || name.iter().any(|&b| b <= b' ' || b == 0x7f)
    {
        return Err(Error::AclBadUserName);
    }
    Ok(())
}

/// The user table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    /// Users by name.
    users: BTreeMap<Bytes, User>,
}

impl Acl {
    /// Applies a replicated change; the reply is Redis's.
    pub fn apply(&mut self, cmd: &AclCommand) -> Result<resp::Reply, Error> {
        match cmd {
            AclCommand::SetUser { name, rules } => {
                let user = self.set_user(name, rules)?;
                self.users.insert(name.clone(), user);
                Ok(resp::Reply::ok())
            }
            AclCommand::DelUser { names } => {
                if names.iter().any(|n| &n[..] == DEFAULT_USER.as_bytes()) {
                    return Err(Error::AclDefaultUndeletable);
                }
                let removed = names
                    .iter()
                    .filter(|n| self.users.remove(*n).is_some())
                    .count();
                Ok(resp::Reply::Integer(removed as i64))
            }
        }
    }

    /// The user `name` would become after `rules` (checked, not stored).
    pub fn set_user(&self, name: &Bytes, rules: &[Bytes]) -> Result<User, Error> {
        check_name(name)?;
        if !self.users.contains_key(name) && self.users.len() >= MAX_USERS {
            return Err(Error::AclTooManyUsers);
        }
        let mut user = match self.users.get(name) {
            Some(user) => user.clone(),
            None if &name[..] == DEFAULT_USER.as_bytes() => User::redis_default(),
            None => User::default(),
        };
        for rule in rules {
            user.apply_rule(rule)?;
        }
        Ok(user)
    }

    /// Inserts a user read from a snapshot.
    pub(crate) fn insert(&mut self, name: Bytes, user: User) {
        self.users.insert(name, user);
    }

    /// The user `name`, if the table holds it.
    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name)
    }

    /// The user `name`, with `fallback` standing for `default` while the table holds none.
    pub fn user_or<'a>(&'a self, name: &[u8], fallback: &'a User) -> Option<&'a User> {
        match self.users.get(name) {
            Some(user) => Some(user),
            None if name == DEFAULT_USER.as_bytes() => Some(fallback),
            None => None,
        }
    }

    /// Every user in the table, by name.
    pub fn users(&self) -> impl DoubleEndedIterator<Item = (&Bytes, &User)> {
        self.users.iter()
    }

    /// The number of users in the table.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True if the table holds no user (every node uses its fallback default user).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}
