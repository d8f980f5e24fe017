//! `pos-agent run`: the interactive kiosk. A menu (查询 Query / 缴费 Pay / 取消 Cancel /
//! 退出 Exit), payee and account entry, the bill, the pairing QR code with a countdown that
//! "c" cancels, and the receipt.

use crate::bill::{self, ShownBill};
use crate::config::{Config, TenantChoice};
use crate::console::Console;
use crate::flow::{self, PaySpec, PayView};
use crate::i18n::{self, t, Lang, Msg};
use crate::{render, Agent};
use chrono::{DateTime, Utc};
use posfee_client::Shutdown;
use posfee_schemas::fee::{Payee, QuoteRequest};
use posfee_schemas::ids::{AccountNo, TenantId};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::Fen;
use posfee_schemas::pairing::{PairCode, PairMode, WalletAnswer};
use posfee_schemas::{ErrorCode, WireError};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the countdown under the QR code is redrawn.
pub const COUNTDOWN_TICK_MS: u64 = 1_000;

pub async fn run(config: Config, shutdown: Shutdown) -> ExitCode {
    let console = match Console::stdin() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pos-agent: cannot read the keyboard: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lang = config.language;
    let tenants = config.tenants.clone();
    let result = super::session(&config, |agent| async move {
        let mut kiosk = Kiosk {
            agent,
            lang,
            tenants,
            console,
        };
        kiosk.run(&shutdown).await;
        Ok(())
    })
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::pay::report_error(false, lang, &e),
    }
}

/// The interactive kiosk; public so tests can drive it with a scripted console.
pub struct Kiosk {
    pub agent: Agent,
    pub lang: Lang,
    pub tenants: Vec<TenantChoice>,
    pub console: Console,
}

impl Kiosk {
    pub async fn run(&mut self, shutdown: &Shutdown) {
        loop {
            self.menu();
            let Some(choice) = self.ask(Msg::Choose, shutdown).await else {
                break;
            };
            match choice.to_ascii_lowercase().as_str() {
                "1" | "q" => self.query(shutdown).await,
                "2" | "p" => self.pay(shutdown).await,
                "3" | "c" => println!("{}", t(self.lang, Msg::NothingToCancel)),
                "4" | "x" | "exit" => break,
                "5" | "l" => self.lang = self.lang.other(),
                "" => {}
                _ => println!("{}", t(self.lang, Msg::UnknownChoice)),
            }
        }
        println!("{}", t(self.lang, Msg::Bye));
    }

    fn menu(&self) {
        let l = self.lang;
        // The last entry switches language, so it is written in the other one.
        println!(
            "\n== {} · {} ==\n 1) {}   2) {}   3) {}   4) {}   5) {}",
            t(l, Msg::Title),
            self.agent.terminal(),
            t(l, Msg::MenuQuery),
            t(l, Msg::MenuPay),
            t(l, Msg::MenuCancel),
            t(l, Msg::MenuExit),
            t(l, Msg::MenuLanguage),
        );
    }

