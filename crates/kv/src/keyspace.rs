//! The keyspace: every key, its value and its deadline, in persistent collections.
//!
//! [`Keyspace`] is the data of the state machine without the semantics of any command. It keeps
//! two ordered maps from [`imbl`] in step:
//!
//! - `entries`: [`Slot`] → [`Entry`], ordered by `(key_hash(key), key)`. The hash order is what
//!   makes SCAN cursors plain numbers (see [`crate::scan`]); KEYS and snapshots use the same order.
//! - `deadlines`: `(deadline_ms, key)` for every entry that has a deadline, so the earliest
//!   deadline and the due keys are found without scanning, in the deterministic order
//!   "deadline, then key" that ExpireDue uses.
//!
//! Invariants, kept by routing every change through [`Keyspace::insert`], [`Keyspace::remove`]
//! and [`Keyspace::set_deadline`]:
//!
//! - an entry has a deadline if and only if `(deadline, key)` is in `deadlines`;
//! - `deadline_sum_ms` is the sum of all deadlines in `deadlines` (for the average TTL).
//!
//! Entries whose deadline has passed stay stored until a write touches them or ExpireDue
//! removes them; every read treats them as absent ([`Keyspace::live`]). A key is expired when
//! `deadline_ms <= now_ms`: its last live millisecond is `deadline_ms - 1`. (Redis keeps a key
//! readable during its deadline millisecond but deletes at `deadline <= now` when setting a TTL;
//! here one rule serves both, so a read, a write and ExpireDue always agree.)
//!
//! # Versions (for WATCH)
//!
//! Every change counts: `mod_seq` is a store-wide modification counter, incremented by every
//! [`Keyspace::insert`], [`Keyspace::remove`], [`Keyspace::set_value`],
//! [`Keyspace::set_deadline`] and [`Keyspace::clear`] (FLUSHDB/FLUSHALL), and an entry records in
//! `version` the counter value of its last change. Nothing else feeds the counter, so it is the
//! same on every replica after the same log, and snapshots carry it.
//!
//! Deleted keys leave no tombstone. Instead `delete_seq` is the counter value of the latest
//! removal of any key (a DEL, an expiry reclaimed, a flush). What WATCH records for a key,
//! [`Keyspace::watch_version`], is:
//!
//! - a live key: its `version` (at least 1);
//! - a missing key: `delete_seq` (at least 0);
//! - a key stored but already expired: `-version - 1` (negative).
//!
//! A watched key has been modified since WATCH if and only if this number changed, except that
//! a missing key also reads as changed when any other key was deleted meanwhile (harmless: the
//! transaction aborts and the client retries, which Redis also allows). Why a real change is
//! always seen: a key created or changed after WATCH gets a version greater than every counter
//! value at WATCH time, so greater than whatever was recorded; a key deleted after WATCH (live
//! or expired at WATCH) reads as `delete_seq`, now at least the counter of that deletion, which
//! is greater than its old version and never negative; a key that expires after WATCH turns
//! from `version` to the negative `-version - 1`.
//!
//! Cloning is O(1): both maps share structure until one copy changes, which is what lets the
//! node write a snapshot from a clone while the original keeps applying.

use crate::hash::key_hash;
use crate::value::Value;
use crate::Error;
use bytes::Bytes;
use imbl::{OrdMap, OrdSet};

/// Where a key sits in the keyspace order: its fixed hash first, then the key itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Slot {
    /// `key_hash(key)`.
    pub(crate) hash: u64,
    /// The key.
    pub(crate) key: Bytes,
}

impl Slot {
    /// The slot of `key`.
    pub(crate) fn of(key: &Bytes) -> Slot {
        Slot {
            hash: key_hash(key),
            key: key.clone(),
        }
    }

    /// The first slot with hash `hash` (the empty key sorts first).
    pub(crate) fn first_with_hash(hash: u64) -> Slot {
        Slot {
            hash,
            key: Bytes::new(),
        }
    }
}

/// One stored key's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The value.
    pub(crate) value: Value,
    /// Deadline in milliseconds since the Unix epoch; the key is expired when the store's clock
    /// reaches it. `None`: the key never expires.
    pub(crate) deadline_ms: Option<u64>,
    /// The keyspace's `mod_seq` at the entry's last change (see the module docs); set by
    /// [`Keyspace::insert`], so callers building an entry may leave it 0.
    pub(crate) version: u64,
}

impl Entry {
    /// True if the entry is still alive at `now_ms`.
    pub(crate) fn is_live(&self, now_ms: u64) -> bool {
        self.deadline_ms.is_none_or(|deadline| now_ms < deadline)
    }
}

/// All keys with their values and deadlines; see the module docs for the invariants.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Keyspace {
    /// Every stored entry, in slot order.
    entries: OrdMap<Slot, Entry>,
    /// `(deadline_ms, key)` of every entry that has a deadline.
    deadlines: OrdSet<(u64, Bytes)>,
    /// Sum of all deadlines in `deadlines`, in milliseconds.
    deadline_sum_ms: u128,
    /// Modifications so far (see the module docs).
    mod_seq: u64,
    /// `mod_seq` at the latest removal of any key.
    delete_seq: u64,
}

impl Keyspace {
    /// The stored entry for `key`, even if expired.
    pub(crate) fn get(&self, key: &Bytes) -> Option<&Entry> {
        self.entries.get(&Slot::of(key))
    }

    /// The entry for `key` if it exists and is alive at `now_ms`.
    pub(crate) fn live(&self, key: &Bytes, now_ms: u64) -> Option<&Entry> {
        self.get(key).filter(|entry| entry.is_live(now_ms))
    }

