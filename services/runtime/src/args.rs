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
    /// The root key every signature is believed through (`O…`), or a file holding it
    /// (`<data-dir>/creds/root.pub`).
    #[arg(long, env = "POSFEE_ROOT_KEY")]
    pub root_key: Option<String>,
    /// This service's authority: its seed file (`<data-dir>/creds/authorities/<role>.nk`),
    /// with its certificate from the root beside it (`<role>.cert`). Services that sign
    /// (bills, settlement notices, receipts, the events they write) need one.
    #[arg(long, env = "POSFEE_AUTHORITY_FILE")]
    pub authority_file: Option<PathBuf>,
    /// Requests per second one kiosk, phone or clerk may make of this service, whatever it
    /// asks (thirty seconds' worth at once); past it the answer is 429 RATE_LIMITED.
    #[arg(long, env = "POSFEE_EDGE_REQUESTS_PER_SEC", default_value_t = crate::serve::DEFAULT_EDGE_REQUESTS_PER_SEC)]
    pub edge_requests_per_sec: f64,
}

impl ServiceArgs {
    /// The root to pin and this service's authority, read from the files named.
    pub fn trust(&self) -> anyhow::Result<crate::Trust> {
        let Some(root) = &self.root_key else {
            anyhow::bail!(
                "no root key: --root-key O… or a file holding it (<data-dir>/creds/root.pub)"
            );
        };
        let root = posfee_client::creds::read_root(root)?;
        let Some(file) = &self.authority_file else {
            return crate::Trust::new(root, None);
        };
        let trust = crate::Trust::new(root, Some(posfee_client::creds::read_signer(file)?))?;
        match posfee_client::creds::journal_key_file(file).exists() {
            true => Ok(trust.with_journal(posfee_client::creds::read_journal_key(file)?)),
            false => Ok(trust),
        }
    }

    /// How often one kiosk, phone or clerk may ask this service anything.
    pub fn edge_requests(&self) -> crate::limit::Rate {
        crate::limit::per_sec(self.edge_requests_per_sec)
    }

    /// What every service binary does first: start logging, listen for the signals (and the
    /// launcher's stdin) that end it, then connect as its role, waiting for a server that is
    /// not up yet.
    pub async fn start(
        &self,
        role: posfee_schemas::subjects::Role,
        name: &str,
    ) -> anyhow::Result<(async_nats::Client, posfee_client::Shutdown)> {
        crate::telemetry::init(name);
        crate::metrics::install(
            role.as_str(),
            &crate::metrics::instance_name(&self.store_dir),
        );
        let shutdown = posfee_client::Shutdown::new();
        shutdown.on_signals(self.exit_on_stdin_eof)?;
        let client = self.bus.connect_waiting(role, name, &shutdown).await?;
        tokio::spawn(crate::metrics::answer_scrapes(
            client.clone(),
            shutdown.clone(),
        ));
        Ok((client, shutdown))
    }
}
