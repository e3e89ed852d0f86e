//! In-process cluster tests: every `sim/scripts/*.script` runs against 3 to 5 nodes in this
//! process over an in-memory network ([`node::transport::memory`]), one script after another.
//!
//! `SIM_SCRIPT=name cargo test -p raftkv-node --test sim` runs only the scripts whose file name
//! contains `name`; `SIM_VERBOSE=1` prints the transcript of every script that passed too (with
//! `-- --nocapture`). How to write a script: docs/testing.md.

mod sim {
    pub mod cluster;
    pub mod script;
}

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The scripts to run, in name order, narrowed by `SIM_SCRIPT`.
fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sim/scripts");
    let filter = std::env::var("SIM_SCRIPT").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/sim/scripts")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "script"))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            filter.as_deref().is_none_or(|f| name.contains(f))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn cluster_scripts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    let files = scripts();
    assert!(!files.is_empty(), "no script matched SIM_SCRIPT");
    let mut failures = Vec::new();
    for file in &files {
        let started = Instant::now();
        let result = runtime.block_on(sim::script::run(file));
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let took = started.elapsed();
        match result {
            Ok(transcript) => {
                eprintln!("sim: {name} passed in {took:.1?}");
                if std::env::var_os("SIM_VERBOSE").is_some() {
                    eprintln!("{transcript}");
                }
            }
            Err(e) => {
                eprintln!("sim: {name} FAILED after {took:.1?}\n{e}");
                failures.push(name.into_owned());
            }
        }
    }
    assert!(failures.is_empty(), "failed scripts: {failures:?}");
}
