//! The `pos-agent` commands, one file each: `run` (the interactive kiosk), `pay` and `query`
//! (scripted, one JSON line per step with `--json`).

pub mod pay;
pub mod query;
pub mod run;

use crate::config::{Config, ConfigArgs};
use crate::presence::Presence;
use crate::{Agent, Settings};
use posfee_runtime::{Shutdown, SystemClock};
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use posfee_schemas::WireError;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Parser)]
#[command(name = "pos-agent", version, about = "posfee kiosk client")]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The interactive kiosk (查询 / 缴费 / 取消 / 退出).
    Run,
    /// Issue a bill and have it paid from a phone; prints the receipt.
    Pay(pay::PayArgs),
    /// Show what an account owes.
    Query(query::QueryArgs),
}

/// Which account, at which payee, for which fee kinds.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountArgs {
    #[arg(long)]
    pub tenant: TenantId,
    #[arg(long)]
    pub account: AccountNo,
    /// Fee kinds to include, comma-separated (default: all the payee bills).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<FeeKind>,
}

impl AccountArgs {
    pub fn quote(&self) -> posfee_schemas::fee::QuoteRequest {
        posfee_schemas::fee::QuoteRequest {
            tenant: self.tenant.clone(),
            account: self.account.clone(),
            kinds: self.kinds.clone(),
            as_of: None,
            prepay_months: None,
            top_up: None,
        }
    }
}

pub async fn main(cli: Cli) -> ExitCode {
    let shutdown = Shutdown::new();
    if let Err(e) = shutdown.on_signals(false) {
        eprintln!("pos-agent: cannot watch signals: {e}");
        return ExitCode::FAILURE;
    }
    let config = match cli.config.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pos-agent: {e:#}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Run => run::run(config, shutdown).await,
        Command::Pay(args) => pay::run(config, args, shutdown).await,
        Command::Query(args) => query::run(config, args).await,
    }
}

/// Connects as the terminal without announcing it: a one-shot look-up next to a running
/// kiosk of the same id must not mark that kiosk offline.
pub async fn connect(config: &Config) -> Result<Agent, WireError> {
    let client = config
        .connect()
        .await
        .map_err(|e| crate::unavailable("connecting to the bus", format!("{e:#}")))?;
    let settings: Settings = config.settings();
    Ok(Agent::new(client, settings, Arc::new(SystemClock)))
}

/// How long saying goodbye (offline record, event, flush) may take: with the bus gone it
/// would otherwise wait for a reconnect that never comes, and the kiosk could not exit.
pub const GOODBYE_TIMEOUT_MS: u64 = 3_000;

/// Connects as the terminal, announces it, keeps the heartbeat while `work` runs, and
/// records it offline afterwards, whatever `work` returned.
pub async fn session<T, F, Fut>(config: &Config, work: F) -> Result<T, WireError>
where
    F: FnOnce(Agent) -> Fut,
    Fut: Future<Output = Result<T, WireError>>,
{
    let agent = connect(config).await?;
    let client = agent.client.clone();
    let presence = Arc::new(Presence::announce(&agent).await?);
    let beating = Shutdown::new();
    let heartbeat = {
        let p = presence.clone();
        let s = beating.clone();
        tokio::spawn(async move { p.heartbeat(s).await })
    };
    let result = work(agent).await;
    beating.trigger();
    let _ = heartbeat.await;
    let goodbye = async {
        if let Err(e) = presence.offline().await {
            tracing::warn!(error = %e, "offline not recorded");
        }
        let _ = client.flush().await;
    };
    let limit = std::time::Duration::from_millis(GOODBYE_TIMEOUT_MS);
    if tokio::time::timeout(limit, goodbye).await.is_err() {
        tracing::warn!("the bus did not answer; leaving without recording offline");
    }
    result
}
