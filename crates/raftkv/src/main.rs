//! `raftkv`: the one binary.
//!
//! - `raftkv serve`: run one node (see `raftkv serve --help`);
//! - `raftkv local`: start a local cluster of separate `serve` processes on loopback.

mod local;
mod serve;

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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Local(args) => local::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raftkv: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
