//! `companion receipts`: what this phone paid, from its own store. Payments whose outcome the
//! phone has not learnt yet are asked about first, when the system can be reached; otherwise
//! they are listed as not confirmed.

use crate::home::Home;
use crate::{pay, render, Companion};
use std::process::ExitCode;

/// Asks about unconfirmed payments, then lists. `c` is `None` when the bus is not reachable.
pub async fn run(home: &Home, c: Option<&Companion>, json: bool) -> ExitCode {
    if let Some(c) = c {
        if let Err(e) = pay::resolve_pending(c).await {
            return super::fail(json, &e);
        }
    }
    let (receipts, open) = match (home.receipts(), home.pending_all()) {
        (Ok(r), Ok(p)) => (r, p.iter().filter(|p| p.request.is_some()).count()),
        (Err(e), _) | (_, Err(e)) => return super::fail(json, &e),
    };
    if json {
        let all: Vec<serde_json::Value> = receipts.iter().map(render::json_receipt).collect();
        super::emit(&serde_json::json!({ "receipts": all, "unconfirmed": open }));
    } else {
        let sp = super::speech();
        if receipts.is_empty() {
            println!("{}", sp.say("No receipts yet", "暂无缴费凭证"));
        }
        for r in &receipts {
            println!("{}", render::receipt(super::speech(), r));
        }
        if open > 0 {
            println!(
                "{open} {}",
                sp.say(
                    "payment(s) not confirmed yet; ask again later",
                    "笔支付尚未确认，请稍后再查看"
                )
            );
        }
    }
    ExitCode::SUCCESS
}
