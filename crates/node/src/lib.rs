//! The raftkv server library.
//!
//! - [`raft`]: the consensus facade over openraft, the Raft log (raft-log WAL), the state
//!   machine adapter over `kv::Store`, snapshots, and openraft's network traits;
//! - [`transport`]: framed, multiplexed node-to-node connections and the peer listener;
//! - [`server`]: the RESP client listener, command dispatch and `INFO`;
//! - [`node`]: wiring it all together for one `raftkv serve` process;
//! - [`config`]: the one `Config` struct with its defaults;
//! - [`disk`]: the data dir's free space, the start-up write probe, and low-space status;
//! - [`metrics`], [`http`]: Prometheus metrics and the `/livez`, `/readyz`, `/metrics` endpoints;
//! - [`removal`]: noticing that this node was removed from the cluster;
//! - [`pubsub`]: subscriptions and the delivery of applied `PUBLISH` entries.

pub mod blocked;
pub mod client;
pub mod config;
pub mod counters;
pub mod disk;
pub mod errors;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod node;
pub mod pubsub;
pub mod raft;
pub mod removal;
pub mod server;
pub mod transport;
