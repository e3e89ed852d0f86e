//! The proposer: how the writes of many connections become few log entries.
//!
//! Every write batch a connection (or a forwarding follower) hands to
//! [`super::Consensus::propose`] joins one queue. A single task takes from it: it waits for a
//! free proposal slot ([`MAX_PROPOSALS_IN_FLIGHT`]), then gathers everything queued meanwhile
//! into **one** log entry and proposes it; when the entry is applied, each caller gets its own
//! replies, split back by position. So a lone client never waits for company (its batch goes
//! out as soon as a slot is free, which it is when nothing else is in flight), and under load
//! the batch grows with the number of writers instead of each write walking alone through
//! openraft, the WAL, replication, apply and a reply channel.
//!
//! Invariants:
//! - an entry holds whole requests, each contiguous and in queue order, so the commands of one
//!   connection's batch (a pipeline, or an EXEC) are never split or interleaved;
//! - a request holding a WATCH guard ([`kv::Command::WatchGuard`]) is the last of its entry: a
//!   guard that fails skips everything after it in the entry ([`kv::aborts_batch`]), and that
//!   must be only its own transaction;
//! - an entry never holds more than [`MAX_GATHER_COMMANDS`] commands or [`MAX_ENTRY_BYTES`] of
//!   [`kv::Command::approx_bytes`], beyond what its first request alone holds (one request
//!   never exceeds them: the connection refuses larger ones);
//! - every caller gets exactly one answer: its replies, or the entry's error (a failed entry
//!   fails every request in it alike, with the same outcome, e.g. "outcome unknown").
//!
//! `gather` is pure, so the packing rules are unit-tested here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use resp::Reply;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::error::ConsensusError;
use crate::limits::MAX_ENTRY_BYTES;
use crate::metrics::{self, Stage};

/// Log entries proposed and not yet applied at once. One: a single entry is on its way while
/// the next gathers. Two or four let one entry's append overlap another's replication, but
/// make the entries smaller; in same-run A/Bs one was ahead at every client count (SET at 64
/// clients: 19,818-22,831/s against 14,124-15,211/s with two; docs/benchmarks.md, "Gathering
/// writes into one entry").
pub const MAX_PROPOSALS_IN_FLIGHT: usize = 1;
/// Most commands gathered into one entry (a single request may hold more; it then goes alone).
pub const MAX_GATHER_COMMANDS: usize = 4096;

/// What the proposer does with a gathered entry: put it through Raft and return its replies.
pub type ProposeFn =
    Arc<dyn Fn(Vec<kv::Command>) -> futures_util::future::BoxFuture<'static, Answer> + Send + Sync>;

/// What a caller gets back: its replies, one per command, or the entry's error.
pub type Answer = Result<Vec<Reply>, ConsensusError>;

/// One caller's batch, waiting to join an entry.
pub struct Request {
    cmds: Vec<kv::Command>,
    bytes: usize,
    /// Holds a WATCH guard: must end its entry.
    guarded: bool,
    queued: Instant,
    reply: oneshot::Sender<Answer>,
}

impl Request {
    fn new(cmds: Vec<kv::Command>, reply: oneshot::Sender<Answer>) -> Request {
        Request {
            bytes: cmds.iter().map(kv::Command::approx_bytes).sum(),
            guarded: cmds
                .iter()
                .any(|c| matches!(c, kv::Command::WatchGuard { .. })),
            cmds,
            queued: Instant::now(),
            reply,
        }
    }
}

/// The handle connections propose through (see the module docs). Cloning shares the queue.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::UnboundedSender<Request>,
}

impl Proposer {
    /// Start the proposer task; `propose` puts one gathered entry through Raft.
    pub fn start(propose: ProposeFn) -> Proposer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, propose));
        Proposer { queue }
    }

    /// Queue `cmds` to join the next entry and wait for their replies, one per command.
    pub async fn propose(&self, cmds: Vec<kv::Command>) -> Result<Vec<Reply>, ConsensusError> {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Request::new(cmds, tx)).is_err() {
            return Err(ConsensusError::Stopped("shutting down".into()));
        }
        rx.await.unwrap_or_else(|_| {
            Err(ConsensusError::OutcomeUnknown(
                "the proposer stopped before the write committed".into(),
            ))
        })
    }
}

