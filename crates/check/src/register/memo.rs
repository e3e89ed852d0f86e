//! The memo of the register search: configurations already explored, stored compactly.
//!
//! The Wing–Gong/Lowe search remembers every configuration it has entered: which operations are
//! already linearized and what the register holds. There can be millions, on keys with a hundred
//! thousand operations, so two forms are kept. The *current* configuration ([`Config`]) is a
//! packed bitset, cheap to update one member at a time. The [`Memo`] stores each set as runs of
//! consecutive members: members are numbered in call order and the search linearizes roughly in
//! that order, so a set is "everything up to here, give or take the few operations in flight" and
//! takes a handful of runs rather than `n/8` bytes. All runs share one arena, so the memo does
//! not allocate per entry. The set's hash is maintained incrementally (Zobrist hashing: each
//! member has a fixed pseudo-random 64-bit code and a set's hash is the XOR of its members'
//! codes), so hashing costs O(1); equal hashes are confirmed by comparing the runs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The current configuration: a set of members (a bitset) with its Zobrist hash, and a model
/// state id.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    words: Box<[u64]>,
    /// Every word before this one is full (all members present).
    full_words: usize,
    /// XOR of [`code`] of every member.
    hash: u64,
    /// The model state.
    pub(crate) state: u32,
}

/// The fixed pseudo-random code of member `i` (SplitMix64 of `i`).
fn code(i: usize) -> u64 {
    crate::rng::splitmix64(&mut (i as u64))
}

impl Config {
    /// The empty set over `n` members, with state `state`.
    pub(crate) fn new(n: usize, state: u32) -> Self {
        assert!(n < u32::MAX as usize - 64, "too many members: {n}");
        Config {
            words: vec![0; n.div_ceil(64)].into_boxed_slice(),
            full_words: 0,
            hash: 0,
            state,
        }
    }

    /// Adds member `i`, which must be absent.
    pub(crate) fn insert(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        assert_eq!(self.words[w] & b, 0, "member {i} already present");
        self.words[w] |= b;
        self.hash ^= code(i);
        while self.words.get(self.full_words) == Some(&u64::MAX) {
            self.full_words += 1;
        }
    }

    /// Removes member `i`, which must be present.
    pub(crate) fn remove(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        assert_ne!(self.words[w] & b, 0, "member {i} absent");
        self.words[w] &= !b;
        self.hash ^= code(i);
        self.full_words = self.full_words.min(w);
    }

    /// The hash of the configuration (set and state).
    fn key_hash(&self) -> u64 {
        self.hash ^ code(self.state as usize).rotate_left(17)
    }

    /// Writes the members as runs `[start, end)`, flattened, into `runs`.
    fn runs_into(&self, runs: &mut Vec<u32>) {
        runs.clear();
        // Fits: `new` bounds the member count well below u32::MAX.
        let at = |word: usize, bit: u32| (word * 64) as u32 + bit;
        let mut inside = self.full_words > 0;
        if inside {
            runs.push(0);
        }
        for (wi, &w) in self.words.iter().enumerate().skip(self.full_words) {
            if (w == 0 && !inside) || (w == u64::MAX && inside) {
                continue;
            }
            // Bit i of `edges` is set where member i differs from member i-1: a run starts or ends.
            let mut edges = w ^ ((w << 1) | u64::from(inside));
            while edges != 0 {
                runs.push(at(wi, edges.trailing_zeros()));
                edges &= edges - 1;
            }
            inside = w >> 63 == 1;
        }
        if inside {
            runs.push(at(self.words.len(), 0));
        }
    }
}

/// Marks the end of a collision chain in [`Memo`].
const NO_ENTRY: u32 = u32::MAX;

/// One stored configuration: where its runs sit in the arena, its state, the next entry with the
/// same hash.
#[derive(Clone, Copy, Debug)]
struct Entry {
    offset: usize,
    len: u32,
    state: u32,
    next: u32,
}

/// The set of configurations entered so far. Runs of all entries live in one arena, so storing
/// an entry allocates nothing on its own and looking one up allocates nothing at all.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// Configuration hash to the first entry with that hash.
    index: HashMap<u64, u32, BuildPassThrough>,
    entries: Vec<Entry>,
    arena: Vec<u32>,
    /// Scratch space for the runs of the configuration being looked up.
    scratch: Vec<u32>,
}

impl Memo {
    /// Adds `config`; returns whether it was new.
    pub(crate) fn insert(&mut self, config: &Config) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        config.runs_into(&mut scratch);
        let hash = config.key_hash();
        let head = self.index.get(&hash).copied().unwrap_or(NO_ENTRY);
        let mut at = head;
        let mut found = false;
        while at != NO_ENTRY {
            let e = self.entries[at as usize];
            if e.state == config.state
                && self.arena[e.offset..e.offset + e.len as usize] == scratch[..]
            {
                found = true;
                break;
            }
            at = e.next;
        }
        if !found {
            let id = u32::try_from(self.entries.len()).expect("fewer than 2^32 memo entries");
            self.entries.push(Entry {
                offset: self.arena.len(),
                len: u32::try_from(scratch.len()).expect("short runs"),
                state: config.state,
                next: head,
            });
            self.arena.extend_from_slice(&scratch);
            self.index.insert(hash, id);
        }
        self.scratch = scratch;
        !found
    }

    /// Approximate bytes held, for the memory budget.
    pub(crate) fn bytes(&self) -> usize {
        const INDEX_SLOT_BYTES: usize = 16;
        self.arena.capacity() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.index.capacity() * INDEX_SLOT_BYTES
    }
}

/// A hasher that passes a single `u64` through (the key is already well mixed).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than a u64 is hashed; fold bytes in (FNV-1a).
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Builds [`PassThrough`] hashers.
type BuildPassThrough = BuildHasherDefault<PassThrough>;

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(c: &Config) -> Vec<u32> {
        let mut out = Vec::new();
        c.runs_into(&mut out);
        out
    }

    #[test]
    fn runs_and_memo_follow_membership() {
        let mut a = Config::new(200, 0);
        let mut b = Config::new(200, 0);
        for i in [3, 4, 5, 63, 64, 129, 199] {
            a.insert(i);
        }
        for i in [199, 129, 64, 63, 5, 4, 3] {
            b.insert(i);
        }
        assert_eq!(runs(&a), [3, 6, 63, 65, 129, 130, 199, 200]);
        assert_eq!(runs(&a), runs(&b));
        let mut memo = Memo::default();
        assert!(memo.insert(&a));
        assert!(!memo.insert(&b));
        b.remove(4);
        assert_eq!(runs(&b), [3, 4, 5, 6, 63, 65, 129, 130, 199, 200]);
        assert!(memo.insert(&b));
        a.state = 7;
        assert!(memo.insert(&a));
        assert!(!memo.insert(&a));
        let mut full = Config::new(130, 0);
        (0..130).for_each(|i| full.insert(i));
        assert_eq!(runs(&full), [0, 130]);
        full.remove(70);
        assert_eq!(runs(&full), [0, 70, 71, 130]);
        full.remove(3);
        assert_eq!(runs(&full), [0, 3, 4, 70, 71, 130]);
        assert!(runs(&Config::new(64, 0)).is_empty());
    }
}
