//! `pos-agent pay`: one payment from a script or a terminal session. With `--json` it prints
//! one line as soon as the pairing is open (mode A: the code; mode B: the phone's answer),
//! then one line with the receipt, each flushed at once so a driving script can act on it.

use super::AccountArgs;
use crate::bill::ShownBill;
use crate::config::Config;
use crate::flow::{self, PaySpec, PayView};
use crate::i18n::{self, t, Lang, Msg};
use crate::render;
use chrono::{DateTime, Utc};
use posfee_client::ending::Ending;
use posfee_client::Shutdown;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::{PairCode, PairMode, WalletAnswer};
use posfee_schemas::WireError;
use std::io::Write;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct PayArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Mode B: the code the payer's phone shows (`companion show-code`), typed
    /// (<device>:XXXX-XXXX-…) or as its posfee:// link; without it the kiosk shows a code.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Another bill to pay in the same confirmation, as TENANT:ACCOUNT (e.g.
    /// city-power:P-000001); repeat for each. The bills form a basket of 2 to 10, one per
    /// account, paid all together or not at all.
    #[arg(long = "also", value_name = "TENANT:ACCOUNT")]
    pub also: Vec<String>,
}

/// `TENANT:ACCOUNT` as the quote of that account's whole bill.
fn also_quote(text: &str) -> Result<posfee_schemas::fee::QuoteRequest, WireError> {
    let (tenant, account) = text
        .split_once(':')
        .ok_or_else(|| WireError::field("also", format!("{text:?} is not TENANT:ACCOUNT")))?;
    let tenant =
        posfee_schemas::ids::TenantId::parse(tenant).map_err(|e| WireError::field("also", e))?;
    let account =
        posfee_schemas::ids::AccountNo::parse(account).map_err(|e| WireError::field("also", e))?;
    Ok(super::AccountArgs {
        tenant,
        account,
        kinds: Vec::new(),
    }
    .quote())
}

pub async fn run(config: Config, args: PayArgs, json: bool, shutdown: Shutdown) -> ExitCode {
    let wallet = match args
        .wallet
        .as_deref()
        .map(|w| PairCode::parse_mode(w, PairMode::PhonePresents))
    {
        None => None,
        Some(Ok(code)) => Some(code),
        Some(Err(e)) => return report_error(json, config.language, &WireError::field("wallet", e)),
    };
    let more = match args.also.iter().map(|a| also_quote(a)).collect() {
        Ok(more) => more,
        Err(e) => return report_error(json, config.language, &e),
    };
    let spec = PaySpec {
        quote: args.account.quote(),
        more,
        wallet,
    };
    let lang = config.language;
    let result = super::session(&config, |agent| async move {
        // SIGINT or SIGTERM during the wait cancels the pairing cleanly (event, unsubscribe).
        let cancel = CancellationToken::new();
        let watcher = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                shutdown.wait().await;
                cancel.cancel();
            })
        };
        let mut view = LineView {
            json,
            lang,
            bill: None,
        };
        let r = flow::pay_all(&agent, spec, &mut view, &cancel).await;
        watcher.abort();
        r
    })
    .await;
    match result {
        Ok(receipts) => {
            if receipts.len() > 1 {
                if json {
                    emit(&render::json_basket(&receipts));
                } else {
                    print!("{}", render::basket(lang, &receipts));
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => report_error(json, lang, &e),
    }
}

/// Prints how the request ended short of a receipt, as a JSON line on stdout (scripts) or as
/// text (results and unknown outcomes on stdout, failures on stderr), with the matching exit
/// status.
pub fn report_error(json: bool, lang: Lang, e: &WireError) -> ExitCode {
    if json {
        emit(&posfee_client::ending::json(e));
    } else if posfee_client::ending::ending(e) == Ending::Failure {
        eprintln!("{}", i18n::ending(lang, e));
    } else {
        println!("{}", i18n::ending(lang, e));
    }
    posfee_client::ending::exit_code(e)
}

fn emit(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// Text or JSON lines on stdout.
struct LineView {
    json: bool,
    lang: Lang,
    bill: Option<posfee_schemas::fee::Bill>,
}

impl PayView for LineView {
    fn bill(&mut self, bill: &ShownBill) {
        // A basket's pairing is shown with its first bill.
        self.bill.get_or_insert_with(|| bill.bill.clone());
        if !self.json {
            print!("{}", render::bill(self.lang, &bill.bill));
        }
    }

    fn pairing(&mut self, code: &PairCode, expires_at: DateTime<Utc>) {
        if self.json {
            if let Some(b) = &self.bill {
                emit(&render::json_pairing(code, expires_at, b));
            }
        } else {
            print!("{}", render::pairing(self.lang, code));
            let _ = std::io::stdout().flush();
        }
    }

    fn joined(&mut self) {
        if !self.json {
            println!("{}", t(self.lang, Msg::Joined));
        }
    }

    fn paying(&mut self) {
        if self.json {
            emit(&serde_json::json!({ "step": "paying" }));
        } else {
            println!("{}", t(self.lang, Msg::Paying));
        }
    }

    fn wallet_answered(&mut self, answer: &WalletAnswer) {
        if self.json {
            let bill = self.bill.as_ref().map(render::json_bill);
            emit(&serde_json::json!({ "offer": answer_json(answer), "bill": bill }));
        } else {
            println!("{}", t(self.lang, Msg::WalletConfirmed));
        }
    }

    fn receipt(&mut self, receipt: &Receipt) {
        if self.json {
            emit(&render::json_receipt(receipt));
        } else {
            print!("{}", render::receipt(self.lang, receipt));
        }
    }
}

fn answer_json(a: &WalletAnswer) -> serde_json::Value {
    serde_json::json!({ "payment_id": a.payment_id, "bill_id": a.bill_id })
}
