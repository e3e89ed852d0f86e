//! Storage faults end to end: each node's data dir on a small tmpfs of its own, filled on
//! purpose while clients write.
//!
//! What must hold (docs/operations.md, "Storage faults"): a node whose Raft log cannot be
//! written exits with status 74 after one ERROR naming the path and the OS error, never
//! lingering; its clients meanwhile get `-MISCONF`/`-TRYAGAIN`/`-ERR write outcome unknown`,
//! never Rust debug text; the rest of the cluster keeps serving; no acknowledged write is lost;
//! after space returns and the node restarts every node holds the same data. A snapshot that
//! hits a full disk keeps the old snapshot and the log; a node refuses to start on a full disk;
//! `/readyz` fails below `--min-free-space` and the leader hands off.
//!
//! Mounting needs root. Without it every test here prints why and passes without checking
//! anything (the rest of the suite covers the code paths that need no full disk).

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::writers::{assert_all_present, Writers};
use common::{bulk, http_get, raftkv, serve_must_fail, wait_until, Cluster, NodeSetup};
use resp::Reply;

/// Exit status of a node whose Raft log could not be written (`EXIT_STORAGE_FAILURE`).
const EXIT_STORAGE_FAILURE: i32 = 74;
/// Size of each node's tmpfs, in MiB: room for the test's data, small enough to fill fast.
const DISK_MIB: u64 = 24;
/// Name of the file that fills a disk, beside the data dir.
const FILLER: &str = "filler";

/// Small tmpfs file systems, one per node, mounted under a temp dir; unmounted on drop (declare
/// it before the cluster, so the nodes are killed first).
struct Disks {
    mounts: Vec<PathBuf>,
    root: tempfile::TempDir,
}

impl Disks {
    /// Mount `n` tmpfs of `mib` MiB each, or print why not and return `None`.
    fn mount(test: &str, n: u64, mib: u64) -> Option<Disks> {
        let mut disks = Disks {
            mounts: Vec::new(),
            root: tempfile::tempdir().expect("tempdir"),
        };
        for id in 1..=n {
            let at = disks.root.path().join(format!("disk{id}"));
            fs::create_dir(&at).expect("mount point");
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
                .arg(&at)
                .stdin(Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => disks.mounts.push(at),
                other => {
                    let why = match other {
                        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                        Err(e) => e.to_string(),
                    };
                    eprintln!(
                        "SKIPPED {test}: cannot mount a tmpfs for the data dirs (needs root): {why}"
                    );
                    return None;
                }
            }
        }
        Some(disks)
    }

    fn data_dir(&self, id: u64) -> PathBuf {
        self.mounts[(id - 1) as usize].join("data")
    }

    fn filler(&self, id: u64) -> PathBuf {
        self.mounts[(id - 1) as usize].join(FILLER)
    }

    /// Fill node `id`'s disk to the last page.
    fn fill(&self, id: u64) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler(id))
            .expect("filler");
        for chunk in [vec![0u8; 1 << 20], vec![0u8; 4096], vec![0u8; 512]] {
            while f.write_all(&chunk).is_ok() {}
        }
    }

    /// Fill node `id`'s disk, then give back `bytes` of it.
    fn leave_free(&self, id: u64, bytes: u64) {
        self.fill(id);
        let f = fs::OpenOptions::new()
            .write(true)
            .open(self.filler(id))
            .expect("filler");
        let len = f.metadata().expect("filler size").len();
        f.set_len(len.saturating_sub(bytes)).expect("shrink filler");
    }

    /// Give node `id`'s disk its space back.
    fn free(&self, id: u64) {
        let _ = fs::remove_file(self.filler(id));
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        for at in &self.mounts {
            let ok = Command::new("umount")
                .arg(at)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(at).status();
            }
        }
        let _ = self.root.path();
    }
}

fn flags(list: &[&str]) -> NodeSetup {
    NodeSetup {
        flags: list.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    }
}

/// Start `n` nodes, each with its data dir on its own disk.
async fn cluster_on(disks: &Disks, n: u64, extra: &[&str]) -> Cluster {
    Cluster::start_each_at(n, |id| Some(disks.data_dir(id)), |_| flags(extra)).await
}

