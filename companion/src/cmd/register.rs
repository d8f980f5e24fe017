//! `companion register`: identity and bank account, once, to the payment platform only.

use crate::home::Profile;
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
    /// Keep the identity on this phone locked under a passphrase from the start (asked on the
    /// terminal, or given in POSFEE_COMPANION_PASSPHRASE), so it is never stored in plain.
    #[arg(long)]
    pub lock: bool,
}

pub async fn run(c: &Companion, args: RegisterArgs, json: bool) -> ExitCode {
    if args.lock {
        c.home.lock_new_profiles();
    }
    let id = Identity {
        name: args.name,
        national_id: args.national_id,
        bank_account: args.bank_account,
    };
    let before = c
        .home
        .profile()
        .ok()
        .flatten()
        .filter(|p| p.payer.is_some());
    match register::register(c, id).await {
        Ok(p) => {
            if let Some(old) = before {
                return corrected(&old, &p, json);
            }
            let payer = p.payer.as_ref().map(|h| h.to_string()).unwrap_or_default();
            let sp = super::speech();
            let balance = p.balance.map(|b| sp.money(b)).unwrap_or_default();
            if json {
                super::emit(
                    &serde_json::json!({ "registered": { "payer": payer, "balance": balance, "device_key_id": p.device_key_id } }),
                );
            } else {
                println!(
                    "{}: {} {payer}, {} {balance}",
                    sp.say("Registered", "已注册"),
                    sp.say("payer", "付款账户"),
                    sp.say("balance", "余额")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(json, &e),
    }
}

/// What a registered phone's `register` changed: nothing, the name, the bank card.
fn corrected(old: &Profile, new: &Profile, json: bool) -> ExitCode {
    let mut changed = Vec::new();
    if old.name != new.name {
        changed.push("name");
    }
    if old.bank_account != new.bank_account {
        changed.push("bank_account");
    }
    let sp = super::speech();
    let words: Vec<String> = changed
        .iter()
        .map(|f| match *f {
            "name" => sp.say("name", "姓名"),
            _ => sp.say("bank card", "银行卡号"),
        })
        .collect();
    if json {
        super::emit(
            &serde_json::json!({ "corrected": { "payer": new.payer, "changed": changed } }),
        );
    } else if changed.is_empty() {
        println!(
            "{}",
            sp.say("Already registered; nothing to change", "已注册，无需更改")
        );
    } else {
        println!("{}: {}", sp.say("Corrected", "已更正"), words.join(", "));
    }
    ExitCode::SUCCESS
}
