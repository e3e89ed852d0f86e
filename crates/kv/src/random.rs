//! Replicated randomness for SPOP, SRANDMEMBER, HRANDFIELD and friends.
//!
//! Every replica must pick the same members, so randomness cannot come from the node. A command
//! that draws random numbers gets a [`Rng`] seeded from the store's clock (the log entry's
//! timestamp) and the store's draw counter `rand_seq`, which then advances by one. Both are
//! part of the replicated state (and of snapshots), so the same log gives the same draws on
//! every replica and after a restart from a snapshot; two draws in the same millisecond differ
//! because the counter differs. The generator is SplitMix64: tiny, fast, and good enough to
//! pick members (nothing here is security-sensitive).

/// A deterministic pseudo-random generator (SplitMix64).
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    /// The generator's state.
    state: u64,
}

impl Rng {
    /// The generator for the draw number `seq` at clock `clock_ms`.
    pub(crate) fn new(clock_ms: u64, seq: u64) -> Rng {
        let mut rng = Rng {
            state: clock_ms ^ seq.wrapping_mul(0xA076_1D64_78BD_642F),
        };
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), without modulo bias worth speaking of for collection sizes.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `count` distinct indexes in `0..n` (`count <= n`), in random order.
    pub(crate) fn distinct(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count.min(n) {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(count.min(n));
        all
    }
}
