//! Which keys the clients use: a few at a time, each retired after a fixed number of operations.
//!
//! Checking a register is a search whose cost grows with the operations on one key and, above
//! all, with the writes whose outcome is unknown (every one of them may take effect at any
//! later moment). Spreading the work over [`ACTIVE_KEYS`] keys and replacing a key once it has
//! seen its quota of operations keeps each key's history short, so a three-minute run full of
//! timeouts is still decided in seconds. Append keys get a larger quota: their check is linear,
//! and longer strings give each read more to contradict.
//!
//! All clients share one pool, so several clients (through several nodes) hit the same key at
//! the same time, which is where linearizability violations show.

use crate::workload::Workload;
use check::Rng;

/// Keys in use at any moment.
pub const ACTIVE_KEYS: usize = 4;
/// Operations a register key receives before it is retired.
pub const REGISTER_OPS_PER_KEY: u64 = 300;
/// Operations an append key receives before it is retired.
pub const APPEND_OPS_PER_KEY: u64 = 1500;

/// The shared key pool of one run.
#[derive(Debug)]
pub struct KeyPool {
    prefix: &'static str,
    quota: u64,
    /// Active keys and the operations each has received.
    active: Vec<(String, u64)>,
    /// Every key ever handed out, in order.
    used: Vec<String>,
}

impl KeyPool {
    /// A pool for `workload`.
    pub fn new(workload: Workload) -> KeyPool {
        let (prefix, quota) = match workload {
            Workload::Register => ("r", REGISTER_OPS_PER_KEY),
            Workload::Append => ("a", APPEND_OPS_PER_KEY),
        };
        let mut pool = KeyPool {
            prefix,
            quota,
            active: Vec::new(),
            used: Vec::new(),
        };
        for _ in 0..ACTIVE_KEYS {
            let key = pool.fresh();
            pool.active.push((key, 0));
        }
        pool
    }

    fn fresh(&mut self) -> String {
        let key = format!("{}{}", self.prefix, self.used.len());
        self.used.push(key.clone());
        key
    }

    /// A key for the next operation (counted against its quota).
    pub fn choose(&mut self, rng: &mut Rng) -> String {
        let i = rng.index(self.active.len());
        let slot = &mut self.active[i];
        slot.1 += 1;
        let key = slot.0.clone();
        if slot.1 >= self.quota {
            let next = self.fresh();
            self.active[i] = (next, 0);
        }
        key
    }

    /// Every key handed out so far.
    pub fn used(&self) -> &[String] {
        &self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_retire_after_their_quota() {
        let mut pool = KeyPool::new(Workload::Register);
        let mut rng = Rng::new(3);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..(REGISTER_OPS_PER_KEY * 10) {
            *counts.entry(pool.choose(&mut rng)).or_insert(0u64) += 1;
        }
        assert!(counts.values().all(|&c| c <= REGISTER_OPS_PER_KEY));
        assert!(pool.used().len() > ACTIVE_KEYS);
        assert!(pool.used().iter().all(|k| k.starts_with('r')));
    }
}
