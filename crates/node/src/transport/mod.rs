//! Node-to-node transport.
//!
//! Nodes talk over persistent connections carrying length-prefixed postcard frames
//! ([`frame`]). A [`PeerClient`] owns one connection to one peer address: it dials lazily,
//! multiplexes any number of in-flight requests by id, puts a deadline on every call, and after
//! a failure drops the connection so the next call redials (openraft's backoff spaces out calls
//! to an unreachable peer). The [`PeerServer`] accepts connections, answers Raft RPCs in arrival
//! order per connection, runs forwarded client commands concurrently, and reassembles streamed
//! snapshots into a file before installing them. What each request means is up to the node: the
//! server calls a [`PeerHandler`] ([`handler`]), which the cluster layer implements, so nothing
//! here imports the consensus or cluster code. The messages themselves are [`crate::wire`].
//!
//! Every connection starts with a hello naming the dialer and the node it means to reach; the
//! listener refuses a connection meant for another node id (see [`frame`]), so Raft messages
//! always reach the node they were addressed to, even after an address is reused. The same
//! exchange proves to each side that the other knows the cluster secret ([`auth`]).
//!
//! With peer TLS ([`tls`]) the connection is mutual TLS first, and the hello runs inside it.
//!
//! How bytes move is behind the [`Transport`] trait ([`stream`]), so the same node code can run
//! over a simulated network; [`TcpTransport`] is the real one and [`memory::MemoryNetwork`] the
//! one in-process cluster tests use (the peer server takes its streams through
//! [`PeerServer::serve_stream`]).

pub mod auth;
pub mod client;
pub mod faults;
pub mod frame;
pub mod handler;
pub mod memory;
pub mod peers;
pub mod server;
pub mod stream;
pub mod tls;

/// The peer messages, under their old path (they live in [`crate::wire`]).
pub use crate::wire as message;
pub use auth::PeerAuth;
pub use client::PeerClient;
pub use faults::LinkFaults;
pub use handler::PeerHandler;
pub use peers::Peers;
pub use server::PeerServer;
pub use stream::{BoxRead, BoxWrite, ConnectFuture, TcpTransport, Transport};
pub use tls::{PeerTls, TlsTransport};
