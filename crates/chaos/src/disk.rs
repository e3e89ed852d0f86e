//! Small file systems for node data directories, and filling them: the "disk full" fault.
//!
//! When a run's schedule holds a disk fault, every node's data directory is a tmpfs of
//! [`DATA_TMPFS_MIB`] mounted (as root) just before the node first starts, and unmounted when
//! the run ends. The fault fills the target's tmpfs with a filler file to the last page, so the
//! node's next Raft-log append fails with `ENOSPC`; raftkv must then exit with status
//! [`EXIT_STORAGE_FAILURE`] (never linger), and the rest of the cluster must go on. The fault's
//! end deletes the filler and restarts the node, which must cut off its torn last record and
//! catch up. The checker judges the history as for any other fault.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// Size of each data directory's tmpfs, in MiB: above what a node of a fault run writes (a
/// Raft-log chunk is at most 64 MiB and snapshots of the test keyspaces are small). tmpfs
/// takes memory only for what is written, so only a filled one costs this much.
pub const DATA_TMPFS_MIB: u64 = 256;
/// Name of the filler file, in the data directory's root.
pub const FILLER: &str = ".chaos-disk-filler";
/// raftkv's exit status when its Raft log cannot be written (`node::raft::EXIT_STORAGE_FAILURE`).
pub const EXIT_STORAGE_FAILURE: i32 = 74;

/// The tmpfs mounts of a run; unmounted on drop.
#[derive(Debug, Default)]
pub struct Disks {
    mounted: Vec<PathBuf>,
}

impl Disks {
    /// Mount a tmpfs at `dir` (created if missing) unless already done.
    pub fn mount(&mut self, dir: &Path) -> anyhow::Result<()> {
        if self.mounted.iter().any(|m| m == dir) {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={DATA_TMPFS_MIB}m"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .context("cannot run mount")?;
        if !out.status.success() {
            bail!(
                "cannot mount a tmpfs at {} for the disk fault (needs root): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        self.mounted.push(dir.to_path_buf());
        Ok(())
    }

    /// Fill the file system of `dir` to the last page. Returns the bytes written.
    pub fn fill(dir: &Path) -> anyhow::Result<u64> {
        let path = dir.join(FILLER);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut written = 0u64;
        for chunk in [vec![0u8; 1 << 20], vec![0u8; 4096], vec![0u8; 512]] {
            while f.write_all(&chunk).is_ok() {
                written += chunk.len() as u64;
            }
        }
        Ok(written)
    }

    /// Give the file system of `dir` its space back.
    pub fn free(dir: &Path) {
        let _ = fs::remove_file(dir.join(FILLER));
    }

    /// Unmount everything (processes using the mounts must have stopped), keeping each data
    /// directory's contents (without the filler) in place for the report.
    pub fn unmount_all(&mut self) {
        for dir in self.mounted.drain(..) {
            Self::free(&dir);
            let kept = dir.with_extension("kept");
            let copied = Command::new("cp")
                .arg("-a")
                .arg(&dir)
                .arg(&kept)
                .status()
                .is_ok_and(|s| s.success());
            let ok = Command::new("umount")
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&dir).status();
            }
            if copied && fs::remove_dir(&dir).is_ok() {
                let _ = fs::rename(&kept, &dir);
            }
        }
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        self.unmount_all();
    }
}
