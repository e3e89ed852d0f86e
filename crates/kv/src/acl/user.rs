//! One ACL user: its flag, passwords, key and channel patterns and command permissions; the
//! rules of `ACL SETUSER` that change it, and the rule list `ACL LIST` shows for it.
//!
//! # Invariants
//!
//! - Passwords are only ever held as SHA-256 digests (`>pass` is hashed by
//!   [`super::AclCommand::parse`] before the rule travels through the log).
//! - `all_keys` (`~*`, `allkeys`) and key patterns exclude each other, as in Redis: adding a
//!   pattern after `~*` is an error; so are `all_channels` and channel patterns.
//! - [`User::rules`] describes the user exactly: applying them to a fresh user gives an equal
//!   user (snapshots store users that way, and a test checks it).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

use super::category::{self, CommandSet, CATEGORIES};
use crate::Error;

/// The most passwords one user may have.
pub const MAX_PASSWORDS_PER_USER: usize = 64;
/// The most key or channel patterns one user may have (each).
pub const MAX_PATTERNS_PER_USER: usize = 1024;

/// A key pattern and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Bytes,
    /// Reads of matching keys (`%R~`, `~`).
    pub read: bool,
    /// Writes of matching keys (`%W~`, `~`).
    pub write: bool,
}

/// One ACL user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// `on`: the user may authenticate.
    pub enabled: bool,
    /// `nopass`: any password authenticates.
    pub nopass: bool,
    /// SHA-256 digests of the passwords.
    pub passwords: BTreeSet<[u8; 32]>,
    /// `~*` / `allkeys`.
    pub all_keys: bool,
    /// Key patterns (empty when `all_keys`).
    pub keys: Vec<KeyPattern>,
    /// `&*` / `allchannels`.
    pub all_channels: bool,
    /// Channel patterns (empty when `all_channels`).
    pub channels: Vec<Bytes>,
    /// The commands the user may run.
    pub commands: CommandSet,
    /// `+@all` (set) / `-@all` (cleared): described as `+@all ...` rather than `-@all ...`.
    pub all_commands: bool,
    /// The command rules since the last `+@all`/`-@all`, lower case, in the order given; a
    /// rule replaces an earlier one for the same command or category (and for its
    /// subcommands), as Redis 7.2 keeps them.
    pub command_rules: Vec<String>,
}

impl Default for User {
    /// A user as ACL SETUSER creates it: `off resetchannels -@all`, no password, no keys.
    fn default() -> User {
        User {
            enabled: false,
            nopass: false,
            passwords: BTreeSet::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
            commands: CommandSet::default(),
            all_commands: false,
            command_rules: Vec::new(),
        }
    }
}

