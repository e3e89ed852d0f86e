//! The raftkv server library. Layers, top to bottom (a module imports only from layers below
//! it; see docs/architecture.md):
//!
//! - [`node`]: wiring it all together for one `raftkv serve` process;
//! - [`server`]: the RESP client listener, sessions, command dispatch, `INFO`, and the one
//!   place typed errors become RESP replies; [`http`] and its [`exporter`]: `/livez`,
//!   `/readyz`, `/metrics`;
//! - [`cluster`]: what a node does as a cluster member: routing, the peer service,
//!   membership, removal, leadership hand-off, backups;
//! - [`raft`]: the openraft glue (log store, state machine, snapshots, network) behind a small
//!   typed interface; [`transport`]: framed, multiplexed node-to-node connections, the peer
//!   listener and the [`transport::PeerHandler`] it calls;
//! - leaves: [`wire`] (peer messages), [`ids`], [`limits`], [`clock`], [`metrics`] (plain
//!   recorders), [`counters`], [`config`], [`tls`], [`disk`], [`blocked`], [`pubsub`], [`client`].

pub mod blocked;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod counters;
pub mod credentials;
pub mod disk;
pub mod exporter;
pub mod http;
pub mod ids;
pub mod launch;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod node;
pub mod pubsub;
pub mod raft;
pub mod secret;
pub mod server;
pub mod tls;
pub mod transport;
pub mod wire;
