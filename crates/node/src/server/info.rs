//! `INFO`: always about the node that answers, never forwarded.
//!
//! Sections: `server`, `clients`, `persistence`, `stats`, `replication`, `keyspace`, and
//! `raft`. The `raft` section has one `field:value` per line so scripts can read it: `raft_node_id`, `raft_role`
//! (`leader|follower|candidate|learner`), `raft_term`, `raft_leader_id`, `raft_leader_addr`
//! (the leader's client address), `raft_commit_index`, `raft_applied_index`, `raft_voters` and
//! `raft_learners` (comma-separated ids), `raft_purged_index` (the log is purged up to here),
//! plus log and snapshot sizes, the Raft log's payload cache (`raft_log_cache_entries`,
//! `raft_log_cache_bytes`, and since start `raft_log_cache_hits` and `raft_log_cache_misses`:
//! entry reads it served, and those that went to disk), the newest entries kept decoded
//! (`raft_log_recent_entries`, and since start `raft_log_recent_hits`: entry reads they
//! served), the Raft-log fsync latency
//! since start (`raft_log_fsync_p50_us`, `raft_log_fsync_p99_us` in microseconds, from append to
//! durable; `raft_log_fsync_count` flushes measured), `raft_removed` (1 once this node learned
//! it was removed from the cluster) and `raft_quorum_ack_age_ms` (on a leader: how long ago a
//! quorum last acknowledged it; past `election_timeout_max` it accepts no writes, see
//! docs/reads.md; empty on other nodes).
//!
//! The `persistence` section (the data dir's disk, see `crate::disk`): `loading:0`,
//! `rdb_last_bgsave_status` (`ok`, or `err` while the latest snapshot build failed; the name
//! Redis tools look for), `disk_free_bytes` (free bytes on the data dir's file system at the
//! last sample, every second; empty before the first), `disk_min_free_bytes`
//! (`--min-free-space`), `disk_ok` (0 while free space is below it), `raft_log_bytes`,
//! `raft_log_growth_bytes_per_sec` (between the last two samples; negative after a purge),
//! `snapshot_failures` (builds not written since start), `snapshot_last_error` (empty unless
//! the latest build failed) and `storage_error` (empty unless the Raft log could not be
//! written; the node exits right after).
//!
//! The `reads` section: `read_policy` (`lease|readindex`), `read_lease_ms`,
//! `read_lease_margin_ms`, `read_lease_valid` (1 while this node, as leader, would answer a read
//! from its lease), `raft_pre_vote`, and commands answered per read path since start:
//! `reads_lease`, `reads_readindex` (leader, after a quorum round), `reads_follower_readindex`
//! (this node as follower, after the leader's read index) and `reads_local` (`READONLY`, no
//! check).
//!
//! The `pubsub` section, about this node's subscribers: `pubsub_channels` and
//! `pubsub_patterns` (with at least one subscriber, as Redis counts them),
//! `pubsub_published` (PUBLISH entries applied here since start), `pubsub_messages_delivered`
//! (messages queued for local subscribers), `pubsub_clients_cut_off` (subscribers disconnected
//! for passing the output limit) and `pubsub_output_limit_bytes` (that limit).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::raft::status::Role;
use bytes::Bytes;

use super::session::ClientState;
use super::ServerContext;

/// The Redis version raftkv reports; clients use it to pick features.
pub const REDIS_VERSION: &str = "7.0.0";

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "keyspace",
    "raft",
    "reads",
    "pubsub",
];

/// Render the requested sections (`default`/`all`/`everything` or names) as INFO text.
pub fn render(args: &[Bytes], _state: &ClientState, ctx: &ServerContext) -> String {
    let wanted: Vec<String> = if args.is_empty() {
        DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        let mut w = Vec::new();
        for a in args {
            let s = String::from_utf8_lossy(a).to_ascii_lowercase();
            if matches!(s.as_str(), "default" | "all" | "everything") {
                w.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
            } else {
                w.push(s);
            }
        }
        w
    };
    let mut out = String::new();
    for section in DEFAULT_SECTIONS {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server(&mut out, ctx),
            "clients" => clients(&mut out, ctx),
            "memory" => memory(&mut out, ctx),
            "persistence" => persistence(&mut out, ctx),
            "stats" => stats(&mut out, ctx),
            "replication" => replication(&mut out, ctx),
            "keyspace" => keyspace(&mut out, ctx),
            "raft" => raft(&mut out, ctx),
            "reads" => reads(&mut out, ctx),
            "pubsub" => pubsub(&mut out, ctx),
            _ => {}
        }
    }
    out
}

