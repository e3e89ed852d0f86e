//! End to end: one short real fault run of a 3-node cluster.
//!
//! Ignored by default: it needs root (network namespaces, nftables), `ip`, `nft`, libfaketime and
//! a release `raftkv` binary (`cargo build --release -p raftkv`; or point `RAFTKV_BIN` at one),
//! and takes about a minute:
//!
//! ```text
//! cargo test -p raftkv-chaos --test e2e -- --ignored --nocapture
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn raftkv_binary() -> PathBuf {
    match std::env::var_os("RAFTKV_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/raftkv"),
    }
}

#[test]
#[ignore = "needs root, nftables, libfaketime and a release raftkv binary; about a minute"]
fn a_short_mixed_run_passes_and_leaves_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report");
    let child = Command::new(env!("CARGO_BIN_EXE_raftkv-chaos"))
        .args(["run", "--nodes", "3", "--seed", "7", "--duration", "45s"])
        .args(["--workload", "append", "--faults", "mixed", "--quiet"])
        .arg("--report-dir")
        .arg(&report)
        .arg("--binary")
        .arg(raftkv_binary())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run raftkv-chaos");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for raftkv-chaos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = std::fs::read_to_string(report.join("summary.txt")).unwrap_or_default();
    assert!(
        out.status.success(),
        "run failed ({}): {stdout}\nstderr: {}\nevents:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(report.join("events.log")).unwrap_or_default()
    );
    assert!(summary.starts_with("PASS seed=7 nodes=3 workload=append faults=mixed"));
    assert_eq!(summary.trim(), stdout.trim());
    for file in [
        "history.jsonl",
        "verdict.txt",
        "schedule.txt",
        "events.log",
        "summary.json",
        "run.txt",
    ] {
        assert!(report.join(file).is_file(), "no {file} in the report");
    }
    let logs = std::fs::read_dir(report.join("nodes")).unwrap().count();
    assert!(logs >= 3, "expected a log per node, found {logs}");
    assert!(report.join("data/slot0-n1").is_dir());
    // The network is gone.
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let mine = format!("rkvc{pid}-");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(&mine));
}
