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
    /// Follow the event stream.
    Events(cmd::events::EventsArgs),
    /// Issue, list and revoke the kiosks' and phones' bus credentials.
    Keys(cmd::keys::KeysArgs),
    /// Import reference data (accounts, meter readings) from CSV.
    Import(cmd::import::ImportArgs),
    /// Generate sample reference data.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Measure the running system.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Compare the ledger with paygate and list every difference.
    Reconcile(cmd::reconcile::ReconcileArgs),
    /// Check tenants' rule files and preview quotes offline.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Complete pay flows under load, against the bus's own limit.
    Flows(cmd::bench_flows::BenchFlowsArgs),
    /// Queries per second and latency percentiles, with many accounts loaded.
    Query(cmd::bench_query::BenchQueryArgs),
}

#[derive(Debug, Subcommand)]
enum GenCommand {
    /// Accounts across the example tenants and a year of readings, as CSV.
    Samples(cmd::gen::GenArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    posfee_runtime::telemetry::init();
    let result = match Cli::parse().command {
        Command::Up(a) => cmd::up::run(a).await,
        Command::Status(a) => cmd::status::run(a).await,
        Command::Rules(c) => cmd::rules::run(c),
        Command::Reconcile(a) => cmd::reconcile::run(a).await,
        Command::Events(a) => cmd::events::run(a).await,
        Command::Import(a) => cmd::import::run(a).await,
        Command::Keys(a) => cmd::keys::run(a),
        Command::Gen(GenCommand::Samples(a)) => cmd::gen::run(a),
        Command::Bench(BenchCommand::Query(a)) => cmd::bench_query::run(a).await,
        Command::Bench(BenchCommand::Flows(a)) => cmd::bench_flows::run(a).await,
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
