//! Recording writers, and the check that every acknowledged write survived.
//!
//! The history itself lives in a [`check::Recorder`], the fault suite's; this module only
//! drives writes into it and sorts the outcome into acknowledged, indeterminate and refused.
//!
//! [`Writers`] runs [`Writers::start`]'s writer tasks against a list of nodes while a test
//! breaks the cluster (kills, power cuts, membership changes). Every write is a `SET` of a key
//! no other write uses (`<prefix>:<writer>:<sequence>`) to a value naming it, one at a time per
//! connection. A write answered `+OK` is *acknowledged*: it must be present, with its value, on
//! every node afterwards. Any other outcome (an error reply, a timeout, a closed connection) is
//! *indeterminate*: the write may or may not have been applied, so it is not checked, except
//! that a write refused with `-CLUSTERDOWN`, `-TRYAGAIN` or `-MISCONF` must *not* have been
//! applied (the node promises a retry is safe). After a failure a writer moves on to the next
//! node in the list, so writes keep flowing while some nodes are down or no longer members.
//!
//! [`missing_on`] checks one node: first a linearizable `MGET` through it (what the cluster
//! answers), then `READONLY` `MGET`s of its own state until it has caught up (what the node
//! itself holds). [`assert_all_present`] runs it on every listed node and fails with the
//! missing keys, or with refused writes that were applied.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use node::client::RespClient;
use resp::Reply;
use tokio::task::JoinHandle;

use super::{poll_within, Cluster, WAIT};

/// Deadline of one client call; longer than the server's own write and routing deadlines, so
/// the server's answer (or error) normally arrives first.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause after a failed write or connect before the next attempt, so a writer facing only
/// dead nodes does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Keys per `MGET` when verifying.
const MGET_KEYS: usize = 500;

/// What the writers did.
#[derive(Debug, Default)]
pub struct Writes {
    /// Acknowledged writes: (key, value).
    pub acked: Vec<(String, String)>,
    /// Writes with an unknown outcome (error reply, timeout, broken connection).
    pub indeterminate: usize,
    /// Keys of writes refused with `-CLUSTERDOWN`, `-TRYAGAIN` or `-MISCONF`: never applied.
    pub refused: Vec<String>,
}

/// Writer tasks recording every write, with its call and return times, in a
/// [`check::Recorder`] (the fault suite's recorder, the one history recorder of the
/// workspace), from which [`Writers::stop`] derives the
/// [`Writes`] of acknowledged, indeterminate and refused writes.
pub struct Writers {
    stop: Arc<AtomicBool>,
    targets: Arc<RwLock<Vec<String>>>,
    acked: Arc<AtomicUsize>,
    ops: check::Recorder,
    tasks: Vec<JoinHandle<()>>,
}

impl Writers {
    /// Start `writers` tasks writing keys under `prefix` through the client addresses
    /// `targets`; writer `w` starts on `targets[w % len]`.
    pub fn start(targets: Vec<String>, writers: usize, prefix: &str) -> Writers {
        assert!(!targets.is_empty(), "writers need a node to write to");
        let started = Writers {
            stop: Arc::new(AtomicBool::new(false)),
            targets: Arc::new(RwLock::new(targets)),
            acked: Arc::new(AtomicUsize::new(0)),
            ops: check::Recorder::new(),
            tasks: Vec::new(),
        };
        let tasks = (0..writers)
            .map(|w| {
                tokio::spawn(write_loop(
                    w,
                    prefix.to_string(),
                    started.targets.clone(),
                    started.stop.clone(),
                    started.acked.clone(),
                    started.ops.clone(),
                ))
            })
            .collect();
        Writers { tasks, ..started }
    }

    /// Write through these client addresses from the next connection on.
    pub fn set_targets(&self, targets: Vec<String>) {
        assert!(!targets.is_empty(), "writers need a node to write to");
        *self.targets.write().expect("targets lock") = targets;
    }

    /// Acknowledged writes so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// Wait until `more` writes beyond those acknowledged now are acknowledged: the cluster is
    /// serving writes. Panics after [`WAIT`].
    pub async fn wait_progress(&self, more: usize) {
        let start = self.acked();
        let what = format!("{more} more acknowledged writes (writers stalled?)");
        super::wait_until(&what, || {
            let done = self.acked() >= start + more;
            async move { done }
        })
        .await
    }

    /// Stop the writers and return what they did.
    pub async fn stop(self) -> Writes {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("writer task");
        }
        let mut all = Writes::default();
        for op in self.ops.history().ops() {
            match (&op.outcome, &op.command) {
                (check::Outcome::Ok { .. }, check::Command::Set(value)) => {
                    all.acked.push((op.key.clone(), value.clone()))
                }
                (check::Outcome::Fail { .. }, _) => all.refused.push(op.key.clone()),
                _ => all.indeterminate += 1,
            }
        }
        all
    }
}

