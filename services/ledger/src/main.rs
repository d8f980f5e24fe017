//! The ledger service process: parse options, connect as the ledger role, run until a signal.

use clap::Parser;
use posfee_client::SystemClock;
use posfee_runtime::ServiceArgs;
use posfee_schemas::subjects::Role;
use std::sync::Arc;

/// jemalloc, for the reason BENCHMARKS.md gives ("Where the server's CPU goes").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "posfee-ledger",
    version,
    about = "Ledger: settles bills exactly once, double-entry postings, refunds"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (client, shutdown) = args
        .service
        .start(Role::Ledger, posfee_ledger::SPEC.name)
        .await?;
    let config = posfee_ledger::Config {
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
    };
    posfee_ledger::run(client, config, Arc::new(SystemClock), shutdown).await
}
