//! Damaged storage on the storage layer directly (no processes, no network): a torn last WAL
//! record is cut off and every complete record kept; a flipped bit anywhere before it, in the
//! last chunk or an earlier one, and a flipped bit anywhere in a snapshot file make the open fail
//! with the file's path and the byte offset of the damaged record or part.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use node::raft::log_store::LogStore;
use node::raft::snapshot_file::{SnapshotDir, SnapshotHeader};
use node::raft::state_machine::StateMachine;
use node::raft::types::{Entry, LogCommand, LogId, SnapshotMeta, TypeConfig};
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftLogStorageExt};
use openraft::vote::RaftLeaderIdExt;
use openraft::EntryPayload;

/// Entries written to each test log.
const ENTRIES: u64 = 20;

fn log_id(index: u64) -> LogId {
    LogId::new(
        <openraft::alias::LeaderIdOf<TypeConfig> as RaftLeaderIdExt>::new_committed(1, 1),
        index,
    )
}

fn entry(index: u64) -> Entry {
    let args = [
        Bytes::from_static(b"SET"),
        Bytes::from(format!("key{index}")),
        Bytes::from(format!("value{index}")),
    ];
    let cmd = kv::Command::parse(&args).expect("SET parses");
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(LogCommand {
            now_ms: 1,
            cmds: vec![cmd].into(),
        }),
    }
}

