//! Durability across crashes: no acknowledged write is lost.
//!
//! Recording clients ([`common::writers`]) write unique keys to a 3-node cluster through every
//! node while [`crash_rounds`] crashes nodes and restarts them; afterwards every acknowledged
//! write must be on every node.
//!
//! - Repeated crashes under load: a schedule drawn from a seeded RNG (the seed is printed;
//!   `RAFTKV_CRASH_SEED=<n>` replays it) of `kill -9` of one node, of the leader, of all three
//!   at once, and simulated power cuts of all three.
//! - A simulated power cut: every node runs with the test-only power-loss hook, where SIGUSR1
//!   drops every WAL byte not yet fsynced and exits, as a power cut would (`kill -9` cannot
//!   show a missing fsync: the page cache survives the process). With fsync on, every
//!   acknowledged write survives. With `--unsafe-no-fsync` the same scenario loses
//!   acknowledged writes, which proves these tests can catch a durability bug.

mod common;

use std::time::Duration;

use common::writers::{assert_all_present, missing_on, Writers, Writes};
use common::Cluster;
use nix::sys::signal::Signal;

/// Writer tasks (connections) of the recording client.
const WRITERS: usize = 6;
/// Acknowledged writes to wait for before each crash, and while one node is down.
const PROGRESS: usize = 30;
/// Acknowledged writes before the single power cut.
const POWER_CUT_WRITES: usize = 200;
/// Crash rounds of the repeated-crash test.
const ROUNDS: usize = 12;
/// Environment variable that fixes the crash schedule's seed.
const SEED_VAR: &str = "RAFTKV_CRASH_SEED";
/// Every node of the cluster.
const ALL: [u64; 3] = [1, 2, 3];

/// One crash of a round.
#[derive(Clone, Copy, Debug)]
enum Crash {
    /// `kill -9` this node; writes continue on the other two; restart it.
    One(u64),
    /// `kill -9` the leader; writes continue once the others elect one; restart it.
    Leader,
    /// `kill -9` all three at once, then restart them.
    All,
    /// Simulated power cut of all three (unsynced WAL bytes lost), then restart them.
    PowerCut,
}

/// `ROUNDS` crashes, each kind equally often, in an order and with victims drawn from `seed`.
fn schedule(seed: u64) -> Vec<Crash> {
    // A seed replays a schedule exactly.
    let mut rng = check::Rng::new(seed);
    let mut crashes: Vec<Crash> = (0..ROUNDS)
        .map(|i| match i % 4 {
            0 => Crash::One(1 + rng.below(3)),
            1 => Crash::Leader,
            2 => Crash::All,
            _ => Crash::PowerCut,
        })
        .collect();
    for i in (1..crashes.len()).rev() {
        crashes.swap(i, rng.below(i as u64 + 1) as usize);
    }
    crashes
}

/// Run `crashes` on a 3-node cluster while `writers` write. Before each crash, wait until
/// `progress` more writes were acknowledged (the cluster serves again after the previous one);
/// after a one-node crash, also while the node is down. Every node runs again at the end.
async fn crash_rounds(
    cluster: &mut Cluster,
    writers: &Writers,
    crashes: &[Crash],
    progress: usize,
) {
    for (round, crash) in crashes.iter().enumerate() {
        writers.wait_progress(progress).await;
        eprintln!(
            "round {round}: {crash:?} ({} acknowledged so far)",
            writers.acked()
        );
        match *crash {
            Crash::One(id) => {
                cluster.kill(id);
                writers.wait_progress(progress).await;
                cluster.restart(id);
            }
            Crash::Leader => {
                let leader = cluster.wait_leader_among(&ALL).await;
                cluster.kill(leader);
                writers.wait_progress(progress).await;
                cluster.restart(leader);
            }
            Crash::All => {
                cluster.kill_all(&ALL);
                for id in ALL {
                    cluster.restart(id);
                }
            }
            Crash::PowerCut => {
                for id in ALL {
                    let status = cluster.signal_and_wait(id, Signal::SIGUSR1);
                    assert_eq!(
                        status.code(),
                        Some(99),
                        "node {id} must exit through the power-loss hook"
                    );
                }
                for id in ALL {
                    cluster.restart(id);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_kill_9_and_power_cuts_under_load() {
    let seed = match std::env::var(SEED_VAR) {
        Ok(s) => s.parse().expect("RAFTKV_CRASH_SEED must be a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    let crashes = schedule(seed);
    eprintln!("crash schedule seed {seed} ({SEED_VAR}={seed} replays it): {crashes:?}");
    let mut cluster = Cluster::start_with(3, &["--unsafe-power-loss-signal"]).await;
    let writers = Writers::start(cluster.client_addrs(&ALL), WRITERS, "crash");
    crash_rounds(&mut cluster, &writers, &crashes, PROGRESS).await;
    writers.wait_progress(PROGRESS).await;
    let writes = writers.stop().await;
    eprintln!(
        "seed {seed}: {} writes acknowledged, {} indeterminate, {} refused",
        writes.acked.len(),
        writes.indeterminate,
        writes.refused.len()
    );
    assert_all_present(&cluster, &ALL, &writes).await;
}

/// Start a cluster with `extra` flags and the power-loss hook, write under load, cut the power
/// of every node, restart them, and return the cluster and what the writers did.
async fn power_cut(extra: &[&str]) -> (Cluster, Writes) {
    let mut flags = vec!["--unsafe-power-loss-signal"];
    flags.extend(extra);
    let mut cluster = Cluster::start_with(3, &flags).await;
    let writers = Writers::start(cluster.client_addrs(&ALL), WRITERS, "cut");
    crash_rounds(&mut cluster, &writers, &[Crash::PowerCut], POWER_CUT_WRITES).await;
    let writes = writers.stop().await;
    (cluster, writes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_power_cut_of_every_node() {
    let (cluster, writes) = power_cut(&[]).await;
    assert_all_present(&cluster, &ALL, &writes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_power_cut_test_catches_a_missing_fsync() {
    let (cluster, writes) = power_cut(&["--unsafe-no-fsync"]).await;
    // After a real loss the cluster may have no leader at all (every log gone): a node that
    // cannot answer within the deadline counts every key as missing.
    let missing = missing_on(&cluster, 1, &writes.acked, Duration::from_secs(10)).await;
    eprintln!(
        "missing after the power cut: {} of {} acknowledged",
        missing.len(),
        writes.acked.len()
    );
    assert!(
        !missing.is_empty(),
        "with --unsafe-no-fsync a power cut must lose acknowledged writes"
    );
}
