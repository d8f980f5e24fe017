//! `companion pay CODE`: mode A. Join the kiosk's pairing, verify and show the bill, confirm
//! (or `--yes`), pay, keep the receipt.

use crate::confirm::{Always, Confirm};
use crate::pay::Decision;
use crate::{join, pay, render, Companion};
use posfee_schemas::pairing::{PairCode, PairMode};
use posfee_schemas::WireError;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct PayArgs {
    /// The kiosk's QR link (posfee://pair/…) or typed code (kiosk-01:XXXX-…).
    pub code: String,
    /// Pay without asking (always so with --json: a script has no one to ask).
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(c: &Companion, args: PayArgs, json: bool) -> ExitCode {
    let code = match PairCode::parse_mode(&args.code, PairMode::TerminalPresents) {
        Ok(code) => code,
        Err(e) => return super::fail(json, &WireError::field("code", e)),
    };
    let verified = match join::join(c, &code).await {
        Ok(v) => v,
        Err(e) => return super::fail(json, &e),
    };
    let mut confirm: Box<dyn Confirm> = if args.yes || json {
        Box::new(Always(true))
    } else {
        Box::new(super::Prompt)
    };
    if json {
        super::emit(&render::json_bill(&verified));
    } else if args.yes {
        print!("{}", render::bill(super::speech(), &verified));
    }
    match pay::decide(&verified, confirm.as_mut()).await {
        Decision::Confirmed => {}
        Decision::Declined => return super::fail(json, &pay::decline(c, &verified).await),
        Decision::Ended(n) => return super::fail(json, &pay::ended(&n)),
    }
    super::paid(json, pay::pay(c, &verified).await)
}