/// No Rust syntax, no errno suffix: what a client may be shown.
fn assert_clean(text: &str) {
    for bad in ["{", "}", "LogId", "os error", "Error:", "Custom", "kind:"] {
        assert!(!text.contains(bad), "{bad:?} in a client reply: {text}");
    }
}

fn error_text(r: Reply) -> String {
    match r {
        Reply::Error(e) => e,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

async fn info_field(cluster: &Cluster, id: u64, field: &str) -> String {
    cluster
        .info(id)
        .await
        .and_then(|i| i.get(field).cloned())
        .unwrap_or_default()
}

/// (applied index, `db0` keyspace line) of each node of `ids`.
async fn data_states(cluster: &Cluster, ids: &[u64]) -> Vec<(String, String)> {
    let mut states = Vec::new();
    for &id in ids {
        let i = cluster.info(id).await.unwrap_or_default();
        states.push((
            i.get("raft_applied_index").cloned().unwrap_or_default(),
            i.get("db0").cloned().unwrap_or_default(),
        ));
    }
    states
}

/// Wait until every node of `ids` has applied the same index and holds the same key count.
async fn wait_same_data(cluster: &Cluster, ids: &[u64]) -> String {
    wait_until("every node to hold the same data", || async move {
        let states = data_states(cluster, ids).await;
        states.iter().all(|s| *s == states[0] && !s.0.is_empty())
    })
    .await;
    format!("{:?}", data_states(cluster, ids).await)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Victim {
    Leader,
    Follower,
}

/// Fill one node's disk while writers write through every node. Returns nothing; prints
/// the measurements.
async fn disk_full_while_writing(victim_role: Victim) {
    let test = format!("disk_full_on_the_{victim_role:?}").to_lowercase();
    let Some(disks) = Disks::mount(&test, 3, DISK_MIB) else {
        return;
    };
    let mut cluster = cluster_on(&disks, 3, &["--min-free-space", "0"]).await;
    let all = [1, 2, 3];
    let leader = cluster.wait_leader_among(&all).await;
    let victim = match victim_role {
        Victim::Leader => leader,
        Victim::Follower => all.into_iter().find(|i| *i != leader).unwrap(),
    };
    let others: Vec<u64> = all.into_iter().filter(|i| *i != victim).collect();
    let writers = Writers::start(cluster.client_addrs(&all), 4, "full");
    writers.wait_progress(100).await;

    // A client of the full node writes until it is refused.
    let mut probe = cluster.client(victim).await;
    disks.fill(victim);
    let filled = Instant::now();
    let mut n = 0u64;
    let first = loop {
        n += 1;
        match probe.call(&["SET", &format!("probe{n}"), "x"]).await {
            Ok(r) if r == Reply::ok() => {}
            Ok(Reply::Error(e)) => break e,
            other => panic!("the full node answered {other:?} instead of an error reply"),
        }
    };
    let failed = Instant::now();
    assert_clean(&first);
    match victim_role {
        // Its own write in flight: it may have been stored by the followers.
        Victim::Leader => assert!(
            first.starts_with("ERR write outcome unknown") || first.starts_with("MISCONF "),
            "{first}"
        ),
        Victim::Follower => assert_eq!(
            first,
            "MISCONF raftkv cannot write its Raft log: No space left on device"
        ),
    }
    // Until it exits, it refuses what it cannot persist or linearize.
    let write = error_text(probe.call(&["SET", "after", "x"]).await.expect("SET reply"));
    assert_eq!(
        write,
        "MISCONF raftkv cannot write its Raft log: No space left on device"
    );
    let read = error_text(probe.call(&["GET", "after"]).await.expect("GET reply"));
    assert!(read.starts_with("TRYAGAIN "), "{read}");
    assert_clean(&read);

    // It exits with the documented status and says why, naming the path and the OS error.
    let status = cluster.wait_exit(victim).await;
    let exited = Instant::now();
    assert_eq!(status.code(), Some(EXIT_STORAGE_FAILURE), "{status:?}");
    let log = fs::read_to_string(&cluster.node(victim).log).unwrap();
    let wal = disks.data_dir(victim).join("raft-log");
    let said = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("exiting so a supervisor restarts"))
        .unwrap_or_else(|| panic!("no exit message in the log:\n{log}"));
    assert!(
        said.contains(&wal.display().to_string()) && said.contains("No space left on device"),
        "{said}"
    );

    // The others keep serving.
    let new_leader = cluster.wait_leader_among(&others).await;
    let elected = Instant::now();
    writers.wait_progress(200).await;

    // Space returns, the node restarts, catches up; nothing acknowledged is lost.
    disks.free(victim);
    cluster.restart(victim);
    writers.wait_progress(100).await;
    let writes = writers.stop().await;
    assert_all_present(&cluster, &all, &writes).await;
    let data = wait_same_data(&cluster, &all).await;
    let torn = cluster.count(victim, "raft_log_torn_records_cut").await;
    eprintln!(
        "MEASURE {test}: first refusal {} ms after the fill, exit {} ms after it, leader {new_leader} \
         {} ms after it; torn records cut at restart: {torn}; {} acknowledged writes all present; \
         nodes agree on (applied, keys) {data}",
        (failed - filled).as_millis(),
        (exited - failed).as_millis(),
        (elected - failed).as_millis(),
        writes.acked.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_on_the_leader_exits_it_and_the_cluster_keeps_every_acknowledged_write() {
    disk_full_while_writing(Victim::Leader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_on_a_follower_exits_it_and_it_catches_up_after_a_restart() {
    disk_full_while_writing(Victim::Follower).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_to_start_on_a_full_disk() {
    let Some(disks) = Disks::mount("a_node_refuses_to_start_on_a_full_disk", 1, 4) else {
        return;
    };
    disks.fill(1);
    let data = disks.data_dir(1);
    let err = serve_must_fail(&data, &["--bootstrap"]);
    assert!(
        err.contains("is not writable")
            && err.contains(&data.display().to_string())
            && err.contains("No space left on device"),
        "{err}"
    );
    // With the space back it starts (and the probe leaves nothing behind).
    disks.free(1);
    let mut cluster = cluster_on(&disks, 1, &["--min-free-space", "0"]).await;
    assert_eq!(cluster.call(1, &["SET", "k", "v"]).await, Reply::ok());
    assert!(!data.join(node::disk::STARTUP_PROBE_FILE).exists());
    cluster.kill(1);
}

/// `SET small<i> v` for `n` keys from `first`.
async fn set_small(c: &mut node::client::RespClient, first: u64, n: u64) {
    for i in first..first + n {
        let key = format!("small{i}");
        assert_eq!(c.call(&["SET", &key, "v"]).await.unwrap(), Reply::ok());
    }
}

/// Files in `dir` as (name, contents), sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, fs::read(e.path()).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_on_a_full_disk_keeps_the_old_one_and_the_log_and_backups_fail_cleanly() {
    snapshot_on_a_full_disk("a_snapshot_on_a_full_disk_keeps_the_old_one", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_snapshot_on_a_full_disk_fails_cleanly_too() {
    snapshot_on_a_full_disk("a_first_snapshot_on_a_full_disk_fails_cleanly_too", false).await;
}

/// Fill the disk (leaving room for log appends only) when a snapshot is due, with or without an
/// earlier snapshot in place; then free it.
async fn snapshot_on_a_full_disk(test: &str, first_snapshot: bool) {
    let Some(disks) = Disks::mount(test, 1, 16) else {
        return;
    };
    let cluster = cluster_on(
        &disks,
        1,
        &[
            "--min-free-space",
            "0",
            "--snapshot-threshold",
            "200",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    let http = cluster.http_addr(1);
    let mut c = cluster.client(1).await;
    let cl = &cluster;
    if first_snapshot {
        set_small(&mut c, 0, 210).await;
        wait_until("a first snapshot", || async move {
            info_field(cl, 1, "raft_snapshot_index").await != "0"
        })
        .await;
    }
    let snap_index = info_field(&cluster, 1, "raft_snapshot_index").await;
    let purged = info_field(&cluster, 1, "raft_purged_index").await;
    let snapshots = disks.data_dir(1).join("snapshots");
    let before = files(&snapshots);
    assert_eq!(before.len(), usize::from(first_snapshot), "snapshot files");

    // Big values the next snapshot must hold, then a disk with 1 MiB free: enough for log
    // appends, not for that snapshot.
    let big = "x".repeat(64 * 1024);
    for i in 0..50 {
        let key = format!("big{i}");
        assert_eq!(c.call(&["SET", &key, &big]).await.unwrap(), Reply::ok());
    }
    disks.leave_free(1, 1 << 20);
    // Cross the threshold, so a snapshot starts and fails.
    set_small(&mut c, 1000, 200).await;
    wait_until("a failed snapshot", || async move {
        info_field(cl, 1, "snapshot_failures").await != "0"
    })
    .await;
    let info = cluster.info(1).await.unwrap();
    assert_eq!(info["rdb_last_bgsave_status"], "err");
    // Refused by the snapshot's own free-space check, before it took the 1 MiB the log needs
    // (a snapshot that filled the disk would make the next log append stop the node).
    assert!(
        info["snapshot_last_error"].contains("No space left on device")
            && info["snapshot_last_error"].contains("kept for the Raft log"),
        "{info:?}"
    );
    assert_eq!(info["raft_snapshot_index"], snap_index, "no new snapshot");
    assert_eq!(info["raft_purged_index"], purged, "nothing purged");
    assert_eq!(files(&snapshots), before, "the old snapshot is intact");
    // Still serving.
    assert_eq!(c.call(&["SET", "after", "v"]).await.unwrap(), Reply::ok());
    assert_eq!(c.call(&["GET", "big7"]).await.unwrap(), bulk(&big));
    let (_, metrics) = http_get(&http, "/metrics");
    let failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix("raftkv_snapshot_failures_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(failures.is_some_and(|f| f >= 1), "{metrics}");
    let log = fs::read_to_string(&cluster.node(1).log).unwrap();
    assert_eq!(
        log.matches("snapshot not written;").count(),
        1,
        "logged once:\n{log}"
    );

    // A backup on the full disk fails with a clear error and leaves no file behind.
    let file = disks.root.path().join("backup.rkvsnap");
    let endpoint = cluster.node(1).client.clone();
    let (ok, out, err) = raftkv(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "--endpoint",
        &endpoint,
    ]);
    assert!(!ok, "{out}");
    assert!(err.contains("No space left on device"), "{err}");
    let exports = disks.data_dir(1).join("exports");
    assert_eq!(files(&exports).len(), 0, "export files left behind");

    // Space back: the next snapshot is written (after the retry pause; writes keep crossing
    // the threshold) and the log purged.
    disks.free(1);
    let mut round = 0;
    let snap = &snap_index;
    wait_until("a snapshot after space returned", || {
        round += 1;
        let first = 10_000 + round * 20;
        async move {
            set_small(&mut cl.client(1).await, first, 20).await;
            info_field(cl, 1, "raft_snapshot_index").await != *snap
        }
    })
    .await;
    assert_eq!(
        info_field(&cluster, 1, "rdb_last_bgsave_status").await,
        "ok"
    );
    assert_ne!(info_field(&cluster, 1, "raft_purged_index").await, purged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_below_min_free_space_and_the_leader_hands_off() {
    let test = "readyz_fails_below_min_free_space_and_the_leader_hands_off";
    let Some(disks) = Disks::mount(test, 3, 32) else {
        return;
    };
    let cluster = cluster_on(
        &disks,
        3,
        &[
            "--min-free-space",
            "8MiB",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    let all = [1u64, 2, 3];
    let http: Vec<String> = all.iter().map(|&id| cluster.http_addr(id)).collect();
    let leader = cluster.wait_leader_among(&all).await;
    for addr in &http {
        wait_until("readyz 200", || async move {
            http_get(addr, "/readyz").0 == 200
        })
        .await;
    }
    let info = cluster.info(leader).await.unwrap();
    assert_eq!(info["disk_ok"], "1");
    assert_eq!(info["disk_min_free_bytes"], (8u64 << 20).to_string());
    let free: u64 = info["disk_free_bytes"].parse().unwrap();
    assert!(free > 8 << 20, "{free}");

    let low_since = Instant::now();
    disks.leave_free(leader, 4 << 20);
    let addr = &http[(leader - 1) as usize];
    wait_until("readyz 503 on the low node", || async move {
        let (code, body) = http_get(addr, "/readyz");
        code == 503 && body.contains("below --min-free-space")
    })
    .await;
    // Leadership moves to a node with space.
    let others: Vec<u64> = all.into_iter().filter(|i| *i != leader).collect();
    let (cl, os) = (&cluster, &others);
    wait_until("another node to lead", || async move {
        let l = info_field(cl, leader, "raft_leader_id").await;
        os.iter().any(|o| o.to_string() == l)
    })
    .await;
    let moved = low_since.elapsed();
    assert_eq!(info_field(&cluster, leader, "disk_ok").await, "0");
    let (_, metrics) = http_get(addr, "/metrics");
    assert!(metrics.contains("raftkv_disk_ok 0"), "{metrics}");
    assert!(metrics.contains("raftkv_disk_free_bytes "), "{metrics}");
    for &o in &others {
        let (code, body) = http_get(&http[(o - 1) as usize], "/readyz");
        assert_eq!(code, 200, "node {o}: {body}");
    }
    // Space back: ready again.
    disks.free(leader);
    wait_until("readyz 200 again", || async move {
        http_get(addr, "/readyz").0 == 200
    })
    .await;
    assert_eq!(info_field(&cluster, leader, "disk_ok").await, "1");
    eprintln!(
        "MEASURE {test}: leadership left the low node {} ms after its disk went low",
        moved.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_one_low_disk_hand_leadership_off_at_most_once_each() {
    let test = "nodes_sharing_one_low_disk_hand_leadership_off_at_most_once_each";
    let Some(disks) = Disks::mount(test, 1, 32) else {
        return;
    };
    // As under `raftkv local`: every data dir on one file system, and that one is low from the
    // start (the floor is above its size).
    let shared = disks.mounts[0].clone();
    let cluster = Cluster::start_each_at(
        3,
        |id| Some(shared.join(format!("node{id}"))),
        |_| flags(&["--min-free-space", "1GiB"]),
    )
    .await;
    let all = [1u64, 2, 3];
    let writers = Writers::start(cluster.client_addrs(&all), 2, "low");
    let cl = &cluster;
    wait_until("every node to see its disk low", || async move {
        let mut low = true;
        for id in all {
            low &= info_field(cl, id, "disk_ok").await == "0";
        }
        low
    })
    .await;
    // Hand-overs each node started (low free space is the only reason in this test).
    let handoffs = |id: u64| async move { cl.count(id, "raft_handovers_started").await };
    let total = || async move {
        let mut sum = 0;
        for id in all {
            sum += handoffs(id).await;
        }
        sum
    };
    // Each node may hand off once; the chain ends at a leader that already did. Settled: the
    // same leader and no new hand-off across a window of three disk samples on the leader (a
    // hand-off starts at the first sample that finds the disk low).
    let settled = std::cell::Cell::new((cluster.wait_leader_among(&all).await, total().await));
    let wr = &writers;
    wait_until("leadership to settle after a hand-off", || {
        let settled = &settled;
        async move {
            let before = settled.get();
            let samples = cl.count(before.0, "disk_samples").await;
            wait_until("three disk samples on the leader", || async move {
                cl.count(before.0, "disk_samples").await >= samples + 3
            })
            .await;
            wr.wait_progress(50).await;
            let now = (cl.wait_leader_among(&all).await, total().await);
            settled.set(now);
            now == before && before.1 > 0
        }
    })
    .await;
    for id in all {
        let n = handoffs(id).await;
        assert!(n <= 1, "node {id} handed off {n} times");
    }
    let writes = writers.stop().await;
    assert_all_present(&cluster, &all, &writes).await;
}
