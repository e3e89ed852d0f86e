//! `raftkv snapshot`: back up a live cluster to a file, inspect such a file, restore from it.
//!
//! - `save <file> [--endpoint host:port]`: finds the leader through the endpoint (`INFO raft`),
//!   asks it for a consistent snapshot (`RAFTKV SNAPSHOT BEGIN`: taken after a linearizable read
//!   barrier, so it holds every write acknowledged before the command), downloads it in 1 MiB
//!   chunks into `<file>.part` with a progress bar on a terminal, checks the CRC32 of the whole
//!   file against the leader's, verifies every internal checksum, and renames it to `<file>`.
//!   Refuses to overwrite an existing file.
//! - `status <file>`: prints the metadata (snapshot id, last included log index and log id,
//!   membership, key count, size) after verifying every checksum; exits 1 if any fails.
//! - `restore <file> --data-dir <dir> --node-id <id>`: verifies every checksum, refuses a data
//!   dir that holds anything, and prepares the dir so that `raftkv serve --node-id <id>
//!   --data-dir <dir>` starts a new one-node cluster holding exactly the backed-up data (see
//!   `node::raft::snapshot_file::restore`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use node::client::RespClient;
use node::raft::snapshot_file;
use node::tls::ClientTls;
use resp::Reply;

/// Bytes asked for per `RAFTKV SNAPSHOT READ`.
const CHUNK_BYTES: u64 = 1024 * 1024;
/// Deadline of one admin call (BEGIN includes writing the snapshot on the leader).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Flags of `raftkv snapshot`.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    auth: crate::auth::AuthArgs,
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(Subcommand, Debug)]
enum SnapshotCommand {
    /// Stream a consistent snapshot of a live cluster into a file.
    Save {
        /// The file to create.
        file: PathBuf,
        /// Client address (host:port) of any member; the snapshot is taken on the leader
        /// [default: $RAFTKV_ENDPOINTS, else .raftkv-local/endpoints, else 127.0.0.1:6379].
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Show a snapshot file's metadata and verify every checksum.
    Status {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Make a new data dir from a backup; `raftkv serve` on it starts a new one-node cluster
    /// holding the backed-up data, which other nodes can then join.
    Restore {
        /// The backup file (from `raftkv snapshot save`).
        file: PathBuf,
        /// The data dir to create; it must not exist or be empty.
        #[arg(long)]
        data_dir: PathBuf,
        /// Id of the node that will serve from it (pass the same `--node-id` to `serve`). Use
        /// an id never used in the old cluster, if any of its nodes may come back.
        #[arg(long)]
        node_id: u64,
    },
}

/// Run `raftkv snapshot ...`.
pub fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    args.auth.install()?;
    match args.command {
        SnapshotCommand::Save { file, endpoint } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let flag: Vec<String> = endpoint.into_iter().collect();
                let tls = args.tls.client()?;
                let endpoint = crate::endpoints::pick(&crate::endpoints::resolve(&flag)).await?;
                save(&file, &endpoint, tls.as_deref()).await
            })
        }
        SnapshotCommand::Status { file } => {
            print!("{}", describe(&file)?);
            Ok(())
        }
        SnapshotCommand::Restore {
            file,
            data_dir,
            node_id,
        } => restore(&file, &data_dir, node_id),
    }
}

fn restore(file: &Path, data_dir: &Path, node_id: u64) -> anyhow::Result<()> {
    let summary = node::raft::snapshot_file::restore::prepare(file, data_dir, node_id)
        .with_context(|| format!("cannot restore {}", file.display()))?;
    println!(
        "restored {} (snapshot {}, last index {}, {} keys) into {} for node {node_id}\n\
         start it with: raftkv serve --node-id {node_id} --data-dir {} --listen HOST:PORT \
         --peer-listen HOST:PORT\n\
         it starts as a one-node cluster; add nodes with `raftkv serve ... --join`",
        file.display(),
        summary.snapshot_id,
        summary.last_index,
        summary.keys,
        data_dir.display(),
        data_dir.display(),
    );
    Ok(())
}

async fn info_field(c: &mut RespClient, name: &str) -> anyhow::Result<String> {
    match c.call(&["INFO", "raft"]).await? {
        Reply::Bulk(b) => Ok(String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .unwrap_or("")
            .trim()
            .to_string()),
        other => bail!("unexpected INFO reply {other:?}"),
    }
}

