//! The dialing side of TLS: a [`ClientTls`] trusts one CA file, optionally presents a
//! certificate, and checks that the server's certificate names the host it dialed. Reloadable
//! like [`super::ServerTls`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::reload::Reload;
use super::{pem, provider, TlsError, TlsSettings, PROTOCOL_VERSIONS};

/// A reloadable TLS client configuration built from PEM files.
pub struct ClientTls {
    what: &'static str,
    ca: PathBuf,
    /// Certificate and key presented to servers that ask for one.
    identity: Option<(PathBuf, PathBuf)>,
    current: RwLock<Arc<ClientConfig>>,
}

impl ClientTls {
    /// A client trusting the CAs in `ca`, presenting `identity` (certificate, key) if given.
    pub fn new(
        what: &'static str,
        ca: &Path,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Arc<ClientTls>, TlsError> {
        let identity = identity.map(|(c, k)| (c.to_path_buf(), k.to_path_buf()));
        let config = build(ca, identity.as_ref())?;
        Ok(Arc::new(ClientTls {
            what,
            ca: ca.to_path_buf(),
            identity,
            current: RwLock::new(config),
        }))
    }

    /// How a node dials its peers: trusting the peer CA and presenting its peer certificate;
    /// None when peer TLS is off.
    pub fn peer_dialer(settings: &TlsSettings) -> Result<Option<Arc<ClientTls>>, TlsError> {
        match (&settings.peer_ca, &settings.peer_cert, &settings.peer_key) {
            (Some(ca), Some(cert), Some(key)) => {
                ClientTls::new("peer dialer", ca, Some((cert, key))).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// How a node dials other nodes' client ports (to join, to ask whether it was removed) when
    /// its own main client listener speaks TLS: trusting `--tls-ca` (else the peer CA), and
    /// presenting its client-port certificate in case the other side requires one. None when
    /// the main client listener is plain, or when no CA is given (then those calls are plain
    /// and fail against TLS ports: `Config::validate` refuses `--join` so).
    pub fn node_client(settings: &TlsSettings) -> Result<Option<Arc<ClientTls>>, TlsError> {
        if !settings.main_listener_tls() {
            return Ok(None);
        }
        let Some(ca) = settings.node_client_ca() else {
            tracing::warn!("the client port speaks TLS but neither --tls-ca nor --peer-tls-ca is set: this node cannot ask the others whether it was removed");
            return Ok(None);
        };
        let identity = settings.cert.as_deref().zip(settings.key.as_deref());
        ClientTls::new("node client", ca, identity).map(Some)
    }

    /// Run the client side of a handshake on `stream`, connected to `addr` (`host:port`):
    /// the server's certificate must be signed by the CA and name `host`.
    pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        addr: &str,
    ) -> io::Result<TlsStream<S>> {
        let name = server_name(addr)?;
        let config = self.current.read().expect("TLS config lock").clone();
        TlsConnector::from(config).connect(name, stream).await
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca", &self.ca)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Reload for ClientTls {
    fn what(&self) -> &'static str {
        self.what
    }

    fn reload(&self) -> Result<(), TlsError> {
        let fresh = build(&self.ca, self.identity.as_ref())?;
        *self.current.write().expect("TLS config lock") = fresh;
        Ok(())
    }
}

fn build(ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(pem::roots(ca)?);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(pem::certificates(cert)?, pem::private_key(key)?)
            .map_err(|e| TlsError::Pem {
                path: key.clone(),
                why: format!("does not go with {}: {e}", cert.display()),
            })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name a server at `addr` (`host:port`, `[v6]:port`) must prove: its host, as an IP
/// address or a DNS name.
pub fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a name a TLS certificate can hold: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_is_the_host_of_the_address() {
        let ip = |s: &str| match server_name(s).unwrap() {
            ServerName::IpAddress(a) => std::net::IpAddr::from(a).to_string(),
            ServerName::DnsName(d) => format!("dns:{}", d.as_ref()),
            _ => "other".into(),
        };
        assert_eq!(ip("127.0.0.1:7379"), "127.0.0.1");
        assert_eq!(ip("[::1]:7379"), "::1");
        assert_eq!(ip("db1.example:7379"), "dns:db1.example");
        assert!(server_name("bad host:1").is_err());
    }
}
