//! A whole payment, kiosk to phone to payment platform to ledger and back, on a real
//! nats-server with every service in-process: mode A (the kiosk shows the code) and mode B
//! (the phone shows the code). The receipt reaches the kiosk and stays on the phone, and a
//! bill is paid once.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use futures::future::BoxFuture;
use posfee_client::call;
use posfee_client::ManualClock;
use posfee_companion::confirm::Always;
use posfee_companion::confirm::Confirm;
use posfee_companion::pay::Decision;
use posfee_companion::register::{self, Identity};
use posfee_companion::verify::VerifiedBill;
use posfee_companion::wallet;
use posfee_companion::{join, pay, receipts, Companion};
use posfee_harness::asker;
use posfee_harness::fixtures;
use posfee_harness::{Harness, ServiceOptions};
use posfee_pos_agent::bill::ShownBill;
use posfee_pos_agent::close::{self, Closed};
use posfee_pos_agent::flow::{self, PaySpec, PayView};
use posfee_pos_agent::pairing;
use posfee_pos_agent::{Agent, CancellationToken};
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::fee::QuoteRequest;
use posfee_schemas::ids::*;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::ledger::{CloseReply, CloseRequest};
use posfee_schemas::ledger::{SettlementsPage, SettlementsQuery};
use posfee_schemas::money::Money;
use posfee_schemas::pairing::CloseReason;
use posfee_schemas::pairing::{PairCode, WalletAnswer};
use posfee_schemas::paygate::{
    AmendReply, AmendRequest, PaymentState, PaymentsList, PaymentsListQuery,
};
use posfee_schemas::subjects::Role;
use posfee_schemas::subjects::{self, EventKind, LedgerOp, PaygateOp, ServiceName};
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
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &[account()])
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

type KioskTask = tokio::task::JoinHandle<Result<Receipt, posfee_schemas::WireError>>;

/// Runs one kiosk payment in the background; mode A codes come out of the channel.
fn kiosk_pays(
    a: &Agent,
    wallet: Option<PairCode>,
) -> (mpsc::UnboundedReceiver<PairCode>, KioskTask) {
    let (codes, task, _cancel) = kiosk_pays_cancellable(a, wallet);
    (codes, task)
}

/// As [`kiosk_pays`], with the token that cancels at the kiosk.
fn kiosk_pays_cancellable(
    a: &Agent,
    wallet: Option<PairCode>,
) -> (
    mpsc::UnboundedReceiver<PairCode>,
    KioskTask,
    CancellationToken,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let a = a.clone();
    let cancel = CancellationToken::new();
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut view = TestView { codes: tx };
            flow::pay(
                &a,
                PaySpec {
                    more: Vec::new(),
                    quote: quote(),
                    wallet,
                },
                &mut view,
                &cancel,
            )
            .await
        })
    };
    (rx, task, cancel)
}

/// A payer who has not answered yet: the question stays open until the test says.
/// A payer who has the bill in front of them and has not decided: says when asked, then
/// waits for the answer.
struct Undecided(
    tokio::sync::oneshot::Receiver<bool>,
    Option<tokio::sync::oneshot::Sender<()>>,
);

impl Confirm for Undecided {
    fn confirm<'a>(&'a mut self, _bill: &'a VerifiedBill) -> BoxFuture<'a, bool> {
        if let Some(asked) = self.1.take() {
            let _ = asked.send(());
        }
        Box::pin(async move { (&mut self.0).await.unwrap_or(false) })
    }
}

/// What paygate and the ledger hold: (payment, state) at paygate and settled payments.
async fn books(h: &Harness) -> (Vec<(PaymentId, PaymentState)>, Vec<PaymentId>) {
    let operator = h.connect(Role::Operator).await.unwrap();
    let pg: PaymentsList = call(
        &operator,
        subjects::paygate(PaygateOp::Payments, &asker(&operator)),
        &PaymentsListQuery {
            page_size: None,
            cursor: None,
        },
        None,
    )
    .await
    .unwrap();
    let ledger: SettlementsPage = call(
        &operator,
        subjects::ledger(LedgerOp::Settlements),
        &SettlementsQuery {
            page_size: None,
            cursor: None,
        },
        None,
    )
    .await
    .unwrap();
    (
        pg.items.iter().map(|p| (p.payment_id, p.state)).collect(),
        ledger.items.iter().map(|s| s.payment_id).collect(),
    )
}

async fn next_code(codes: &mut mpsc::UnboundedReceiver<PairCode>) -> PairCode {
    tokio::time::timeout(Duration::from_secs(10), codes.recv())
        .await
        .unwrap()
        .unwrap()
}

async fn ended(task: KioskTask) -> posfee_schemas::WireError {
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the kiosk kept waiting")
        .unwrap()
        .unwrap_err()
}