/// The WAL's chunk files, in log order.
fn chunks(wal: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(wal)
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

/// Write entries 0..ENTRIES one record each into a new WAL in `wal` with chunks of about
/// `chunk_bytes`; returns the end offset of every record in the last chunk after each append
/// (so record `i` of the last chunk spans `ends[i-1]..ends[i]`).
async fn write_log(wal: &Path, chunk_bytes: usize) -> Vec<u64> {
    let mut log = LogStore::open_with_chunk_size(wal, true, chunk_bytes).expect("open");
    let mut ends = Vec::new();
    for i in 0..ENTRIES {
        log.blocking_append([entry(i)]).await.expect("append");
        let last = chunks(wal).pop().expect("a chunk");
        ends.push(std::fs::metadata(last).expect("size").len());
    }
    ends
}

/// Last log index and the entries a reopened WAL holds.
async fn reopen(wal: &Path) -> std::io::Result<(Option<u64>, Vec<Entry>)> {
    let mut log = LogStore::open(wal, true)?;
    let last = log.get_log_state().await?.last_log_id.map(|l| l.index());
    let entries = log.try_get_log_entries(0..ENTRIES).await?;
    Ok((last, entries))
}

fn flip(path: &Path, at: usize, bit: u8) -> Vec<u8> {
    let original = std::fs::read(path).expect("read");
    let mut bytes = original.clone();
    bytes[at] ^= 1 << bit;
    std::fs::write(path, bytes).expect("write");
    original
}

/// Copy `from` (a WAL dir) into a fresh `to`.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_record_is_cut_off_and_every_complete_record_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pristine = dir.path().join("pristine");
    let ends = write_log(&pristine, 64 * 1024 * 1024).await;
    let (last_start, end) = (ends[ends.len() - 2], ends[ends.len() - 1]);
    let wal = dir.path().join("raft-log");
    // Every length a crash can leave the last record at.
    for cut in last_start + 1..end {
        copy_dir(&pristine, &wal);
        let chunk = chunks(&wal).pop().expect("chunk");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&chunk)
            .expect("open");
        file.set_len(cut).expect("truncate");
        let (last, entries) = reopen(&wal)
            .await
            .unwrap_or_else(|e| panic!("a torn tail cut at {cut} must be repaired: {e}"));
        assert_eq!(last, Some(ENTRIES - 2), "cut at {cut}");
        assert_eq!(entries.len() as u64, ENTRIES - 1, "cut at {cut}");
        assert_eq!(std::fs::metadata(&chunk).expect("size").len(), last_start);
    }

    // After the repair the log takes appends and reopens cleanly.
    {
        let mut log = LogStore::open(&wal, true).expect("open repaired");
        log.blocking_append([entry(ENTRIES - 1)])
            .await
            .expect("append");
    }
    let (last, entries) = reopen(&wal).await.expect("reopen");
    assert_eq!(last, Some(ENTRIES - 1));
    assert_eq!(entries.len() as u64, ENTRIES);

    // A second open beside a running one fails on the lock and cuts nothing, even where the
    // running one seems to be in the middle of a write.
    {
        let _running = LogStore::open(&wal, true).expect("open");
        let chunk = chunks(&wal).pop().expect("chunk");
        let mut bytes = std::fs::read(&chunk).expect("read");
        bytes.extend_from_slice(&[0, 0, 0, 1, 20, 0, 0, 0, 7]);
        std::fs::write(&chunk, &bytes).expect("write");
        let err = LogStore::open(&wal, true).err().expect("locked");
        assert!(err.to_string().contains("already locked"), "{err}");
        assert_eq!(std::fs::read(&chunk).expect("read"), bytes);
    }

    // A tail of zero bytes (file length written before its data) is cut too.
    copy_dir(&pristine, &wal);
    let chunk = chunks(&wal).pop().expect("chunk");
    let mut bytes = std::fs::read(&chunk).expect("read");
    bytes.extend_from_slice(&[0u8; 100]);
    std::fs::write(&chunk, bytes).expect("write");
    let (last, _) = reopen(&wal).await.expect("zero tail repaired");
    assert_eq!(last, Some(ENTRIES - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_any_record_before_the_last_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = dir.path().join("raft-log");
    let ends = write_log(&wal, 64 * 1024 * 1024).await;
    let chunk = chunks(&wal).pop().expect("chunk");
    // Every byte of a few records in the middle, length fields included: raft-log alone
    // silently cuts the log at a record whose length field grew past the end of the file.
    for record in 8..12 {
        let (start, end) = (ends[record - 1], ends[record]);
        for at in start..end {
            let original = flip(&chunk, at as usize, (at % 8) as u8);
            let err = match reopen(&wal).await {
                Ok((last, _)) => panic!("flip at byte {at} was accepted (last index {last:?})"),
                Err(e) => e.to_string(),
            };
            std::fs::write(&chunk, original).expect("restore");
            let want = format!("{} at byte offset {start}", chunk.display());
            assert!(err.contains(&want), "flip at {at}: {err}");
        }
    }
    // The pristine file still opens with everything.
    let (last, _) = reopen(&wal).await.expect("pristine");
    assert_eq!(last, Some(ENTRIES - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_in_an_earlier_chunk_or_at_the_start_of_the_last_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = dir.path().join("raft-log");
    write_log(&wal, 400).await;
    let files = chunks(&wal);
    assert!(files.len() >= 3, "want several chunks: {files:?}");

    // The middle of an earlier chunk.
    let first = &files[0];
    let len = std::fs::metadata(first).expect("size").len() as usize;
    for at in [len / 2, len / 2 + 1, len / 2 + 7] {
        let original = flip(first, at, 7);
        let err = reopen(&wal).await.map(|r| r.0);
        std::fs::write(first, original).expect("restore");
        let err = err.expect_err("damage in an earlier chunk must be refused");
        assert!(
            err.to_string().contains(&first.display().to_string())
                && err.to_string().contains("byte offset"),
            "{err}"
        );
    }

    // The first record of the last chunk: raft-log alone deletes a last chunk whose first
    // record ends early, taking it for an interrupted chunk rotation.
    let last = files.last().expect("last chunk");
    for at in 4..12 {
        let original = flip(last, at, 6);
        let err = reopen(&wal).await.map(|r| r.0);
        std::fs::write(last, original).expect("restore");
        let err = err.expect_err("damage at the start of the last chunk must be refused");
        assert!(
            err.to_string()
                .contains(&format!("{} at byte offset 0", last.display())),
            "flip at {at}: {err}"
        );
    }
    let (last_index, entries) = reopen(&wal).await.expect("pristine");
    assert_eq!(last_index, Some(ENTRIES - 1));
    assert_eq!(entries.len() as u64, ENTRIES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_anywhere_in_a_snapshot_file_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshots = dir.path().join("snapshots");
    let mut store = kv::Store::default();
    for i in 0..20 {
        let args = [
            Bytes::from_static(b"SET"),
            Bytes::from(format!("key{i}")),
            Bytes::from(format!("value{i}")),
            Bytes::from_static(b"PX"),
            Bytes::from_static(b"100000"),
        ];
        store.apply(1_000, &kv::Command::parse(&args).expect("parse"));
    }
    let header = SnapshotHeader {
        id: "snap-test".into(),
        meta: SnapshotMeta {
            last_log_id: Some(log_id(42)),
            last_membership: Default::default(),
        },
    };
    let path = SnapshotDir::open(&snapshots)
        .expect("dir")
        .write(&header, |w| store.write_snapshot(w))
        .expect("write");
    StateMachine::open(snapshots.clone()).expect("a good snapshot loads");
    let len = std::fs::metadata(&path).expect("size").len() as usize;
    for at in 0..len {
        let original = flip(&path, at, (at % 8) as u8);
        let result = StateMachine::open(snapshots.clone());
        std::fs::write(&path, original).expect("restore");
        let err = match result {
            Ok(_) => panic!("flip at byte {at} of {len} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&path.display().to_string()) && err.contains("byte offset"),
            "flip at {at}: {err}"
        );
    }
}
