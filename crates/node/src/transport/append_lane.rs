//! One connection's AppendEntries pipeline on the follower side.
//!
//! The leader streams AppendEntries to a follower without waiting for each answer (see
//! `raft/network.rs`). The peer server used to answer them one at a time, so the follower read
//! the next request only after the previous one was synced: its fsyncs ran back to back with
//! the network in between. The lane hands each request to Raft as it arrives
//! ([`PeerHandler::append_lane`], openraft's `stream_append`), so the next entries are appended
//! while the previous ones are being synced, and answers each, in order, once durable.
//!
//! Invariants:
//! - requests reach Raft in the order they arrived on the connection, and their answers leave
//!   in that order;
//! - every request gets exactly one answer: when openraft ends a pipeline after a failure (a
//!   conflict, a higher vote), the requests submitted behind it are answered with an error
//!   (the leader has stopped listening on that stream anyway) and a new pipeline starts for the
//!   requests after them;
//! - at most [`MAX_APPENDS_IN_FLIGHT`] requests are submitted and unanswered; the connection
//!   reads no further requests while the lane is full, which is how a slow follower pushes back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use tokio::sync::mpsc;

use super::handler::PeerHandler;
use crate::metrics::{self, Stage};
use crate::raft::types::TypeConfig;
use crate::wire::{Envelope, PeerResponse};

/// Most AppendEntries of one connection handed to Raft and not yet answered. Above the
/// leader's pipeline depth (`APPEND_PIPELINE_DEPTH`), and below openraft's own pipeline buffer
/// (64), so handing over a request never waits for an answer that nobody is reading.
pub const MAX_APPENDS_IN_FLIGHT: usize = 32;

/// One AppendEntries request and the id its answer must carry.
pub type LaneRequest = (u64, AppendEntriesRequest<TypeConfig>);

/// Start a lane for one connection: it takes requests from the returned sender and sends
/// each answer to `answers`. It ends once the sender is dropped and every request is answered.
pub fn start(
    handler: Arc<dyn PeerHandler>,
    answers: mpsc::Sender<Envelope<PeerResponse>>,
) -> mpsc::Sender<LaneRequest> {
    let (tx, rx) = mpsc::channel(MAX_APPENDS_IN_FLIGHT);
    tokio::spawn(run(handler, rx, answers));
    tx
}

/// A submitted request waiting for its answer.
struct Waiting {
    id: u64,
    /// When it was handed over, if it carried entries (heartbeats are not a write's stage).
    started: Option<Instant>,
}

