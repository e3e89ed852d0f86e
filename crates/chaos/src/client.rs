//! A recording client: one connection to one node, one operation at a time, every operation in
//! the history.
//!
//! Each client is bound to a node slot and keeps (re)connecting to it for the whole run; a slot
//! with no running node just refuses, and nothing is recorded for an operation that was never
//! sent. An operation is stamped with [`check::Recorder::begin`] immediately before its request
//! is written and finished when the reply is read, so its interval covers the real one. After a
//! timeout or a lost connection the connection is dropped (a late reply must never be taken for
//! the next request's) and the operation stays `info`.
//!
//! Clients stop between operations when told to; an operation still in flight when the runner
//! gives up waiting is abandoned, which the recorder writes down as `info`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use check::{Outcome, Recorder};
use node::client::RespClient;

use crate::keys::KeyPool;
use crate::stats::OpStats;
use crate::workload::{classify, resp_args, Workload};
use check::Rng;

/// Deadline of one request (connect, each write, each read). Above the server's own deadlines
/// for routing and committing, so that the server, not the client, usually decides.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed connection attempt.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(250);
/// Longest think time between two operations of one client, in milliseconds.
pub const THINK_MAX_MS: u64 = 5;

/// One client task's state.
#[derive(Debug)]
pub struct Client {
    /// Client id in the history.
    pub id: u64,
    /// The node's client address.
    pub addr: String,
    /// What it does.
    pub workload: Workload,
    /// Shared key pool.
    pub pool: Arc<Mutex<KeyPool>>,
    /// Shared recorder.
    pub recorder: Recorder,
    /// Shared counters.
    pub stats: Arc<OpStats>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Its random stream.
    pub rng: Rng,
}

impl Client {
    /// Runs operations until told to stop.
    pub async fn run(mut self) {
        let mut conn: Option<RespClient> = None;
        let mut seq: u64 = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(c) = conn.as_mut() else {
                // Clients are never partitioned from their node, so connecting is quick: a slot
                // with no server refuses at once, a paused server still completes the handshake.
                match RespClient::connect(&self.addr, OP_TIMEOUT).await {
                    Ok(c) => conn = Some(c),
                    Err(_) => tokio::time::sleep(RECONNECT_PAUSE).await,
                }
                continue;
            };
            seq += 1;
            let token = format!("c{}-{seq}", self.id);
            let key = self
                .pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .choose(&mut self.rng);
            let command = self.workload.next_command(&mut self.rng, &token);
            let args = resp_args(&key, &command);
            let pending = self.recorder.begin(self.id, key, command.clone());
            let (outcome, anomaly) = match c.call(&args).await {
                Ok(reply) => classify(&command, reply),
                Err(e) => {
                    conn = None;
                    (Outcome::info(e.to_string()), false)
                }
            };
            if outcome.is_info() {
                conn = None;
            }
            self.stats.record(&outcome, anomaly);
            pending.finish(outcome);
            let think = self.rng.below(THINK_MAX_MS + 1);
            if think > 0 {
                tokio::time::sleep(Duration::from_millis(think)).await;
            }
        }
    }
}
