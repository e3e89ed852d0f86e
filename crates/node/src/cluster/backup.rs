//! Backups: exporting a consistent snapshot for `RAFTKV SNAPSHOT BEGIN`, and the file checksum
//! the download and `raftkv snapshot` verify.

use std::time::Duration;

use super::Cluster;
use crate::raft::error::ConsensusError;

/// A consistent snapshot exported for a backup (`RAFTKV SNAPSHOT BEGIN`).
#[derive(Clone, Debug)]
pub struct Export {
    /// Its id (also its file name, without `.snap`, in [`Cluster::export_dir`]).
    pub id: String,
    /// Where it is.
    pub path: std::path::PathBuf,
    /// Its size, in bytes.
    pub size: u64,
    /// CRC32 of the whole file.
    pub crc32: u32,
    /// The last log index it includes.
    pub last_index: u64,
}

/// Exports older than this are deleted when a new one starts (an abandoned download).
pub const EXPORT_MAX_AGE: Duration = Duration::from_secs(3600);

impl Cluster {
    /// Where backup exports are written: `exports/` beside the snapshot directory.
    pub fn export_dir(&self) -> std::path::PathBuf {
        let snaps = self.consensus.view().snapshot_dir();
        snaps.parent().unwrap_or(snaps).join("exports")
    }

    /// Export a consistent snapshot for a backup: only on the leader, after a linearizable
    /// read barrier, from an O(1) clone of the applied state, so it holds every write
    /// acknowledged before the call.
    pub async fn export_snapshot(&self) -> Result<Export, String> {
        match self.consensus.leader_read(&[]).await {
            Ok(_) => {}
            Err(ConsensusError::NotLeader { leader }) => {
                return Err(format!(
                    "not the leader; take the snapshot on the leader (node {})",
                    leader
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
        let dir = self.export_dir();
        let view = self.consensus.view().clone();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("backup-{}-{nanos}", self.node_id);
        tokio::task::spawn_blocking(move || {
            remove_old_exports(&dir);
            let (header, path) = view.export(&dir, &id)?;
            let (size, crc32) = file_crc32(&path)?;
            Ok::<_, std::io::Error>(Export {
                id,
                path,
                size,
                crc32,
                last_index: header.meta.last_log_id.map(|l| l.index()).unwrap_or(0),
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot write the backup: {e}"))
    }
}

/// Size and CRC32 of a whole file.
pub fn file_crc32(path: &std::path::Path) -> std::io::Result<(u64, u32)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((size, hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

fn remove_old_exports(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > EXPORT_MAX_AGE);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
