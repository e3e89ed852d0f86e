//! `raftkv`: the one binary.
//!
//! - `raftkv serve`: run one node (see `raftkv serve --help`);
//! - `raftkv local`: start a local cluster of separate `serve` processes on loopback;
//! - `raftkv member`: list and change the membership;
//! - `raftkv status`: one line per node (role, term, indexes, keys, disk, fsync latency); exits
//!   non-zero when a node does not answer;
//! - `raftkv snapshot`: save a consistent backup of a live cluster, inspect a backup file,
//!   restore a backup into a new data dir (a new one-node cluster);
//! - `raftkv bench`: a closed-loop load generator for raftkv or any RESP server.
//!
//! The admin commands find a cluster as `endpoints` describes (flag, `RAFTKV_ENDPOINTS`, the
//! file `raftkv local` writes, or 127.0.0.1:6379).

mod auth;
mod bench;
mod endpoints;
mod local;
mod local_node;
mod local_tls;
mod local_view;
mod member;
mod serve;
mod serve_tls;
mod snapshot;
mod status;
mod tls_args;

use clap::{Parser, Subcommand};

/// raftkv: a Raft-replicated key-value store that speaks Redis.
#[derive(Parser, Debug)]
#[command(name = "raftkv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one node.
    Serve(Box<serve::ServeArgs>),
    /// Start a local cluster (3 nodes by default) as separate processes on loopback.
    Local(local::LocalArgs),
    /// List or change the cluster membership (through any member).
    Member(member::MemberArgs),
    /// Show every node's role, term, indexes, keys, disk use and fsync latency.
    Status(status::StatusArgs),
    /// Back up a live cluster to a file, inspect a backup, or restore one into a new data dir.
    Snapshot(snapshot::SnapshotArgs),
    /// Closed-loop load generator for raftkv or any RESP server (throughput, latency).
    Bench(bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| 0),
        Command::Local(args) => local::run(args).map(|()| 0),
        Command::Member(args) => member::run(args).map(|()| 0),
        Command::Status(args) => status::run(args),
        Command::Snapshot(args) => snapshot::run(args).map(|()| 0),
        Command::Bench(args) => bench::run(args).map(|()| 0),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("raftkv: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
