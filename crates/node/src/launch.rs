//! How to start a `raftkv serve` process: one description of its command line and environment,
//! used by everything that launches nodes (the test harness, the corruption tests, the fault
//! suite), so a flag or variable added here reaches them all, and a restart reuses exactly the
//! description the node was first started with.
//!
//! This module builds arguments; it spawns nothing. Callers wrap them as they need (the fault
//! suite prefixes `ip netns exec <ns> env VAR=...`).

use std::ffi::OsString;
use std::path::PathBuf;

/// The line a node logs when both listeners are bound; it carries `client=ADDR peer=ADDR`.
pub const READY_MARKER: &str = "raftkv node ready";

/// What it takes to start one node.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The node id.
    pub id: u64,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Client (RESP) listen address (`127.0.0.1:0` for any free port).
    pub listen: String,
    /// Peer (Raft) listen address.
    pub peer_listen: String,
    /// Further `serve` flags (`--bootstrap`, `--join ADDR`, timings, unsafe switches).
    pub flags: Vec<String>,
    /// Environment variables for the process (e.g. libfaketime's).
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The arguments after the binary: `serve --node-id ... flags`.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["serve", "--node-id", &self.id.to_string(), "--data-dir"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(self.data_dir.clone().into_os_string());
        for a in ["--listen", &self.listen, "--peer-listen", &self.peer_listen] {
            args.push(a.into());
        }
        args.extend(self.flags.iter().map(OsString::from));
        args
    }

    /// The environment variables to set (the rest is inherited; without `RUST_LOG` the node
    /// logs with its own default filter, as a user's would).
    pub fn envs(&self) -> &[(String, String)] {
        &self.env
    }

    /// A [`std::process::Command`] running `binary` with these arguments and environment
    /// (standard streams left to the caller).
    pub fn command(&self, binary: &std::path::Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(binary);
        cmd.args(self.args())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// The `(client, peer)` addresses from a node's ready line, or None for any other line.
pub fn ready_addrs(line: &str) -> Option<(String, String)> {
    let field = |name: &str| ready_field(line, name).unwrap_or_default();
    line.contains(READY_MARKER)
        .then(|| (field("client"), field("peer")))
}

/// The metrics (HTTP) address from a node's ready line: None for any other line, and for a
/// node started without `--metrics-listen` (its ready line says `http=off`).
pub fn ready_http(line: &str) -> Option<String> {
    ready_field(line, "http").filter(|a| a != "off")
}

/// The separate TLS client address from a node's ready line: None for any other line, and for
/// a node started without `--tls-listen` (its ready line says `tls=off`).
pub fn ready_tls(line: &str) -> Option<String> {
    ready_field(line, "tls").filter(|a| a != "off")
}

/// The value of `name=` on a ready line, or None for any other line.
fn ready_field(line: &str, name: &str) -> Option<String> {
    if !line.contains(READY_MARKER) {
        return None;
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            id: 2,
            data_dir: "/d".into(),
            listen: "127.0.0.1:0".into(),
            peer_listen: "127.0.0.1:1".into(),
            flags: vec!["--join".into(), "127.0.0.1:7".into()],
            env: vec![("TZ".into(), "UTC".into())],
        }
    }

    #[test]
    fn arguments_name_the_node_its_directory_and_listeners_then_the_flags() {
        let args: Vec<String> = launch()
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "serve",
                "--node-id",
                "2",
                "--data-dir",
                "/d",
                "--listen",
                "127.0.0.1:0",
                "--peer-listen",
                "127.0.0.1:1",
                "--join",
                "127.0.0.1:7"
            ]
        );
    }

    #[test]
    fn ready_line_gives_both_addresses() {
        let line = "INFO raftkv node ready node_id=1 client=127.0.0.1:5 peer=127.0.0.1:6";
        assert_eq!(
            ready_addrs(line),
            Some(("127.0.0.1:5".into(), "127.0.0.1:6".into()))
        );
        assert_eq!(ready_addrs("INFO something else client=x"), None);
        assert_eq!(ready_http(line), None, "no http field");
        let with_http = format!("{line} http=127.0.0.1:9");
        assert_eq!(ready_http(&with_http), Some("127.0.0.1:9".into()));
        assert_eq!(ready_http(&format!("{line} http=off")), None);
        assert_eq!(ready_http("INFO something else http=x"), None);
    }
}
