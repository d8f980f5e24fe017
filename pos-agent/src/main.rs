//! `pos-agent`: the kiosk client. Logs go to stderr (RUST_LOG), so stdout stays for the
//! payer's screen and for the JSON lines scripts read.

use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    posfee_pos_agent::cmd::main(posfee_pos_agent::cmd::Cli::parse_env()).await
}
