//! The TLS settings of `raftkv serve` (the `[tls]` table of the config file, the `--tls-*` and
//! `--peer-tls-*` flags) and their validation. Plain data: loading the files is
//! [`super::ServerTls`]'s and [`super::ClientTls`]'s job.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Whether the client port asks clients for a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Ask for none (the default, as Redis with `tls-auth-clients no`).
    #[default]
    None,
    /// Verify a certificate if the client sends one; accept clients without.
    Optional,
    /// Refuse a client that presents no certificate signed by `--tls-ca`.
    Required,
}

impl ClientAuth {
    /// The name used in flags and the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Required => "required",
        }
    }
}

impl std::str::FromStr for ClientAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "optional" => Ok(ClientAuth::Optional),
            "required" => Ok(ClientAuth::Required),
            _ => Err(format!(
                "unknown client auth {s:?}: expected none, optional or required"
            )),
        }
    }
}

impl std::fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS on the client port and on the peer port; everything off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain the client port serves; set: the client port speaks TLS.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// PEM CA certificates that sign client certificates (needed by `client_auth` optional or
    /// required); the node also trusts them when it dials another node's client port (joining).
    pub ca: Option<PathBuf>,
    /// Whether clients must present a certificate.
    pub client_auth: ClientAuth,
    /// A second client listen address (`host:port`) that serves TLS while `listen` stays
    /// plain, for migrating clients; needs `cert`.
    pub listen: Option<String>,
    /// PEM certificate chain this node presents on the peer port, both as listener and as
    /// dialer; it must name the node's peer host (an IP or DNS SAN). Set: peer TLS is on.
    pub peer_cert: Option<PathBuf>,
    /// PEM private key of `peer_cert`.
    pub peer_key: Option<PathBuf>,
    /// PEM CA certificates that must sign every peer's certificate.
    pub peer_ca: Option<PathBuf>,
}

impl TlsSettings {
    /// True if the client port (or the extra `listen`) serves TLS.
    pub fn client_tls(&self) -> bool {
        self.cert.is_some()
    }

    /// True if peer connections use mutual TLS.
    pub fn peer_tls(&self) -> bool {
        self.peer_cert.is_some()
    }

    /// True if the main client listener (`--listen`) serves TLS: a certificate is set and no
    /// separate TLS listener keeps it plain.
    pub fn main_listener_tls(&self) -> bool {
        self.client_tls() && self.listen.is_none()
    }

    /// The CA this node trusts when it dials other nodes' client ports: `ca`, else `peer_ca`.
    pub fn node_client_ca(&self) -> Option<&PathBuf> {
        self.ca.as_ref().or(self.peer_ca.as_ref())
    }

    /// Check that the settings go together and name readable files; the files' contents are
    /// checked when they are loaded, also before the node starts.
    pub fn validate(&self) -> Result<(), String> {
        let pair =
            |cert: &Option<PathBuf>, key: &Option<PathBuf>, c: &str, k: &str| match (cert, key) {
                (Some(_), None) => Err(format!(
                    "--{c} is set but --{k} is not: a certificate needs its private key"
                )),
                (None, Some(_)) => Err(format!("--{k} is set but --{c} is not")),
                _ => Ok(()),
            };
        pair(&self.cert, &self.key, "tls-cert", "tls-key")?;
        pair(
            &self.peer_cert,
            &self.peer_key,
            "peer-tls-cert",
            "peer-tls-key",
        )?;
        if self.client_auth != ClientAuth::None && self.ca.is_none() {
            return Err(format!(
                "--tls-client-auth={} needs --tls-ca (the CA that signs client certificates)",
                self.client_auth
            ));
        }
        if self.client_auth != ClientAuth::None && self.cert.is_none() {
            return Err(format!(
                "--tls-client-auth={} needs --tls-cert and --tls-key (client TLS is off)",
                self.client_auth
            ));
        }
        if let Some(addr) = &self.listen {
            if self.cert.is_none() {
                return Err("--tls-listen needs --tls-cert and --tls-key".into());
            }
            if !addr.contains(':') {
                return Err(format!("--tls-listen must be host:port, got {addr:?}"));
            }
        }
        if self.peer_cert.is_some() && self.peer_ca.is_none() {
            return Err(
                "--peer-tls-cert needs --peer-tls-ca (the CA that signs every node's peer certificate)"
                    .into(),
            );
        }
        if self.peer_ca.is_some() && self.peer_cert.is_none() {
            return Err("--peer-tls-ca is set but --peer-tls-cert is not".into());
        }
        let files = [
            ("tls-cert", &self.cert),
            ("tls-key", &self.key),
            ("tls-ca", &self.ca),
            ("peer-tls-cert", &self.peer_cert),
            ("peer-tls-key", &self.peer_key),
            ("peer-tls-ca", &self.peer_ca),
        ];
        for (flag, path) in files {
            if let Some(path) = path {
                std::fs::metadata(path).map_err(|e| format!("--{flag} {}: {e}", path.display()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_parses_its_three_names() {
        assert_eq!("Required".parse(), Ok(ClientAuth::Required));
        assert_eq!("none".parse(), Ok(ClientAuth::None));
        assert!("maybe"
            .parse::<ClientAuth>()
            .unwrap_err()
            .contains("expected"));
    }

    #[test]
    fn validation_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.pem");
        std::fs::write(&f, "x").unwrap();
        let some = || Some(f.clone());
        assert_eq!(TlsSettings::default().validate(), Ok(()));
        let cases: [(TlsSettings, &str); 6] = [
            (
                TlsSettings {
                    cert: some(),
                    ..Default::default()
                },
                "--tls-key is not",
            ),
            (
                TlsSettings {
                    peer_key: some(),
                    ..Default::default()
                },
                "--peer-tls-cert is not",
            ),
            (
                TlsSettings {
                    listen: Some("127.0.0.1:0".into()),
                    ..Default::default()
                },
                "--tls-listen needs --tls-cert",
            ),
            (
                TlsSettings {
                    cert: some(),
                    key: some(),
                    client_auth: ClientAuth::Required,
                    ..Default::default()
                },
                "needs --tls-ca",
            ),
            (
                TlsSettings {
                    peer_cert: some(),
                    peer_key: some(),
                    ..Default::default()
                },
                "needs --peer-tls-ca",
            ),
            (
                TlsSettings {
                    cert: some(),
                    key: Some(dir.path().join("missing.pem")),
                    ..Default::default()
                },
                "missing.pem",
            ),
        ];
        for (settings, expected) in cases {
            let err = settings.validate().unwrap_err();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}
