//! TLS for the client port and the peer port, with rustls (ring provider, TLS 1.2 and 1.3
//! only, never OpenSSL).
//!
//! The two ports are configured separately ([`TlsSettings`]): the client port may serve TLS
//! with optional or required client certificates, and the peer port runs mutual TLS, where each
//! side presents a certificate signed by the peer CA and the dialer also checks that the
//! listener's certificate names the host it dialed (a SAN equal to the peer address's host, an
//! IP or a DNS name). Peer TLS wraps the TCP stream before the cluster-secret hello
//! ([`crate::transport::auth`]), so both checks apply when both are configured.
//!
//! Certificates are read from PEM files at start ([`pem`]); a file that is missing, unreadable
//! or holds no certificate or key refuses the start with a message naming it. On SIGHUP
//! ([`reload`]) every [`ServerTls`] and [`ClientTls`] reads its files again from the same paths
//! and swaps in the new configuration: connections already open keep theirs, new handshakes use
//! the new one, and a bad new file is logged and the old configuration kept.
//!
//! A leaf: nothing here imports the rest of the node.

pub mod client;
pub mod io;
pub mod pem;
pub mod reload;
pub mod server;
pub mod settings;

use std::path::PathBuf;
use std::sync::Arc;

pub use client::ClientTls;
pub use io::{BoxIo, Io};
pub use server::ServerTls;
pub use settings::{ClientAuth, TlsSettings};

/// The protocol versions offered and accepted: TLS 1.3 and 1.2; nothing older exists in rustls.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The one crypto provider (ring), passed explicitly so no process-wide default is needed.
/// rustls 0.23.48 deprecates it for lacking post-quantum key exchange; aws-lc-rs has it but
/// needs cmake and a C toolchain on every build machine, so ring stays until that is worth it.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why TLS material could not be loaded or a handshake could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// What the file should hold (`certificate`, `private key`, `CA`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file was read but holds nothing usable.
    #[error("{path}: {why}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// rustls refused the combination (a key that does not match the certificate, a CA that is
    /// not a valid trust anchor, ...).
    #[error("TLS setup: {0}")]
    Setup(String),
}
