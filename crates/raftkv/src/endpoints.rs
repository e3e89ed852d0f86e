//! Where the admin commands (`member`, `status`, `snapshot save`) find a cluster.
//!
//! In order, the first that gives any address wins:
//!
//! 1. the command's `--endpoint` / `--endpoints` flag;
//! 2. the `RAFTKV_ENDPOINTS` environment variable (comma-separated `host:port`);
//! 3. the file `.raftkv-local/endpoints` in the current directory, which `raftkv local` writes
//!    (one client address per line) and removes when it stops, so the admin commands reach the
//!    local cluster with no flags when run from where `local` was started;
//! 4. `127.0.0.1:6379`, Redis's port and the default of `raftkv serve --listen`.
//!
//! `status` asks every address; `member` and `snapshot save` use the first that accepts a
//! connection, so they still work while one local node is down.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use node::client::RespClient;

/// The environment variable with comma-separated client addresses.
pub const ENV: &str = "RAFTKV_ENDPOINTS";
/// The file `raftkv local` writes its nodes' client addresses to, relative to the current
/// directory when `local` runs with its default `--dir`.
pub const LOCAL_FILE: &str = ".raftkv-local/endpoints";
/// The name of that file inside `local`'s `--dir`.
pub const LOCAL_FILE_NAME: &str = "endpoints";
/// The address used when nothing else names one.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:6379";
/// How long to wait for one address to accept a connection when picking one.
const PICK_TIMEOUT: Duration = Duration::from_secs(2);

/// Split a comma- or newline-separated list, dropping blanks.
pub fn split(list: &str) -> Vec<String> {
    list.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The addresses to use, given the flag's value (empty when not given).
pub fn resolve(flag: &[String]) -> Vec<String> {
    resolve_from(
        flag,
        std::env::var(ENV).ok().as_deref(),
        std::fs::read_to_string(Path::new(LOCAL_FILE))
            .ok()
            .as_deref(),
    )
}

/// [`resolve`] with its sources passed in (for tests).
pub fn resolve_from(flag: &[String], env: Option<&str>, local_file: Option<&str>) -> Vec<String> {
    let from_flag: Vec<String> = flag.iter().flat_map(|f| split(f)).collect();
    if !from_flag.is_empty() {
        return from_flag;
    }
    for source in [env, local_file].into_iter().flatten() {
        let list = split(source);
        if !list.is_empty() {
            return list;
        }
    }
    vec![DEFAULT_ENDPOINT.to_string()]
}

/// The first of `endpoints` that accepts a connection.
pub async fn pick(endpoints: &[String]) -> anyhow::Result<String> {
    let mut errors = Vec::new();
    for e in endpoints {
        match RespClient::connect(e, PICK_TIMEOUT).await {
            Ok(_) => return Ok(e.clone()),
            Err(why) => errors.push(format!("{e}: {why}")),
        }
    }
    bail!("no endpoint answers ({})", errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_env_then_local_file_then_default() {
        let flag = vec!["a:1,b:2".to_string()];
        assert_eq!(
            resolve_from(&flag, Some("e:1"), Some("f:1")),
            ["a:1", "b:2"]
        );
        assert_eq!(
            resolve_from(&[], Some("e:1, e:2"), Some("f:1")),
            ["e:1", "e:2"]
        );
        assert_eq!(
            resolve_from(&[], Some(" "), Some("f:1\nf:2\n")),
            ["f:1", "f:2"]
        );
        assert_eq!(resolve_from(&[], None, None), [DEFAULT_ENDPOINT]);
    }
}
