//! The identity service process: parse options, connect as the identity role (and as its
//! system-account user), run until a signal.

use clap::Parser;
use posfee_client::{bus, creds, SystemClock};
use posfee_identity::limit::Rate;
use posfee_runtime::{telemetry, ServiceArgs};
use posfee_schemas::subjects::Role;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// New phones enrolled per second, all together.
    #[arg(long, env = "POSFEE_ENROL_RATE", default_value_t = posfee_identity::DEFAULT_ENROL_RATE.per_sec)]
    enrol_rate: f64,
    /// Connections of not-yet-enrolled keys per second from one client address.
    #[arg(long, env = "POSFEE_NEW_KEY_RATE", default_value_t = posfee_identity::DEFAULT_NEW_KEY_RATE.per_sec)]
    new_key_rate: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
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
        store_dir: args.service.store_dir,
        issuer_seed: creds::read_seed(&args.issuer_seed_file)?,
        enrol_rate: burst_of(args.enrol_rate),
        new_key_rate: burst_of(args.new_key_rate),
    };
    posfee_identity::run(client, sys, config, Arc::new(SystemClock), shutdown).await
}

/// Ten seconds' worth may come at once.
fn burst_of(per_sec: f64) -> Rate {
    Rate {
        per_sec,
        burst: per_sec * 10.0,
    }
}
