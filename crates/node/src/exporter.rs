//! The Prometheus exporter's node side: the gauges set from the node's state at scrape time,
//! the leader-change counter, and the disk gauges. It sits beside [`crate::http`] (which serves
//! `/metrics`) and reads the node through [`Consensus`]; the recorders themselves are the leaf
//! [`crate::metrics`].

use metrics_exporter_prometheus::PrometheusHandle;

use crate::clock::wall_clock_ms;
use crate::metrics::resident_memory_bytes;
use crate::raft::Consensus;

/// Set the disk gauges from a free-space sample.
pub fn record_disk(s: &crate::disk::DiskSample) {
    if let Some(free) = s.free_bytes {
        metrics::gauge!("raftkv_disk_free_bytes").set(free as f64);
    }
    metrics::gauge!("raftkv_disk_min_free_bytes").set(s.min_free_bytes as f64);
    metrics::gauge!("raftkv_disk_ok").set(f64::from(u8::from(s.ok)));
    metrics::gauge!("raftkv_raft_log_growth_bytes_per_second")
        .set(s.log_growth_bytes_per_sec as f64);
}

/// Count leader changes as this node sees them, until the task is aborted.
pub async fn watch_leader(consensus: std::sync::Arc<Consensus>) {
    consensus
        .for_each_leader_change(|_| {
            metrics::counter!("raftkv_leader_changes_total").increment(1);
        })
        .await;
}

/// Set the state gauges from the node's current state (called at scrape time).
pub fn refresh_gauges(consensus: &Consensus) {
    let m = consensus.status();
    let stats = consensus.view().stats(wall_clock_ms());
    let applied = m.applied_index;
    let committed = m.committed_index;
    metrics::gauge!("raftkv_keys").set(stats.keys as f64);
    metrics::gauge!("raftkv_apply_lag_entries").set(committed.saturating_sub(applied) as f64);
    metrics::gauge!("raftkv_term").set(m.term as f64);
    metrics::gauge!("raftkv_commit_index").set(committed as f64);
    metrics::gauge!("raftkv_applied_index").set(applied as f64);
    metrics::gauge!("raftkv_is_leader").set(f64::from(u8::from(m.is_leader())));
    metrics::gauge!("raftkv_raft_log_disk_bytes").set(consensus.log_disk_bytes() as f64);
    metrics::gauge!("raftkv_snapshot_disk_bytes")
        .set(consensus.view().snapshot_disk_bytes() as f64);
    if let Some(rss) = resident_memory_bytes() {
        metrics::gauge!("raftkv_resident_memory_bytes").set(rss as f64);
    }
    let pubsub = consensus.view().hub().stats();
    metrics::gauge!("raftkv_pubsub_channels").set(pubsub.channels as f64);
    metrics::gauge!("raftkv_pubsub_patterns").set(pubsub.patterns as f64);
    metrics::counter!("raftkv_pubsub_published_total").absolute(pubsub.published);
    metrics::counter!("raftkv_pubsub_messages_delivered_total").absolute(pubsub.delivered);
    metrics::counter!("raftkv_pubsub_clients_cut_off_total").absolute(pubsub.cut_off_clients);
}

/// Render the Prometheus text exposition (after refreshing the gauges).
pub fn render(handle: &PrometheusHandle, consensus: &Consensus) -> String {
    refresh_gauges(consensus);
    handle.run_upkeep();
    handle.render()
}