    /// Stores `entry` under `key`, replacing any previous entry; returns the previous one.
    pub(crate) fn insert(&mut self, key: Bytes, mut entry: Entry) -> Option<Entry> {
        entry.version = self.bump();
        self.load(key, entry)
    }

    /// Stores `entry` as it is, version included, replacing any previous entry; for the
    /// snapshot reader, which restores versions rather than making changes.
    pub(crate) fn load(&mut self, key: Bytes, entry: Entry) -> Option<Entry> {
        let new_deadline = entry.deadline_ms;
        let old = self.entries.insert(Slot::of(&key), entry);
        if let Some(deadline) = old.as_ref().and_then(|old| old.deadline_ms) {
            self.remove_deadline(deadline, key.clone());
        }
        if let Some(deadline) = new_deadline {
            self.add_deadline(deadline, key);
        }
        old
    }

    /// Removes `key`; returns its entry if it was stored.
    pub(crate) fn remove(&mut self, key: &Bytes) -> Option<Entry> {
        let old = self.entries.remove(&Slot::of(key))?;
        self.delete_seq = self.bump();
        if let Some(deadline) = old.deadline_ms {
            self.remove_deadline(deadline, key.clone());
        }
        Some(old)
    }

    /// The string under `key` if it is live: None if absent, WRONGTYPE if it holds another type.
    pub(crate) fn live_str(&self, key: &Bytes, now_ms: u64) -> Result<Option<&Bytes>, Error> {
        self.live(key, now_ms)
            .map(|entry| entry.value.as_str())
            .transpose()
    }

    /// Replaces the value of a stored key, keeping its deadline. Does nothing if it is absent.
    pub(crate) fn set_value(&mut self, key: &Bytes, value: Value) {
        if self.entries.contains_key(&Slot::of(key)) {
            let version = self.bump();
            if let Some(entry) = self.entries.get_mut(&Slot::of(key)) {
                entry.value = value;
                entry.version = version;
            }
        }
    }

    /// Sets or clears the deadline of a stored key. Does nothing if it is absent.
    pub(crate) fn set_deadline(&mut self, key: &Bytes, deadline_ms: Option<u64>) {
        if !self.entries.contains_key(&Slot::of(key)) {
            return;
        }
        let version = self.bump();
        let Some(entry) = self.entries.get_mut(&Slot::of(key)) else {
            return;
        };
        entry.version = version;
        let old = std::mem::replace(&mut entry.deadline_ms, deadline_ms);
        if old == deadline_ms {
            return;
        }
        if let Some(old) = old {
            self.remove_deadline(old, key.clone());
        }
        if let Some(new) = deadline_ms {
            self.add_deadline(new, key.clone());
        }
    }

    /// Removes every key.
    pub(crate) fn clear(&mut self) {
        let seq = self.bump();
        *self = Keyspace {
            mod_seq: seq,
            delete_seq: seq,
            ..Keyspace::default()
        };
    }

    /// Counts one modification and returns its sequence number.
    fn bump(&mut self) -> u64 {
        self.mod_seq += 1;
        self.mod_seq
    }

    /// What WATCH records for `key` at `now_ms`; it changes whenever the key is modified
    /// (see the module docs for the rule and why it is sound).
    pub(crate) fn watch_version(&self, key: &Bytes, now_ms: u64) -> i64 {
        match self.get(key) {
            None => self.delete_seq as i64,
            Some(entry) if entry.is_live(now_ms) => entry.version as i64,
            Some(entry) => -(entry.version as i64) - 1,
        }
    }

    /// The modification counters `(mod_seq, delete_seq)`, for snapshots.
    pub(crate) fn seqs(&self) -> (u64, u64) {
        (self.mod_seq, self.delete_seq)
    }

    /// Restores the modification counters read from a snapshot.
    pub(crate) fn set_seqs(&mut self, mod_seq: u64, delete_seq: u64) {
        self.mod_seq = mod_seq;
        self.delete_seq = delete_seq;
    }

    /// Number of stored keys, expired or not.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Number of stored keys that have a deadline, expired or not.
    pub(crate) fn deadline_count(&self) -> usize {
        self.deadlines.len()
    }

    /// Sum of all deadlines, in milliseconds.
    pub(crate) fn deadline_sum_ms(&self) -> u128 {
        self.deadline_sum_ms
    }

    /// The earliest deadline of any stored key.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.get_min().map(|(deadline, _)| *deadline)
    }

    /// Stored keys that are expired at `now_ms`, earliest deadline first (ties by key).
    pub(crate) fn due(&self, now_ms: u64) -> impl Iterator<Item = &(u64, Bytes)> + '_ {
        self.deadlines
            .iter()
            .take_while(move |(deadline, _)| *deadline <= now_ms)
    }

    /// All stored entries (expired ones included) in slot order, from the first slot whose
    /// hash is at least `hash`.
    pub(crate) fn starting_at_hash(&self, hash: u64) -> impl Iterator<Item = (&Slot, &Entry)> + '_ {
        self.entries.range(Slot::first_with_hash(hash)..)
    }

    /// All stored entries (expired ones included) in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Slot, &Entry)> + '_ {
        self.entries.iter()
    }

    /// Records a deadline in the index.
    fn add_deadline(&mut self, deadline: u64, key: Bytes) {
        let fresh = self.deadlines.insert((deadline, key)).is_none();
        assert!(fresh, "deadline index already held this key");
        self.deadline_sum_ms += u128::from(deadline);
    }

    /// Drops a deadline from the index; it must be there.
    fn remove_deadline(&mut self, deadline: u64, key: Bytes) {
        let found = self.deadlines.remove(&(deadline, key)).is_some();
        assert!(found, "deadline index lost a key");
        self.deadline_sum_ms -= u128::from(deadline);
    }
}
