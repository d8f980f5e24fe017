//! `pos-agent`: the kiosk client. Logs go to stderr (RUST_LOG), so stdout stays for the
//! payer's screen and for the JSON lines scripts read.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    posfee_pos_agent::cmd::main(posfee_pos_agent::cmd::Cli::parse()).await
}
