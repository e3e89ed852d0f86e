//! `raftkv bench`: a closed-loop load generator for raftkv or any RESP server.
//!
//! `--clients` connections each keep `--pipeline` requests in flight (a SET, or a GET with
//! probability `--read-ratio`, on keys drawn uniformly or zipfian from `--keyspace`), for a
//! `--warmup` that is not measured and then `--duration` or `--requests`. The summary gives
//! throughput (answered requests per second) and latency percentiles from an HDR histogram,
//! as text or `--output json`. Clients are spread over `--endpoints` and move to the next one
//! when theirs fails or redirects, so a run survives a leader change; requests lost that way
//! are counted as errors, separately from the answered ones.
//!
//! Parts: [`options`] (flags and validation), [`keys`] (seeded key generators),
//! [`workload`] (the requests), [`client`] (the closed loop), [`tally`] and [`summary`]
//! (counting and figures), [`output`] (progress line and printing).

mod client;
mod keys;
mod options;
mod output;
mod summary;
mod tally;
mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use node::client::RespClient;
use node::tls::ClientTls;

pub use options::BenchArgs;

use client::{Client, Shared, REQUEST_TIMEOUT};
use keys::KeyGen;
use options::Plan;
use output::Progress;
use summary::Summary;
use tally::Tally;
use workload::Workload;

/// Run `raftkv bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.auth.install()?;
    let plan = args.plan().map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Runtime::new().context("start the runtime")?;
    let tls = args.tls.client()?;
    let summary = runtime.block_on(drive(Arc::new(plan.clone()), tls))?;
    output::print_summary(&plan, &summary);
    Ok(())
}

/// Check an endpoint answers, start the clients and the progress line, wait for the end.
async fn drive(plan: Arc<Plan>, tls: Option<Arc<ClientTls>>) -> anyhow::Result<Summary> {
    check_reachable(&plan, tls.as_deref()).await?;
    let keys = KeyGen::new(plan.keys, plan.keyspace);
    let shared = Arc::new(Shared {
        tls,
        ..Shared::new(&plan, Instant::now())
    });
    let progress = Progress::new(&plan, shared.clone()).map(|p| tokio::spawn(p.run()));
    let clients: Vec<_> = (0..plan.clients)
        .map(|i| {
            let seed = plan
                .seed
                .wrapping_mul(0x2545_F491_4F6C_DD1D)
                .wrapping_add(i as u64);
            let workload = Workload::new(keys.clone(), seed, plan.read_ratio, plan.value_size);
            tokio::spawn(Client::new(i, plan.clone(), shared.clone(), workload).run())
        })
        .collect();
    let mut total = Tally::new();
    for client in clients {
        total.merge(&client.await.context("a client task failed")?);
    }
    let elapsed = Instant::now().saturating_duration_since(shared.measure_from);
    if let Some(task) = progress {
        task.abort();
        Progress::clear();
    }
    Ok(Summary::new(&total, elapsed.max(Duration::from_micros(1))))
}

/// Fail fast, with the reasons, when no endpoint accepts a connection and answers PING.
async fn check_reachable(plan: &Plan, tls: Option<&ClientTls>) -> anyhow::Result<()> {
    let mut reasons = Vec::new();
    for addr in &plan.endpoints {
        match RespClient::connect_tls(addr, REQUEST_TIMEOUT, tls).await {
            Ok(mut conn) => match conn.call(&["PING"]).await {
                Ok(_) => return Ok(()),
                Err(e) => reasons.push(format!("{addr}: {e}")),
            },
            Err(e) => reasons.push(format!("{addr}: {e}")),
        }
    }
    bail!("no endpoint answered: {}", reasons.join("; "))
}
