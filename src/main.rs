//! `posfee`, the operator's command line.

use clap::{Parser, Subcommand};
use posfee::cmd;

#[derive(Debug, Parser)]
#[command(
    name = "posfee",
    version,
    about = "Operate a posfee fee-collection system"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start nats-server and every service; stop them all on Ctrl-C.
    Up(cmd::up::UpArgs),
    /// Show the running services and terminals.
    Status(cmd::status::StatusArgs),
    /// Check tenants' rule files and preview quotes offline.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    posfee_runtime::telemetry::init();
    let result = match Cli::parse().command {
        Command::Up(a) => cmd::up::run(a).await,
        Command::Status(a) => cmd::status::run(a).await,
        Command::Rules(c) => cmd::rules::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The operator reads this: the chain of causes on one line, no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
