//! `companion show-code`: mode B. Show a code, wait for a kiosk's bill, verify, confirm (or
//! `--yes`), answer the kiosk, pay, keep the receipt.

use crate::confirm::{Always, Confirm};
use crate::wallet;
use crate::{pay, render, Companion};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct ShowCodeArgs {
    /// Pay without asking (always so with --json: a script has no one to ask).
    #[arg(long)]
    pub yes: bool,
    /// Seconds the code stays open for a kiosk, 1 to 600 (`--ttl-secs` is the old name).
    #[arg(
        long,
        alias = "ttl-secs",
        env = "POSFEE_PAIRING_TTL_SECS",
        default_value_t = wallet::WALLET_TTL_SECS,
        value_parser = clap::value_parser!(u64).range(1..=600)
    )]
    pub pairing_ttl_secs: u64,
}

pub async fn run(c: &Companion, args: ShowCodeArgs, json: bool) -> ExitCode {
    if let Err(e) = crate::register::registered(c) {
        return super::fail(json, &e);
    }
    // Listening before the code is shown: Ctrl-C at any moment after it closes the code.
    let mut sigint = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => return super::fail(json, &crate::internal("watching Ctrl-C", e)),
    };
    let shown = match wallet::show(c, Duration::from_secs(args.pairing_ttl_secs)).await {
        Ok(s) => s,
        Err(e) => return super::fail(json, &e),
    };
    if json {
        super::emit(
            &serde_json::json!({ "wallet": { "uri": shown.code.uri(), "code": shown.code.typed(), "expires_at": shown.expires_at } }),
        );
    } else {
        print!("{}", render::code(super::speech(), &shown.code));
        let sp = super::speech();
        println!(
            "{} ({} {})",
            sp.say("Show this to the kiosk", "请向终端出示"),
            sp.say("expires", "有效期至"),
            render::local_time(shown.expires_at)
        );
    }
    let cancel = CancellationToken::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    let ctrl_c = {
        let (cancel, interrupted) = (cancel.clone(), interrupted.clone());
        tokio::spawn(async move {
            if sigint.recv().await.is_some() {
                interrupted.store(true, Ordering::SeqCst);
                posfee_client::shutdown::exit_soon(super::speech().say("Interrupted", "已中断"));
                cancel.cancel();
            }
        })
    };
    let mut confirm: Box<dyn Confirm> = if args.yes || json {
        Box::new(Always(true))
    } else {
        Box::new(super::Prompt)
    };
    let offered = shown.wait_offer(c, confirm.as_mut(), &cancel).await;
    ctrl_c.abort();
    let (verified, _answer) = match offered {
        Ok(v) => v,
        Err(e) => {
            let code = super::fail(json, &e);
            // Ctrl-C: the code is closed and said so; the shell learns it was interrupted.
            return if interrupted.load(Ordering::SeqCst) {
                ExitCode::from(super::EXIT_INTERRUPTED)
            } else {
                code
            };
        }
    };
    if json {
        super::emit(&render::json_bill(&verified));
    }
    super::paid(json, pay::pay(c, &verified).await)
}
