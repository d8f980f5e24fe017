//! Connecting to the bus as one role.

use anyhow::Context;
use posfee_schemas::subjects::{Identity, Role};
use std::path::PathBuf;
use std::time::Duration;

/// How long a request waits for its answer unless the caller says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// How long connecting may take before we give up and report.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Where the bus is and who we are on it.
#[derive(Debug, Clone, clap::Args)]
pub struct BusArgs {
    /// NATS server URL.
    #[arg(long, env = "POSFEE_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// File holding this process's nkey seed.
    #[arg(long, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
}

/// Connects as `who` (a role, one terminal or one phone): its seed signs the server's nonce,
/// and replies come back under its own inbox prefix, the only inbox the server lets it
/// subscribe.
pub async fn connect(
    url: &str,
    who: impl Into<Identity>,
    seed: Option<String>,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    let who = who.into();
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(who.inbox_prefix())
        .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .request_timeout(Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS)));
    if let Some(seed) = seed {
        opts = opts.nkey(seed);
    }
    opts.connect(url)
        .await
        .with_context(|| format!("connecting to {url} as {who}"))
}

impl BusArgs {
    pub async fn connect(&self, role: Role, name: &str) -> anyhow::Result<async_nats::Client> {
        let seed = match &self.nkey_file {
            Some(p) => Some(crate::creds::read_seed(p)?),
            None => None,
        };
        connect(&self.nats_url, role, seed, name).await
    }
}
