//! Test certificates: a CA and node certificates made by `scripts/dev-certs` (openssl) in a
//! temp dir, and the client and `serve` flags that use them. Without openssl, [`dev_certs`]
//! says so and returns None, and the test passes without running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use node::tls::ClientTls;

/// A directory of certificates made by `scripts/dev-certs`: `ca.crt` and `NAME.crt`/`NAME.key`.
pub struct Certs {
    /// The directory.
    pub dir: PathBuf,
}

impl Certs {
    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    pub fn ca(&self) -> String {
        self.file("ca.crt")
    }
    pub fn cert(&self, name: &str) -> String {
        self.file(&format!("{name}.crt"))
    }
    pub fn key(&self, name: &str) -> String {
        self.file(&format!("{name}.key"))
    }
    /// A client trusting this CA, presenting `identity`'s certificate if given.
    pub fn client(&self, identity: Option<&str>) -> Arc<ClientTls> {
        let (c, k) = identity.map(|n| (self.cert(n), self.key(n))).unzip();
        let identity = c.as_deref().map(Path::new).zip(k.as_deref().map(Path::new));
        ClientTls::new("test", Path::new(&self.ca()), identity).expect("test TLS client")
    }
    /// `serve` flags for client TLS and peer mTLS with `name`'s certificate.
    pub fn node_flags(&self, name: &str) -> Vec<String> {
        let (cert, key, ca) = (self.cert(name), self.key(name), self.ca());
        let mut flags = ["--tls-cert", &cert, "--tls-key", &key, "--tls-ca", &ca]
            .map(String::from)
            .to_vec();
        flags.extend(self.peer_flags(name));
        flags
    }
    /// `serve` flags for peer mTLS alone with `name`'s certificate.
    pub fn peer_flags(&self, name: &str) -> Vec<String> {
        let (cert, key, ca) = (self.cert(name), self.key(name), self.ca());
        [
            "--peer-tls-cert",
            &cert,
            "--peer-tls-key",
            &key,
            "--peer-tls-ca",
            &ca,
        ]
        .map(String::from)
        .to_vec()
    }
}

/// Certificates for `names` under `dir/sub`, or None (after saying why) without openssl.
pub fn dev_certs(dir: &Path, sub: &str, names: &[&str]) -> Option<Certs> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: openssl is not installed (apt-get install openssl); TLS not tested");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-certs");
    let out_dir = dir.join(sub);
    let out = Command::new(script)
        .arg(&out_dir)
        .args(names)
        .output()
        .expect("run scripts/dev-certs");
    assert!(
        out.status.success(),
        "dev-certs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Certs { dir: out_dir })
}

/// A certificate for `name` signed by `certs`' CA whose only name is `san` (e.g. a DNS name a
/// node does not have).
pub fn cert_naming(certs: &Certs, name: &str, san: &str) {
    let ext = certs.dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={san}\n"),
    )
    .unwrap();
    let (key, csr) = (certs.key(name), certs.file(&format!("{name}.csr")));
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        &format!("/CN={name}"),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &certs.ca(),
        "-CAkey",
        &certs.file("ca.key"),
        "-CAcreateserial",
        "-out",
        &certs.cert(name),
        "-days",
        "30",
        "-extfile",
        &ext.display().to_string(),
    ]);
}

/// Act as a stranger on a TLS peer port: dial `peer` with `tls` (which may present no
/// certificate, or one the node does not trust), send a well-formed hello from node 99 to node
/// `to` (one a node without peer TLS or a cluster secret would answer), and read until the node
/// closes. Returns what came back: the node must answer nothing (a failed handshake is `Err`).
pub async fn stranger_on_peer_port(
    peer: &str,
    to: u64,
    tls: &ClientTls,
) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(peer)
        .await
        .map_err(|e| e.to_string())?;
    let mut s = tls.connect(tcp, peer).await.map_err(|e| e.to_string())?;
    // Protocol 3's hello: magic, version, from, to, a nonce.
    let mut hello = b"RKVP".to_vec();
    hello.extend_from_slice(&3u32.to_le_bytes());
    hello.extend_from_slice(&99u64.to_le_bytes());
    hello.extend_from_slice(&to.to_le_bytes());
    hello.extend_from_slice(&[42u8; 16]);
    // With TLS 1.3 the node refuses the certificate after the client's side of the handshake
    // is done, so the write may still succeed; the read tells.
    let _ = s.write_all(&hello).await;
    let _ = s.flush().await;
    let mut got = Vec::new();
    // Bytes before an error count: a node closing without a TLS close_notify after answering
    // is an error at the end of what it sent.
    match tokio::time::timeout(super::WAIT, s.read_to_end(&mut got)).await {
        Ok(Err(e)) if got.is_empty() => Err(e.to_string()),
        Ok(_) => Ok(got),
        Err(_) => panic!("the node kept a stranger's connection open"),
    }
}
