//! The fuzz targets' bodies: each function takes arbitrary bytes, feeds them to one decoder
//! that reads what a client, a peer or the disk hands a node, and must return without
//! panicking, whatever the bytes. Where two paths must agree (a request decoded in one read or
//! in many), the function asserts it, so a disagreement is a crash the fuzzer reports.
//!
//! Two drivers call them: the cargo-fuzz targets in `fuzz/` (nightly, coverage-guided,
//! `scripts/fuzz`), and `tests/corpus.rs`, which replays every committed corpus file on stable as
//! an ordinary test, so an input that once crashed a decoder stays fixed.
//!
//! | target | input | decoder |
//! |---|---|---|
//! | `resp_request` | bytes from a client socket | RESP multibulk and inline requests |
//! | `command` | arguments of client commands | command parsing and apply on a store |
//! | `peer_message` | bytes from a peer socket | the hello, frames, Raft and forward messages |
//! | `wal_record` | bytes of a WAL record | log ids, entry payloads, votes |
//! | `snapshot` | bytes of a snapshot file | the state-machine snapshot reader |

use std::io::Cursor;

use bytes::{Bytes, BytesMut};
use raft_log::codeq::Decode;
use resp::{decode_request, Limits, RequestDecoder};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name: the directory names under `fuzz/corpus/`.
pub const TARGETS: [(&str, Target); 5] = [
    ("resp_request", resp_request),
    ("command", command),
    ("peer_message", peer_message),
    ("wal_record", wal_record),
    ("snapshot", snapshot),
];

/// Small limits, so that the fuzzer reaches the limit checks with small inputs.
fn small_limits() -> Limits {
    Limits {
        max_bulk_bytes: 64,
        max_args: 16,
        max_inline_bytes: 64,
    }
}

/// Decodes requests from `data` twice: all at once with [`decode_request`], and arriving in
/// pieces (sizes drawn from the data's first byte) through one [`RequestDecoder`], as a
/// connection reads them. Both must give the same requests and the same error.
pub fn resp_request(data: &[u8]) {
    let limits = small_limits();
    let mut whole = BytesMut::from(data);
    let mut at_once = Vec::new();
    let at_once_end = loop {
        match decode_request(&mut whole, &limits) {
            Ok(Some(args)) => at_once.push(args),
            Ok(None) => break Ok(whole.len()),
            Err(e) => break Err(e.to_string()),
        }
    };

    let step = 1 + usize::from(data.first().copied().unwrap_or(0) % 7);
    let mut decoder = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut in_pieces = Vec::new();
    let mut fed = 0;
    let in_pieces_end = loop {
        match decoder.decode(&mut buf, &limits) {
            Ok(Some(args)) => in_pieces.push(args),
            Ok(None) if fed < data.len() => {
                let end = (fed + step).min(data.len());
                buf.extend_from_slice(&data[fed..end]);
                fed = end;
            }
            Ok(None) => break Ok(buf.len()),
            Err(e) => break Err(e.to_string()),
        }
    };
    assert_eq!(at_once, in_pieces, "requests differ by how they arrived");
    assert_eq!(
        at_once_end, in_pieces_end,
        "endings differ by how they arrived"
    );
}

/// Reads commands from `data` (one per line, arguments separated by a space), parses each, and
/// applies it to two stores at a time that moves with the input: every reply is the same on
/// both (apply is deterministic), and the final store survives a snapshot round trip.
pub fn command(data: &[u8]) {
    let mut a = kv::Store::new();
    let mut b = kv::Store::new();
    let mut now = 1_000_000u64;
    for line in data.split(|&c| c == b'\n').take(64) {
        let args: Vec<Bytes> = line
            .split(|&c| c == b' ')
            .map(Bytes::copy_from_slice)
            .collect();
        now += u64::from(line.len() as u8);
        let Ok(cmd) = kv::Command::parse(&args) else {
            continue;
        };
        assert_eq!(a.apply(now, &cmd), b.apply(now, &cmd), "replicas disagree");
    }
    let mut bytes = Vec::new();
    a.write_snapshot(&mut bytes)
        .expect("a snapshot writes to memory");
    kv::Store::read_snapshot(&mut Cursor::new(&bytes)).expect("a written snapshot reads back");
}

thread_local! {
    /// One runtime for the async frame readers, built once per thread (building one per input
    /// would cost more than the decoding).
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
}

/// Decodes `data` as every message a peer may send: the hello, a frame, a request, a response.
pub fn peer_message(data: &[u8]) {
    use node::transport::frame;
    use node::wire;
    let _ = postcard::from_bytes::<wire::PeerRequest>(data);
    let _ = postcard::from_bytes::<wire::PeerResponse>(data);
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let _ = frame::read_hello(&mut &data[..]).await;
            let _ = frame::read_hello_answer(&mut &data[..]).await;
            let _ = frame::read_proof(&mut &data[..]).await;
            let _ = frame::read_verdict(&mut &data[..]).await;
            let mut reader = data;
            let mut buf = Vec::new();
            while let Ok(Some(_)) = frame::read::<wire::PeerRequest, _>(&mut reader, &mut buf).await
            {
            }
        })
    });
}

/// Decodes `data` as each kind of WAL record.
pub fn wal_record(data: &[u8]) {
    use node::raft::wal_types::{WalLogId, WalPayload, WalUserData, WalVote};
    let _ = WalLogId::decode(data);
    let _ = WalPayload::decode(data);
    let _ = WalVote::decode(data);
    let _ = WalUserData::decode(data);
}

/// Reads `data` as a snapshot: the node's file header, then the state machine's snapshot.
pub fn snapshot(data: &[u8]) {
    let _ = node::raft::snapshot_file::read_header(&mut Cursor::new(data));
    let _ = kv::Store::read_snapshot(&mut Cursor::new(data));
}
