//! `raftkv local --tls`: certificates for a local cluster and the flags that use them.
//!
//! The certificates are made by `scripts/dev-certs` (embedded in the binary, run with bash,
//! needing the `openssl` command) in `<dir>/certs`: a CA and one certificate per node naming
//! 127.0.0.1 and localhost. An existing directory is reused (the script keeps files that
//! exist), so a resumed cluster keeps its CA. Every node serves TLS on its client port and
//! mutual TLS on its peer port with its own certificate; `local` itself, and the admin commands
//! given `--tls-ca <dir>/certs/ca.crt`, connect as TLS clients trusting the CA.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{bail, Context};
use node::tls::ClientTls;

/// The certificate script, the same one developers run by hand.
const DEV_CERTS: &str = include_str!("../../../scripts/dev-certs");
/// The certificates' folder inside `local`'s `--dir`.
pub const CERTS_DIR: &str = "certs";

/// A local cluster's certificates.
#[derive(Clone)]
pub struct LocalTls {
    /// The folder holding `ca.crt` and `nodeN.crt`/`nodeN.key` (absolute).
    pub dir: PathBuf,
    /// How `local` connects to the nodes: trusting the CA.
    pub client: Arc<ClientTls>,
}

impl LocalTls {
    /// Make (or reuse) the certificates of nodes 1..=`nodes` under `dir`.
    pub fn prepare(dir: &Path, nodes: usize) -> anyhow::Result<LocalTls> {
        let certs = dir.join(CERTS_DIR);
        let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(DEV_CERTS)
            .arg("dev-certs")
            .arg(&certs)
            .args(&names)
            .output()
            .context("running bash for scripts/dev-certs")?;
        if !out.status.success() {
            bail!(
                "making certificates in {} failed: {}",
                certs.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let dir = certs
            .canonicalize()
            .with_context(|| format!("resolving {}", certs.display()))?;
        let client = ClientTls::new("local", &dir.join("ca.crt"), None)?;
        Ok(LocalTls { dir, client })
    }

    /// The CA file.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// `serve` flags for node `id`: client TLS and peer mutual TLS with its certificate.
    pub fn flags(&self, id: usize) -> Vec<String> {
        let path = |f: String| self.dir.join(f).display().to_string();
        let (cert, key, ca) = (
            path(format!("node{id}.crt")),
            path(format!("node{id}.key")),
            path("ca.crt".into()),
        );
        [
            ("--tls-cert", &cert),
            ("--tls-key", &key),
            ("--tls-ca", &ca),
            ("--peer-tls-cert", &cert),
            ("--peer-tls-key", &key),
            ("--peer-tls-ca", &ca),
        ]
        .into_iter()
        .flat_map(|(f, v)| [f.to_string(), v.clone()])
        .collect()
    }
}