fn check_receipt(r: &Receipt) {
    assert_eq!(r.tenant, tenant());
    assert_eq!(r.tenant_name, "City Water Supply Co.");
    assert_eq!(r.account, account());
    assert_eq!(r.terminal, kiosk());
    assert_eq!(r.total, Money::cny(19000));
    assert!(!r.lines.is_empty());
}

/// The pairing events of `bill` as the operator reads them, one per event id (a pairing told
/// by the hold and by the bill's close is one event), once `want` of them are there.
async fn pairings_of(h: &Harness, bill: BillId, want: usize) -> Vec<Event> {
    let operator = h.connect(Role::Operator).await.unwrap();
    posfee_harness::eventually_within("the pairing is told", Duration::from_secs(10), || async {
        let mut seen = std::collections::HashSet::new();
        let events: Vec<Event> =
            posfee_harness::stored_events(&operator, "posfee.events.pairing.*")
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.bill() == Some(bill) && seen.insert(e.id))
                .collect();
        if events.len() >= want {
            Ok(events)
        } else {
            Err(events.len())
        }
    })
    .await
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
    // The phone can tell the account is the payer's: the holder, masked, is in the signed bill.
    assert_eq!(verified.bill.holder_masked.as_deref(), Some("王*"));
    let phone_receipt = pay::pay(&c, &verified).await.unwrap().remove(0);
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

    // The hold told the pairing (the kiosk's offer, handed on by the phone), once.
    let told = pairings_of(&h, verified.bill.bill_id, 1).await;
    assert_eq!(told.len(), 1, "{told:?}");
    match &told[0].body {
        EventBody::PairingJoined(p) => {
            assert_eq!(p.mode, posfee_schemas::pairing::PairMode::TerminalPresents);
            assert_eq!(p.terminal, kiosk());
            assert!(p.opened_at < p.expires_at, "{p:?}");
        }
        other => panic!("not a joined pairing: {other:?}"),
    }
}

#[tokio::test]
async fn a_pairing_nobody_joined_is_told_by_the_bills_close() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(1)).await;
    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let code = next_code(&mut codes).await;
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::PairingGone, "{at_kiosk}");
    let bill = code.bill_id().expect("a mode A code names its bill");
    let told = pairings_of(&h, bill, 1).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        matches!(&told[0].body, EventBody::PairingExpired(p) if p.mode == posfee_schemas::pairing::PairMode::TerminalPresents),
        "{told:?}"
    );
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
            let receipt = pay::pay(&c, &verified).await?.remove(0);
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

#[tokio::test]
async fn mode_a_cancel_at_the_kiosk_stops_the_phone_before_it_confirms_and_nothing_is_paid() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task, cancel) = kiosk_pays_cancellable(&a, None);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();

    // The payer is still reading when the kiosk cancels.
    let (_answer, question) = tokio::sync::oneshot::channel();
    let mut payer = Undecided(question, None);
    let deciding = pay::decide(&verified, &mut payer);
    tokio::pin!(deciding);
    tokio::select! {
        d = &mut deciding => panic!("decided before the cancel: {d:?}"),
        _ = tokio::time::sleep(Duration::from_millis(100)) => cancel.cancel(),
    }
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::PairingGone, "{at_kiosk}");
    let on_phone = tokio::time::timeout(Duration::from_secs(10), deciding)
        .await
        .unwrap();
    assert!(matches!(on_phone, Decision::Ended(_)), "{on_phone:?}");

    // Even a phone that pays anyway cannot: the ledger refuses the closed bill, paygate
    // releases the hold, and the books show no settlement.
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PairingGone, "{err}");
    let (at_paygate, settled) = books(&h).await;
    assert!(settled.is_empty(), "{settled:?}");
    assert!(
        at_paygate.iter().all(|(_, s)| *s == PaymentState::Voided),
        "{at_paygate:?}"
    );
    assert!(receipts::list(&c).unwrap().is_empty());
    // The close told the pairing (joined, then cancelled at the kiosk) and so did the hold
    // the phone made anyway: two records, one event.
    let operator = h.connect(Role::Operator).await.unwrap();
    let bill = verified.bill.bill_id;
    posfee_harness::eventually("both records carry the pairing", || async {
        posfee_harness::stored_events(&operator, "posfee.events.pairing.joined")
            .await
            .unwrap()
            .iter()
            .filter(|e| e.bill() == Some(bill))
            .count()
            == 2
    })
    .await;
    let told = pairings_of(&h, bill, 1).await;
    assert_eq!(told.len(), 1, "{told:?}");
}

