//! The keyspace: every key, its value and its deadline, in persistent collections.
//!
//! [`Keyspace`] is the data of the state machine without the semantics of any command. It keeps
//! two ordered sets from [`imbl`] in step:
//!
//! - `entries`: one [`Slot`] per key, ordered by `(key_hash(key), key)`. The hash order is what
//!   makes SCAN cursors plain numbers (see [`crate::scan`]); KEYS and snapshots use the same order.
//!   A slot is 16 bytes, the hash and a [`Record`] (one allocation holding the key, the value,
//!   the deadline and the version; see [`crate::record`]). Lookups search with a [`Probe`], a
//!   borrowed key and its hash, so a read builds nothing; a change builds a new record and puts
//!   it in the key's slot (records are never changed in place, so a snapshot being written from
//!   a clone keeps seeing the old one).
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
use crate::record::Record;
use crate::value::Value;
use crate::Error;
use bytes::Bytes;
use equivalent::Comparable;
use imbl::OrdSet;
use std::cmp::Ordering;

/// One key in the keyspace tree: its fixed hash beside its record, 16 bytes. Ordered by
/// `(hash, key)`; the key is read from the record only when two hashes are equal.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// `key_hash(key)`.
    pub(crate) hash: u64,
    /// The key and its data.
    pub(crate) record: Record,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Slot) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Slot {}

impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Slot) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Slot {
    fn cmp(&self, other: &Slot) -> Ordering {
        // The hash alone decides unless equal, so a search reads no record it passes by.
        self.hash
            .cmp(&other.hash)
            .then_with(|| self.record.key().cmp(other.record.key()))
    }
}

/// A place in the keyspace order, to search the tree with: a key and its hash, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe<'a> {
    /// `key_hash(key)`.
    hash: u64,
    /// The key.
    key: &'a [u8],
}

impl<'a> Probe<'a> {
    /// The place of `key`.
    pub(crate) fn of(key: &'a [u8]) -> Probe<'a> {
        Probe {
            hash: key_hash(key),
            key,
        }
    }

    /// The first place with hash `hash` (the empty key sorts first).
    pub(crate) fn first_with_hash(hash: u64) -> Probe<'static> {
        Probe { hash, key: &[] }
    }
}

impl Comparable<Slot> for Probe<'_> {
    fn compare(&self, slot: &Slot) -> Ordering {
        self.hash
            .cmp(&slot.hash)
            .then_with(|| self.key.cmp(slot.record.key()))
    }
}

impl equivalent::Equivalent<Slot> for Probe<'_> {
    fn equivalent(&self, slot: &Slot) -> bool {
        self.compare(slot) == Ordering::Equal
    }
}

/// A place in the deadline index, to search it with: a deadline and a key, borrowed.
struct DeadlineProbe<'a>(u64, &'a [u8]);

impl Comparable<(u64, Bytes)> for DeadlineProbe<'_> {
    fn compare(&self, (deadline, key): &(u64, Bytes)) -> Ordering {
        (self.0, self.1).cmp(&(*deadline, &key[..]))
    }
}

impl equivalent::Equivalent<(u64, Bytes)> for DeadlineProbe<'_> {
    fn equivalent(&self, stored: &(u64, Bytes)) -> bool {
        self.compare(stored) == Ordering::Equal
    }
}

/// A key's data to store: what [`Keyspace::insert`] and [`Keyspace::load`] take.
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

/// All keys with their values and deadlines; see the module docs for the invariants.
#[derive(Clone, Default)]
pub(crate) struct Keyspace {
    /// Every stored key, in slot order.
    entries: OrdSet<Slot>,
    /// `(deadline_ms, key)` of every entry that has a deadline.
    deadlines: OrdSet<(u64, Bytes)>,
    /// Sum of all deadlines in `deadlines`, in milliseconds.
    deadline_sum_ms: u128,
    /// Modifications so far (see the module docs).
    mod_seq: u64,
    /// `mod_seq` at the latest removal of any key.
    delete_seq: u64,
}

impl PartialEq for Keyspace {
    /// Same keys with the same data, versions and counters.
    fn eq(&self, other: &Keyspace) -> bool {
        self.seqs() == other.seqs()
            && self.deadline_sum_ms == other.deadline_sum_ms
            && self.deadlines == other.deadlines
            && self.entries.len() == other.entries.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.key() == b.key() && a.version() == b.version() && a.same_data(b))
    }
}

impl Eq for Keyspace {}

