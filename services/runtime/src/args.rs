//! Command-line options every service binary shares.

use crate::bus::BusArgs;
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
