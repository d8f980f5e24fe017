//! The query service process: parse options, connect as the query role, run until a signal.

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
    name = "posfee-query",
    version,
    about = "Query service: account, bills, payments and readings from its own view of the event stream"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// Reads per second one kiosk may make (thirty seconds' worth at once).
    #[arg(long, env = "POSFEE_KIOSK_READS_PER_SEC", default_value_t = posfee_query::DEFAULT_KIOSK_READS_PER_SEC)]
    kiosk_reads_per_sec: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (client, shutdown) = args
        .service
        .start(Role::Query, posfee_query::SPEC.name)
        .await?;
    let config = posfee_query::Config {
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
        kiosk_reads: posfee_runtime::limit::per_sec(args.kiosk_reads_per_sec),
    };
    posfee_query::run(client, config, Arc::new(SystemClock), shutdown).await
}
