//! The `companion` commands, one file each.
//!
//! The phone finds the system the way `posfee` does: the URL `posfee up` recorded in
//! `<data-dir>/run/nats.url` unless `--nats-url` is given. Its bus key is its own: made in its
//! home on first use (`<home>/bus.nk`, or `--nkey-file`) and enrolled by the phone itself
//! (`posfee_client::enrol`) before its first connection as a phone. Exit statuses: 0 success, 3 an ordinary outcome, 4 an outcome not
//! known yet, 1 a failure, 130 when Ctrl-C ended `show-code`, 2 for clap's usage errors.

pub mod pay;
pub mod receipts;
pub mod register;
pub mod show_code;

use crate::confirm::Confirm;
use crate::home::{self, Home};
use crate::render::{self, Speech};
use crate::verify::VerifiedBill;
use crate::Companion;
use clap::{CommandFactory, FromArgMatches};
use futures::future::BoxFuture;
use posfee_client::ending::{self, Ending};
use posfee_client::words::{self, Lang};
use posfee_client::SystemClock;
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::Identity;
use posfee_schemas::{ErrorCode, WireError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

/// The exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Where `posfee up` and `posfee keys` keep things, unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data";

#[derive(Debug, clap::Parser)]
#[command(name = "companion", version, about = "posfee phone companion")]
pub struct Cli {
    /// Where this phone keeps its identity, device key and receipts
    /// [default: $POSFEE_COMPANION_HOME, else $HOME/.posfee-companion].
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
    /// The data dir of the running system (as given to `posfee up`): its URL and this phone's
    /// key are found there when not given [default: ./data].
    #[arg(long, global = true, env = "POSFEE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The NATS server's URL, e.g. nats://127.0.0.1:4222 [default: the URL `posfee up` wrote
    /// to <data-dir>/run/nats.url].
    #[arg(long, global = true, env = "POSFEE_NATS_URL")]
    pub nats_url: Option<String>,
    /// This phone's nkey seed file, instead of the key the phone made in its home
    /// (<home>/bus.nk); the phone's device id is the key's fingerprint.
    #[arg(long, global = true, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
    /// The system's root key (`O…`, or a file holding it), through which bills and receipts
    /// are believed; pinned in the phone's home the first time [default: the one pinned, else
    /// <data-dir>/creds/root.pub of the running system].
    #[arg(long, global = true, env = "POSFEE_ROOT_KEY")]
    pub root_key: Option<String>,
    /// JSON lines instead of text, for scripts: one object per step, the last one the result
    /// or how it ended.
    #[arg(long, global = true)]
    pub json: bool,
    /// Speak only Chinese (zh) or only English (en); without it the phone shows both side by
    /// side.
    #[arg(long, global = true, env = "POSFEE_LANGUAGE", value_enum)]
    pub language: Option<Lang>,
    #[command(subcommand)]
    pub command: Command,
}

/// The environment variables of earlier versions, still read when the new one is not set:
/// (argument id, old name).
pub const OLD_ENV_NAMES: &[(&str, &str)] = &[("nkey_file", "POSFEE_COMPANION_NKEY_FILE")];

impl Cli {
    /// Parses the command line; the environment variables of earlier versions
    /// ([`OLD_ENV_NAMES`]) are read when the new ones are not set.
    pub fn parse_env() -> Cli {
        let cmd = posfee_client::cli::with_old_env_names(Cli::command(), OLD_ENV_NAMES);
        let matches = cmd.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// `<data-dir>/run/nats.url`, where `posfee up` records its URL (the same path as
/// `posfee::layout::DataDir::url_file`; a test holds them together).
pub fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("nats.url")
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
    /// Lock this phone's identity (name, identity card, bank card, device key) under a
    /// passphrase: asked on the terminal, or given in POSFEE_COMPANION_PASSPHRASE, each time
    /// the phone needs it.
    Lock,
    /// Keep this phone's identity in plain again.
    Unlock,
}

/// The language this run speaks, set once from `--language`.
static SPEECH: OnceLock<Speech> = OnceLock::new();

/// How this run speaks ([`Speech::Both`] until `main` sets it).
pub fn speech() -> Speech {
    SPEECH.get().copied().unwrap_or_default()
}

pub async fn main(cli: Cli) -> ExitCode {
    let json = cli.json;
    let _ = SPEECH.set(cli.language.map_or(Speech::Both, Speech::Only));
    let home = match Home::open(&cli.home.clone().unwrap_or_else(home::default_dir)) {
        Ok(h) => h,
        Err(e) => return fail(json, &e),
    };
    if let Ok(p) = std::env::var(home::PASSPHRASE_ENV) {
        home.set_passphrase(p);
    }
    if json {
        // A script has no one to ask.
        home.never_ask();
    }
    if let Command::Lock | Command::Unlock = cli.command {
        // On the phone alone: the system is not asked.
        let locking = matches!(cli.command, Command::Lock);
        let done = match locking {
            true => home.lock().await,
            false => home.unlock().await,
        };
        return match done {
            Ok(()) => {
                let sp = speech();
                match json {
                    true => emit(&serde_json::json!({ "locked": locking })),
                    false if locking => println!(
                        "{}",
                        sp.say(
                            "This phone's identity is locked under your passphrase.",
                            "本机身份信息已用密码锁定。"
                        )
                    ),
                    false => println!(
                        "{}",
                        sp.say(
                            "This phone's identity is kept unlocked.",
                            "本机身份信息已解除锁定。"
                        )
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(json, &e),
        };
    }
    let connected = match root(&cli, &home) {
        Ok(root) => connect(&cli, &home).await.map(|c| (c, root)),
        Err(e) => Err(e),
    };
    if let Command::Receipts = cli.command {
        // Receipts are on the phone: they list without the system, which is only asked about
        // payments not confirmed yet.
        return match connected {
            Ok(((device, client, _), root)) => {
                let c = Companion::new(client, device, (home, root), Arc::new(SystemClock));
                receipts::run(&c.home, Some(&c), json).await
            }
            Err(_) => receipts::run(&home, None, json).await,
        };
    }
    let ((device, client, seed), root) = match connected {
        Ok(c) => c,
        Err(e) => return fail(json, &e),
    };
    let me = Identity::Device(device.clone());
    let c = Companion::new(client.clone(), device, (home, root), Arc::new(SystemClock));
    let command = async {
        match cli.command {
            Command::Register(args) => register::run(&c, args, json).await,
            Command::Pay(args) => pay::run(&c, args, json).await,
            Command::ShowCode(args) => show_code::run(&c, args, json).await,
            Command::Receipts => receipts::run(&c.home, Some(&c), json).await,
            Command::Lock | Command::Unlock => ExitCode::SUCCESS,
        }
    };
    // A phone whose key is revoked, or whose system is gone, says so within seconds instead
    // of waiting out every request (a payment under way is kept in the home and finished on
    // the next run).
    let code = tokio::select! {
        code = command => code,
        e = posfee_client::bus::lost(&client, &me, &seed) => fail(json, &e),
    };
    let _ = client.flush().await;
    code
}

/// Connects as this phone: its own key proves who it is, and its fingerprint is its device
/// id. A key not enrolled from this phone yet is enrolled first, the way every phone does.
async fn connect(cli: &Cli, home: &Home) -> crate::Result<(DeviceId, async_nats::Client, String)> {
    let seed = match &cli.nkey_file {
        Some(path) => posfee_client::creds::read_seed(path)
            .map_err(|e| crate::unavailable("reading credentials", format!("{e:#}")))?,
        None => home.bus_seed()?,
    };
    let device = posfee_client::creds::device_id(&seed)
        .map_err(|e| WireError::new(ErrorCode::Forbidden, format!("{e:#}")))?;
    let url = system_url(cli)?;
    if !home.enrolled(&device)? {
        posfee_client::enrol::enrol(&url, &seed, &format!("companion-{device}"))
            .await
            .map_err(|e| crate::unavailable("enrolling this phone", format!("{e:#}")))?;
        home.mark_enrolled(&device).await?;
    }
    let client = posfee_client::bus::connect(
        &url,
        Identity::Device(device.clone()),
        Some(seed.clone()),
        &format!("companion-{device}"),
    )
    .await
    .map_err(|e| crate::unavailable("connecting to the bus", format!("{e:#}")))?;
    Ok((device, client, seed))
}

/// The root this phone believes: the one pinned in its home, or the one it is given now
/// (`--root-key`, else the running system's `<data-dir>/creds/root.pub`), then pinned.
fn root(cli: &Cli, home: &Home) -> crate::Result<posfee_schemas::trust::TrustRoot> {
    let given = cli
        .root_key
        .clone()
        .or_else(|| {
            let kept = cli.data_dir().join("creds").join("root.pub");
            kept.exists().then(|| kept.to_string_lossy().to_string())
        })
        .map(|r| posfee_client::creds::read_root(&r))
        .transpose()
        .map_err(|e| WireError::new(ErrorCode::InvalidField, format!("root key: {e:#}")))?;
    home.root(given)
}

/// The system's URL: `--nats-url`, else what `posfee up` recorded in the data dir.
fn system_url(cli: &Cli) -> crate::Result<String> {
    if let Some(u) = &cli.nats_url {
        return Ok(u.clone());
    }
    let data_dir = cli.data_dir();
    let file = url_file(&data_dir);
    match std::fs::read_to_string(&file) {
        Ok(u) if !u.trim().is_empty() => Ok(u.trim().to_string()),
        _ => Err(WireError::new(
            ErrorCode::Unavailable,
            format!(
                "{}{} does not exist; start it with \
                 `posfee up --data-dir {}`, pass --data-dir of the running system, \
                 or give --nats-url",
                words::NO_SYSTEM,
                file.display(),
                data_dir.display()
            ),
        )),
    }
}

/// Prints how a request ended short of success (a JSON line on stdout, or text) and exits
/// with the matching status: an ordinary outcome is a result, an unknown outcome is said as
/// such, and only a failure is an error.
pub fn fail(json: bool, e: &WireError) -> ExitCode {
    if json {
        emit(&ending::json(e));
        return ending::exit_code(e);
    }
    let sp = speech();
    let said = match sp {
        Speech::Only(lang) => words::said(lang, e),
        Speech::Both => format!("{} {}", words::said(Lang::Zh, e), words::said(Lang::En, e)),
    };
    match ending::ending(e) {
        Ending::Outcome => println!("{}: {said}", sp.say("Not done", "未完成")),
        Ending::Unknown => println!("{}: {said}", sp.say("Not confirmed yet", "尚未确认")),
        Ending::Failure => eprintln!("{}: {said}", sp.say("Error", "出错了")),
    }
    ending::exit_code(e)
}

/// Prints the receipt of a payment, or how it ended without one.
/// Prints the receipts of a payment: one line (or text) per bill, and for a basket one more
/// with its total.
pub fn paid(json: bool, result: crate::Result<Vec<posfee_schemas::ledger::Receipt>>) -> ExitCode {
    match result {
        Ok(receipts) => {
            for r in &receipts {
                if json {
                    emit(&render::json_receipt(r));
                } else {
                    print!("{}", render::receipt(speech(), r));
                }
            }
            if receipts.len() > 1 {
                if json {
                    emit(&render::json_basket(&receipts));
                } else {
                    print!("{}", render::basket(speech(), &receipts));
                }
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
        let sp = speech();
        print!(
            "{}{} {}? [y/N] ",
            render::bill(sp, bill),
            sp.say("Pay", "确认付款"),
            sp.money(bill.total())
        );
        let _ = std::io::stdout().flush();
        // A thread of its own, not tokio's blocking pool: the runtime waits for that pool at
        // exit, so a question the kiosk ended would keep the phone open until Enter.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = std::thread::Builder::new()
            .name("prompt".into())
            .spawn(move || {
                let mut line = String::new();
                let _ = tx.send(std::io::stdin().read_line(&mut line).map(|_| line));
            });
        Box::pin(async {
            match rx.await {
                Ok(Ok(line)) => matches!(
                    line.trim().to_ascii_lowercase().as_str(),
                    "y" | "yes" | "是"
                ),
                _ => false,
            }
        })
    }
}
