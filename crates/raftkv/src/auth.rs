//! `--user` / `--password` (or `RAFTKV_PASSWORD`) for the admin commands that talk to a
//! cluster's client ports (`member`, `status`, `snapshot save`, `bench`): one `AUTH` right after each
//! connection, as `redis-cli --user/--pass` does. The credentials are installed once per run
//! ([`AuthArgs::install`]) and used by [`connect`].

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Args;
use node::client::RespClient;
use node::credentials::Credentials;

/// The credentials of this run, once installed.
static CREDENTIALS: OnceLock<Option<Credentials>> = OnceLock::new();

/// Authentication flags, flattened into each command that connects to a cluster.
#[derive(Args, Clone, Default)]
pub struct AuthArgs {
    /// User to authenticate as (sends AUTH user password) [default: default].
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Password to authenticate with (sends AUTH, with --user if given); prefer RAFTKV_PASSWORD,
    /// which other users of the machine cannot read from the process list.
    #[arg(long, env = "RAFTKV_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
}

impl std::fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthArgs")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl AuthArgs {
    /// The credentials these flags give, if any; `--user` without a password is an error.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        match (&self.user, &self.password) {
            (_, Some(password)) => Ok(Some(Credentials {
                user: self.user.clone(),
                password: password.clone(),
            })),
            (Some(_), None) => anyhow::bail!("--user needs --password or RAFTKV_PASSWORD"),
            (None, None) => Ok(None),
        }
    }

    /// Makes these credentials the ones [`connect`] uses for the rest of the run.
    pub fn install(&self) -> anyhow::Result<()> {
        let credentials = self.credentials()?;
        let _ = CREDENTIALS.set(credentials);
        Ok(())
    }
}

/// Connect to `addr` (over TLS with `tls`) and authenticate with the installed credentials, if
/// any.
pub async fn connect(
    addr: &str,
    timeout: Duration,
    tls: Option<&node::tls::ClientTls>,
) -> io::Result<RespClient> {
    let credentials = CREDENTIALS.get().and_then(Option::as_ref);
    RespClient::connect_as(addr, timeout, tls, credentials).await
}
