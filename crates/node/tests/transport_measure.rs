//! Transport measurement for the issue notes (not a pass/fail check): length-prefixed postcard
//! frames over loopback TCP through the real `PeerClient`, against a raw TCP echo of the same
//! bytes as the reference. Run with
//! `cargo test --release -p raftkv-node --test transport_measure -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use node::transport::auth::Side;
use node::transport::frame;
use node::transport::{PeerAuth, PeerClient, TcpTransport};
use node::wire::{Envelope, Forward, PeerRequest, PeerResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CALLS: usize = 5000;
const IN_FLIGHT: usize = 64;
const COMMANDS_PER_MESSAGE: usize = 32;

fn message() -> PeerRequest {
    let cmds = (0..COMMANDS_PER_MESSAGE)
        .map(|i| {
            let args = [
                Bytes::from_static(b"SET"),
                Bytes::from(format!("key:{i:012}")),
                Bytes::from(vec![b'x'; 64]),
            ];
            kv::Command::parse(&args).unwrap()
        })
        .collect();
    PeerRequest::Forward(Forward::Commands(cmds))
}

/// A peer that answers every frame with a tiny frame, like a follower acknowledging appends.
async fn frame_echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.into_split();
                // The listener's side of the hello, with no cluster secret.
                let hello = frame::read_hello(&mut r).await.unwrap();
                let auth = PeerAuth::none();
                let nonce = PeerAuth::nonce().unwrap();
                let reply = frame::HelloReply {
                    answer: frame::HelloAnswer::Accepted,
                    nonce,
                    proof: auth.proof(Side::Listener, &hello, &nonce),
                };
                frame::write_hello_answer(&mut w, hello.to, &reply)
                    .await
                    .unwrap();
                let proof = frame::read_proof(&mut r).await.unwrap();
                let ok = auth.verify(Side::Dialer, &hello, &nonce, &proof);
                frame::write_verdict(&mut w, ok).await.unwrap();
                let mut buf = Vec::new();
                while let Ok(Some(env)) =
                    frame::read::<Envelope<PeerRequest>, _>(&mut r, &mut buf).await
                {
                    let mut out = Vec::new();
                    frame::encode(
                        &Envelope {
                            id: env.id,
                            body: PeerResponse::ChunkStored,
                        },
                        &mut out,
                    )
                    .unwrap();
                    if w.write_all(&out).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The reference: raw bytes of the same size echoed as a 16-byte answer, no encoding at all.
async fn raw_echo_server(size: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; size];
                while stream.read_exact(&mut buf).await.is_ok() {
                    if stream.write_all(&[0u8; 16]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn transport_round_trips_and_pipelining() {
    let mut encoded = Vec::new();
    frame::encode(
        &Envelope {
            id: 1,
            body: message(),
        },
        &mut encoded,
    )
    .unwrap();
    let size = encoded.len();
    let started = Instant::now();
    for _ in 0..CALLS {
        let mut out = Vec::with_capacity(size);
        frame::encode(
            &Envelope {
                id: 1,
                body: message(),
            },
            &mut out,
        )
        .unwrap();
        let _: Envelope<PeerRequest> = postcard::from_bytes(&out[4..]).unwrap();
    }
    let codec = started.elapsed() / CALLS as u32;

    let client = Arc::new(PeerClient::new(
        frame::Hello {
            from: 1,
            to: 2,
            nonce: Default::default(),
        },
        frame_echo_server().await,
        Arc::new(TcpTransport),
        Arc::default(),
        Arc::new(PeerAuth::none()),
    ));
    client
        .call(message(), Duration::from_secs(5))
        .await
        .unwrap();
    let mut rtts = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        client
            .call(message(), Duration::from_secs(5))
            .await
            .unwrap();
        rtts.push(t.elapsed());
    }
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..CALLS {
        if pending.len() == IN_FLIGHT {
            let rx: tokio::sync::oneshot::Receiver<PeerResponse> = pending.pop_front().unwrap();
            rx.await.unwrap();
        }
        pending.push_back(client.send(message()).await.unwrap());
    }
    for rx in pending {
        rx.await.unwrap();
    }
    let pipelined = CALLS as f64 / started.elapsed().as_secs_f64();

    let mut raw = tokio::net::TcpStream::connect(raw_echo_server(size).await)
        .await
        .unwrap();
    raw.set_nodelay(true).unwrap();
    let mut ack = [0u8; 16];
    let mut raw_rtts = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        raw.write_all(&encoded).await.unwrap();
        raw.read_exact(&mut ack).await.unwrap();
        raw_rtts.push(t.elapsed());
    }

    let (p50, p99) = (percentile(&mut rtts, 0.5), percentile(&mut rtts, 0.99));
    let (r50, r99) = (
        percentile(&mut raw_rtts, 0.5),
        percentile(&mut raw_rtts, 0.99),
    );
    println!("message: {COMMANDS_PER_MESSAGE} SET commands, {size} bytes framed");
    println!("encode+decode per message: {codec:?}");
    println!("sequential round trip: p50 {p50:?} p99 {p99:?}; raw TCP echo of the same bytes: p50 {r50:?} p99 {r99:?}");
    println!(
        "ratio p50 framed/raw: {:.2}",
        p50.as_secs_f64() / r50.as_secs_f64()
    );
    println!(
        "pipelined ({IN_FLIGHT} in flight): {pipelined:.0} messages/s = {:.1} MB/s",
        pipelined * size as f64 / 1e6
    );
}
