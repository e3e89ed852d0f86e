//! `maxmemory`: the memory this node uses, as the write gate judges it.
//!
//! A leaf module. [`MemoryGauge`] holds the limit (`maxmemory_bytes`, changed at run time with
//! `CONFIG SET maxmemory`; 0 means none) and the process's resident memory, sampled every
//! [`crate::limits::MEMORY_SAMPLE_INTERVAL`] by [`watch`] from `/proc/self/status` (`VmRSS`).
//! Redis compares its allocator's count instead; the resident size is what the kernel's OOM
//! killer and an operator see, and it includes the Raft log cache and connection buffers.
//!
//! Only the leader's gauge decides (at propose time, in `cluster::router`), so every node
//! refuses the same writes: a follower forwards writes and passes on the leader's answer.

use std::sync::atomic::{AtomicU64, Ordering};

/// The limit and the latest sample.
#[derive(Debug, Default)]
pub struct MemoryGauge {
    limit: AtomicU64,
    used: AtomicU64,
}

impl MemoryGauge {
    /// A gauge with `limit` bytes (0: no limit), sampled once now.
    pub fn new(limit: u64) -> MemoryGauge {
        let gauge = MemoryGauge {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
        };
        gauge.sample();
        gauge
    }

    /// Reads the resident size again.
    pub fn sample(&self) {
        if let Some(bytes) = resident_bytes() {
            self.used.store(bytes, Ordering::Relaxed);
        }
    }

    /// Resident bytes at the latest sample.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit in bytes; 0 means none.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Changes the limit (`CONFIG SET maxmemory`).
    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// True if a limit is set and the latest sample is above it.
    pub fn over_limit(&self) -> bool {
        over(self.used(), self.limit())
    }
}

/// True if `limit` is set (non-zero) and `used` is above it.
fn over(used: u64, limit: u64) -> bool {
    limit > 0 && used > limit
}

/// This process's resident set size from `/proc/self/status`, if readable.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Samples `gauge` every [`crate::limits::MEMORY_SAMPLE_INTERVAL`], forever.
pub async fn watch(gauge: std::sync::Arc<MemoryGauge>) {
    loop {
        gauge.sample();
        tokio::time::sleep(crate::limits::MEMORY_SAMPLE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_is_never_over_and_a_limit_is_over_only_above_it() {
        assert!(!over(u64::MAX, 0));
        assert!(!over(100, 100));
        assert!(over(101, 100));
    }

    #[test]
    fn the_sample_is_this_process_resident_size() {
        let gauge = MemoryGauge::new(1);
        assert!(gauge.used() > 1024 * 1024, "{}", gauge.used());
        assert!(gauge.over_limit());
        gauge.set_limit(0);
        assert!(!gauge.over_limit());
    }
}
