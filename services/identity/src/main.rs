//! The identity service process: parse options, connect as the identity role (and as its
//! system-account user), run until a signal.

use clap::Parser;
use posfee_client::{bus, creds, SystemClock};
use posfee_runtime::ServiceArgs;
use posfee_schemas::subjects::Role;
use std::path::PathBuf;
use std::sync::Arc;

/// jemalloc, for the reason BENCHMARKS.md gives ("Where the server's CPU goes").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "posfee-identity",
    version,
    about = "Who is on the bus: answers nats-server's auth callout, enrols phones, issues and revokes keys"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// The account seed (SA…) the server's auth_callout trusts as issuer.
    #[arg(long, env = "POSFEE_CALLOUT_ISSUER_FILE")]
    issuer_seed_file: PathBuf,
    /// The seed of this service's user in the system account.
    #[arg(long, env = "POSFEE_SYS_NKEY_FILE")]
    sys_nkey_file: PathBuf,
    /// New phones enrolled per second before enrolling asks for harder stamps (one more bit
    /// per doubling beyond it).
    #[arg(long, env = "POSFEE_ENROL_RATE", default_value_t = posfee_identity::DEFAULT_ENROL_TARGET_PER_SEC)]
    enrol_rate: f64,
    /// Stamp bits a new key needs to connect and to enrol while enrolments are quiet. Lower it
    /// only for a bench whose made-up phones should not spend the work.
    #[arg(long, env = "POSFEE_STAMP_BITS", default_value_t = posfee_schemas::identity::CONNECT_STAMP_BITS)]
    stamp_bits: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (client, shutdown) = args
        .service
        .start(Role::Identity, posfee_identity::SPEC.name)
        .await?;
    let sys = bus::connect_system(
        &args.service.bus.nats_url,
        creds::read_seed(&args.sys_nkey_file)?,
        posfee_identity::SPEC.name,
    )
    .await?;
    let config = posfee_identity::Config {
        edge_requests: args.service.edge_requests(),
        trust: args.service.trust()?,
        store_dir: args.service.store_dir,
        issuer_seed: creds::read_seed(&args.issuer_seed_file)?,
        enrol_target_per_sec: args.enrol_rate,
        stamp_bits: args.stamp_bits,
        unenrolled_ttl_secs: posfee_identity::callout::UNENROLLED_TTL_SECS,
    };
    posfee_identity::run(client, sys, config, Arc::new(SystemClock), shutdown).await
}
