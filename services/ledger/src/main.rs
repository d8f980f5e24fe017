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
    /// The tenants' rule files (a folder of `*.toml`), read for each tenant's time zone: a
    /// daily statement covers the tenant's day. Without it every tenant's day is China's.
    #[arg(long, env = "POSFEE_RULES")]
    rules: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (client, shutdown) = args
        .service
        .start(Role::Ledger, posfee_ledger::SPEC.name)
        .await?;
    let time_zones = match &args.rules {
        Some(dir) => posfee_tariff::RuleSet::load_dir(dir)
            .map_err(|errors| {
                anyhow::anyhow!(
                    "the rule files in {}: {}",
                    dir.display(),
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?
            .tenants
            .into_iter()
            .map(|(id, t)| (id, t.time_zone))
            .collect(),
        None => Default::default(),
    };
    let config = posfee_ledger::Config {
        time_zones,
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
    };
    posfee_ledger::run(client, config, Arc::new(SystemClock), shutdown).await
}
