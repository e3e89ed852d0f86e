//! What the keyspace alone costs per key, without a node around it: 1,000,000 string keys
//! `k:<i>` with 100-byte values (the load of `scripts/bench memory`), applied to a [`Store`],
//! measured as the growth of the process's resident memory. Run it with
//! `cargo test --release -p raftkv-kv --test memory -- --ignored --nocapture`.

use bytes::Bytes;
use kv::{Command, Store};

/// Keys loaded.
const KEYS: usize = 1_000_000;

/// This process's resident memory in bytes (`VmRSS`).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
#[ignore = "a measurement: run it by name with --release --nocapture"]
fn measure_keyspace_bytes_per_key() {
    let before = rss_bytes();
    let mut store = Store::new();
    let value = "x".repeat(100);
    for i in 0..KEYS {
        let key = format!("k:{i}");
        let args: Vec<Bytes> = ["SET", &key, &value]
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let cmd = Command::parse(&args).unwrap();
        store.apply(1, &cmd);
    }
    let grown = rss_bytes() - before;
    let raw = (0..KEYS)
        .map(|i| format!("k:{i}").len() + 100)
        .sum::<usize>();
    println!(
        "{KEYS} string keys: {:.1} bytes per key of resident memory, {:.2}x the raw {:.1} bytes",
        grown as f64 / KEYS as f64,
        grown as f64 / raw as f64,
        raw as f64 / KEYS as f64
    );
    drop(store);
}
