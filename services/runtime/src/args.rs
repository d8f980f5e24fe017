//! Command-line options every service binary shares.

use posfee_client::bus::BusArgs;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// This service's own store folder (`<data-dir>/<service>`).
    #[arg(long, env = "POSFEE_SERVICE_DIR")]
    pub store_dir: PathBuf,
    /// Shut down when standard input closes: the launcher's way to take its children along
    /// when it dies.
    #[arg(long)]
    pub exit_on_stdin_eof: bool,
}

impl ServiceArgs {
    /// What every service binary does first: listen for the signals (and the launcher's
    /// stdin) that end it, then connect as its role.
    pub async fn start(
        &self,
        role: posfee_schemas::subjects::Role,
        name: &str,
    ) -> anyhow::Result<(async_nats::Client, posfee_client::Shutdown)> {
        let shutdown = posfee_client::Shutdown::new();
        shutdown.on_signals(self.exit_on_stdin_eof)?;
        let client = self.bus.connect(role, name).await?;
        Ok((client, shutdown))
    }
}
