//! Recording a history from a live test client.
//!
//! A [`Recorder`] owns one monotonic clock (an [`Instant`] taken at creation) and a shared list of
//! finished operations. A client calls [`Recorder::begin`] just before sending a request, which
//! stamps the call time and hands back a [`PendingOp`]; when the reply arrives it calls
//! [`PendingOp::ok`], [`PendingOp::fail`] or [`PendingOp::info`], which stamps the return time.
//! The recorder is cheap to clone and every clone shares the same clock and list, so one recorder
//! serves any number of client tasks or threads.
//!
//! The one rule that matters: an operation that was sent must never vanish from the history, or a
//! write that took effect becomes a read of a "value never written". So a [`PendingOp`] dropped
//! without being finished (the task was cancelled, a `?` returned early, a timeout future dropped
//! it) records itself as `info` with no return time: it may or may not have happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::history::History;
use crate::op::{Command, Op};
use crate::value::{Outcome, Value};

/// Records operations from concurrent clients against one monotonic clock. Clones share state.
#[derive(Clone, Debug)]
pub struct Recorder {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Time zero of the history.
    origin: Instant,
    /// Next operation id.
    next_id: AtomicU64,
    /// Finished operations, in finishing order.
    ops: Mutex<Vec<Op>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Self {
        Recorder {
            shared: Arc::new(Shared {
                origin: Instant::now(),
                next_id: AtomicU64::new(0),
                ops: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Nanoseconds since the recorder was created.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.shared.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Stamps the call time of an operation about to be sent. Call it *before* sending.
    pub fn begin(&self, client: u64, key: impl Into<String>, command: Command) -> PendingOp {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        PendingOp {
            recorder: self.clone(),
            op: Some(Op {
                id,
                client,
                key: key.into(),
                command,
                call_ns: self.now_ns(),
                ret_ns: None,
                outcome: Outcome::Info { error: None },
            }),
        }
    }

    /// The operations finished so far (including dropped ones, as `info`), sorted by id.
    /// Operations still pending are not included.
    pub fn history(&self) -> History {
        let mut ops = self.lock().clone();
        ops.sort_by_key(|op| op.id);
        History::from_ops(ops)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Op>> {
        // A client that panicked mid-push cannot leave the Vec half-written; keep recording.
        self.shared
            .ops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An operation that has been sent and not yet finished. Finish it with [`PendingOp::ok`],
/// [`PendingOp::fail`] or [`PendingOp::info`]; dropping it records `info`.
#[derive(Debug)]
#[must_use = "finish the operation with ok, fail or info; dropping it records info"]
pub struct PendingOp {
    recorder: Recorder,
    /// `None` once finished.
    op: Option<Op>,
}

impl PendingOp {
    /// The id the operation will have in the history.
    pub fn id(&self) -> u64 {
        self.op.as_ref().map_or(0, |op| op.id)
    }

    /// The reply arrived: stamps the return time and records `ok` with this value.
    pub fn ok(self, value: impl Into<Value>) {
        self.finish(Outcome::ok(value.into()));
    }

    /// The operation definitely did not take effect (an error the server guarantees was not
    /// applied). Stamps the return time and records `fail`.
    pub fn fail(self, error: impl Into<String>) {
        self.finish(Outcome::fail(error));
    }

    /// The outcome is unknown (timeout, connection lost). Stamps the return time and records
    /// `info`; the checker ignores the return time of `info` operations.
    pub fn info(self, error: impl Into<String>) {
        self.finish(Outcome::info(error));
    }

    /// Stamps the return time and records this outcome.
    pub fn finish(mut self, outcome: Outcome) {
        let ret_ns = self.recorder.now_ns();
        self.record(Some(ret_ns), outcome);
    }

    fn record(&mut self, ret_ns: Option<u64>, outcome: Outcome) {
        if let Some(mut op) = self.op.take() {
            op.ret_ns = ret_ns.map(|ret| ret.max(op.call_ns));
            op.outcome = outcome;
            self.recorder.lock().push(op);
        }
    }
}

impl Drop for PendingOp {
    fn drop(&mut self) {
        self.record(
            None,
            Outcome::info("abandoned: the client never saw a reply"),
        );
    }
}
