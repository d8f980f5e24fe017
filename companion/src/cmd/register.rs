//! `companion register`: identity and bank account, once, to the payment platform only.

use crate::register::{self, Identity};
use crate::Companion;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub national_id: String,
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
