//! Credentials for the node's own client connections ([`RespClient`]): the admin commands
//! (`raftkv member`, `status`, `snapshot`, with `--user`/`--password`), and the node's own
//! calls to other members' client ports (the join request, removal detection), which
//! authenticate as `default` with the node's `--requirepass` when it has one.
//!
//! Authenticating is one `AUTH [user] password` right after connecting; a refusal is an error
//! naming the server's reply (never the password).

use std::io;

use crate::client::RespClient;

/// A user name (None: `default`) and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user; None sends `AUTH password` (the default user).
    pub user: Option<String>,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    /// The credentials the node itself uses on other members' client ports: `default` with
    /// its `--requirepass`, if set.
    pub fn of_node(config: &crate::config::Config) -> Option<Credentials> {
        config.requirepass.as_ref().map(|p| Credentials {
            user: None,
            password: p.0.clone(),
        })
    }
}

impl RespClient {
    /// Connect to `addr` (over TLS with `tls`, see [`RespClient::connect_tls`]) and, with
    /// `credentials`, authenticate.
    pub async fn connect_as(
        addr: &str,
        timeout: std::time::Duration,
        tls: Option<&crate::tls::ClientTls>,
        credentials: Option<&Credentials>,
    ) -> io::Result<RespClient> {
        let mut client = RespClient::connect_tls(addr, timeout, tls).await?;
        if let Some(c) = credentials {
            client.authenticate(c).await?;
        }
        Ok(client)
    }

    /// Send `AUTH [user] password`; an error reply becomes an `io::Error` of kind
    /// `PermissionDenied` holding the reply's text.
    pub async fn authenticate(&mut self, credentials: &Credentials) -> io::Result<()> {
        let reply = match &credentials.user {
            Some(user) => self.call(&["AUTH", user, &credentials.password]).await?,
            None => self.call(&["AUTH", &credentials.password]).await?,
        };
        match reply {
            resp::Reply::Error(e) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("authentication failed: {e}"),
            )),
            _ => Ok(()),
        }
    }
}