impl Keyspace {
    /// The stored record of `key`, even if expired.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Record> {
        self.entries.get(&Probe::of(key)).map(|slot| &slot.record)
    }

    /// The record of `key` if it exists and is alive at `now_ms`.
    pub(crate) fn live(&self, key: &[u8], now_ms: u64) -> Option<&Record> {
        self.get(key).filter(|record| record.is_live(now_ms))
    }

    /// Stores `entry` under `key`, replacing any previous entry; returns the previous one.
    pub(crate) fn insert(&mut self, key: &[u8], mut entry: Entry) -> Option<Record> {
        entry.version = self.bump();
        self.load(key, entry)
    }

    /// Stores the string `value` under `key`, like [`Keyspace::insert`] of a `Value::Str`, but
    /// straight from the bytes: the record copies them, with no owned value in between.
    pub(crate) fn insert_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        deadline_ms: Option<u64>,
    ) -> Option<Record> {
        let version = self.bump();
        self.put(Record::of_string(key, value, deadline_ms, version))
    }

    /// Stores `entry` as it is, version included, replacing any previous entry; for the
    /// snapshot reader, which restores versions rather than making changes.
    pub(crate) fn load(&mut self, key: &[u8], entry: Entry) -> Option<Record> {
        let record = Record::new(key, entry.value, entry.deadline_ms, entry.version);
        self.put(record)
    }

    /// Stores `batch` as [`Keyspace::load`] would, one by one, when its entries are in the tree's
    /// order and after every key already stored (a snapshot's order), but not in that order:
    /// by the bit-reversed positions of the batch (0, n/2, n/4, 3n/4, ...). The tree's leaves
    /// split in half when full, so keys loaded in order leave every leaf behind them half
    /// empty (1M keys took 43 MB of tree restored from a snapshot, against 30 MB written at
    /// random); spread over the batch, the leaves fill as under random writes (a restarted
    /// node of 1M keys: 20 MB less RSS).
    pub(crate) fn load_sorted(&mut self, batch: Vec<(Bytes, Entry)>) {
        let mut batch: Vec<Option<(Bytes, Entry)>> = batch.into_iter().map(Some).collect();
        let bits = batch.len().next_power_of_two().trailing_zeros();
        for i in 0..1usize << bits {
            let at = i
                .reverse_bits()
                .checked_shr(usize::BITS - bits)
                .unwrap_or(0);
            if let Some((key, entry)) = batch.get_mut(at).and_then(Option::take) {
                self.load(&key, entry);
            }
        }
    }

    /// Stores `record` under its key, replacing any previous record and keeping the deadline
    /// index in step; returns the previous one.
    fn put(&mut self, record: Record) -> Option<Record> {
        let new_deadline = record.deadline_ms();
        let slot = Slot {
            hash: key_hash(record.key()),
            record,
        };
        let old = self.entries.insert(slot.clone()).map(|old| old.record);
        let old_deadline = old.as_ref().and_then(Record::deadline_ms);
        if old_deadline != new_deadline {
            let key = slot.record.key();
            if let Some(deadline) = old_deadline {
                self.remove_deadline(deadline, key);
            }
            if let Some(deadline) = new_deadline {
                self.add_deadline(deadline, key);
            }
        }
        old
    }

    /// Stores a copy of `record` (value and deadline) under `key`, replacing any previous
    /// entry; for RENAME and COPY. Returns the previous one.
    pub(crate) fn insert_copy(&mut self, key: &[u8], record: &Record) -> Option<Record> {
        let version = self.bump();
        self.put(record.with_key(key, version))
    }

    /// Removes `key`; returns its record if it was stored.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Record> {
        let old = self.entries.remove(&Probe::of(key))?.record;
        self.delete_seq = self.bump();
        if let Some(deadline) = old.deadline_ms() {
            self.remove_deadline(deadline, key);
        }
        Some(old)
    }

    /// The string under `key` if it is live: None if absent, WRONGTYPE if it holds another type.
    pub(crate) fn live_str(&self, key: &[u8], now_ms: u64) -> Result<Option<&[u8]>, Error> {
        self.live(key, now_ms).map(Record::as_str).transpose()
    }

    /// The string under `key` if it is live, as [`Bytes`] for a reply: None if absent,
    /// WRONGTYPE if it holds another type.
    pub(crate) fn live_str_bytes(&self, key: &[u8], now_ms: u64) -> Result<Option<Bytes>, Error> {
        self.live(key, now_ms).map(Record::as_str_bytes).transpose()
    }

    /// Replaces the value of a stored key, keeping its deadline. Does nothing if it is absent.
    pub(crate) fn set_value(&mut self, key: &[u8], value: Value) {
        let Some(old) = self.get(key) else {
            return;
        };
        let deadline = old.deadline_ms();
        let version = self.bump();
        self.put(Record::new(key, value, deadline, version));
    }

    /// Sets or clears the deadline of a stored key. Does nothing if it is absent.
    pub(crate) fn set_deadline(&mut self, key: &[u8], deadline_ms: Option<u64>) {
        let Some(old) = self.get(key).cloned() else {
            return;
        };
        let version = self.bump();
        self.put(old.with_deadline(deadline_ms, version));
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
    pub(crate) fn watch_version(&self, key: &[u8], now_ms: u64) -> i64 {
        match self.get(key) {
            None => self.delete_seq as i64,
            Some(record) if record.is_live(now_ms) => record.version() as i64,
            Some(record) => -(record.version() as i64) - 1,
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

    /// All stored keys (expired ones included) in slot order, from the first slot whose hash is
    /// at least `hash`.
    pub(crate) fn starting_at_hash(&self, hash: u64) -> impl Iterator<Item = &Slot> + '_ {
        self.entries.range(Probe::first_with_hash(hash)..)
    }

    /// All stored records (expired ones included) in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.entries.iter().map(|slot| &slot.record)
    }

    /// Records a deadline in the index.
    fn add_deadline(&mut self, deadline: u64, key: &[u8]) {
        let fresh = self
            .deadlines
            .insert((deadline, Bytes::copy_from_slice(key)))
            .is_none();
        assert!(fresh, "deadline index already held this key");
        self.deadline_sum_ms += u128::from(deadline);
    }

    /// Drops a deadline from the index; it must be there.
    fn remove_deadline(&mut self, deadline: u64, key: &[u8]) {
        let found = self
            .deadlines
            .remove(&DeadlineProbe(deadline, key))
            .is_some();
        assert!(found, "deadline index lost a key");
        self.deadline_sum_ms -= u128::from(deadline);
    }
}
