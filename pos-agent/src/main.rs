//! `pos-agent`: the kiosk client. Scripted commands log to stderr (RUST_LOG), so stdout stays
//! for the JSON lines scripts read; the interactive kiosk logs to a file instead, so no log
//! line ever lands on the payer's screen.

use posfee_pos_agent::cmd::LogTo;
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = posfee_pos_agent::cmd::Cli::parse_env();
    let filter =
        || tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    match posfee_pos_agent::cmd::log_to(&cli) {
        LogTo::File(file) => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
        }
        LogTo::Stderr => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                // Colour codes only for a person at a terminal, never into a file or a pipe.
                .with_ansi(std::io::stderr().is_terminal())
                .with_env_filter(filter())
                .try_init();
        }
        LogTo::Nowhere => {}
    }
    posfee_pos_agent::cmd::main(cli).await
}
