//! The fee-engine service process: parse options, connect as the fee-engine role, run until a signal.

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
    name = "posfee-fee-engine",
    version,
    about = "Fee-rule engine: tenants' tariffs, quotes, signed bills"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// Folder of tenants' rule files (one TOML file per tenant).
    #[arg(long, env = "POSFEE_RULES_DIR")]
    rules: std::path::PathBuf,
    /// Bills per second one kiosk may issue (thirty seconds' worth at once).
    #[arg(long, env = "POSFEE_KIOSK_BILLS_PER_SEC", default_value_t = posfee_fee_engine::DEFAULT_KIOSK_BILLS_PER_SEC)]
    kiosk_bills_per_sec: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (client, shutdown) = args
        .service
        .start(Role::FeeEngine, posfee_fee_engine::SPEC.name)
        .await?;
    let config = posfee_fee_engine::Config {
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
        rules_dir: args.rules,
        kiosk_bills: posfee_runtime::limit::per_sec(args.kiosk_bills_per_sec),
    };
    posfee_fee_engine::run(client, config, Arc::new(SystemClock), shutdown).await
}
