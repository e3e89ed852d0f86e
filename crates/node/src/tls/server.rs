//! The accepting side of TLS: one [`ServerTls`] per TLS listener kind (the client port, the
//! peer port), holding the current rustls configuration behind a lock that is only taken to
//! clone an `Arc` at each handshake, so a reload never waits on connections and connections
//! never see a half-built configuration.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::reload::Reload;
use super::{pem, provider, ClientAuth, TlsError, TlsSettings, PROTOCOL_VERSIONS};

/// A reloadable TLS server configuration built from PEM files.
pub struct ServerTls {
    /// What it serves, for logs (`client port`, `peer port`).
    what: &'static str,
    cert: PathBuf,
    key: PathBuf,
    /// CA for client certificates, with how they are required.
    ca: Option<PathBuf>,
    client_auth: ClientAuth,
    current: RwLock<Arc<ServerConfig>>,
}

impl ServerTls {
    /// The client port's TLS from `settings`, or None when client TLS is off.
    pub fn client_port(settings: &TlsSettings) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let (Some(cert), Some(key)) = (&settings.cert, &settings.key) else {
            return Ok(None);
        };
        let ca = (settings.client_auth != ClientAuth::None)
            .then(|| settings.ca.clone())
            .flatten();
        ServerTls::load("client port", cert, key, ca, settings.client_auth).map(Some)
    }

    /// The peer port's TLS from `settings` (a certificate signed by the peer CA is required of
    /// every dialer), or None when peer TLS is off.
    pub fn peer_port(settings: &TlsSettings) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let (Some(cert), Some(key)) = (&settings.peer_cert, &settings.peer_key) else {
            return Ok(None);
        };
        let ca = settings.peer_ca.clone();
        ServerTls::load("peer port", cert, key, ca, ClientAuth::Required).map(Some)
    }

    fn load(
        what: &'static str,
        cert: &Path,
        key: &Path,
        ca: Option<PathBuf>,
        client_auth: ClientAuth,
    ) -> Result<Arc<ServerTls>, TlsError> {
        let current = RwLock::new(build(what, cert, key, ca.as_deref(), client_auth)?);
        Ok(Arc::new(ServerTls {
            what,
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            ca,
            client_auth,
            current,
        }))
    }

    /// An acceptor with the current configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().expect("TLS config lock").clone())
    }

    /// Run the server side of a handshake on `stream` (the caller bounds it in time).
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> std::io::Result<TlsStream<S>> {
        self.acceptor().accept(stream).await
    }
}

impl Reload for ServerTls {
    fn what(&self) -> &'static str {
        self.what
    }

    fn reload(&self) -> Result<(), TlsError> {
        let fresh = build(
            self.what,
            &self.cert,
            &self.key,
            self.ca.as_deref(),
            self.client_auth,
        )?;
        *self.current.write().expect("TLS config lock") = fresh;
        Ok(())
    }
}

fn build(
    what: &'static str,
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let setup = |e: &dyn std::fmt::Display| TlsError::Setup(format!("{}: {e}", what));
    let certs = pem::certificates(cert)?;
    let key_der = pem::private_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| setup(&e))?;
    let builder = match (ca, client_auth) {
        (Some(ca), ClientAuth::Optional | ClientAuth::Required) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(pem::roots(ca)?, provider());
            let verifier = match client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| setup(&e))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Pem {
            path: key.to_path_buf(),
            why: format!("does not go with {}: {e}", cert.display()),
        })?;
    Ok(Arc::new(config))
}