#[tokio::test]
async fn mode_b_cancel_at_the_kiosk_ends_the_question_on_the_phone() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(registered_phone(&h, &clock, dir.path()).await);
    let shown = wallet::show(&c, Duration::from_secs(30)).await.unwrap();
    let code = shown.code.clone();
    let (answer, question) = tokio::sync::oneshot::channel();
    let (asked_tx, asked) = tokio::sync::oneshot::channel();
    let phone_task = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut payer = Undecided(question, Some(asked_tx));
            shown
                .wait_offer(&c, &mut payer, &CancellationToken::new())
                .await
        })
    };
    let (_codes, kiosk_task, cancel) = kiosk_pays_cancellable(&a, Some(code));
    // Cancel once the bill is on the phone, waiting for the payer.
    tokio::time::timeout(Duration::from_secs(10), asked)
        .await
        .expect("the phone never asked its payer")
        .unwrap();
    cancel.cancel();
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::PairingGone, "{at_kiosk}");
    let on_phone = tokio::time::timeout(Duration::from_secs(10), phone_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(on_phone.code, ErrorCode::PairingGone, "{on_phone}");
    drop(answer);
    let (at_paygate, settled) = books(&h).await;
    assert!(at_paygate.is_empty() && settled.is_empty());
}

/// A bill issued at kiosk `a` and taken by phone `c` in mode A, the pairing over: the bill as
/// the kiosk shows it, how the kiosk showed the pairing, and the bill as the phone verified it.
async fn issued_and_joined(
    a: &Agent,
    c: &Companion,
) -> (
    ShownBill,
    posfee_schemas::pairing::PairingShown,
    VerifiedBill,
) {
    let shown = posfee_pos_agent::bill::issue(a, quote()).await.unwrap();
    let open = pairing::open(a, std::slice::from_ref(&shown), None)
        .await
        .unwrap();
    let (code, told) = (open.code.clone(), open.shown);
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move { open.wait(&a, &CancellationToken::new()).await })
    };
    let verified = join::join(c, &code).await.unwrap();
    waiting.await.unwrap().unwrap();
    (shown, told, verified)
}

#[tokio::test]
async fn a_pairing_that_closes_before_it_opens_is_refused_naming_the_field_and_changes_nothing() {
    use posfee_schemas::pairing::{PairingClosed, PairingEnd, PairingShown};
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (shown, told, mut verified) = issued_and_joined(&a, &c).await;
    let backwards = PairingShown {
        expires_at: told.opened_at - chrono::Duration::seconds(1),
        ..told
    };
    let too_long = PairingShown {
        expires_at: told.opened_at + chrono::Duration::hours(2),
        ..told
    };

    // At paygate: refused before any hold, naming the field.
    for bad in [backwards, too_long] {
        verified.pairing = Some(bad);
        let err = pay::pay(&c, &verified).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField, "{err}");
        assert!(err.message.starts_with("pairing:"), "{err}");
        assert_eq!(books(&h).await, (Vec::new(), Vec::new()));
    }
    // At the ledger: refused, and the bill stays open.
    let closing = |shown_as| PairingClosed {
        end: PairingEnd::Joined,
        shown: shown_as,
        more_bills: Vec::new(),
    };
    let refused = close::close(
        &a,
        &shown,
        (CloseReason::Declined, None),
        Some(&closing(backwards)),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidField, "{refused}");
    assert!(refused.message.starts_with("pairing.shown:"), "{refused}");

    // The same payment with the kiosk's own pairing goes through: the probes could succeed.
    verified.pairing = Some(told);
    let receipt = pay::pay(&c, &verified).await.unwrap().remove(0);
    assert_eq!(receipt.bill_id, shown.issued.bill_id);
    let pairings = pairings_of(&h, shown.issued.bill_id, 1).await;
    assert!(
        matches!(&pairings[0].body, EventBody::PairingJoined(p) if p.opened_at == told.opened_at && p.expires_at == told.expires_at),
        "{pairings:?}"
    );
}