fn server(out: &mut String, ctx: &ServerContext) {
    let uptime = ctx.started.elapsed().as_secs();
    let port = ctx.config.listen.rsplit(':').next().unwrap_or("0");
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nraftkv_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{port}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nworker_threads:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::process::id(),
        ctx.run_id,
        uptime / 86400,
        tokio::runtime::Handle::current().metrics().num_workers()
    );
}

fn clients(out: &mut String, ctx: &ServerContext) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\nclient_idle_timeout:{}\r\nidle_clients_closed:{}\r\nclient_output_timeout:{}\r\noutput_stalled_clients_closed:{}\r\n",
        ctx.connected_clients.load(Ordering::Relaxed),
        ctx.config.max_clients,
        ctx.consensus.view().blocking().blocked_clients(),
        ctx.config.client_idle_timeout_secs,
        ctx.idle_clients_closed.load(Ordering::Relaxed),
        ctx.config.client_output_timeout_secs,
        ctx.output_stalled_clients_closed.load(Ordering::Relaxed)
    );
}

/// Redis's memory fields that clients read (`maxmemory_policy`: BullMQ checks it), from the
/// `maxmemory` gauge: `used_memory` is this process's resident size, as `maxmemory` judges it.
fn memory(out: &mut String, ctx: &ServerContext) {
    let gauge = ctx.cluster.memory();
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_rss:{used}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\noom_writes_refused:{}\r\n",
        gauge.limit(),
        crate::counters::OOM_WRITES_REFUSED.get(),
        used = gauge.used(),
    );
}

fn persistence(out: &mut String, ctx: &ServerContext) {
    let d = ctx.disk.sample();
    let snap = ctx.consensus.view().snapshot_status();
    // A field value must stay on its line.
    let one_line = |s: String| s.replace(['\r', '\n'], " ");
    let _ = write!(
        out,
        "# Persistence\r\nloading:0\r\nrdb_last_bgsave_status:{}\r\ndisk_free_bytes:{}\r\ndisk_min_free_bytes:{}\r\ndisk_ok:{}\r\nraft_log_bytes:{}\r\nraft_log_growth_bytes_per_sec:{}\r\nsnapshot_failures:{}\r\nsnapshot_last_error:{}\r\nstorage_error:{}\r\n",
        if snap.last_error.is_some() { "err" } else { "ok" },
        d.free_bytes.map(|f| f.to_string()).unwrap_or_default(),
        d.min_free_bytes,
        u8::from(d.ok),
        ctx.consensus.log_disk_bytes(),
        d.log_growth_bytes_per_sec,
        snap.failures,
        one_line(snap.last_error.unwrap_or_default()),
        one_line(
            ctx.consensus
                .storage_fault()
                .map(|f| f.to_string())
                .unwrap_or_default()
        ),
    );
}

fn stats(out: &mut String, ctx: &ServerContext) {
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n",
        ctx.total_connections.load(Ordering::Relaxed),
        ctx.total_commands.load(Ordering::Relaxed)
    );
}

fn replication(out: &mut String, ctx: &ServerContext) {
    let m = ctx.consensus.status();
    let leader = m.is_leader();
    let _ = write!(
        out,
        "# Replication\r\nrole:{}\r\n",
        if leader { "master" } else { "slave" }
    );
    if leader {
        let followers: Vec<u64> = m
            .membership
            .nodes
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| *id != m.id)
            .collect();
        let _ = write!(out, "connected_slaves:{}\r\n", followers.len());
    } else if let Some((_, addr)) = m.leader_addr() {
        let (host, port) = addr
            .client_addr
            .rsplit_once(':')
            .unwrap_or((&addr.client_addr, "0"));
        let _ = write!(
            out,
            "master_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:up\r\n"
        );
    } else {
        let _ = write!(out, "master_link_status:down\r\n");
    }
}

fn keyspace(out: &mut String, ctx: &ServerContext) {
    let s = ctx.consensus.view().stats(ctx.consensus.local_now_ms());
    out.push_str("# Keyspace\r\n");
    if s.keys > 0 {
        let _ = write!(
            out,
            "db0:keys={},expires={},avg_ttl={}\r\n",
            s.keys, s.expires, s.avg_ttl_ms
        );
    }
}

