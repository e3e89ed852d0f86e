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
    pub(crate) fn insert(&mut self, key: Bytes, entry: Entry) -> Option<Entry> {
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
        if let Some(entry) = self.entries.get_mut(&Slot::of(key)) {
            entry.value = value;
        }
    }

    /// Sets or clears the deadline of a stored key. Does nothing if it is absent.
    pub(crate) fn set_deadline(&mut self, key: &Bytes, deadline_ms: Option<u64>) {
        let Some(entry) = self.entries.get_mut(&Slot::of(key)) else {
            return;
        };
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
        *self = Keyspace::default();
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
