//! Writes the seed inputs of the fuzz targets that need valid encodings (peer messages, WAL
//! records, snapshots) into `fuzz/corpus/`. Ignored by default: run it again only when an
//! encoding changes, with `cargo test -p raftkv-fuzz --test seeds -- --ignored`.

use std::path::PathBuf;

use bytes::Bytes;
use node::raft::types::LogCommand;
use node::raft::wal_types::WalPayload;
use node::transport::frame;
use node::wire as message;
use raft_log::codeq::Encode;

fn corpus(target: &str, name: &str, bytes: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn commands(lines: &[&str]) -> Vec<kv::Command> {
    lines
        .iter()
        .map(|line| {
            let args: Vec<Bytes> = line
                .split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            kv::Command::parse(&args).unwrap()
        })
        .collect()
}

const SAMPLE: [&str; 7] = [
    "SET k v",
    "INCR n",
    "RPUSH l a b c",
    "HSET h f v g w",
    "ZADD z 1 a 2 b",
    "SADD s x y",
    "XADD x 1-1 f v",
];

#[test]
#[ignore = "writes files; run by hand when an encoding changes"]
fn write_seeds() {
    let cmds = commands(&SAMPLE);

    let mut store = kv::Store::new();
    for cmd in &cmds {
        store.apply(1_000, cmd);
    }
    let mut snapshot = Vec::new();
    store.write_snapshot(&mut snapshot).unwrap();
    corpus("snapshot", "small", &snapshot);
    let mut empty = Vec::new();
    kv::Store::new().write_snapshot(&mut empty).unwrap();
    corpus("snapshot", "empty", &empty);

    let entry = |cmds: Vec<kv::Command>| {
        let mut out = Vec::new();
        WalPayload::encode_from(&openraft::EntryPayload::Normal(LogCommand {
            now_ms: 1_000,
            cmds: cmds.into(),
        }))
        .unwrap()
        .encode(&mut out)
        .unwrap();
        out
    };
    corpus("wal_record", "one_command", &entry(cmds[..1].to_vec()));
    corpus("wal_record", "batch", &entry(cmds.clone()));
    let mut blank = Vec::new();
    WalPayload::encode_from(&openraft::EntryPayload::Blank)
        .unwrap()
        .encode(&mut blank)
        .unwrap();
    corpus("wal_record", "blank", &blank);

    let mut forward = Vec::new();
    frame::encode(
        &message::PeerRequest::Forward(message::Forward::Commands(cmds.clone())),
        &mut forward,
    )
    .unwrap();
    corpus("peer_message", "forward", &forward);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut hello = Vec::new();
    runtime
        .block_on(frame::write_hello(
            &mut hello,
            frame::Hello {
                from: 2,
                to: 1,
                nonce: [7; frame::NONCE_BYTES],
            },
        ))
        .unwrap();
    corpus("peer_message", "hello", &hello);
    let mut two = forward.clone();
    two.extend_from_slice(&forward);
    corpus("peer_message", "two_frames", &two);
}