fn raft(out: &mut String, ctx: &ServerContext) {
    let m = ctx.consensus.status();
    let voters: Vec<u64> = m.membership.voters.clone();
    let learners: Vec<u64> = m.membership.learners();
    let role = match m.role {
        Role::Leader => "leader",
        Role::Candidate => "candidate",
        _ if learners.contains(&m.id) => "learner",
        _ => "follower",
    };
    let join = |ids: &[u64]| {
        ids.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let cache = ctx.consensus.log_cache_stat();
    let leader_addr = m
        .leader_addr()
        .map(|(_, a)| a.client_addr)
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Raft\r\nraft_node_id:{}\r\nraft_role:{role}\r\nraft_term:{}\r\nraft_leader_id:{}\r\nraft_leader_addr:{leader_addr}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_last_log_index:{}\r\nraft_snapshot_index:{}\r\nraft_purged_index:{}\r\nraft_voters:{}\r\nraft_learners:{}\r\nraft_log_disk_bytes:{}\r\nraft_snapshot_disk_bytes:{}\r\nraft_log_cache_entries:{}\r\nraft_log_cache_bytes:{}\r\nraft_log_cache_hits:{}\r\nraft_log_cache_misses:{}\r\nraft_log_recent_entries:{}\r\nraft_log_recent_hits:{}\r\n",
        m.id,
        m.term,
        m.leader.map(|l| l.to_string()).unwrap_or_default(),
        m.committed_index,
        m.applied_index,
        m.last_log_index,
        m.snapshot_index,
        m.purged_index,
        join(&voters),
        join(&learners),
        ctx.consensus.log_disk_bytes(),
        ctx.consensus.view().snapshot_disk_bytes(),
        cache.entries,
        cache.bytes,
        cache.hits,
        cache.misses,
        cache.recent_entries,
        cache.recent_hits,
    );
    let (p50, p99, count) = crate::metrics::fsync_percentiles_us();
    let _ = write!(
        out,
        "raft_log_fsync_p50_us:{p50}\r\nraft_log_fsync_p99_us:{p99}\r\nraft_log_fsync_count:{count}\r\nraft_removed:{}\r\nraft_quorum_ack_age_ms:{}\r\n",
        u8::from(ctx.removed.load(Ordering::Relaxed)),
        m.quorum_ack_age
            .map(|age| age.as_millis().to_string())
            .unwrap_or_default(),
    );
    for stage in crate::metrics::Stage::ALL {
        let (p50, p99, count) = crate::metrics::stage_percentiles_us(stage);
        let name = stage.name();
        let _ = write!(
            out,
            "write_stage_{name}_p50_us:{p50}\r\nwrite_stage_{name}_p99_us:{p99}\r\nwrite_stage_{name}_count:{count}\r\n"
        );
    }
    let (requests, commands) = crate::metrics::entry_size_percentiles();
    let _ = write!(
        out,
        "write_entry_requests_p50:{}\r\nwrite_entry_requests_p99:{}\r\nwrite_entry_commands_p50:{}\r\nwrite_entry_commands_p99:{}\r\nwrite_entries_gathered:{}\r\n",
        requests.0, requests.1, commands.0, commands.1, requests.2
    );
    for (name, counter) in crate::counters::all() {
        let _ = write!(out, "{name}:{}\r\n", counter.get());
    }
}

fn reads(out: &mut String, ctx: &ServerContext) {
    let r = ctx.consensus.read_stats();
    let _ = write!(
        out,
        "# Reads\r\nread_policy:{}\r\nread_lease_ms:{}\r\nread_lease_margin_ms:{}\r\nread_lease_valid:{}\r\nraft_pre_vote:{}\r\nreads_lease:{}\r\nreads_readindex:{}\r\nreads_follower_readindex:{}\r\nreads_local:{}\r\n",
        r.policy,
        r.lease_ms,
        r.margin_ms,
        u8::from(r.lease_valid),
        u8::from(ctx.config.pre_vote),
        r.lease,
        r.read_index,
        r.follower_read_index,
        r.local,
    );
}

fn pubsub(out: &mut String, ctx: &ServerContext) {
    let s = ctx.consensus.view().hub().stats();
    let _ = write!(
        out,
        "# Pubsub\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsub_published:{}\r\npubsub_messages_delivered:{}\r\npubsub_clients_cut_off:{}\r\npubsub_output_limit_bytes:{}\r\n",
        s.channels,
        s.patterns,
        s.published,
        s.delivered,
        s.cut_off_clients,
        ctx.config.pubsub_output_limit_bytes,
    );
}
