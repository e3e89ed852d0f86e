//! The keyspace notification setting: Redis's flag letters, their canonical form, and the
//! command that carries the setting through the log. A leaf of the crate (it imports no command
//! code), so [`crate::command`] can name [`NotifyCommand`] while [`crate::notify`], which maps
//! commands to events, imports the commands.

use crate::Error;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The name of the setting, as CONFIG spells it.
pub const NOTIFY_PARAMETER: &str = "notify-keyspace-events";

/// The prefix of a keyspace channel (`__keyspace@0__:<key>`, message: the event).
pub const KEYSPACE_PREFIX: &[u8] = b"__keyspace@0__:";

/// The prefix of a keyevent channel (`__keyevent@0__:<event>`, message: the key).
pub const KEYEVENT_PREFIX: &[u8] = b"__keyevent@0__:";

/// Which notifications are enabled: Redis's flag bits (the same values as Redis's
/// `NOTIFY_*`, so the set reads as Redis's does). The default, empty, emits nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyFlags(u32);

/// One event class or channel kind: a single bit of [`NotifyFlags`].
pub(crate) type Class = u32;

/// An event: its name and its class.
pub(crate) type Event = (&'static str, Class);

/// `K`: publish on `__keyspace@0__:<key>`.
pub(crate) const KEYSPACE: Class = 1 << 0;
/// `E`: publish on `__keyevent@0__:<event>`.
pub(crate) const KEYEVENT: Class = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
pub(crate) const GENERIC: Class = 1 << 2;
/// `$`: string commands.
pub(crate) const STRING: Class = 1 << 3;
/// `l`: list commands.
pub(crate) const LIST: Class = 1 << 4;
/// `s`: set commands.
pub(crate) const SET: Class = 1 << 5;
/// `h`: hash commands.
pub(crate) const HASH: Class = 1 << 6;
/// `z`: sorted-set commands.
pub(crate) const ZSET: Class = 1 << 7;
/// `x`: a key expired.
pub(crate) const EXPIRED: Class = 1 << 8;
/// `e`: a key was evicted (never here: the policy is `noeviction`).
pub(crate) const EVICTED: Class = 1 << 9;
/// `t`: stream commands.
pub(crate) const STREAM: Class = 1 << 10;
/// `m`: a key was looked up and missed (never here: reads do not go through apply).
pub(crate) const KEY_MISS: Class = 1 << 11;
/// `d`: module events (never here: there are no modules).
pub(crate) const MODULE: Class = 1 << 13;
/// `n`: a key was created.
pub(crate) const NEW: Class = 1 << 14;
/// `A`: what Redis's alias stands for, `g$lshzxetd`.
pub(crate) const ALL: Class =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
/// Every bit a valid set may hold.
pub(crate) const KNOWN: Class = ALL | KEYSPACE | KEYEVENT | KEY_MISS | NEW;

/// Each flag letter with its bit, in the order Redis writes them in the canonical form.
pub(crate) const LETTERS: [(u8, Class); 11] = [
    (b'g', GENERIC),
    (b'$', STRING),
    (b'l', LIST),
    (b's', SET),
    (b'h', HASH),
    (b'z', ZSET),
    (b'x', EXPIRED),
    (b'e', EVICTED),
    (b't', STREAM),
    (b'd', MODULE),
    (b'n', NEW),
];

impl NotifyFlags {
    /// Parses Redis's letters (any order, repeats allowed; empty disables everything).
    pub fn parse(text: &[u8]) -> Result<NotifyFlags, Error> {
        let mut bits = 0;
        for &c in text {
            bits |= match c {
                b'A' => ALL,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b'm' => KEY_MISS,
                _ => LETTERS
                    .iter()
                    .find(|(letter, _)| *letter == c)
                    .map(|(_, bit)| *bit)
                    .ok_or(Error::InvalidNotifyFlags)?,
            };
        }
        Ok(NotifyFlags(bits))
    }

    /// The flags from their bits (a snapshot's); None if a bit is not a known flag.
    pub(crate) fn from_bits(bits: u32) -> Option<NotifyFlags> {
        (bits & !KNOWN == 0).then_some(NotifyFlags(bits))
    }

    /// The bits, as a snapshot stores them.
    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    /// The form CONFIG GET answers, exactly Redis's: `A` when every class of the alias is on
    /// (then `n` is not written even if set, as Redis does), else the class letters in a fixed
    /// order; then `K`, `E`, `m`.
    pub fn canonical(self) -> String {
        let mut out = String::new();
        if self.0 & ALL == ALL {
            out.push('A');
        } else {
            for (letter, bit) in LETTERS {
                if self.0 & bit != 0 {
                    out.push(letter as char);
                }
            }
        }
        for (letter, bit) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
            if self.0 & bit != 0 {
                out.push(letter);
            }
        }
        out
    }

    /// CONFIG GET's reply: the one pair `notify-keyspace-events` → [`NotifyFlags::canonical`].
    pub(crate) fn config_get_reply(self) -> resp::Reply {
        resp::Reply::Map(vec![(
            resp::Reply::bulk(NOTIFY_PARAMETER),
            resp::Reply::bulk(self.canonical()),
        )])
    }

    /// True if some message can be emitted: a channel kind and a class are both on.
    pub(crate) fn active(self) -> bool {
        self.0 & (KEYSPACE | KEYEVENT) != 0 && self.0 & (ALL | NEW) != 0
    }

    /// Appends the messages of `event` (of `class`) on `key`, if its class is enabled: the
    /// keyspace channel's first, then the keyevent channel's, as Redis sends them.
    pub(crate) fn emit(self, event: Event, key: &Bytes, out: &mut Vec<(Bytes, Bytes)>) {
        let (name, class) = event;
        if self.0 & class == 0 {
            return;
        }
        if self.0 & KEYSPACE != 0 {
            out.push((
                channel(KEYSPACE_PREFIX, key),
                Bytes::from_static(name.as_bytes()),
            ));
        }
        if self.0 & KEYEVENT != 0 {
            out.push((channel(KEYEVENT_PREFIX, name.as_bytes()), key.clone()));
        }
    }
}

/// `prefix` followed by `suffix`.
pub(crate) fn channel(prefix: &[u8], suffix: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(prefix.len() + suffix.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(suffix);
    out.freeze()
}

/// `CONFIG SET notify-keyspace-events <flags>` (a write, through the log) and
/// `CONFIG GET notify-keyspace-events` (a read), as [`crate::Command::Notify`] carries them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NotifyCommand {
    /// Replace the setting; answers `+OK`.
    Set(NotifyFlags),
    /// Answer the setting in its canonical form, as CONFIG GET does (a one-pair map).
    Get,
}
