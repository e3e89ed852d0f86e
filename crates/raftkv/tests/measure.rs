//! Measurements for the issue notes, not pass/fail checks: run with
//! `cargo test --release -p raftkv --test measure -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::Cluster;

/// Median, minimum and maximum of `samples`.
fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "median {:?}, min {:?}, max {:?} over {} runs",
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
        samples.len()
    )
}

/// Time from `kill -9` of the leader until the two survivors agree on a new leader, with the
/// default timing (heartbeat 100 ms, election timeout 500-1000 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn election_time_after_leader_kill() {
    let timing = [
        "--heartbeat-interval-ms",
        "100",
        "--election-timeout-ms-min",
        "500",
        "--election-timeout-ms-max",
        "1000",
    ];
    let mut cluster = Cluster::start_with(3, &timing).await;
    let mut samples = Vec::new();
    for round in 0..10 {
        let leader = cluster.wait_leader_among(&[1, 2, 3]).await;
        let rest: Vec<u64> = (1..=3).filter(|&i| i != leader).collect();
        let killed = Instant::now();
        cluster.kill(leader);
        let new = cluster.wait_leader_among(&rest).await;
        let took = killed.elapsed();
        println!("round {round}: leader {leader} killed, node {new} leads after {took:?}");
        samples.push(took);
        cluster.restart(leader);
        cluster.wait_leader_among(&[1, 2, 3]).await;
    }
    println!(
        "election after kill -9 of the leader: {}",
        summary(&mut samples)
    );
}
