//! `companion show-code`: mode B. Show a code, wait for a kiosk's bill, verify, confirm (or
//! `--yes`), answer the kiosk, pay, keep the receipt.

use crate::wallet::{self, Always, Confirm};
use crate::{pay, render, Companion};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct ShowCodeArgs {
    /// Pay without asking.
    #[arg(long)]
    pub yes: bool,
    /// How long the code stays open.
    #[arg(long, default_value_t = wallet::WALLET_TTL_SECS)]
    pub ttl_secs: u64,
}

pub async fn run(c: &Companion, args: ShowCodeArgs, json: bool) -> ExitCode {
    if let Err(e) = crate::register::registered(c) {
        return super::fail(json, &e);
    }
    let shown = match wallet::show(c, Duration::from_secs(args.ttl_secs.clamp(1, 600))).await {
        Ok(s) => s,
        Err(e) => return super::fail(json, &e),
    };
    if json {
        super::emit(
            &serde_json::json!({ "wallet": { "uri": shown.code.uri(), "code": shown.code.typed(), "expires_at": shown.expires_at } }),
        );
    } else {
        print!("{}", render::code(&shown.code));
        println!(
            "Show this to the kiosk 请向终端出示 (expires 有效期至 {})",
            render::local_time(shown.expires_at)
        );
    }
    let cancel = CancellationToken::new();
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
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
        Err(e) => return super::fail(json, &e),
    };
    if json {
        super::emit(&render::json_bill(&verified));
    }
    super::paid(json, pay::pay(c, &verified).await)
}
