//! The `companion` commands, one file each.

pub mod pay;
pub mod receipts;
pub mod register;
pub mod show_code;

use crate::home::{self, Home};
use crate::verify::VerifiedBill;
use crate::wallet::Confirm;
use crate::{render, Companion};
use futures::future::BoxFuture;
use posfee_runtime::ending::{self, Ending};
use posfee_runtime::SystemClock;
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::Identity;
use posfee_schemas::{ErrorCode, WireError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Parser)]
#[command(name = "companion", version, about = "posfee phone companion")]
pub struct Cli {
    /// Where this phone keeps its identity, device key and receipts
    /// (default: $POSFEE_COMPANION_HOME, else $HOME/.posfee-companion).
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
    #[arg(
        long,
        global = true,
        env = "POSFEE_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// This phone's nkey seed file (`posfee keys device` issues one); the phone's device id is
    /// its fingerprint.
    #[arg(long, global = true, env = "POSFEE_COMPANION_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
    /// JSON lines instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register this phone with the payment platform, once.
    Register(register::RegisterArgs),
    /// Pay the bill a kiosk shows (its QR link or typed code).
    Pay(pay::PayArgs),
    /// Show a code for a kiosk to send its bill to, then pay it.
    ShowCode(show_code::ShowCodeArgs),
    /// The receipts kept on this phone.
    Receipts,
}

pub async fn main(cli: Cli) -> ExitCode {
    let json = cli.json;
    let home = match Home::open(&cli.home.clone().unwrap_or_else(home::default_dir)) {
        Ok(h) => h,
        Err(e) => return fail(json, &e),
    };
    let connected = connect(&cli).await;
    if let Command::Receipts = cli.command {
        // Receipts are on the phone: they list without the system, which is only asked about
        // payments not confirmed yet.
        return match connected {
            Ok((device, client)) => {
                let c = Companion::new(client, device, home, Arc::new(SystemClock));
                receipts::run(&c.home, Some(&c), json).await
            }
            Err(_) => receipts::run(&home, None, json).await,
        };
    }
    let (device, client) = match connected {
        Ok(c) => c,
        Err(e) => return fail(json, &e),
    };
    let c = Companion::new(client.clone(), device, home, Arc::new(SystemClock));
    let code = match cli.command {
        Command::Register(args) => register::run(&c, args, json).await,
        Command::Pay(args) => pay::run(&c, args, json).await,
        Command::ShowCode(args) => show_code::run(&c, args, json).await,
        Command::Receipts => receipts::run(&c.home, Some(&c), json).await,
    };
    let _ = client.flush().await;
    code
}

/// Connects as this phone: its seed proves who it is, and its fingerprint is its device id.
async fn connect(cli: &Cli) -> crate::Result<(DeviceId, async_nats::Client)> {
    let Some(path) = &cli.nkey_file else {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            "this phone has no credentials: pass --nkey-file (issued by `posfee keys device`)",
        ));
    };
    let seed = posfee_runtime::creds::read_seed(path)
        .map_err(|e| crate::unavailable("reading credentials", format!("{e:#}")))?;
    let device = posfee_runtime::creds::device_id(&seed)
        .map_err(|e| WireError::new(ErrorCode::Forbidden, format!("{e:#}")))?;
    let client = posfee_runtime::bus::connect(
        &cli.nats_url,
        Identity::Device(device.clone()),
        Some(seed),
        &format!("companion-{device}"),
    )
    .await
    .map_err(|e| crate::unavailable("connecting to the bus", format!("{e:#}")))?;
    Ok((device, client))
}

/// Prints how a request ended short of success (a JSON line on stdout, or text) and exits
/// with the matching status: an ordinary outcome is a result, an unknown outcome is said as
/// such, and only a failure is an error.
pub fn fail(json: bool, e: &WireError) -> ExitCode {
    if json {
        emit(&ending::json(e));
    } else {
        match ending::ending(e) {
            Ending::Outcome => println!("{} 未完成: {}", e.code.name(), e.message),
            Ending::Unknown => println!("Not confirmed yet 尚未确认: {}", e.message),
            Ending::Failure => eprintln!("companion: {e}"),
        }
    }
    ending::exit_code(e)
}

/// Prints the receipt of a payment, or how it ended without one.
pub fn paid(json: bool, result: crate::Result<posfee_schemas::ledger::Receipt>) -> ExitCode {
    match result {
        Ok(r) => {
            if json {
                emit(&render::json_receipt(&r));
            } else {
                print!("{}", render::receipt(&r));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(json, &e),
    }
}

/// One JSON line, flushed at once so a driving script sees it.
pub fn emit(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// Asks on the terminal. The line is read on a blocking thread, so the question can be
/// dropped when the kiosk ends the pairing while the payer reads.
pub struct Prompt;

impl Confirm for Prompt {
    fn confirm<'a>(&'a mut self, bill: &'a VerifiedBill) -> BoxFuture<'a, bool> {
        print!(
            "{}Pay 确认付款 {}? [y/N] ",
            render::bill(bill),
            bill.bill.total
        );
        let _ = std::io::stdout().flush();
        Box::pin(async {
            let read = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            });
            match read.await {
                Ok(Ok(line)) => matches!(
                    line.trim().to_ascii_lowercase().as_str(),
                    "y" | "yes" | "是"
                ),
                _ => false,
            }
        })
    }
}