async fn run(
    handler: Arc<dyn PeerHandler>,
    mut requests: mpsc::Receiver<LaneRequest>,
    answers: mpsc::Sender<Envelope<PeerResponse>>,
) {
    let mut open = true;
    // One openraft pipeline per turn; a new one after a pipeline ends on a failure.
    while open {
        let (submit, submitted) = mpsc::channel(MAX_APPENDS_IN_FLIGHT);
        let input = futures_util::stream::unfold(submitted, |mut rx| async move {
            rx.recv().await.map(|req| (req, rx))
        });
        let mut results = handler.append_lane(Box::pin(input));
        let mut waiting: VecDeque<Waiting> = VecDeque::new();
        loop {
            tokio::select! {
                biased;
                result = results.next(), if !waiting.is_empty() => {
                    let w = waiting.pop_front().expect("a request is waiting");
                    let ended = !matches!(result, Some(PeerResponse::Append(AppendEntriesResponse::Success)));
                    let body = result.unwrap_or_else(|| {
                        PeerResponse::Error("the AppendEntries pipeline ended early".into())
                    });
                    if let Some(started) = w.started {
                        metrics::record_stage(Stage::Append, started.elapsed());
                    }
                    if answers.send(Envelope { id: w.id, body }).await.is_err() {
                        return;
                    }
                    if ended {
                        for w in waiting.drain(..) {
                            let body = PeerResponse::Error(
                                "an earlier AppendEntries on this connection failed".into(),
                            );
                            if answers.send(Envelope { id: w.id, body }).await.is_err() {
                                return;
                            }
                        }
                        break;
                    }
                }
                next = requests.recv(), if open && waiting.len() < MAX_APPENDS_IN_FLIGHT => {
                    let Some((id, req)) = next else {
                        open = false;
                        continue;
                    };
                    let started = (!req.entries.is_empty()).then(Instant::now);
                    waiting.push_back(Waiting { id, started });
                    // Never waits long: at most MAX_APPENDS_IN_FLIGHT are unanswered. If
                    // openraft's pipeline stopped taking requests (Raft stopped), the next
                    // result reports it.
                    let _ = submit.send(req).await;
                }
                else => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use openraft::vote::RaftLeaderId;

    use super::*;
    use crate::ids::NodeId;
    use crate::raft::types::{LogId, Vote};
    use crate::transport::auth::PeerAuth;
    use crate::transport::faults::LinkFaults;
    use crate::transport::handler::{AnswerFuture, AppendAnswers, AppendRequests};
    use crate::wire::{PeerRequest, SnapshotChunk};

    /// How many requests the fake Raft holds before it answers any: with requests handled one
    /// at a time, the first would never be answered.
    const HELD: usize = 3;
    /// A request whose `prev_log_id` has this index conflicts.
    const CONFLICTING: u64 = 13;

    /// A Raft stand-in for the lane: it answers only once [`HELD`] requests are in flight, in
    /// order, and ends its pipeline on a conflict, as openraft's `stream_append` does.
    struct FakeRaft {
        auth: PeerAuth,
        faults: LinkFaults,
    }

    impl PeerHandler for FakeRaft {
        fn node_id(&self) -> NodeId {
            2
        }
        fn peer_auth(&self) -> &PeerAuth {
            &self.auth
        }
        fn link_faults(&self) -> &LinkFaults {
            &self.faults
        }
        fn handle(&self, _req: PeerRequest) -> AnswerFuture<'_> {
            Box::pin(async { PeerResponse::Error("not in this test".into()) })
        }
        fn append_lane(&self, mut requests: AppendRequests) -> AppendAnswers {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Some(req) = requests.next().await {
                    held.push(req);
                    if held.len() < HELD {
                        continue;
                    }
                    for req in held.drain(..) {
                        let conflict = req.prev_log_id.map(|l| l.index()) == Some(CONFLICTING);
                        let answer = if conflict {
                            AppendEntriesResponse::Conflict
                        } else {
                            AppendEntriesResponse::Success
                        };
                        let _ = tx.send(PeerResponse::Append(answer));
                        if conflict {
                            return;
                        }
                    }
                }
            });
            Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|a| (a, rx))
            }))
        }
        fn snapshot_receive_path(&self, name: &str) -> PathBuf {
            PathBuf::from(name)
        }
        fn install_snapshot(&self, _last: SnapshotChunk, _path: PathBuf) -> AnswerFuture<'_> {
            Box::pin(async { PeerResponse::Error("not in this test".into()) })
        }
    }

    fn request(prev_index: u64) -> AppendEntriesRequest<TypeConfig> {
        let leader = openraft::alias::CommittedLeaderIdOf::<TypeConfig>::new(1, 1);
        AppendEntriesRequest {
            vote: Vote::new(1, 1),
            prev_log_id: Some(LogId::new(leader, prev_index)),
            entries: Vec::new(),
            leader_commit: None,
        }
    }

    /// The answers' ids and whether each is a success, a conflict or an error.
    async fn answers(
        rx: &mut mpsc::Receiver<Envelope<PeerResponse>>,
        n: usize,
    ) -> Vec<(u64, &'static str)> {
        let mut got = Vec::new();
        for _ in 0..n {
            // A lane that handed requests over one at a time would never get an answer.
            let env = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .expect("no answer: the requests were not all in flight at once")
                .expect("an answer");
            let kind = match env.body {
                PeerResponse::Append(AppendEntriesResponse::Success) => "ok",
                PeerResponse::Append(AppendEntriesResponse::Conflict) => "conflict",
                PeerResponse::Error(_) => "error",
                other => panic!("unexpected answer {other:?}"),
            };
            got.push((env.id, kind));
        }
        got
    }

    #[tokio::test]
    async fn requests_are_pipelined_answered_in_order_and_a_failure_restarts_the_pipeline() {
        let handler = Arc::new(FakeRaft {
            auth: PeerAuth::from_secret(b"0123456789abcdef").unwrap(),
            faults: LinkFaults::default(),
        });
        let (answer_tx, mut answer_rx) = mpsc::channel(64);
        let lane = start(handler, answer_tx);
        // Answered only if all three are in flight at once.
        for id in 1..=3 {
            lane.send((id, request(id))).await.unwrap();
        }
        assert_eq!(
            answers(&mut answer_rx, 3).await,
            [(1, "ok"), (2, "ok"), (3, "ok")]
        );
        // A conflict ends the pipeline: the requests behind it get errors, exactly once each.
        lane.send((4, request(CONFLICTING))).await.unwrap();
        lane.send((5, request(5))).await.unwrap();
        lane.send((6, request(6))).await.unwrap();
        assert_eq!(
            answers(&mut answer_rx, 3).await,
            [(4, "conflict"), (5, "error"), (6, "error")]
        );
        // The next requests go through a new pipeline.
        for id in 7..=9 {
            lane.send((id, request(id))).await.unwrap();
        }
        assert_eq!(
            answers(&mut answer_rx, 3).await,
            [(7, "ok"), (8, "ok"), (9, "ok")]
        );
        // Closing the lane ends it once everything is answered.
        drop(lane);
        assert!(answer_rx.recv().await.is_none());
    }
}
