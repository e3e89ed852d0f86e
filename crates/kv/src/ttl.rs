//! TTL commands: EXPIRE and its siblings, TTL and its siblings, PERSIST, and ExpireDue.
//!
//! Time inside the store is the store's clock: the greatest `now_ms` applied so far, so it
//! never goes backwards even if a new leader's wall clock is behind the old one's. Deadlines are
//! absolute milliseconds since the Unix epoch. Relative times are added to the clock when the
//! command is applied; because the clock comes from the log entry, every replica computes the
//! same deadline.
//!
//! A key is expired once `deadline <= now`. A command that would give a key a deadline at or
//! before now deletes it instead (EXPIRE with a negative or past time, EXPIREAT in the past,
//! GETEX EXAT in the past), and replies as if the TTL had been set, as Redis does.
//!
//! Expired keys are reclaimed by the internal [`Command::ExpireDue`](crate::Command), which
//! the leader proposes periodically: it deletes due keys in (deadline, key) order, so every
//! replica deletes the same keys at the same log position.

use crate::keyspace::Keyspace;
use crate::options::{ExpireFlags, ExpireKind, Expiry, TtlKind};
use crate::Error;
use bytes::Bytes;
use resp::Reply;

/// True if an absolute `deadline` (possibly negative) is at or before `now`.
pub(crate) fn is_past(deadline: i64, now: u64) -> bool {
    u64::try_from(deadline).map_or(true, |deadline| deadline <= now)
}

impl Expiry {
    /// The absolute deadline, in milliseconds since the Unix epoch, of this TTL option for a
    /// command applied at `now`. Checks the number as Redis does (positive, no overflow), naming
    /// `command` in the error. The deadline may be in the past (EXAT/PXAT).
    pub(crate) fn deadline_ms(self, now: u64, command: &'static str) -> Result<i64, Error> {
        check_positive(self, command)?;
        let invalid = || Error::InvalidExpireTime(command);
        let relative = |ms: i64| {
            i64::try_from(now)
                .ok()
                .and_then(|now| ms.checked_add(now))
                .ok_or_else(invalid)
        };
        match self {
            Expiry::Ex(seconds) => relative(seconds.checked_mul(1000).ok_or_else(invalid)?),
            Expiry::Px(ms) => relative(ms),
            Expiry::ExAt(seconds) => seconds.checked_mul(1000).ok_or_else(invalid),
            Expiry::PxAt(ms) => Ok(ms),
        }
    }
}

/// `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT key time [flags]`: 1 if the TTL was set (or the key
/// deleted for a past deadline), 0 if the key is absent or a flag prevented it.
pub(crate) fn expire(
    ks: &mut Keyspace,
    now: u64,
    key: &Bytes,
    kind: ExpireKind,
    time: i64,
    flags: ExpireFlags,
) -> Result<Reply, Error> {
    let invalid = || Error::InvalidExpireTime(kind.name());
    let when = if kind.in_seconds() {
        time.checked_mul(1000).ok_or_else(invalid)?
    } else {
        time
    };
    let base = if kind.absolute() {
        0
    } else {
        i64::try_from(now).map_err(|_| invalid())?
    };
    let when = when.checked_add(base).ok_or_else(invalid)?;
    let Some(entry) = ks.live(key, now) else {
        return Ok(Reply::Integer(0));
    };
    let current = entry.deadline_ms().map(|d| d as i64);
    let allowed = match current {
        None => !flags.xx && !flags.gt,
        Some(current) => {
            let too_soon = flags.gt && when <= current;
            let too_late = flags.lt && when >= current;
            !(flags.nx || too_soon || too_late)
        }
    };
    if !allowed {
        return Ok(Reply::Integer(0));
    }
    if is_past(when, now) {
        ks.remove(key);
    } else {
        ks.set_deadline(key, Some(when as u64));
    }
    Ok(Reply::Integer(1))
}

/// `TTL`/`PTTL`/`EXPIRETIME`/`PEXPIRETIME key`: -2 if absent, -1 without TTL, else the
/// remaining time (TTL rounds to the nearest second) or the deadline (EXPIRETIME rounds down).
pub(crate) fn ttl(ks: &Keyspace, now: u64, key: &Bytes, kind: TtlKind) -> Reply {
    let Some(entry) = ks.live(key, now) else {
        return Reply::Integer(-2);
    };
    let Some(deadline) = entry.deadline_ms() else {
        return Reply::Integer(-1);
    };
    let remaining = deadline - now;
    let value = match kind {
        TtlKind::Ttl => (remaining + 500) / 1000,
        TtlKind::PTtl => remaining,
        TtlKind::ExpireTime => deadline / 1000,
        TtlKind::PExpireTime => deadline,
    };
    Reply::Integer(value as i64)
}

/// `PERSIST key`: 1 if a TTL was removed, else 0.
pub(crate) fn persist(ks: &mut Keyspace, now: u64, key: &Bytes) -> Reply {
    match ks.live(key, now) {
        Some(entry) if entry.deadline_ms().is_some() => {
            ks.set_deadline(key, None);
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

/// ExpireDue: deletes up to `max_keys` expired keys, earliest deadline first (ties by key);
/// replies with the number deleted.
pub(crate) fn expire_due(ks: &mut Keyspace, now: u64, max_keys: u32) -> Reply {
    let due: Vec<Bytes> = ks
        .due(now)
        .take(max_keys as usize)
        .map(|(_, key)| key.clone())
        .collect();
    for key in &due {
        ks.remove(key);
    }
    Reply::Integer(due.len() as i64)
}

/// Redis's check of a SET-style TTL before the key is looked at: the number must be positive,
/// and seconds must not overflow when turned into milliseconds.
pub(crate) fn check_positive(expiry: Expiry, command: &'static str) -> Result<(), Error> {
    let ok = match expiry {
        Expiry::Ex(n) | Expiry::ExAt(n) => n > 0 && n <= i64::MAX / 1000,
        Expiry::Px(n) | Expiry::PxAt(n) => n > 0,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidExpireTime(command))
    }
}
