//! Timed loops for the hot paths, ignored by default. Run with
//! `cargo test -p raftkv-resp --release --test bench -- --ignored --nocapture --test-threads 1`.
//!
//! Each prints ns per operation for raftkv's function and, as the reference measured in the same
//! run, for redis-protocol's own decoder or encoder on the same bytes; compare the ratio, not
//! the absolute numbers (the machines are shared and noisy). Nothing is asserted.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use resp::{decode_request, encode, Limits, Protocol, Reply, RequestDecoder};

/// A SET as redis-benchmark sends it (`SET key:__rand_int__ xxx`, 3-byte value).
const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$3\r\nxxx\r\n";

/// Runs `f` over `iterations` operations (f returns how many it did) and reports ns per op.
fn time(name: &str, iterations: usize, mut f: impl FnMut() -> usize) -> f64 {
    let _ = f(); // warm-up
    let start = Instant::now();
    let mut ops = 0;
    while ops < iterations {
        ops += f();
    }
    let ns = start.elapsed().as_nanos() as f64 / ops as f64;
    println!("{name:<50} {ns:>10.1} ns/op");
    ns
}

/// A buffer holding `n` pipelined copies of `request`.
fn pipelined(request: &[u8], n: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(request.len() * n);
    for _ in 0..n {
        buf.extend_from_slice(request);
    }
    buf
}

#[test]
#[ignore]
fn bench_decode_set() {
    let limits = Limits::default();
    let template = pipelined(SET, 1000);
    let ours = time("decode_request: SET, 1000 pipelined", 2_000_000, || {
        let mut buf = template.clone();
        let mut n = 0;
        while let Some(args) = decode_request(&mut buf, &limits).unwrap() {
            black_box(&args);
            n += 1;
        }
        n
    });
    let reference = time(
        "reference: redis-protocol decode_bytes_mut",
        2_000_000,
        || {
            let mut buf = template.clone();
            let mut n = 0;
            while let Some(frame) =
                redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).unwrap()
            {
                black_box(&frame);
                n += 1;
            }
            n
        },
    );
    println!("ratio {:.2}", ours / reference);
}

#[test]
#[ignore]
fn bench_decode_inline_ping() {
    let limits = Limits::default();
    let template = pipelined(b"PING\r\n", 1000);
    time(
        "decode_request: inline PING, 1000 pipelined",
        2_000_000,
        || {
            let mut buf = template.clone();
            let mut n = 0;
            while let Some(args) = decode_request(&mut buf, &limits).unwrap() {
                black_box(&args);
                n += 1;
            }
            n
        },
    );
}

#[test]
#[ignore]
fn bench_encode_bulk() {
    for size in [3usize, 100, 4096] {
        let value = Bytes::from(vec![b'x'; size]);
        let reply = Reply::Bulk(value.clone());
        let mut out = BytesMut::with_capacity(1 << 20);
        let ours = time(
            &format!("encode: {size}-byte bulk, RESP2"),
            5_000_000,
            || {
                out.clear();
                for _ in 0..1000 {
                    encode(black_box(&reply), Protocol::Resp2, &mut out);
                }
                1000
            },
        );
        let frame = redis_protocol::resp2::types::BytesFrame::BulkString(value.clone());
        let reference = time("reference: redis-protocol extend_encode", 5_000_000, || {
            out.clear();
            for _ in 0..1000 {
                redis_protocol::resp2::encode::extend_encode(&mut out, black_box(&frame), false)
                    .unwrap();
            }
            1000
        });
        println!("ratio {:.2}", ours / reference);
        let floor = time(
            "floor: framing written by hand, no library",
            5_000_000,
            || {
                out.clear();
                for _ in 0..1000 {
                    let value = black_box(&value);
                    out.extend_from_slice(b"$");
                    out.extend_from_slice(value.len().to_string().as_bytes());
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(value);
                    out.extend_from_slice(b"\r\n");
                }
                1000
            },
        );
        println!("ratio to floor {:.2}", ours / floor);
    }
}

#[test]
#[ignore]
fn bench_encode_array() {
    let reply = Reply::Array((0..10).map(|_| Reply::bulk(&b"xxx"[..])).collect());
    let mut out = BytesMut::with_capacity(1 << 20);
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        time(
            &format!("encode: array of 10 3-byte bulks, {protocol:?}"),
            2_000_000,
            || {
                out.clear();
                for _ in 0..1000 {
                    encode(black_box(&reply), protocol, &mut out);
                }
                1000
            },
        );
    }
}

/// Worst case for the stateless decoder: a request with many arguments arriving in many reads
/// is re-scanned from its start on every read. RequestDecoder scans each header once.
#[test]
#[ignore]
fn bench_large_request_in_64k_reads() {
    let limits = Limits::default();
    for (name, request) in [
        ("1,048,576 one-byte arguments", {
            let args = vec![b"x".to_vec(); 1 << 20];
            multibulk(&args)
        }),
        ("one 64 MiB argument", multibulk(&[vec![b'x'; 64 << 20]])),
    ] {
        for stateful in [false, true] {
            let start = Instant::now();
            let mut buf = BytesMut::new();
            let mut decoder = RequestDecoder::new();
            let mut calls = 0;
            let mut decoded = None;
            for chunk in request.chunks(64 * 1024) {
                buf.extend_from_slice(chunk);
                calls += 1;
                let result = if stateful {
                    decoder.decode(&mut buf, &limits)
                } else {
                    decode_request(&mut buf, &limits)
                };
                if let Some(args) = result.unwrap() {
                    decoded = Some(args.len());
                }
            }
            assert!(decoded.is_some());
            let how = if stateful {
                "RequestDecoder"
            } else {
                "decode_request"
            };
            println!(
                "{how}: {name} ({} bytes) in 64 KiB reads: {calls} calls, {:?} total",
                request.len(),
                start.elapsed()
            );
        }
    }
}

/// The multibulk encoding of one request.
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
