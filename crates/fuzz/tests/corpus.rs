//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) and every saved crash
//! (`fuzz/regressions/<target>/`) through its target on stable Rust: an input that once made a
//! decoder panic keeps being checked by every `cargo test`.

use std::path::PathBuf;

fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_decodes_without_panic() {
    for (target, run) in fuzz::TARGETS {
        let corpus = inputs("corpus", target);
        assert!(
            corpus.len() >= 3,
            "fuzz/corpus/{target} holds {} inputs: the seeds are missing",
            corpus.len()
        );
        for path in corpus.iter().chain(&inputs("regressions", target)) {
            let data = std::fs::read(path).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{target} panicked on {}", path.display());
            }
        }
    }
}