/// The SHA-256 digest of a password.
pub fn hash_password(password: &[u8]) -> [u8; 32] {
    Sha256::digest(password).into()
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest from exactly 64 lower-case hex digits.
fn unhex(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Redis's reasons for a refused rule.
const SYNTAX: &str = "Syntax error";
const UNKNOWN: &str = "Unknown command or category name in ACL";
const BAD_HASH: &str =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const NO_SUCH_PASSWORD: &str = "The password you are trying to remove from the user does not exist";
const KEY_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const CHANNEL_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const TOO_MANY_PASSWORDS: &str = "Too many passwords for one user";
const TOO_MANY_PATTERNS: &str = "Too many patterns for one user";

impl User {
    /// Redis's default user: `on nopass ~* &* +@all`.
    pub fn redis_default() -> User {
        User {
            enabled: true,
            nopass: true,
            all_keys: true,
            all_channels: true,
            commands: CommandSet::all(),
            all_commands: true,
            ..User::default()
        }
    }

    /// Applies one ACL SETUSER rule; on error the user may be half changed (apply rules to a
    /// clone and keep it only if all succeed).
    pub fn apply_rule(&mut self, rule: &[u8]) -> Result<(), Error> {
        let fail = |reason: &'static str| Error::AclRule {
            modifier: String::from_utf8_lossy(rule).into_owned(),
            reason,
        };
        let lower = rule.to_ascii_lowercase();
        match &lower[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => self.set_all_keys(),
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" => self.set_all_channels(),
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" => self.apply_rule(b"+@all")?,
            b"nocommands" => self.apply_rule(b"-@all")?,
            b"reset" => *self = User::default(),
            _ => match rule.first() {
                Some(b'>') => self.add_password(hash_password(&rule[1..])).map_err(fail)?,
                Some(b'#') => {
                    let digest = unhex(&rule[1..]).ok_or_else(|| fail(BAD_HASH))?;
                    self.add_password(digest).map_err(fail)?;
                }
                Some(b'<') => self
                    .remove_password(hash_password(&rule[1..]))
                    .map_err(fail)?,
                Some(b'!') => {
                    let digest = unhex(&rule[1..]).ok_or_else(|| fail(BAD_HASH))?;
                    self.remove_password(digest).map_err(fail)?;
                }
                Some(b'~') => self.add_key(&rule[1..], true, true).map_err(fail)?,
                Some(b'%') => {
                    let (flags, pattern) =
                        split_key_rule(&rule[1..]).ok_or_else(|| fail(SYNTAX))?;
                    self.add_key(pattern, flags.0, flags.1).map_err(fail)?;
                }
                Some(b'&') => self.add_channel(&rule[1..]).map_err(fail)?,
                Some(&sign @ (b'+' | b'-')) => {
                    self.command_rule(&lower[1..], sign == b'+').map_err(fail)?
                }
                _ => return Err(fail(SYNTAX)),
            },
        }
        Ok(())
    }

    fn set_all_keys(&mut self) {
        self.all_keys = true;
        self.keys.clear();
    }

    fn set_all_channels(&mut self) {
        self.all_channels = true;
        self.channels.clear();
    }

    fn add_password(&mut self, digest: [u8; 32]) -> Result<(), &'static str> {
        if !self.passwords.contains(&digest) && self.passwords.len() >= MAX_PASSWORDS_PER_USER {
            return Err(TOO_MANY_PASSWORDS);
        }
        self.passwords.insert(digest);
        self.nopass = false;
        Ok(())
    }

    fn remove_password(&mut self, digest: [u8; 32]) -> Result<(), &'static str> {
        if !self.passwords.remove(&digest) {
            return Err(NO_SUCH_PASSWORD);
        }
        self.nopass = false;
        Ok(())
    }

    fn add_key(&mut self, pattern: &[u8], read: bool, write: bool) -> Result<(), &'static str> {
        if self.all_keys {
            return Err(KEY_AFTER_ALL);
        }
        if pattern.len() > crate::limits::MAX_PATTERN_BYTES {
            return Err(SYNTAX);
        }
        if pattern == b"*" && read && write {
            self.set_all_keys();
            return Ok(());
        }
        if let Some(k) = self.keys.iter_mut().find(|k| k.pattern == pattern) {
            k.read |= read;
            k.write |= write;
            return Ok(());
        }
        if self.keys.len() >= MAX_PATTERNS_PER_USER {
            return Err(TOO_MANY_PATTERNS);
        }
        self.keys.push(KeyPattern {
            pattern: Bytes::copy_from_slice(pattern),
            read,
            write,
        });
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), &'static str> {
        if self.all_channels {
            return Err(CHANNEL_AFTER_ALL);
        }
        if pattern.len() > crate::limits::MAX_PATTERN_BYTES {
            return Err(SYNTAX);
        }
        if pattern == b"*" {
            self.set_all_channels();
        } else if !self.channels.iter().any(|c| c == pattern) {
            if self.channels.len() >= MAX_PATTERNS_PER_USER {
                return Err(TOO_MANY_PATTERNS);
            }
            self.channels.push(Bytes::copy_from_slice(pattern));
        }
        Ok(())
    }

    /// `+cmd`, `-cmd`, `+cmd|sub`, `+@cat`, `-@cat` (`what` is lower case, after the sign).
    fn command_rule(&mut self, what: &[u8], on: bool) -> Result<(), &'static str> {
        let what = std::str::from_utf8(what).map_err(|_| UNKNOWN)?;
        if let Some(cat) = what.strip_prefix('@') {
            if cat == "all" {
                self.all_commands = on;
                self.commands = if on {
                    CommandSet::all()
                } else {
                    CommandSet::default()
                };
                self.command_rules.clear();
                return Ok(());
            }
            let index = category::category_index(cat).ok_or(UNKNOWN)?;
            self.commands
                .set_all(category::ids_in(CATEGORIES[index]), on);
        } else {
            let ids = category::ids_of_command(what);
            if ids.is_empty() {
                return Err(UNKNOWN);
            }
            self.commands.set_all(ids, on);
        }
        // As Redis 7.2: drop the earlier rule for the same command or category, or for a
        // subcommand of the command, then append this one.
        self.command_rules.retain(|rule| {
            let body = &rule[1..];
            !(body == what || (body.starts_with(what) && body.as_bytes()[what.len()] == b'|'))
        });
        let sign = if on { '+' } else { '-' };
        self.command_rules.push(format!("{sign}{what}"));
        Ok(())
    }

    /// True if `password` authenticates this user (ignoring `on`/`off`).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        self.nopass || self.passwords.contains(&hash_password(password))
    }

    /// True if the user may run the call checked as `target`.
    pub fn may_run(&self, target: &category::Target) -> bool {
        match target {
            category::Target::Id(id) => self.commands.contains(*id),
            category::Target::Container(range) => {
                range.clone().all(|id| self.commands.contains(id))
            }
            category::Target::Unknown => true,
        }
    }

    /// True if the user may read (`write` false) or write `key`.
    pub fn may_access_key(&self, key: &[u8], write: bool) -> bool {
        self.all_keys
            || self.keys.iter().any(|k| {
                (if write { k.write } else { k.read }) && crate::glob_match(&k.pattern, key)
            })
    }

    /// True if the user may use `channel`: publish to or subscribe to it, or, with `pattern`,
    /// PSUBSCRIBE to exactly that pattern (as Redis checks patterns: literally).
    pub fn may_access_channel(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if pattern {
                    p == channel
                } else {
                    crate::glob_match(p, channel)
                }
            })
    }

    /// True if the user has every key permission (so calls need no key check).
    pub fn unrestricted_keys(&self) -> bool {
        self.all_keys
    }

    /// The rules that describe the user, in `ACL LIST`'s order: flag, `nopass`, password
    /// digests, key patterns, channels, then the commands (see [`User::command_rules`]).
    pub fn rules(&self) -> Vec<String> {
        let mut rules = vec![if self.enabled { "on" } else { "off" }.to_string()];
        if self.nopass {
            rules.push("nopass".into());
        }
        rules.extend(self.passwords.iter().map(|d| format!("#{}", hex(d))));
        rules.extend(self.key_rules());
        rules.extend(self.channel_rules());
        rules.extend(self.command_rules());
        rules
    }

    /// The key patterns as `ACL GETUSER` shows them (`~k*`, `%R~r*`; `~*` for all keys).
    pub fn key_rules(&self) -> Vec<String> {
        if self.all_keys {
            return vec!["~*".into()];
        }
        self.keys
            .iter()
            .map(|k| {
                let flags = match (k.read, k.write) {
                    (true, true) => "",
                    (true, false) => "%R",
                    _ => "%W",
                };
                format!("{flags}~{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect()
    }

    /// The channel rules (`&*`, or `resetchannels` then each `&pattern`).
    fn channel_rules(&self) -> Vec<String> {
        if self.all_channels {
            return vec!["&*".into()];
        }
        let mut rules = vec!["resetchannels".to_string()];
        rules.extend(self.channel_patterns());
        rules
    }

    /// The channel patterns as `ACL GETUSER` shows them (`&ch*`, or `&*`).
    pub fn channel_patterns(&self) -> Vec<String> {
        if self.all_channels {
            return vec!["&*".into()];
        }
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect()
    }

    /// The command permissions as Redis 7.2 describes them: `+@all` or `-@all`, then the
    /// rules given since, in order.
    pub fn command_rules(&self) -> Vec<String> {
        let all = if self.all_commands { "+@all" } else { "-@all" };
        std::iter::once(all.to_string())
            .chain(self.command_rules.iter().cloned())
            .collect()
    }
}

/// Splits `R~pat`, `W~pat`, `RW~pat` (after `%`) into ((read, write), pattern).
fn split_key_rule(rest: &[u8]) -> Option<((bool, bool), &[u8])> {
    let tilde = rest.iter().position(|&b| b == b'~')?;
    let (mut read, mut write) = (false, false);
    for &flag in &rest[..tilde] {
        match flag.to_ascii_uppercase() {
            b'R' => read = true,
            b'W' => write = true,
            _ => return None,
        }
    }
    (read || write).then_some(((read, write), &rest[tilde + 1..]))
}
