//! `companion register`: identity and bank account, once, to the payment platform only.

use crate::register::{self, Identity};
use crate::Companion;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    /// The payer's name as on the national id card, e.g. 张三; sent to the payment platform
    /// only.
    #[arg(long)]
    pub name: String,
    /// The payer's resident identity card number: 18 characters, 17 digits then the check digit
    /// or X (e.g. 11010519491231002X); sent to the payment platform only.
    #[arg(long)]
    pub national_id: String,
    /// The bank card the platform debits: 12 to 19 digits passing the Luhn check, no spaces,
    /// e.g. 6222600260001072444; sent to
    /// the payment platform only.
    #[arg(long)]
    pub bank_account: String,
}

pub async fn run(c: &Companion, args: RegisterArgs, json: bool) -> ExitCode {
    let id = Identity {
        name: args.name,
        national_id: args.national_id,
        bank_account: args.bank_account,
    };
    match register::register(c, id).await {
        Ok(p) => {
            let payer = p.payer.as_ref().map(|h| h.to_string()).unwrap_or_default();
            let balance = p.balance.map(|b| b.to_string()).unwrap_or_default();
            if json {
                super::emit(
                    &serde_json::json!({ "registered": { "payer": payer, "balance": balance, "device_key_id": p.device_key_id } }),
                );
            } else {
                println!("registered 已注册: payer {payer}, balance 余额 {balance}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(json, &e),
    }
}