    /// Prompts and reads one line; `None` when input closed or the kiosk is shutting down.
    async fn ask(&mut self, prompt: Msg, shutdown: &Shutdown) -> Option<String> {
        print!("{}: ", t(self.lang, prompt));
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = shutdown.wait() => None,
            l = self.console.line() => l,
        }
    }

    async fn account(&mut self, shutdown: &Shutdown) -> Option<QuoteRequest> {
        let payees = self.payees().await;
        for (i, p) in payees.iter().enumerate() {
            println!(" {}) {}", i + 1, render::payee(self.lang, p));
        }
        let tenant = loop {
            let answer = self.ask(Msg::AskTenant, shutdown).await?;
            match pick_payee(&payees, answer.trim()) {
                Some(t) => break t,
                None => self.refuse(WireError::new(
                    ErrorCode::TenantNotFound,
                    format!("no payee is {answer:?}"),
                )),
            }
        };
        let account = loop {
            let answer = self.ask(Msg::AskAccount, shutdown).await?;
            match AccountNo::parse(answer) {
                Ok(a) => break a,
                Err(e) => self.refuse(WireError::field("account", e)),
            }
        };
        Some(QuoteRequest {
            tenant,
            account,
            kinds: vec![],
            as_of: None,
            prepay_months: None,
            top_up: None,
        })
    }

    /// The payees this kiosk serves, as the system names them (those of its configuration,
    /// if it lists any); the configuration's own names if the system cannot say.
    async fn payees(&self) -> Vec<Payee> {
        let known = match bill::payees(&self.agent).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "the system did not list its payees");
                Vec::new()
            }
        };
        if self.tenants.is_empty() {
            return known;
        }
        self.tenants
            .iter()
            .map(|c| {
                known
                    .iter()
                    .find(|p| p.tenant == c.id)
                    .cloned()
                    .unwrap_or_else(|| Payee {
                        tenant: c.id.clone(),
                        name: c.name.clone(),
                        name_zh: String::new(),
                        kinds: Vec::new(),
                    })
            })
            .collect()
    }

    /// Says why an answer cannot be taken, in the kiosk's language.
    fn refuse(&self, e: WireError) {
        println!(
            "{}: {}",
            t(self.lang, Msg::Error),
            posfee_client::words::said(self.lang, &e)
        );
    }

    async fn query(&mut self, shutdown: &Shutdown) {
        let Some(req) = self.account(shutdown).await else {
            return;
        };
        match bill::account(&self.agent, &req).await {
            Ok(a) => print!("{}", render::account(self.lang, &a)),
            Err(e) => {
                println!("{}", i18n::ending(self.lang, &e));
                return;
            }
        }
        match bill::quote(&self.agent, &req).await {
            Ok(q) => print!("{}", render::quote(self.lang, &q)),
            Err(e) => println!("{}", i18n::ending(self.lang, &e)),
        }
    }

    async fn pay(&mut self, shutdown: &Shutdown) {
        let Some(quote) = self.owing_account(shutdown).await else {
            return;
        };
        // "+" at the wallet question adds another account's bill: a basket, paid at once.
        let mut more: Vec<QuoteRequest> = Vec::new();
        let wallet = loop {
            let Some(answer) = self.ask(Msg::AskWallet, shutdown).await else {
                return;
            };
            if answer.trim() == "+" {
                self.add_to_basket(&quote, &mut more, shutdown).await;
                continue;
            }
            if answer.is_empty() {
                break None;
            }
            match PairCode::parse_mode(&answer, PairMode::PhonePresents) {
                Ok(c) => break Some(c),
                Err(e) => self.refuse(WireError::field("code", e)),
            }
        };
        let countdown = Arc::new(Mutex::new(None));
        let mut view = ScreenView {
            lang: self.lang,
            countdown: countdown.clone(),
        };
        let cancel = CancellationToken::new();
        let agent = &self.agent;
        let console = &mut self.console;
        let lang = self.lang;
        let paying = flow::pay_all(
            agent,
            PaySpec {
                quote,
                more,
                wallet,
            },
            &mut view,
            &cancel,
        );
        tokio::pin!(paying);
        let mut tick = tokio::time::interval(Duration::from_millis(COUNTDOWN_TICK_MS));
        loop {
            tokio::select! {
                r = &mut paying => {
                    match r {
                        Ok(receipts) if receipts.len() > 1 => print!("{}", render::basket(lang, &receipts)),
                        Ok(_) => {}
                        Err(e) => println!("\n{}", i18n::ending(lang, &e)),
                    }
                    break;
                }
                line = console.line(), if !cancel.is_cancelled() => match line {
                    Some(l) if l.eq_ignore_ascii_case("c") => cancel.cancel(),
                    None => cancel.cancel(),
                    Some(_) => {}
                },
                _ = shutdown.wait(), if !cancel.is_cancelled() => cancel.cancel(),
                _ = tick.tick() => {
                    let until = countdown.lock().ok().and_then(|g| *g);
                    if let Some(until) = until {
                        let left = (until - Utc::now()).num_seconds().max(0);
                        print!("\r{}   ", i18n::countdown(lang, left));
                        let _ = std::io::stdout().flush();
                    }
                }
            }
        }
    }
}

