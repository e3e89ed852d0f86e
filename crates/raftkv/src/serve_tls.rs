//! The TLS flags of `raftkv serve`, merged over the `[tls]` table of the config file (see
//! `node::tls::TlsSettings` and docs/security.md).

use std::path::PathBuf;

use clap::Args;
use node::tls::{ClientAuth, TlsSettings};

/// TLS on the client port and, separately, mutual TLS on the peer port.
#[derive(Args, Debug, Default)]
pub struct ServeTlsArgs {
    /// PEM certificate chain for the client port; set, clients must speak TLS [default: plain].
    #[arg(long, env = "RAFTKV_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "RAFTKV_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PEM CA that signs client certificates (for --tls-client-auth; also trusted when this
    /// node dials another node's client port to join).
    #[arg(long, env = "RAFTKV_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// Client certificates: none, optional (verified if sent) or required [default: none].
    #[arg(long, env = "RAFTKV_TLS_CLIENT_AUTH")]
    tls_client_auth: Option<ClientAuth>,
    /// Serve TLS on this extra address while --listen stays plain (to migrate clients).
    #[arg(long, env = "RAFTKV_TLS_LISTEN")]
    tls_listen: Option<String>,
    /// PEM certificate chain for the peer port (mutual TLS); it must name this node's peer host.
    #[arg(long, env = "RAFTKV_PEER_TLS_CERT")]
    peer_tls_cert: Option<PathBuf>,
    /// PEM private key of --peer-tls-cert.
    #[arg(long, env = "RAFTKV_PEER_TLS_KEY")]
    peer_tls_key: Option<PathBuf>,
    /// PEM CA that must sign every peer's certificate.
    #[arg(long, env = "RAFTKV_PEER_TLS_CA")]
    peer_tls_ca: Option<PathBuf>,
}

impl ServeTlsArgs {
    /// Apply the flags given over `tls` (from the file or the defaults).
    pub fn apply(self, tls: &mut TlsSettings) {
        let set = |v: Option<PathBuf>, into: &mut Option<PathBuf>| {
            if v.is_some() {
                *into = v;
            }
        };
        set(self.tls_cert, &mut tls.cert);
        set(self.tls_key, &mut tls.key);
        set(self.tls_ca, &mut tls.ca);
        set(self.peer_tls_cert, &mut tls.peer_cert);
        set(self.peer_tls_key, &mut tls.peer_key);
        set(self.peer_tls_ca, &mut tls.peer_ca);
        if let Some(auth) = self.tls_client_auth {
            tls.client_auth = auth;
        }
        if self.tls_listen.is_some() {
            tls.listen = self.tls_listen;
        }
    }
}