async fn save(file: &Path, endpoint: &str, tls: Option<&ClientTls>) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} already exists; not overwriting it", file.display());
    }
    let started = Instant::now();
    let mut c = crate::auth::connect(endpoint, CALL_TIMEOUT, tls)
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    if info_field(&mut c, "raft_role").await? != "leader" {
        let leader = info_field(&mut c, "raft_leader_addr").await?;
        if leader.is_empty() {
            bail!("{endpoint} knows no leader; try again once the cluster has one");
        }
        c = crate::auth::connect(&leader, CALL_TIMEOUT, tls)
            .await
            .with_context(|| format!("cannot reach the leader at {leader}"))?;
    }
    let (id, size, crc, index) = match c.call(&["RAFTKV", "SNAPSHOT", "BEGIN"]).await? {
        Reply::Array(f) => match f.as_slice() {
            [Reply::Bulk(id), Reply::Integer(size), Reply::Integer(crc), Reply::Integer(index)] => {
                (
                    String::from_utf8_lossy(id).into_owned(),
                    *size as u64,
                    *crc as u32,
                    *index as u64,
                )
            }
            _ => bail!("unexpected reply to RAFTKV SNAPSHOT BEGIN: {f:?}"),
        },
        Reply::Error(e) => bail!("{e}"),
        other => bail!("unexpected reply to RAFTKV SNAPSHOT BEGIN: {other:?}"),
    };
    let part = file.with_extension("part");
    let result = download(&mut c, &id, size, crc, &part).await;
    let _ = c.call(&["RAFTKV", "SNAPSHOT", "END", &id]).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    snapshot_file::read_file(&part).with_context(|| format!("verifying {}", part.display()))?;
    std::fs::rename(&part, file)?;
    println!(
        "saved {} ({size} bytes, last index {index}, crc32 {crc:08x}) in {:.2}s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn download(
    c: &mut RespClient,
    id: &str,
    size: u64,
    crc: u32,
    part: &Path,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create_new(part).with_context(|| format!("creating {}", part.display()))?,
    );
    let mut hasher = crc32fast::Hasher::new();
    let show = std::io::stderr().is_terminal();
    let mut offset = 0u64;
    while offset < size {
        let (o, n) = (offset.to_string(), CHUNK_BYTES.to_string());
        let chunk = match c.call(&["RAFTKV", "SNAPSHOT", "READ", id, &o, &n]).await? {
            Reply::Bulk(b) => b,
            Reply::Error(e) => bail!("{e}"),
            other => bail!("unexpected reply to RAFTKV SNAPSHOT READ: {other:?}"),
        };
        if chunk.is_empty() {
            bail!("the snapshot ended at byte {offset} of {size}");
        }
        hasher.update(&chunk);
        out.write_all(&chunk)?;
        offset += chunk.len() as u64;
        if show {
            eprint!("\r{}", progress_bar(offset, size, 40));
        }
    }
    if show {
        eprintln!();
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let got = hasher.finalize();
    if got != crc {
        bail!("checksum mismatch: the leader sent crc32 {crc:08x}, received {got:08x}");
    }
    Ok(())
}

/// `[#####.....]  50% 5/10 bytes`-style progress line.
pub fn progress_bar(done: u64, total: u64, width: usize) -> String {
    let frac = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((frac * width as f64) as usize).min(width);
    format!(
        "[{}{}] {:3.0}% {}/{}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        frac * 100.0,
        crate::status::human_bytes(done),
        crate::status::human_bytes(total)
    )
}

/// Verify a snapshot file and describe it.
pub fn describe(file: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let (header, store) = snapshot_file::read_file(file).context("checksum verification failed")?;
    let (_, crc) = node::cluster::backup::file_crc32(file)?;
    let last = header.meta.last_log_id;
    let membership = header.meta.last_membership.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let mut members = String::new();
    for (id, addr) in membership.nodes() {
        let role = if voters.contains(id) {
            "voter"
        } else {
            "learner"
        };
        members.push_str(&format!(
            "  {id}  peer {}  client {}  {role}\n",
            addr.peer_addr, addr.client_addr
        ));
    }
    Ok(format!(
        "file: {}\nsize: {size} bytes\ncrc32: {crc:08x}\nsnapshot id: {}\nlast index: {}\nlast log id: {}\nkeys: {}\nmembers:\n{members}checksums: ok\n",
        file.display(),
        header.id,
        last.map(|l| l.index()).unwrap_or(0),
        last.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
        store.stats(store.clock_ms()).keys,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills() {
        assert_eq!(progress_bar(0, 100, 4), "[....]   0% 0B/100B");
        assert_eq!(progress_bar(50, 100, 4), "[##..]  50% 50B/100B");
        assert_eq!(progress_bar(100, 100, 4), "[####] 100% 100B/100B");
        assert_eq!(progress_bar(0, 0, 2), "[##] 100% 0B/0B");
    }
}
