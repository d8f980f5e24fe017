//! A whole payment, kiosk to phone to payment platform to ledger and back, on a real
//! nats-server with every service in-process: mode A (the kiosk shows the code) and mode B
//! (the phone shows the code). The receipt reaches the kiosk and stays on the phone, and a
//! bill is paid once.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use posfee_companion::register::{self, Identity};
use posfee_companion::wallet::{self, Always};
use posfee_companion::{join, pay, receipts, Companion};
use posfee_harness::fixtures;
use posfee_harness::{Harness, ServiceOptions};
use posfee_pos_agent::bill::ShownBill;
use posfee_pos_agent::flow::{self, PaySpec, PayView};
use posfee_pos_agent::{Agent, CancellationToken};
use posfee_runtime::ManualClock;
use posfee_schemas::fee::QuoteRequest;
use posfee_schemas::ids::*;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::Money;
use posfee_schemas::pairing::{PairCode, WalletAnswer};
use posfee_schemas::subjects::Role;
use posfee_schemas::ErrorCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn tenant() -> TenantId {
    TenantId::parse("city-water").unwrap()
}
fn account() -> AccountNo {
    AccountNo::parse("3-1-1202").unwrap()
}
fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}
/// 2026-11-25 10:00 in Shanghai.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()
}

/// Every service, fed with one household that owes 190.00 CNY for October's water.
async fn system() -> (Harness, ManualClock) {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(now());
    h.start_all(ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    // The household of posfee_harness::fixtures: 190.00 CNY owed for October.
    fixtures::import_water_households(&importer, &[account()])
        .await
        .unwrap();
    (h, clock)
}

async fn agent(h: &Harness, clock: &ManualClock, terminal: TerminalId, ttl: Duration) -> Agent {
    h.kiosk(&terminal, ttl, Arc::new(clock.clone()))
        .await
        .unwrap()
}

async fn phone(h: &Harness, clock: &ManualClock, dir: &std::path::Path) -> Companion {
    h.companion(dir, Arc::new(clock.clone())).await.unwrap()
}

fn quote() -> QuoteRequest {
    QuoteRequest {
        tenant: tenant(),
        account: account(),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    }
}

async fn registered_phone(h: &Harness, clock: &ManualClock, dir: &std::path::Path) -> Companion {
    let c = phone(h, clock, dir).await;
    let p = register::register(
        &c,
        Identity {
            name: "王五".into(),
            national_id: "110101199003071233".into(),
            bank_account: "4111111111111111".into(),
        },
    )
    .await
    .unwrap();
    assert!(p.payer.is_some());
    c
}

/// The kiosk screen, as a test sees it: the pairing code arrives on a channel.
struct TestView {
    codes: mpsc::UnboundedSender<PairCode>,
}

impl PayView for TestView {
    fn bill(&mut self, _bill: &ShownBill) {}
    fn pairing(&mut self, code: &PairCode, _expires_at: DateTime<Utc>) {
        let _ = self.codes.send(code.clone());
    }
    fn joined(&mut self) {}
    fn wallet_answered(&mut self, _answer: &WalletAnswer) {}
    fn receipt(&mut self, _receipt: &Receipt) {}
}

/// Runs one kiosk payment in the background; mode A codes come out of the channel.
fn kiosk_pays(
    a: &Agent,
    wallet: Option<PairCode>,
) -> (
    mpsc::UnboundedReceiver<PairCode>,
    tokio::task::JoinHandle<Result<Receipt, posfee_schemas::WireError>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let a = a.clone();
    let task = tokio::spawn(async move {
        let mut view = TestView { codes: tx };
        flow::pay(
            &a,
            PaySpec {
                quote: quote(),
                wallet,
            },
            &mut view,
            &CancellationToken::new(),
        )
        .await
    });
    (rx, task)
}

fn check_receipt(r: &Receipt) {
    assert_eq!(r.tenant, tenant());
    assert_eq!(r.tenant_name, "City Water Supply Co.");
    assert_eq!(r.account, account());
    assert_eq!(r.terminal, kiosk());
    assert_eq!(r.total, Money::cny(19000));
    assert!(!r.lines.is_empty());
}

#[tokio::test]
async fn mode_a_the_phone_pays_and_kiosk_and_phone_get_the_receipt_once() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;

    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let code = tokio::time::timeout(Duration::from_secs(10), codes.recv())
        .await
        .unwrap()
        .unwrap();
    let scanned = PairCode::parse(&code.uri()).unwrap();
    let verified = join::join(&c, &scanned).await.unwrap();
    let phone_receipt = pay::pay(&c, &verified).await.unwrap();
    let kiosk_receipt = tokio::time::timeout(Duration::from_secs(15), kiosk_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    check_receipt(&kiosk_receipt);
    assert_eq!(kiosk_receipt, phone_receipt);
    assert_eq!(kiosk_receipt.bill_id, verified.bill.bill_id);
    assert_eq!(receipts::list(&c).unwrap(), vec![phone_receipt.clone()]);

    // Paying the same bill again is refused: no way to pay twice.
    let again = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::BillAlreadyPaid, "{again}");
    assert_eq!(receipts::list(&c).unwrap().len(), 1);
}

#[tokio::test]
async fn mode_b_the_kiosk_offers_to_the_phone_code_and_both_get_the_receipt() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(registered_phone(&h, &clock, dir.path()).await);

    let shown = wallet::show(&c, Duration::from_secs(30)).await.unwrap();
    let typed = PairCode::parse(&shown.code.typed()).unwrap();
    let phone_task = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut yes = Always(true);
            let (verified, answer) = shown
                .wait_offer(&c, &mut yes, &CancellationToken::new())
                .await?;
            let receipt = pay::pay(&c, &verified).await?;
            Ok::<_, posfee_schemas::WireError>((answer, receipt))
        })
    };
    let (_codes, kiosk_task) = kiosk_pays(&a, Some(typed));
    let kiosk_receipt = tokio::time::timeout(Duration::from_secs(20), kiosk_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (answer, phone_receipt) = phone_task.await.unwrap().unwrap();

    check_receipt(&kiosk_receipt);
    assert_eq!(kiosk_receipt, phone_receipt);
    assert_eq!(kiosk_receipt.payment_id, answer.payment_id);
    assert_eq!(receipts::list(&c).unwrap(), vec![phone_receipt]);
    assert!(c.home.pending(answer.bill_id).unwrap().is_none());
}

#[tokio::test]
async fn an_unregistered_phone_is_told_to_register_first() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let code = codes.recv().await.unwrap();
    let verified = join::join(&c, &code).await.unwrap();
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PayerNotFound, "{err}");
    kiosk_task.abort();
}