/// The proposer task: wait for work and a free slot, gather, propose, repeat.
async fn run(mut rx: mpsc::UnboundedReceiver<Request>, propose: ProposeFn) {
    let slots = Arc::new(Semaphore::new(MAX_PROPOSALS_IN_FLIGHT));
    let mut queued: VecDeque<Request> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match rx.recv().await {
                Some(r) => queued.push_back(r),
                None => return,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Everything that arrived while waiting for the slot joins this entry.
        while let Ok(r) = rx.try_recv() {
            queued.push_back(r);
        }
        let taken = gather(&mut queued);
        let propose = propose.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let total = taken.iter().map(|r| r.cmds.len()).sum();
            for r in &taken {
                metrics::record_stage(Stage::Queue, started - r.queued);
            }
            metrics::record_gathered(taken.len(), total);
            let mut cmds = Vec::with_capacity(total);
            let mut answers = Vec::with_capacity(taken.len());
            for r in taken {
                answers.push((r.cmds.len(), r.reply));
                cmds.extend(r.cmds);
            }
            let result = propose(cmds).await;
            metrics::record_stage(Stage::Raft, started.elapsed());
            drop(slot);
            answer(answers, result);
        });
    }
}

/// Take the requests of the next entry from the front of `queued` (at least one, if any): whole
/// requests in order, within the entry limits, ending after the first guarded request.
fn gather(queued: &mut VecDeque<Request>) -> Vec<Request> {
    let mut taken: Vec<Request> = Vec::new();
    let (mut cmds, mut bytes) = (0, 0);
    while let Some(next) = queued.front() {
        let fits =
            cmds + next.cmds.len() <= MAX_GATHER_COMMANDS && bytes + next.bytes <= MAX_ENTRY_BYTES;
        if !taken.is_empty() && !fits {
            break;
        }
        let r = queued.pop_front().expect("front exists");
        cmds += r.cmds.len();
        bytes += r.bytes;
        let guarded = r.guarded;
        taken.push(r);
        if guarded {
            break;
        }
    }
    taken
}

