//! The paygate service: the payment platform sandbox; its endpoints (register, pay) arrive with the pay flow.

use posfee_runtime::serve::{self, Endpoints, ServiceSpec};
use posfee_runtime::{store, Clock, Shutdown};
use posfee_schemas::subjects::ServiceName;
use std::path::PathBuf;
use std::sync::Arc;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: ServiceName::Paygate.as_str(),
    version: env!("CARGO_PKG_VERSION"),
    description: env!("CARGO_PKG_DESCRIPTION"),
};

#[derive(Debug, Clone)]
pub struct Config {
    /// This service's own sled store.
    pub store_dir: PathBuf,
}

/// Runs the service until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    config: Config,
    _clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let _db = store::open(&config.store_dir)?;
    serve::run(&client, &SPEC, Endpoints::new(), shutdown).await
}
