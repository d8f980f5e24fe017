//! The paygate service process: parse options, connect as the paygate role, run until a signal.

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
    name = "posfee-paygate",
    version,
    about = "Payment platform sandbox: payers' identity, bank accounts, device keys, authorize/capture/void"
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
        .start(Role::Paygate, posfee_paygate::SPEC.name)
        .await?;
    let masters_file = args
        .service
        .authority_file
        .as_deref()
        .map(posfee_client::creds::master_keys_file)
        .ok_or_else(|| {
            anyhow::anyhow!("paygate needs its authority file, and its master keys beside it")
        })?;
    let masters = posfee_client::creds::read_master_keys(&masters_file)
        .and_then(posfee_paygate::vault::MasterKeys::new)?;
    let config = posfee_paygate::Config {
        masters: (masters, Some(masters_file)),
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
    };
    posfee_paygate::run(client, config, Arc::new(SystemClock), shutdown).await
}