impl Kiosk {
    /// An account the payer names that owes something: a mistyped account, or one that owes
    /// nothing, is said now, before the payer takes out the phone; the fee-engine prices it,
    /// so the query service need not be up.
    async fn owing_account(&mut self, shutdown: &Shutdown) -> Option<QuoteRequest> {
        let quote = self.account(shutdown).await?;
        let owed = match bill::quote(&self.agent, &quote).await {
            Ok(q) if q.total <= Fen::ZERO => Err(WireError::new(
                ErrorCode::NothingOwed,
                format!("account {} owes nothing", quote.account),
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match owed {
            Ok(()) => Some(quote),
            Err(e) => {
                println!("{}", i18n::ending(self.lang, &e));
                None
            }
        }
    }

    /// Asks for one more account to pay with `first` and `more` (one bill per account, at most
    /// a basket's ten), and says what the basket holds.
    async fn add_to_basket(
        &mut self,
        first: &QuoteRequest,
        more: &mut Vec<QuoteRequest>,
        shutdown: &Shutdown,
    ) {
        if more.len() + 1 >= posfee_schemas::basket::MAX_BILLS {
            let max = posfee_schemas::basket::MAX_BILLS;
            self.refuse(WireError::field(
                "bills",
                format!("at most {max} bills at once"),
            ));
            return;
        }
        let Some(q) = self.owing_account(shutdown).await else {
            return;
        };
        let same = |a: &QuoteRequest| a.tenant == q.tenant && a.account == q.account;
        if same(first) || more.iter().any(same) {
            self.refuse(WireError::field(
                "account",
                "this account's bill is already in",
            ));
            return;
        }
        more.push(q);
        println!("{}:", t(self.lang, Msg::BasketSoFar));
        for q in std::iter::once(first).chain(more.iter()) {
            println!("  {} {}", q.tenant, q.account);
        }
    }
}

/// The payee a payer's answer names: its number in the list, its id, or its name in either
/// language; any well-formed id when the list is not known (the fee-engine then says whether
/// it is a payee).
fn pick_payee(payees: &[Payee], answer: &str) -> Option<TenantId> {
    if payees.is_empty() {
        return TenantId::parse(answer).ok();
    }
    let by_number = answer
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| payees.get(i));
    by_number
        .or_else(|| {
            payees.iter().find(|p| {
                p.tenant.as_str() == answer
                    || p.name == answer
                    || (!p.name_zh.is_empty() && p.name_zh == answer)
            })
        })
        .map(|p| p.tenant.clone())
}

/// The kiosk screen: text, the QR code, and the countdown state for the ticker.
struct ScreenView {
    lang: Lang,
    countdown: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl ScreenView {
    fn stop_countdown(&self) {
        if let Ok(mut g) = self.countdown.lock() {
            *g = None;
        }
    }
}

impl PayView for ScreenView {
    fn bill(&mut self, bill: &ShownBill) {
        print!("{}", render::bill(self.lang, &bill.bill));
    }
    fn pairing(&mut self, code: &PairCode, expires_at: DateTime<Utc>) {
        print!("{}", render::pairing(self.lang, code));
        if let Ok(mut g) = self.countdown.lock() {
            *g = Some(expires_at);
        }
    }
    fn joined(&mut self) {
        self.stop_countdown();
        println!("\n{}", t(self.lang, Msg::Joined));
    }
    fn paying(&mut self) {
        println!("{}", t(self.lang, Msg::Paying));
    }
    fn offered(&mut self, _code: &PairCode) {
        // Mode B has no countdown to carry the hint: say once how to stop waiting.
        println!("{}", t(self.lang, Msg::CancelHint));
        let _ = std::io::stdout().flush();
    }
    fn wallet_answered(&mut self, _answer: &WalletAnswer) {
        println!("{}", t(self.lang, Msg::WalletConfirmed));
    }
    fn receipt(&mut self, receipt: &Receipt) {
        self.stop_countdown();
        print!("{}", render::receipt(self.lang, receipt));
    }
}