#[tokio::test]
async fn closing_a_bill_the_phone_already_paid_answers_with_its_receipt_and_a_closed_bill_cannot_be_paid(
) {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;

    // Paid first, closed after (a cancel that came too late): the kiosk learns it was paid.
    let (shown, _, verified) = issued_and_joined(&a, &c).await;
    let phone_receipt = pay::pay(&c, &verified).await.unwrap().remove(0);
    match close::close(&a, &shown, (CloseReason::Cancelled, None), None)
        .await
        .unwrap()
    {
        Closed::Paid(r) => assert_eq!(r, phone_receipt),
        Closed::Unpaid => panic!("a paid bill was closed unpaid"),
    }

    // Closed first: the phone's payment is refused and the hold released. The first bill
    // covered October, so the account owes nothing more: a second household is billed.
    let other = AccountNo::parse("3-1-1203").unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        std::slice::from_ref(&other),
    )
    .await
    .unwrap();
    let mut q = quote();
    q.account = other;
    let shown = posfee_pos_agent::bill::issue(&a, q).await.unwrap();
    let open = pairing::open(&a, std::slice::from_ref(&shown), None)
        .await
        .unwrap();
    let code = open.code.clone();
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move { open.wait(&a, &CancellationToken::new()).await })
    };
    let verified = join::join(&c, &code).await.unwrap();
    waiting.await.unwrap().unwrap();
    // A close naming a code the contract does not have is refused, and closes nothing.
    let bad = CloseRequest {
        pairing: None,
        bill: shown.issued.clone(),
        reason: CloseReason::Cancelled,
        code: Some("NOT_A_CODE".into()),
    };
    let err = call::<_, CloseReply>(&a.client, subjects::ledger_close(&kiosk()), &bad, None)
        .await
        .unwrap_err();
    let err = err.remote().unwrap();
    assert_eq!(err.code, ErrorCode::InvalidField, "{err}");
    assert!(err.message.starts_with("code: "), "{err}");
    assert!(matches!(
        close::close(&a, &shown, (CloseReason::Cancelled, None), None)
            .await
            .unwrap(),
        Closed::Unpaid
    ));
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PairingGone, "{err}");
    let (at_paygate, settled) = books(&h).await;
    assert_eq!(settled, vec![phone_receipt.payment_id]);
    assert_eq!(at_paygate.len(), 2);
    assert!(at_paygate.contains(&(phone_receipt.payment_id, PaymentState::Captured)));
    assert!(at_paygate
        .iter()
        .any(|(id, s)| *id != phone_receipt.payment_id && *s == PaymentState::Voided));

    // Another kiosk cannot close this kiosk's bills.
    let b = agent(
        &h,
        &clock,
        TerminalId::parse("kiosk-02").unwrap(),
        Duration::from_secs(30),
    )
    .await;
    let err = close::close(&b, &shown, (CloseReason::Cancelled, None), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
}

#[tokio::test]
async fn mode_a_a_decline_on_the_phone_reaches_the_kiosk_at_once() {
    let (h, clock) = system().await;
    let mut a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    // Were the decline not heard, the kiosk would wait this long and then say PAIRING_GONE.
    a.settings.receipt_wait = Duration::from_secs(300);
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    let decision = pay::decide(&verified, &mut Always(false)).await;
    assert!(matches!(decision, Decision::Declined), "{decision:?}");
    let on_phone = pay::decline(&c, &verified).await;
    assert_eq!(on_phone.code, ErrorCode::PayerDeclined);
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::PayerDeclined, "{at_kiosk}");
    // The bill is closed: the phone cannot change its mind behind the kiosk's back.
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PairingGone, "{err}");
    assert!(books(&h).await.1.is_empty());
    // The operator sees how the bill ended, once, with the kiosk's reason and code.
    let bill = verified.bill.bill_id;
    let operator = h.connect(Role::Operator).await.unwrap();
    let subject = subjects::event(EventKind::BillClosed);
    posfee_harness::eventually("the bill's bill.closed event is stored", || async {
        let events = posfee_harness::stored_events(&operator, &subject)
            .await
            .unwrap();
        let closed: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::BillClosed(b) if b.bill_id == bill => Some(b),
                _ => None,
            })
            .collect();
        assert!(closed.len() <= 1, "{closed:?}");
        closed.first().is_some_and(|b| {
            b.reason == CloseReason::Declined
                && b.code.as_deref() == Some("PAYER_DECLINED")
                && b.terminal == kiosk()
                && b.total == verified.bill.total
        })
    })
    .await;
}

