//! The backup admin family: `RAFTKV SNAPSHOT BEGIN|READ|END`, used by `raftkv snapshot save`.
//!
//! - `RAFTKV SNAPSHOT BEGIN`: on the leader, after a linearizable read barrier, write a
//!   consistent snapshot file to `<data-dir>/exports/` and reply
//!   `[id, size in bytes, crc32 of the file, last included log index]`; elsewhere an error naming
//!   the leader.
//! - `RAFTKV SNAPSHOT READ <id> <offset> <count>`: up to `count` (at most [`MAX_READ_BYTES`])
//!   bytes of the file from `offset`, as a bulk string; empty at the end.
//! - `RAFTKV SNAPSHOT END <id>`: delete the file. Abandoned files are deleted after an hour.
//!
//! The file has the node's own snapshot format (metadata block and kv stream, each checksummed),
//! so `raftkv snapshot status` and `restore` verify it with the same code the node uses.

use bytes::Bytes;
use resp::Reply;

use super::ServerContext;

/// Most bytes one `READ` returns.
pub const MAX_READ_BYTES: u64 = 4 * 1024 * 1024;

/// True if `id` can name an export file (no path tricks).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Handle `RAFTKV SNAPSHOT ...` (`args[0]` is `RAFTKV`).
pub async fn handle(args: &[Bytes], ctx: &ServerContext) -> Reply {
    let text = |i: usize| String::from_utf8_lossy(&args[i]).to_ascii_uppercase();
    let sub = if args.len() > 2 {
        text(2)
    } else {
        String::new()
    };
    let file = |i: usize| {
        let id = String::from_utf8_lossy(&args[i]).into_owned();
        valid_id(&id).then(|| ctx.cluster.export_dir().join(format!("{id}.snap")))
    };
    match (sub.as_str(), args.len()) {
        ("BEGIN", 3) => match ctx.cluster.export_snapshot().await {
            Ok(e) => Reply::Array(vec![
                Reply::bulk(e.id),
                Reply::Integer(e.size as i64),
                Reply::Integer(i64::from(e.crc32)),
                Reply::Integer(e.last_index as i64),
            ]),
            Err(why) => Reply::error(format!("ERR snapshot: {why}")),
        },
        ("READ", 6) => {
            let Some(path) = file(3) else {
                return Reply::error("ERR snapshot: invalid id");
            };
            let (Some(offset), Some(count)) =
                (resp::parse_u64(&args[4]), resp::parse_u64(&args[5]))
            else {
                return Reply::error(
                    "ERR snapshot: offset and count must be non-negative integers",
                );
            };
            let count = count.min(MAX_READ_BYTES);
            let read = tokio::task::spawn_blocking(move || read_at(&path, offset, count)).await;
            match read {
                Ok(Ok(bytes)) => Reply::Bulk(bytes.into()),
                Ok(Err(e)) => Reply::error(format!("ERR snapshot: {e}")),
                Err(e) => Reply::error(format!("ERR snapshot: {e}")),
            }
        }
        ("END", 4) => match file(3) {
            Some(path) => match std::fs::remove_file(path) {
                Ok(()) => Reply::ok(),
                Err(e) => Reply::error(format!("ERR snapshot: {e}")),
            },
            None => Reply::error("ERR snapshot: invalid id"),
        },
        _ => Reply::error(
            "ERR syntax: RAFTKV SNAPSHOT BEGIN | READ <id> <offset> <count> | END <id>",
        ),
    }
}

fn read_at(path: &std::path::Path, offset: u64, count: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(count as usize);
    f.take(count).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_the_export_dir() {
        assert!(valid_id("backup-1-123"));
        for bad in ["", "../x", "a/b", "a.snap", &"a".repeat(200)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
