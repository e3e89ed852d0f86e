//! `--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`: how the admin commands (`member`, `status`,
//! `snapshot`, `bench`) reach nodes whose client port speaks TLS. One struct, flattened into
//! each command. The environment variables are those `raftkv serve` reads for its own client
//! port (`RAFTKV_TLS_CA`, `RAFTKV_TLS_CERT`, `RAFTKV_TLS_KEY`): on a node's host they make the
//! admin commands trust its CA and present its certificate.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use node::tls::ClientTls;

/// Client-side TLS for the admin commands.
#[derive(Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// Connect with TLS (needs --tls-ca; implied by it).
    #[arg(long, env = "RAFTKV_TLS", global = true)]
    pub tls: bool,
    /// PEM CA that signed the nodes' client-port certificates.
    #[arg(
        long = "tls-ca",
        env = "RAFTKV_TLS_CA",
        value_name = "FILE",
        global = true
    )]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate, for nodes started with --tls-client-auth.
    #[arg(
        long = "tls-cert",
        env = "RAFTKV_TLS_CERT",
        value_name = "FILE",
        global = true
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long = "tls-key",
        env = "RAFTKV_TLS_KEY",
        value_name = "FILE",
        global = true
    )]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS client these flags describe, or None for plain connections.
    pub fn client(&self) -> anyhow::Result<Option<Arc<ClientTls>>> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            anyhow::bail!("--tls-cert and --tls-key go together");
        }
        let Some(ca) = &self.tls_ca else {
            if self.tls || self.tls_cert.is_some() {
                anyhow::bail!(
                    "--tls needs --tls-ca FILE (the CA that signed the nodes' certificates)"
                );
            }
            return Ok(None);
        };
        let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        let tls = ClientTls::new("client", ca, identity).context("TLS setup")?;
        Ok(Some(tls))
    }
}