/// One writer: `SET <prefix>:<w>:<seq> v<w>:<seq>` until stopped, moving to the next target
/// after any failure.
async fn write_loop(
    w: usize,
    prefix: String,
    targets: Arc<RwLock<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acked_count: Arc<AtomicUsize>,
    ops: check::Recorder,
) {
    let mut next = w;
    let mut conn: Option<RespClient> = None;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut c = match conn.take() {
            Some(c) => c,
            None => {
                let addr = {
                    let t = targets.read().expect("targets lock");
                    t[next % t.len()].clone()
                };
                match RespClient::connect(&addr, CALL_TIMEOUT).await {
                    Ok(c) => c,
                    Err(_) => {
                        next += 1;
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                }
            }
        };
        let key = format!("{prefix}:{w}:{seq}");
        let value = format!("v{w}:{seq}");
        seq += 1;
        let op = ops.begin(w as u64, key.clone(), check::Command::Set(value.clone()));
        match c.call(&["SET", &key, &value]).await {
            Ok(reply) if reply == Reply::ok() => {
                op.ok(check::Value::Nil);
                acked_count.fetch_add(1, Ordering::Relaxed);
                conn = Some(c);
            }
            Ok(Reply::Error(e))
                if e.starts_with("CLUSTERDOWN")
                    || e.starts_with("TRYAGAIN")
                    || e.starts_with("MISCONF") =>
            {
                // The node promises the write was not applied.
                op.fail(e);
                next += 1;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            other => {
                op.info(format!("{other:?}"));
                next += 1;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Acknowledged keys that node `id` does not hold with their value: first through a
/// linearizable read (if that already misses keys, they are lost, and those are returned),
/// then in the node's own state, polled until it has caught up. Each phase gives up at
/// `deadline` from its start: a node that cannot answer a linearizable read by then counts
/// every key as missing.
pub async fn missing_on(
    cluster: &Cluster,
    id: u64,
    acked: &[(String, String)],
    deadline: Duration,
) -> Vec<String> {
    let addr = &cluster.node(id).client;
    let every_key = || acked.iter().map(|(k, _)| k.clone()).collect();
    let Some(lost) = poll_within(deadline, || read_missing(addr, acked, false)).await else {
        return every_key();
    };
    if !lost.is_empty() {
        return lost;
    }
    // The last answer of the node's own state: what is still missing when time runs out.
    let last = std::cell::RefCell::new(None);
    let last_ref = &last;
    let caught_up = poll_within(deadline, || async move {
        let missing = read_missing(addr, acked, true).await;
        let done = missing.as_ref().is_some_and(Vec::is_empty);
        *last_ref.borrow_mut() = missing;
        done.then_some(())
    })
    .await;
    match caught_up {
        Some(()) => Vec::new(),
        None => last.into_inner().unwrap_or_else(every_key),
    }
}

/// One pass of `MGET`s over `acked` on `addr` (local reads if `local`): the keys missing or
/// with another value, or None if the node did not answer every `MGET` with an array.
async fn read_missing(addr: &str, acked: &[(String, String)], local: bool) -> Option<Vec<String>> {
    let values = mget(addr, acked.iter().map(|(k, _)| k.as_str()), local).await?;
    let missing = acked
        .iter()
        .zip(values)
        .filter(|((_, v), got)| *got != super::bulk(v))
        .map(|((k, _), _)| k.clone())
        .collect();
    Some(missing)
}

/// The values of `keys` on `addr` (local reads if `local`), in `MGET`s of [`MGET_KEYS`], or
/// None if the node did not answer every one with an array of the right length.
async fn mget<'a>(
    addr: &str,
    keys: impl Iterator<Item = &'a str>,
    local: bool,
) -> Option<Vec<Reply>> {
    let mut c = RespClient::connect(addr, CALL_TIMEOUT).await.ok()?;
    if local && c.call(&["READONLY"]).await.ok()? != Reply::ok() {
        return None;
    }
    let keys: Vec<&str> = keys.collect();
    let mut values = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MGET_KEYS) {
        let mut args = vec!["MGET"];
        args.extend(chunk);
        match c.call(&args).await.ok()? {
            Reply::Array(v) if v.len() == chunk.len() => values.extend(v),
            _ => return None,
        }
    }
    Some(values)
}

/// Assert that every node in `ids` holds every acknowledged write of `writes`.
pub async fn assert_all_present(cluster: &Cluster, ids: &[u64], writes: &Writes) {
    assert!(!writes.acked.is_empty(), "no write was acknowledged");
    let mut report = Vec::new();
    for &id in ids {
        let missing = missing_on(cluster, id, &writes.acked, WAIT).await;
        if !missing.is_empty() {
            report.push(format!(
                "node {id}: {} of {} acknowledged writes missing, e.g. {:?}",
                missing.len(),
                writes.acked.len(),
                &missing[..missing.len().min(10)]
            ));
        }
    }
    if let Some(&first) = ids.first() {
        let addr = cluster.node(first).client.clone();
        let values = mget(&addr, writes.refused.iter().map(String::as_str), false)
            .await
            .expect("a linearizable MGET of the refused keys");
        let applied: Vec<&String> = writes
            .refused
            .iter()
            .zip(values)
            .filter(|(_, v)| *v != Reply::Null)
            .map(|(k, _)| k)
            .collect();
        if !applied.is_empty() {
            report.push(format!(
                "{} writes refused with -CLUSTERDOWN/-TRYAGAIN/-MISCONF were applied, e.g. {:?}",
                applied.len(),
                &applied[..applied.len().min(10)]
            ));
        }
    }
    assert!(
        report.is_empty(),
        "lost acknowledged writes or applied refused ones:\n{}",
        report.join("\n")
    );
}
