//! `companion`: the payer's phone, as a CLI. Logs go to stderr (RUST_LOG) and never carry
//! identity or key material; stdout is for the payer and for JSON lines.

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
    // Room for the trace of the kiosk whose bill this phone pays (`posfee_client::trace`).
    posfee_client::trace::scope(
        None,
        posfee_companion::cmd::main(posfee_companion::cmd::Cli::parse_env()),
    )
    .await
}
