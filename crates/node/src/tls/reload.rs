//! Reloading certificates on SIGHUP: every registered [`Reload`] reads its files again; one
//! that fails logs why and keeps serving with what it had.

use std::sync::Arc;

use super::TlsError;

/// Something holding TLS material read from files.
pub trait Reload: Send + Sync {
    /// What it is, for logs.
    fn what(&self) -> &'static str;
    /// Read the files again and use them for new handshakes; on error nothing changes.
    fn reload(&self) -> Result<(), TlsError>;
}

/// Reload every item now; returns how many failed (each logged).
pub fn reload_all(items: &[Arc<dyn Reload>]) -> usize {
    let mut failed = 0;
    for item in items {
        match item.reload() {
            Ok(()) => tracing::info!(what = item.what(), "TLS certificates reloaded"),
            Err(e) => {
                failed += 1;
                tracing::error!(what = item.what(), error = %e, "TLS reload failed; keeping the certificates in use")
            }
        }
    }
    failed
}

/// On every SIGHUP, [`reload_all`] `items`, until the task is aborted.
pub async fn on_sighup(items: Vec<Arc<dyn Reload>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install the SIGHUP handler: certificates will not be reloaded");
            return;
        }
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading TLS certificates");
        reload_all(&items);
    }
}