#[tokio::test]
async fn a_mistyped_registration_is_refused_and_the_corrected_one_is_accepted() {
    let (h, clock) = system().await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let typo = register::register(
        &c,
        Identity {
            name: "王五".into(),
            national_id: "110101199003071234".into(),
            bank_account: "4111111111111111".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(typo.code, ErrorCode::InvalidField, "{typo}");
    assert!(
        c.home.profile().unwrap().is_none(),
        "a refused registration was kept"
    );
    let fixed = register::register(
        &c,
        Identity {
            name: "王五".into(),
            national_id: "110101199003071233".into(),
            bank_account: "4111111111111111".into(),
        },
    )
    .await
    .unwrap();
    assert!(fixed.payer.is_some());

    // Registered, the payer corrects a misspelt name and a new card: the same payer, and the
    // phone keeps what paygate took.
    let who = |name: &str, card: &str, id: &str| Identity {
        name: name.into(),
        national_id: id.into(),
        bank_account: card.into(),
    };
    let corrected =
        register::register(&c, who("王伍", "6222600260001072444", "110101199003071233"))
            .await
            .unwrap();
    assert_eq!(corrected.payer, fixed.payer);
    assert_eq!(
        (corrected.name.as_str(), corrected.bank_account.as_str()),
        ("王伍", "6222600260001072444")
    );
    assert_eq!(c.home.profile().unwrap().unwrap().name, "王伍");
    // Paygate says what changed, and nothing the second time.
    let asker = subjects::Identity::Device(c.device.clone());
    let amend = subjects::paygate(PaygateOp::Amend, &asker);
    let profile = c.home.profile().unwrap().unwrap();
    let device_key = register::device_key(&profile).unwrap();
    let signed_amend = |name: Option<&str>, card: Option<&str>| {
        AmendRequest::signed(
            name.map(str::to_string),
            card.map(str::to_string),
            &device_key,
            profile.device_key_id.clone(),
        )
    };
    let again: AmendReply = call(
        &c.client,
        amend.clone(),
        &signed_amend(Some("王五"), Some("6222600260001072444")),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.changed, vec!["name".to_string()]);
    let same: AmendReply = call(
        &c.client,
        amend.clone(),
        &signed_amend(Some("王五"), None),
        None,
    )
    .await
    .unwrap();
    assert!(same.changed.is_empty(), "{same:?}");
    // A bad card is refused with its field; the national id is never changed.
    let bad = register::register(&c, who("王五", "6222600260001072445", "110101199003071233"))
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidField, "{bad}");
    assert!(bad.message.starts_with("bank_account"), "{bad}");
    assert_eq!(
        c.home.profile().unwrap().unwrap().bank_account,
        "6222600260001072444"
    );
    let other = register::register(&c, who("王五", "6222600260001072444", "11010519491231002X"))
        .await
        .unwrap_err();
    assert_eq!(other.code, ErrorCode::IdempotencyConflict, "{other}");
    assert!(other.message.contains("cannot be changed"), "{other}");

    // Another phone cannot correct this payer without its device key: naming the key id
    // with a proof made by another key is refused, and changes nothing.
    let dir2 = tempfile::tempdir().unwrap();
    let stranger = phone(&h, &clock, dir2.path()).await;
    let stranger_asks = |req: AmendRequest| {
        let client = stranger.client.clone();
        let subject = subjects::paygate(
            PaygateOp::Amend,
            &subjects::Identity::Device(stranger.device.clone()),
        );
        async move { call::<_, AmendReply>(&client, subject, &req, None).await }
    };
    let forged = AmendRequest::signed(
        Some("李四".into()),
        None,
        &ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        profile.device_key_id.clone(),
    );
    let e = stranger_asks(forged).await.unwrap_err();
    assert!(
        matches!(&e, posfee_client::CallError::Remote(w) if w.code == ErrorCode::BadSignature),
        "{e:?}"
    );
    // The probe can succeed: the same request signed with the payer's key is taken (from any
    // phone holding that key, as a payment is), and it changes nothing else.
    let taken = stranger_asks(signed_amend(Some("王五"), None))
        .await
        .unwrap();
    assert!(taken.changed.is_empty(), "{taken:?}");
    // A key nobody registered has nothing to correct.
    let unknown = AmendRequest::signed(
        Some("王五".into()),
        None,
        &ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
        KeyId::parse("dev-0000000000000000").unwrap(),
    );
    let e = stranger_asks(unknown).await.unwrap_err();
    assert!(
        matches!(&e, posfee_client::CallError::Remote(w) if w.code == ErrorCode::PayerNotFound),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_phone_retrying_through_a_paygate_restart_gets_the_receipt_the_kiosk_prints() {
    let (mut h, clock) = system().await;
    let opts = || ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let mut a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    // Long enough for the restarts below; a kiosk that gave up earlier would close the bill,
    // and both sides would then say "not paid" (tested above).
    a.settings.receipt_wait = Duration::from_secs(90);
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(registered_phone(&h, &clock, dir.path()).await);
    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();

    // The ledger is down: paygate holds the money and cannot settle.
    h.stop_service(ServiceName::Ledger).await.unwrap();
    let paying = {
        let c = c.clone();
        tokio::spawn(async move { pay::pay(&c, &verified).await.map(|mut r| r.remove(0)) })
    };
    let operator = h.connect(Role::Operator).await.unwrap();
    posfee_harness::eventually("paygate holds the money", || async {
        let events = posfee_harness::stored_events(&operator, "posfee.events.payment.authorized")
            .await
            .unwrap();
        events
            .iter()
            .any(|e| matches!(e.body, EventBody::PaymentAuthorized(_)))
    })
    .await;
    // Paygate goes away while the phone waits (its retries meet "no responders"), the ledger
    // comes back, then paygate: its recovery or the phone's retry completes the payment.
    h.stop_service(ServiceName::Paygate).await.unwrap();
    h.start_service(ServiceName::Ledger, opts()).await.unwrap();
    h.start_service(ServiceName::Paygate, opts()).await.unwrap();

    let phone_receipt = tokio::time::timeout(Duration::from_secs(60), paying)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let kiosk_receipt = tokio::time::timeout(Duration::from_secs(30), kiosk_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(phone_receipt, kiosk_receipt);
    let (at_paygate, settled) = books(&h).await;
    assert_eq!(settled, vec![phone_receipt.payment_id]);
    assert_eq!(
        at_paygate,
        vec![(phone_receipt.payment_id, PaymentState::Captured)]
    );
}

#[tokio::test]
async fn with_the_ledger_down_neither_side_says_failed_and_the_phone_learns_the_outcome_later() {
    let (mut h, clock) = system().await;
    let opts = || ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let mut a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    a.settings.receipt_wait = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let mut c = registered_phone(&h, &clock, dir.path()).await;
    c.pay_deadline = Duration::from_secs(3);
    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();

    h.stop_service(ServiceName::Ledger).await.unwrap();
    let on_phone = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(on_phone.code, ErrorCode::OutcomeUnknown, "{on_phone}");
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::OutcomeUnknown, "{at_kiosk}");
    assert!(receipts::list(&c).unwrap().is_empty());

    // The system comes back: paygate's recovery settles the hold, and the phone, asking
    // again, learns that the payment went through.
    h.start_service(ServiceName::Ledger, opts()).await.unwrap();
    let mut open = usize::MAX;
    for _ in 0..30 {
        open = pay::resolve_pending(&c).await.unwrap();
        if open == 0 {
            break;
        }
    }
    assert_eq!(open, 0);
    let kept = receipts::list(&c).unwrap();
    assert_eq!(kept.len(), 1);
    let (at_paygate, settled) = books(&h).await;
    assert_eq!(settled, vec![kept[0].payment_id]);
    assert_eq!(
        at_paygate,
        vec![(kept[0].payment_id, PaymentState::Captured)]
    );
}

#[tokio::test]
async fn mode_b_a_payment_refused_after_the_phone_answered_reaches_the_kiosk_at_once() {
    let (h, clock) = system().await;
    let mut a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    // Were the refusal not heard, the kiosk would wait this long and then say PAIRING_GONE.
    a.settings.receipt_wait = Duration::from_secs(300);
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(registered_phone(&h, &clock, dir.path()).await);
    let shown = wallet::show(&c, Duration::from_secs(30)).await.unwrap();
    let code = shown.code.clone();
    let (_codes, kiosk_task) = kiosk_pays(&a, Some(code));
    let (verified, _answer) = shown
        .wait_offer(&c, &mut Always(true), &CancellationToken::new())
        .await
        .unwrap();
    // The payer confirmed, then dawdled past the bill's expiry: the platform refuses.
    clock.advance(chrono::Duration::hours(1));
    let on_phone = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(on_phone.code, ErrorCode::BillExpired, "{on_phone}");
    let at_kiosk = ended(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::BillExpired, "{at_kiosk}");
    assert!(books(&h).await.1.is_empty());
}

#[tokio::test]
async fn with_the_query_service_down_a_kiosk_and_a_phone_still_pay_and_the_pairing_is_told() {
    let (mut h, clock) = system().await;
    let dir = tempfile::tempdir().unwrap();
    let registered = registered_phone(&h, &clock, dir.path()).await;
    drop(registered);
    h.stop_service(ServiceName::Query).await.unwrap();
    // A kiosk and a phone that have looked up no key yet; the query service answers nobody.
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let c = phone(&h, &clock, dir.path()).await;
    let asked: Result<posfee_schemas::query::AccountSummary, _> = call(
        &a.client,
        subjects::query(subjects::QueryKind::Account, &asker(&a.client)),
        &posfee_schemas::query::AccountRef {
            tenant: tenant(),
            account: account(),
        },
        Some(Duration::from_secs(2)),
    )
    .await;
    assert!(
        matches!(asked, Err(posfee_client::CallError::NoResponders(_))),
        "{asked:?}"
    );

    let (mut codes, kiosk_task) = kiosk_pays(&a, None);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    let phone_receipt = pay::pay(&c, &verified).await.unwrap().remove(0);
    let kiosk_receipt = tokio::time::timeout(Duration::from_secs(15), kiosk_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(phone_receipt, kiosk_receipt);
    check_receipt(&kiosk_receipt);

    // The pairing is carried by the hold, not reported through the query service: the
    // operators see it while the query service is still down.
    let operator = h.connect(Role::Operator).await.unwrap();
    let told = pairings_of(&h, kiosk_receipt.bill_id, 1).await;
    assert!(
        matches!(&told[0].body, EventBody::PairingJoined(_)),
        "{told:?}"
    );
    h.start_service(
        ServiceName::Query,
        ServiceOptions {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let reported = || async {
        let events = posfee_harness::stored_events(&operator, "posfee.events.pairing.*")
            .await
            .unwrap();
        let joined = events.iter().any(|e| {
            matches!(&e.body, EventBody::PairingJoined(p) if p.bill_id == kiosk_receipt.bill_id)
        });
        if joined {
            Ok(())
        } else {
            Err(events.len())
        }
    };
    posfee_harness::eventually_within("the pairing is reported", Duration::from_secs(20), reported)
        .await;
}

// --- Baskets -----------------------------------------------------------------------------

fn second_account() -> AccountNo {
    AccountNo::parse("3-1-1203").unwrap()
}

fn quote_of(account: AccountNo) -> QuoteRequest {
    QuoteRequest { account, ..quote() }
}

/// The system with a second household of the same biller, owing the same 190.00.
async fn system_of_two() -> (Harness, ManualClock) {
    let (h, clock) = system().await;
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &[second_account()])
        .await
        .unwrap();
    (h, clock)
}

type BasketTask = tokio::task::JoinHandle<Result<Vec<Receipt>, posfee_schemas::WireError>>;

/// The kiosk pays `spec` in the background (mode A: the codes come out of the channel).
fn kiosk_pays_spec(a: &Agent, spec: PaySpec) -> (mpsc::UnboundedReceiver<PairCode>, BasketTask) {
    let (tx, rx) = mpsc::unbounded_channel();
    let a = a.clone();
    let task = tokio::spawn(async move {
        let mut view = TestView { codes: tx };
        flow::pay_all(&a, spec, &mut view, &CancellationToken::new()).await
    });
    (rx, task)
}

/// The kiosk pays a basket of both households in the background (mode A).
fn kiosk_pays_basket(a: &Agent) -> (mpsc::UnboundedReceiver<PairCode>, BasketTask) {
    let spec = PaySpec {
        quote: quote(),
        more: vec![quote_of(second_account())],
        wallet: None,
    };
    kiosk_pays_spec(a, spec)
}

/// The kiosk pays one bill of `account` in the background (mode A).
fn kiosk_pays_account(
    a: &Agent,
    account: AccountNo,
) -> (mpsc::UnboundedReceiver<PairCode>, BasketTask) {
    let spec = PaySpec {
        quote: quote_of(account),
        more: Vec::new(),
        wallet: None,
    };
    kiosk_pays_spec(a, spec)
}

#[tokio::test]
async fn a_basket_is_paired_once_confirmed_once_and_settled_bill_by_bill() {
    let (h, clock) = system_of_two().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let code = next_code(&mut codes).await;
    let verified = join::join(&c, &code).await.unwrap();
    assert_eq!(verified.more.len(), 1, "the phone has the whole basket");
    assert_eq!(verified.total(), Money::cny(38000));
    let phone_receipts = pay::pay(&c, &verified).await.unwrap();
    let kiosk_receipts = tokio::time::timeout(Duration::from_secs(15), kiosk_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(kiosk_receipts, phone_receipts);
    let accounts: Vec<_> = phone_receipts.iter().map(|r| r.account.clone()).collect();
    assert_eq!(accounts, vec![account(), second_account()]);
    // Each bill is a payment of its own: its own id, receipt and settlement.
    let (at_paygate, mut settled) = books(&h).await;
    let mut ids: Vec<_> = phone_receipts.iter().map(|r| r.payment_id).collect();
    ids.sort();
    settled.sort();
    assert_eq!(settled, ids);
    assert!(at_paygate
        .iter()
        .all(|(id, s)| ids.contains(id) && *s == PaymentState::Captured));
    assert_eq!(at_paygate.len(), 2);
}

#[tokio::test]
async fn a_basket_with_a_bill_paid_elsewhere_charges_nothing_and_both_sides_name_that_bill() {
    let (h, clock) = system_of_two().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();

    // Meanwhile the second household pays its October water at another kiosk.
    let other_kiosk = TerminalId::parse("kiosk-02").unwrap();
    let b = agent(&h, &clock, other_kiosk, Duration::from_secs(30)).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other_phone = registered_phone(&h, &clock, other_dir.path()).await;
    let (mut other_codes, elsewhere) = kiosk_pays_account(&b, second_account());
    let other = join::join(&other_phone, &next_code(&mut other_codes).await)
        .await
        .unwrap();
    let paid_elsewhere = pay::pay(&other_phone, &other).await.unwrap().remove(0);
    elsewhere.await.unwrap().unwrap();

    // The basket's payment is refused whole, naming the household paid meanwhile.
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::BillAlreadyPaid, "{err}");
    assert!(err.message.contains("3-1-1203"), "{err}");
    let at_kiosk = ended_basket(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::BillAlreadyPaid, "{at_kiosk}");
    assert!(at_kiosk.message.contains("3-1-1203"), "{at_kiosk}");
    // Nothing charged: both of the basket's holds released, only the other payment settled.
    let (at_paygate, settled) = books(&h).await;
    assert_eq!(settled, vec![paid_elsewhere.payment_id]);
    let voided = at_paygate
        .iter()
        .filter(|(_, s)| *s == PaymentState::Voided)
        .count();
    assert_eq!((at_paygate.len(), voided), (3, 2), "{at_paygate:?}");
    assert!(receipts::list(&c).unwrap().is_empty());
}

#[tokio::test]
async fn one_bill_of_a_basket_cannot_be_paid_alone() {
    let (h, clock) = system_of_two().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let mut verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    // A phone that drops the basket's other bill and pays the first as if it were alone.
    verified.more.clear();
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidField, "{err}");
    assert!(err.message.contains("basket"), "{err}");
    let (at_paygate, settled) = books(&h).await;
    assert!(at_paygate.is_empty() && settled.is_empty());
    // The kiosk heard the refusal and closed both bills; the next basket, paid whole by the
    // same phone, goes through: the refusal above was the lone bill's.
    let at_kiosk = ended_basket(kiosk_task).await;
    assert_eq!(at_kiosk.code, ErrorCode::InvalidField, "{at_kiosk}");
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let whole = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    assert_eq!(pay::pay(&c, &whole).await.unwrap().len(), 2);
    let kiosk_receipts = kiosk_task.await.unwrap().unwrap();
    assert_eq!(kiosk_receipts.len(), 2);
}

async fn ended_basket(task: BasketTask) -> posfee_schemas::WireError {
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the kiosk kept waiting")
        .unwrap()
        .unwrap_err()
}

#[tokio::test]
async fn a_payment_id_taken_from_a_basket_by_another_phone_holds_none_of_it() {
    let (h, clock) = system_of_two().await;
    let importer = h.connect(Role::Importer).await.unwrap();
    let third = AccountNo::parse("3-1-1204").unwrap();
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        std::slice::from_ref(&third),
    )
    .await
    .unwrap();
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = registered_phone(&h, &clock, dir.path()).await;
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let verified = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    // The basket's payment id, as the kiosk learns it before paygate does.
    let basket_id = PaymentId::new_random();
    c.home
        .save_pending(&posfee_companion::home::PendingPayment {
            payment_id: basket_id,
            bill_id: verified.bill.bill_id,
            request: None,
        })
        .await
        .unwrap();
    // A thief's phone pays a bill of its own under the id the basket's second bill will have.
    let taken = PaymentId::part(basket_id, verified.more[0].0.bill_id);
    let b = agent(
        &h,
        &clock,
        TerminalId::parse("kiosk-02").unwrap(),
        Duration::from_secs(30),
    )
    .await;
    let thief_dir = tempfile::tempdir().unwrap();
    let thief = registered_phone(&h, &clock, thief_dir.path()).await;
    let (mut thief_codes, thief_kiosk) = kiosk_pays_account(&b, third);
    let own = join::join(&thief, &next_code(&mut thief_codes).await)
        .await
        .unwrap();
    thief
        .home
        .save_pending(&posfee_companion::home::PendingPayment {
            payment_id: taken,
            bill_id: own.bill.bill_id,
            request: None,
        })
        .await
        .unwrap();
    let thiefs = pay::pay(&thief, &own).await.unwrap().remove(0);
    assert_eq!(
        thiefs.payment_id, taken,
        "the probe: the thief's payment took the id"
    );
    thief_kiosk.await.unwrap().unwrap();

    // The payer's basket is refused as a reused id, and nothing of it is held.
    let err = pay::pay(&c, &verified).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::IdempotencyConflict, "{err}");
    let (at_paygate, settled) = books(&h).await;
    assert_eq!(at_paygate, vec![(taken, PaymentState::Captured)]);
    assert_eq!(settled, vec![taken]);
    ended_basket(kiosk_task).await;
    // Under a new id the same phone pays the next basket whole.
    let (mut codes, kiosk_task) = kiosk_pays_basket(&a);
    let again = join::join(&c, &next_code(&mut codes).await).await.unwrap();
    assert_eq!(pay::pay(&c, &again).await.unwrap().len(), 2);
    assert_eq!(kiosk_task.await.unwrap().unwrap().len(), 2);
}