/// Split an entry's replies back to its callers, `counts` commands each, in order; on failure
/// every caller gets the error.
fn answer(
    callers: Vec<(usize, oneshot::Sender<Answer>)>,
    result: Result<Vec<Reply>, ConsensusError>,
) {
    match result {
        Ok(replies) => {
            let mut replies = replies.into_iter();
            for (count, tx) in callers {
                let mine: Vec<Reply> = replies.by_ref().take(count).collect();
                let mine = if mine.len() == count {
                    Ok(mine)
                } else {
                    Err(ConsensusError::OutcomeUnknown(
                        "internal: the entry answered fewer replies than it held commands".into(),
                    ))
                };
                let _ = tx.send(mine);
            }
        }
        Err(e) => {
            for (_, tx) in callers {
                let _ = tx.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn set(key: &str, value_len: usize) -> kv::Command {
        kv::Command::parse(&[
            Bytes::from("SET"),
            Bytes::from(key.to_string()),
            Bytes::from(vec![b'v'; value_len]),
        ])
        .unwrap()
    }

    fn request(cmds: Vec<kv::Command>) -> Request {
        Request::new(cmds, oneshot::channel().0)
    }

    fn sizes(taken: &[Request]) -> Vec<usize> {
        taken.iter().map(|r| r.cmds.len()).collect()
    }

    #[test]
    fn everything_queued_joins_one_entry_in_order() {
        let mut q: VecDeque<Request> = (1..=3)
            .map(|n| request((0..n).map(|_| set("k", 1)).collect()))
            .collect();
        assert_eq!(sizes(&gather(&mut q)), vec![1, 2, 3]);
        assert!(q.is_empty());
        assert!(gather(&mut q).is_empty());
    }

    #[test]
    fn a_guarded_request_ends_its_entry() {
        let guard = kv::Command::WatchGuard { watched: vec![] };
        let mut q: VecDeque<Request> = VecDeque::from(vec![
            request(vec![set("a", 1)]),
            request(vec![guard, set("b", 1)]),
            request(vec![set("c", 1)]),
        ]);
        assert_eq!(sizes(&gather(&mut q)), vec![1, 2]);
        assert_eq!(sizes(&gather(&mut q)), vec![1]);
    }

    #[test]
    fn entries_stay_within_the_command_and_byte_limits() {
        let half = MAX_GATHER_COMMANDS / 2;
        let mut q: VecDeque<Request> = (0..3)
            .map(|_| request((0..half).map(|_| set("k", 1)).collect()))
            .collect();
        assert_eq!(sizes(&gather(&mut q)), vec![half, half]);
        assert_eq!(sizes(&gather(&mut q)), vec![half]);

        let big = MAX_ENTRY_BYTES / 2;
        let mut q: VecDeque<Request> = (0..3).map(|_| request(vec![set("k", big)])).collect();
        assert_eq!(sizes(&gather(&mut q)), vec![1]);
        assert_eq!(sizes(&gather(&mut q)), vec![1]);
        // An oversized request still goes, alone.
        let mut q: VecDeque<Request> = VecDeque::from(vec![request(
            (0..MAX_GATHER_COMMANDS + 1).map(|_| set("k", 1)).collect(),
        )]);
        assert_eq!(sizes(&gather(&mut q)), vec![MAX_GATHER_COMMANDS + 1]);
    }

    #[test]
    fn replies_are_split_back_by_position_and_errors_reach_everyone() {
        let (a, mut ra) = oneshot::channel();
        let (b, mut rb) = oneshot::channel();
        let replies = vec![Reply::Integer(1), Reply::Integer(2), Reply::Integer(3)];
        answer(vec![(1, a), (2, b)], Ok(replies));
        assert_eq!(ra.try_recv().unwrap().unwrap(), vec![Reply::Integer(1)]);
        assert_eq!(
            rb.try_recv().unwrap().unwrap(),
            vec![Reply::Integer(2), Reply::Integer(3)]
        );

        let (a, mut ra) = oneshot::channel();
        let (b, mut rb) = oneshot::channel();
        answer(vec![(1, a), (1, b)], Err(ConsensusError::NoQuorum));
        assert!(matches!(
            ra.try_recv().unwrap(),
            Err(ConsensusError::NoQuorum)
        ));
        assert!(matches!(
            rb.try_recv().unwrap(),
            Err(ConsensusError::NoQuorum)
        ));
    }

    #[tokio::test]
    async fn writes_queued_while_an_entry_is_in_flight_share_the_next_one() {
        use std::sync::Mutex;
        let entries: Arc<Mutex<Vec<usize>>> = Arc::default();
        let gate = Arc::new(tokio::sync::Notify::new());
        let (seen, opened) = (entries.clone(), gate.clone());
        let proposer = Proposer::start(Arc::new(move |cmds: Vec<kv::Command>| {
            let (seen, opened) = (seen.clone(), opened.clone());
            Box::pin(async move {
                seen.lock().unwrap().push(cmds.len());
                opened.notified().await;
                Ok(cmds.iter().map(|_| Reply::ok()).collect())
            })
        }));
        // Fill every slot with one write each, then queue 10 more behind them.
        let mut calls = Vec::new();
        for _ in 0..MAX_PROPOSALS_IN_FLIGHT + 10 {
            let p = proposer.clone();
            calls.push(tokio::spawn(
                async move { p.propose(vec![set("k", 1)]).await },
            ));
            tokio::task::yield_now().await;
        }
        while entries.lock().unwrap().len() < MAX_PROPOSALS_IN_FLIGHT {
            tokio::task::yield_now().await;
        }
        // Let the entries through one at a time until every call is answered.
        for call in calls {
            while !call.is_finished() {
                gate.notify_one();
                tokio::task::yield_now().await;
            }
            assert_eq!(call.await.unwrap().unwrap(), vec![Reply::ok()]);
        }
        let entries = entries.lock().unwrap().clone();
        assert_eq!(entries.iter().sum::<usize>(), MAX_PROPOSALS_IN_FLIGHT + 10);
        assert!(
            entries.len() <= MAX_PROPOSALS_IN_FLIGHT + 1,
            "the 10 writes queued behind full slots took entries {entries:?}"
        );
    }
}
