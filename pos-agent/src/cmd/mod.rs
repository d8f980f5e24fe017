//! The `pos-agent` commands, one file each: `run` (the interactive kiosk), `pay` and `query`
//! (scripted, one JSON line per step with `--json`).
//!
//! Exit statuses: 0 success, 3 an ordinary outcome shown as a result, 4 an outcome not known
//! yet, 1 a failure (including a configuration that finds no system or no key), 130 when
//! Ctrl-C ended a long-running command (after it closed what it had opened), 2 for clap's
//! usage errors.

pub mod pay;
pub mod query;
pub mod run;

use crate::config::{Config, ConfigArgs};
use crate::presence::Presence;
use crate::{Agent, Settings};
use clap::{CommandFactory, FromArgMatches};
use posfee_client::{Shutdown, SystemClock};
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use posfee_schemas::{ErrorCode, WireError};
use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command.
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, clap::Parser)]
#[command(name = "pos-agent", version, about = "posfee kiosk client")]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// JSON lines instead of text, for scripts (`pay`, `query`): one object per step, the
    /// last one the receipt or how it ended.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Where a command's log goes.
pub enum LogTo {
    /// Scripted commands: stderr, so stdout stays for their output.
    Stderr,
    /// The interactive kiosk: a file, so no log line lands on the payer's screen.
    File(std::fs::File),
    /// The kiosk could not open its file: no log rather than one on the screen.
    Nowhere,
}

/// The interactive kiosk logs to `<data-dir>/logs/pos-agent-<terminal>.log` (appended).
pub fn log_to(cli: &Cli) -> LogTo {
    if !matches!(cli.command, Command::Run) {
        return LogTo::Stderr;
    }
    let data_dir = cli
        .config
        .data_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(crate::config::DEFAULT_DATA_DIR));
    let name = match &cli.config.terminal_id {
        Some(id) => format!("pos-agent-{id}.log"),
        None => "pos-agent.log".to_string(),
    };
    let dir = data_dir.join("logs");
    let opened = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
    });
    match opened {
        Ok(file) => LogTo::File(file),
        Err(_) => LogTo::Nowhere,
    }
}

impl Cli {
    /// Parses the command line; the environment variables of earlier versions
    /// ([`crate::config::OLD_ENV_NAMES`]) are read when the new ones are not set.
    pub fn parse_env() -> Cli {
        let cmd =
            posfee_client::cli::with_old_env_names(Cli::command(), crate::config::OLD_ENV_NAMES);
        let matches = cmd.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
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
    /// The payee's tenant id, e.g. city-water (`posfee import accounts` loaded its accounts).
    #[arg(long)]
    pub tenant: TenantId,
    /// The account number at that payee, as printed on its bills, e.g. W-000001.
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
    let json = cli.json;
    let shutdown = Shutdown::new();
    let config = match cli.config.resolve() {
        Ok(c) => c,
        Err(e) => {
            let e = WireError::new(ErrorCode::InvalidField, format!("{e:#}"));
            // The language asked for, even when the rest of the configuration is not right.
            let lang = cli.config.language.unwrap_or_default();
            return pay::report_error(json, lang, &e);
        }
    };
    let interrupted = match on_signals(&shutdown, config.language) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("pos-agent: cannot watch signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Command::Run if json => {
            let e = WireError::new(
                ErrorCode::InvalidField,
                "--json: `pos-agent run` is the interactive kiosk; scripts use `pay` and `query`",
            );
            return pay::report_error(json, config.language, &e);
        }
        Command::Run => run::run(config, shutdown).await,
        Command::Pay(args) => pay::run(config, args, json, shutdown).await,
        Command::Query(args) => query::run(config, args, json).await,
    };
    if interrupted.load(Ordering::SeqCst) {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        code
    }
}

/// Triggers `shutdown` on SIGINT or SIGTERM; the flag says whether it was SIGINT (Ctrl-C).
fn on_signals(shutdown: &Shutdown, lang: crate::i18n::Lang) -> std::io::Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let (me, flag) = (shutdown.clone(), interrupted.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => {
                flag.store(true, Ordering::SeqCst);
                posfee_client::shutdown::exit_soon(lang.pick(("已中断", "Interrupted")).to_string());
            }
            _ = me.wait() => {}
        }
        me.trigger();
    });
    Ok(interrupted)
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
    let (client, reports) = (agent.client.clone(), agent.reports.clone());
    let presence = Arc::new(Presence::announce(&agent).await);
    let beating = Shutdown::new();
    let heartbeat = {
        let p = presence.clone();
        let s = beating.clone();
        tokio::spawn(async move { p.heartbeat(s).await })
    };
    // A kiosk whose key is revoked, or whose system is gone, says so within seconds instead
    // of sitting at its menu or timing out every request as "busy".
    let lost = async {
        match config.seed() {
            Some(seed) => posfee_client::bus::lost(&client, &config.identity(), &seed).await,
            None => std::future::pending().await,
        }
    };
    let (result, bus_gone) = tokio::select! {
        r = work(agent) => (r, false),
        e = lost => (Err(e), true),
    };
    beating.trigger();
    let _ = heartbeat.await;
    if bus_gone {
        // Nothing more can be said on it: no goodbye to wait for.
        return result;
    }
    let goodbye = async {
        reports
            .sent(std::time::Duration::from_millis(GOODBYE_TIMEOUT_MS))
            .await;
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
