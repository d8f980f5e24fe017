//! The `posfee` command line: its commands, the options every command shares, and how Ctrl-C
//! ends a long-running one. In the library so the tests can check every option it offers.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use posfee_operator as cmd;
use std::process::ExitCode;

/// The exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The environment variable every `--data-dir` reads, in `posfee`, `pos-agent` and `companion`.
pub const DATA_DIR_ENV: &str = "POSFEE_DATA_DIR";
/// What every `--data-dir` says about itself, unless its command says more.
pub const DATA_DIR_HELP: &str =
    "The system's data dir (stores, credentials, logs, run/nats.url), as given to `posfee up`";

#[derive(Debug, Parser)]
#[command(
    name = "posfee",
    version,
    about = "Operate a posfee fee-collection system"
)]
pub struct Cli {
    /// JSON instead of text: one object for one thing (status, reconcile, a bench's results),
    /// one object per line for many (events, keys list).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Give back part or all of a payment (a tenant's billing clerk, with its clerk key).
    Refund(cmd::refund::RefundArgs),
    /// Erase a payer at their request: who they are becomes unreadable everywhere; the books
    /// keep amounts and handles.
    ErasePayer(cmd::erase::ErasePayerArgs),
    /// A tenant's statements (its billing clerk, with its clerk key).
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Check tenants' rule files and preview quotes offline.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Complete pay flows under load, against the bus's own limit.
    Flows(posfee_bench::flows::BenchFlowsArgs),
    /// Queries per second and latency percentiles, with many accounts loaded.
    Query(posfee_bench::query::BenchQueryArgs),
    /// A city's phones: enrolment rate, connect and revocation latency, memory, with a
    /// million phones enrolled.
    Identities(posfee_bench::identities::BenchIdentitiesArgs),
    /// What a new key's stamp (its proof of work) costs one core.
    Stamps(posfee_bench::stamps::BenchStampsArgs),
}

#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// Accounts across the example tenants and a year of readings, as CSV.
    Samples(cmd::gen::GenArgs),
    /// Credentials and the server's accounts for a deployment on real hosts.
    ServerConfig(posfee_operator::hosts::ServerConfigArgs),
    /// Creates the events stream and buckets on a cluster, with copies on several nodes.
    Streams(posfee_operator::hosts::StreamsArgs),
}

impl Cli {
    /// The command tree with the shared options made alike everywhere: every `--data-dir`
    /// reads `POSFEE_DATA_DIR` and has a help line.
    pub fn shared_command() -> clap::Command {
        shared(Cli::command())
    }

    /// Parses the process's arguments with [`Cli::shared_command`].
    pub fn parse_shared() -> Cli {
        let matches = Cli::shared_command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

fn shared(mut cmd: clap::Command) -> clap::Command {
    let has_data_dir = cmd.get_arguments().any(|a| a.get_id() == "data_dir");
    if has_data_dir {
        cmd = cmd.mut_arg("data_dir", |a| {
            let a = a.env(DATA_DIR_ENV);
            if a.get_help().is_none() {
                a.help(DATA_DIR_HELP)
            } else {
                a
            }
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, shared);
    }
    cmd
}

/// Runs the command; what `main` returns.
pub async fn run(cli: Cli) -> ExitCode {
    let json = cli.json;
    // Ctrl-C in a long-running command: it stops the way it stops on SIGTERM, then 130.
    let interrupt = match &cli.command {
        Command::Up(_) | Command::Events(_) => match Interrupt::watch() {
            Ok(i) => Some(i),
            Err(e) => return failed(&anyhow::anyhow!("cannot watch signals: {e}")),
        },
        _ => None,
    };
    let result = async {
        match cli.command {
            Command::Up(a) => {
                no_json(json, "up")?;
                cmd::up::run(a).await
            }
            Command::Status(a) => cmd::status::run(a, json).await,
            Command::Rules(mut c) => {
                match &mut c {
                    cmd::rules::RulesCommand::Quote { json: j, .. } => *j |= json,
                    _ => no_json(json, "rules check")?,
                }
                cmd::rules::run(c)
            }
            Command::Reconcile(a) => cmd::reconcile::run(a, json).await,
            Command::Refund(a) => cmd::refund::run(a, json).await,
            Command::ErasePayer(a) => cmd::erase::run(a, json).await,
            Command::Report(c) => cmd::report::run(c, json).await,
            Command::Events(a) => match &interrupt {
                // Dropping the stream's consumer is all stopping takes.
                Some(i) => tokio::select! {
                    r = cmd::events::run(a, json) => r,
                    _ = i.wait() => Ok(()),
                },
                None => cmd::events::run(a, json).await,
            },
            Command::Import(a) => cmd::import::run(a, json).await,
            Command::Keys(mut a) => {
                match &mut a.command {
                    cmd::keys::KeysCommand::List { json: j, .. } => *j |= json,
                    _ => no_json(json, "keys (other than keys list)")?,
                }
                cmd::keys::run(a).await
            }
            Command::Gen(GenCommand::Samples(a)) => {
                no_json(json, "gen")?;
                cmd::gen::run(a)
            }
            Command::Gen(GenCommand::ServerConfig(a)) => {
                no_json(json, "gen")?;
                posfee_operator::hosts::server_config(a)
            }
            Command::Gen(GenCommand::Streams(a)) => {
                no_json(json, "gen")?;
                posfee_operator::hosts::streams(a).await
            }
            Command::Bench(BenchCommand::Query(a)) => posfee_bench::query::run(a, json).await,
            Command::Bench(BenchCommand::Flows(a)) => posfee_bench::flows::run(a, json).await,
            Command::Bench(BenchCommand::Stamps(a)) => posfee_bench::stamps::run(a, json),
            Command::Bench(BenchCommand::Identities(a)) => {
                posfee_bench::identities::run(a, json).await
            }
        }
    }
    .await;
    match result {
        Ok(()) if interrupt.as_ref().is_some_and(Interrupt::happened) => {
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}

fn failed(e: &anyhow::Error) -> ExitCode {
    // The operator reads this: the chain of causes on one line, no backtrace.
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

/// Commands that print nothing a script needs refuse `--json` rather than ignore it.
fn no_json(json: bool, command: &str) -> anyhow::Result<()> {
    if json {
        anyhow::bail!("--json: `posfee {command}` has no JSON output");
    }
    Ok(())
}

/// Whether Ctrl-C (SIGINT) arrived. Watching replaces the default of dying at once, so only
/// commands that stop cleanly on it watch.
#[derive(Debug, Clone)]
pub struct Interrupt(posfee_client::Shutdown);

impl Interrupt {
    pub fn watch() -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let flag = posfee_client::Shutdown::new();
        let me = flag.clone();
        tokio::spawn(async move {
            if int.recv().await.is_some() {
                me.trigger();
            }
        });
        Ok(Interrupt(flag))
    }
    pub fn happened(&self) -> bool {
        self.0.is_triggered()
    }
    pub async fn wait(&self) {
        self.0.wait().await
    }
}
