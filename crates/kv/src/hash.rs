//! The fixed 64-bit key hash that orders the keyspace.
//!
//! The keyspace is ordered by `(key_hash(key), key)` so that a SCAN cursor can be a plain
//! number (see [`crate::scan`]). The hash therefore is part of the replicated state's
//! observable behaviour: SCAN cursors, SCAN and KEYS order, and the order of entries in a
//! snapshot all derive from it. It must give the same value on every replica, every platform
//! and every build, forever, which rules out `std`'s hashers (their algorithm may change between
//! Rust releases) and any random seed.
//!
//! The function reads the key in little-endian 64-bit words, mixes each word with multiply and
//! rotate steps, folds in the length, and ends with a full avalanche finalizer. It is not a
//! cryptographic hash: a client that crafts many keys with one hash can make one SCAN page
//! large, but never wrong.

/// Multipliers: odd constants with well-spread bits (the golden ratio and two primes).
const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;

/// The fixed, seedless 64-bit hash of a key. Changing this function changes SCAN cursors and the
/// snapshot entry order, so it needs a new snapshot version.
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    let mut state = K3 ^ (key.len() as u64).wrapping_mul(K1);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        state = mix(state, u64::from_le_bytes(bytes));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..tail.len()].copy_from_slice(tail);
        state = mix(state, u64::from_le_bytes(bytes));
    }
    finalize(state)
}

/// Folds one word into the state.
fn mix(state: u64, word: u64) -> u64 {
    let word = word.wrapping_mul(K2).rotate_left(31).wrapping_mul(K1);
    (state ^ word)
        .rotate_left(27)
        .wrapping_mul(K1)
        .wrapping_add(K3)
}

/// Spreads every input bit over every output bit.
fn finalize(mut state: u64) -> u64 {
    state ^= state >> 33;
    state = state.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    state ^= state >> 33;
    state = state.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    state ^ (state >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash is part of the persistent format: these values must never change.
    #[test]
    fn hash_is_stable() {
        let got: Vec<u64> = [
            &b""[..],
            b"a",
            b"key:1",
            b"exactly8",
            b"more than eight bytes",
        ]
        .iter()
        .map(|k| key_hash(k))
        .collect();
        assert_eq!(got, STABLE.to_vec());
    }

    /// Keys differing only in trailing zero bytes differ (the length is mixed in).
    #[test]
    fn padding_is_not_ambiguous() {
        assert_ne!(key_hash(b"a"), key_hash(b"a\0"));
        assert_ne!(key_hash(b""), key_hash(b"\0"));
    }

    const STABLE: [u64; 5] = [
        17622645311363874476,
        9293940950789774261,
        15634638521019974437,
        9716437638988354343,
        14271465849254301133,
    ];
}
