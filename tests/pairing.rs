//! The temporary connection between kiosk and phone, on a real nats-server with the real
//! fee-engine and the project's permissions: mode A (the kiosk shows a code, the phone joins)
//! and mode B (the phone shows a code, the kiosk offers), single use, expiry, cancel,
//! conflicts, signature checks, the events they leave, and the terminal's presence.
//! Paygate and the ledger are not needed here; tests/pay_flow.rs pays.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use posfee_client::{CallError, ManualClock};
use posfee_companion::confirm::Always;
use posfee_companion::wallet;
use posfee_companion::{join, verify, Companion};
use posfee_harness::fixtures;
use posfee_harness::{stored_events, Harness, ServiceOptions};
use posfee_pos_agent::bill::{self, ShownBill};
use posfee_pos_agent::pairing::{self, PairingOutcome};
use posfee_pos_agent::presence::Presence;
use posfee_pos_agent::wallet::Offered;
use posfee_pos_agent::Agent;
use posfee_pos_agent::CancellationToken;
use posfee_schemas::events::*;
use posfee_schemas::fee::{Bill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::money::Money;
use posfee_schemas::pairing::{BillOffer, CloseReason, PairCode, PairJoin, WalletAnswer};
use posfee_schemas::subjects::{self, EventKind, Role, ServiceName};
use posfee_schemas::terminal::{TerminalSeen, TerminalState};
use posfee_schemas::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

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

/// The fee-engine, fed with one household that owes 190.00 CNY for October's water.
async fn system() -> (Harness, ManualClock) {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(now());
    // The query service records the kiosk's pairing and presence events.
    for service in [ServiceName::FeeEngine, ServiceName::Query] {
        h.start_service(
            service,
            ServiceOptions {
                clock: Arc::new(clock.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
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

async fn issue(a: &Agent) -> ShownBill {
    bill::issue(a, quote()).await.unwrap()
}

/// Opens a mode A pairing and waits for its end in the background.
async fn open_pairing(
    a: &Agent,
    shown: &ShownBill,
) -> (
    PairCode,
    CancellationToken,
    tokio::task::JoinHandle<PairingOutcome>,
) {
    let open = pairing::open(a, std::slice::from_ref(shown), None)
        .await
        .unwrap();
    let code = open.code.clone();
    let cancel = CancellationToken::new();
    let task = {
        let a = a.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { open.wait(&a, &cancel).await.unwrap() })
    };
    (code, cancel, task)
}

fn code_of(r: Result<impl std::fmt::Debug, posfee_schemas::WireError>) -> ErrorCode {
    r.unwrap_err().code
}

#[tokio::test]
async fn mode_a_first_join_gets_the_verified_bill_and_the_code_is_then_spent() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;
    let (code, _cancel, task) = open_pairing(&a, &shown).await;

    // The QR link carries the bill; the phone checks the signed bill against it.
    let scanned = PairCode::parse(&code.uri()).unwrap();
    let v = join::join(&c, &scanned).await.unwrap();
    assert_eq!(v.bill.bill_id, shown.issued.bill_id);
    assert_eq!(v.bill.total, Money::cny(19000));
    assert_eq!(v.bill.tenant_name, "City Water Supply Co.");
    assert_eq!(v.bill.terminal, kiosk());
    assert!(matches!(
        task.await.unwrap(),
        PairingOutcome::Joined(Some(_))
    ));

    // A second phone with the same code: nobody listens any more.
    let dir2 = tempfile::tempdir().unwrap();
    let c2 = phone(&h, &clock, dir2.path()).await;
    let second = join::join(&c2, &code).await;
    let err = second.unwrap_err();
    assert_eq!(err.code, ErrorCode::PairingGone, "{err}");
    assert!(err.message.contains("already used"), "{err}");

    // The kiosk told the phone how it showed the pairing, for the hold to carry it
    // (`pairing.joined`); the kiosk itself writes no pairing event.
    let shown = v.pairing.expect("the offer tells the pairing");
    assert_eq!(
        shown.mode,
        posfee_schemas::pairing::PairMode::TerminalPresents
    );
    assert!(
        shown.opened_at <= posfee_client::Clock::now(&clock),
        "{shown:?}"
    );
    assert!(shown.expires_at > shown.opened_at, "{shown:?}");
    assert!(kiosk_reported_no_pairing(&h).await);
    // The token is a secret: what is told of the pairing does not carry it, in hex or typed
    // form.
    let typed = code.typed();
    let symbols = typed.split_once(':').unwrap().1.replace('-', "");
    let text = serde_json::to_string(&shown).unwrap();
    let raw = posfee_schemas::encode(&shown);
    assert!(!text.contains(code.token().as_str()), "{text}");
    assert!(!text.contains(&symbols), "{text}");
    assert!(!String::from_utf8_lossy(&raw).contains(code.token().as_str()));
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind()).collect()
}

/// Since contract 0.5.0 a kiosk reports no pairing to the event stream: the hold or the
/// bill's close tells it (`tests/pay_flow.rs`). Proven against a stream that does hold the
/// bill's own event, so the probe could see what is there.
async fn kiosk_reported_no_pairing(h: &Harness) -> bool {
    let operator = h.connect(Role::Operator).await.unwrap();
    let issued = posfee_harness::events_in_stream(&operator, "posfee.events.bill.*")
        .await
        .unwrap();
    assert!(!issued.is_empty(), "the bill's event is in the stream");
    posfee_harness::events_in_stream(&operator, "posfee.events.pairing.*")
        .await
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn mode_a_typed_code_joins_too() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;
    let (code, _cancel, task) = open_pairing(&a, &shown).await;
    let typed = code.typed().to_lowercase().replace('-', " ");
    let typed = typed.replacen("kiosk 01", "kiosk-01", 1);
    let v = join::join(&c, &PairCode::parse(&typed).unwrap())
        .await
        .unwrap();
    assert_eq!(v.bill.bill_id, shown.issued.bill_id);
    assert!(matches!(
        task.await.unwrap(),
        PairingOutcome::Joined(Some(_))
    ));
}

#[tokio::test]
async fn a_late_join_after_expiry_is_told_the_pairing_is_gone() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;
    let (code, _cancel, task) = open_pairing(&a, &shown).await;
    assert_eq!(task.await.unwrap(), PairingOutcome::Expired);
    let err = join::join(&c, &code).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::PairingGone);
    assert_eq!(err.message, join::GONE_MESSAGE);
}

#[tokio::test]
async fn a_malformed_or_foreign_join_is_refused_and_the_pairing_stays_open_for_the_real_phone() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let raw_phone = h.phone().await.unwrap().1;

    let shown = issue(&a).await;
    let (code, _cancel, task) = open_pairing(&a, &shown).await;
    let subject = subjects::pair(&kiosk(), code.token());
    for bad in [
        PairJoin {
            terminal: TerminalId::parse("kiosk-99").unwrap(),
            bill_id: None,
            notify: None,
        },
        PairJoin {
            terminal: kiosk(),
            bill_id: Some(BillId::new_random()),
            notify: None,
        },
    ] {
        let r = posfee_client::peer::ask::<_, BillOffer>(
            &raw_phone,
            &posfee_harness::asker(&raw_phone),
            subject.clone(),
            &bad,
            Duration::from_secs(5),
        )
        .await;
        match r {
            Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::PairingConflict, "{e}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // Garbage is a bad request, and it does not spend the code either.
    let garbage = posfee_client::peer::ask::<_, BillOffer>(
        &raw_phone,
        &posfee_harness::asker(&raw_phone),
        subject.clone(),
        &"garbage",
        Duration::from_secs(5),
    )
    .await;
    match garbage {
        Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::BadRequest, "{e}"),
        other => panic!("expected a bad request, got {other:?}"),
    }

    // The real phone still joins and gets the bill.
    let verified = join::join(&c, &code).await.unwrap();
    assert_eq!(verified.bill.bill_id, shown.issued.bill_id);
    assert!(matches!(
        task.await.unwrap(),
        PairingOutcome::Joined(Some(_))
    ));
}

#[tokio::test]
async fn cancel_at_the_kiosk_closes_the_pairing() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;
    let (code, cancel, task) = open_pairing(&a, &shown).await;
    cancel.cancel();
    assert_eq!(task.await.unwrap(), PairingOutcome::Cancelled);
    assert_eq!(code_of(join::join(&c, &code).await), ErrorCode::PairingGone);
}

/// The kiosk side of mode B done by hand, so a test can send what a tampered kiosk would.
async fn offer_raw(
    kiosk_client: &async_nats::Client,
    code: &PairCode,
    offer: &BillOffer,
) -> Result<WalletAnswer, CallError> {
    posfee_client::peer::ask(
        kiosk_client,
        &posfee_harness::asker(kiosk_client),
        subjects::wallet(code.device_id().as_ref().unwrap(), code.token()),
        offer,
        Duration::from_secs(5),
    )
    .await
}

#[tokio::test]
async fn a_tampered_bill_is_refused_by_the_phone() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;

    // The amount changed in the signed bytes, the signature kept.
    let mut bill: Bill = shown.issued.signed.peek().unwrap();
    bill.total = Money::cny(1);
    let mut forged = shown.issued.clone();
    forged.signed.body = posfee_schemas::encode(&bill);
    let offer = BillOffer {
        pairing: None,
        more_bills: Vec::new(),
        updates: None,
        terminal: kiosk(),
        bill: forged,
        pairing_expires_at: now(),
    };
    let err = verify::offer(&c, &offer, &kiosk()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadSignature, "{err}");

    // The same forgery offered to a phone's wallet code: the kiosk gets the refusal.
    let shown_code = wallet::show(&c, Duration::from_secs(10)).await.unwrap();
    let code = shown_code.code.clone();
    let waiting = tokio::spawn(async move {
        let mut yes = Always(true);
        shown_code
            .wait_offer(&c, &mut yes, &CancellationToken::new())
            .await
            .map(|(v, _)| v.bill.bill_id)
    });
    match offer_raw(&a.client, &code, &offer).await {
        Err(CallError::Remote(e)) => assert_eq!(e.code, ErrorCode::BadSignature, "{e}"),
        other => panic!("expected BAD_SIGNATURE, got {other:?}"),
    }
    // The forgery did not use up the code: the genuine offer that follows is accepted.
    let genuine = BillOffer {
        bill: shown.issued.clone(),
        ..offer.clone()
    };
    let answer = offer_raw(&a.client, &code, &genuine).await.unwrap();
    assert_eq!(answer.bill_id, shown.issued.bill_id);
    assert_eq!(waiting.await.unwrap().unwrap(), shown.issued.bill_id);

    // A genuine bill offered for another terminal than the one offering it is refused too.
    let dir2 = tempfile::tempdir().unwrap();
    let c2 = phone(&h, &clock, dir2.path()).await;
    let mut wrong_terminal = offer.clone();
    wrong_terminal.bill = shown.issued.clone();
    wrong_terminal.terminal = TerminalId::parse("kiosk-02").unwrap();
    let err = verify::offer(&c2, &wrong_terminal, &wrong_terminal.terminal)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
}

#[tokio::test]
async fn mode_b_the_offer_reaches_the_phone_which_answers_once() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(phone(&h, &clock, dir.path()).await);
    let shown = issue(&a).await;

    let shown_code = wallet::show(&c, Duration::from_secs(10)).await.unwrap();
    // The kiosk reads the typed code off the phone's screen.
    let typed = PairCode::parse(&shown_code.code.typed()).unwrap();
    assert_eq!(typed, shown_code.code);
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut yes = Always(true);
            shown_code
                .wait_offer(&c, &mut yes, &CancellationToken::new())
                .await
        })
    };
    let answer = match posfee_pos_agent::wallet::offer(
        &a,
        &typed,
        std::slice::from_ref(&shown),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap()
    .0
    {
        Offered::Accepted(answer) => answer,
        other => panic!("the phone did not accept: {other:?}"),
    };
    let (verified, phone_answer) = waiting.await.unwrap().unwrap();
    assert_eq!(answer, phone_answer);
    assert_eq!(answer.bill_id, shown.issued.bill_id);
    assert_eq!(verified.bill.total, Money::cny(19000));
    // The phone stored the payment id it promised, for the payment that follows.
    assert_eq!(
        c.home
            .pending(shown.issued.bill_id)
            .unwrap()
            .unwrap()
            .payment_id,
        answer.payment_id
    );

    // Single use: a second bill to the same code is told it is spent while the phone pays
    // the first.
    let second = issue(&a).await;
    let offered = posfee_pos_agent::wallet::offer(
        &a,
        &typed,
        std::slice::from_ref(&second),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&offered.0, Offered::Ended(_, e) if e.code == ErrorCode::PairingConflict),
        "{offered:?}"
    );
    // What the bill's close would tell of the second pairing, and what the first offer told
    // the phone (for the hold) in mode B.
    assert_eq!(
        offered.1.end,
        posfee_schemas::pairing::PairingEnd::Cancelled
    );
    assert_eq!(
        offered.1.shown.mode,
        posfee_schemas::pairing::PairMode::PhonePresents
    );
    let told = verified.pairing.expect("the offer tells the pairing");
    assert_eq!(told.mode, posfee_schemas::pairing::PairMode::PhonePresents);
    drop(verified);
}

#[tokio::test]
async fn mode_b_a_declined_bill_is_a_declined_outcome_at_the_kiosk() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let c = phone(&h, &clock, dir.path()).await;
    let shown = issue(&a).await;
    let shown_code = wallet::show(&c, Duration::from_secs(10)).await.unwrap();
    let code = shown_code.code.clone();
    let waiting = tokio::spawn(async move {
        let mut no = Always(false);
        shown_code
            .wait_offer(&c, &mut no, &CancellationToken::new())
            .await
            .map(|_| ())
    });
    let offered = posfee_pos_agent::wallet::offer(
        &a,
        &code,
        std::slice::from_ref(&shown),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&offered.0, Offered::Ended(CloseReason::Declined, e) if e.code == ErrorCode::PayerDeclined),
        "{offered:?}"
    );
    assert_eq!(
        waiting.await.unwrap().unwrap_err().code,
        ErrorCode::PayerDeclined
    );
}

#[tokio::test]
async fn presence_is_announced_recorded_and_ended() {
    let (h, clock) = system().await;
    let a = agent(&h, &clock, kiosk(), Duration::from_secs(30)).await;
    let operator = h.connect(Role::Operator).await.unwrap();
    let read_record = || async {
        let js = async_nats::jetstream::new(operator.clone());
        let kv = js.get_key_value(subjects::TERMINALS_BUCKET).await.unwrap();
        let raw = kv.get(kiosk().as_str()).await.unwrap().unwrap();
        posfee_schemas::decode::<TerminalSeen>(&raw).unwrap()
    };

    let presence = Presence::announce(&a).await;
    let seen = read_record().await;
    assert_eq!(seen.state, TerminalState::Online);
    assert_eq!(seen.terminal, kiosk());
    assert_eq!(seen.heartbeat_secs, 1);
    // The operator's status view lists it online.
    let status = posfee_operator::status::collect(&operator, h.url().to_string(), now())
        .await
        .unwrap();
    assert!(status
        .terminals
        .iter()
        .any(|t| t.terminal == "kiosk-01" && t.online));

    // Heartbeats refresh last_seen.
    let beating = posfee_client::Shutdown::new();
    let hb = {
        let s = beating.clone();
        let p = Arc::new(presence);
        let p2 = p.clone();
        (tokio::spawn(async move { p2.heartbeat(s).await }), p)
    };
    clock.advance(chrono::Duration::seconds(5));
    // The next beat (every second) records the new time: wait for that, bounded.
    let want = now() + chrono::Duration::seconds(5);
    posfee_harness::eventually_within(
        "a heartbeat records the new time",
        Duration::from_secs(10),
        || async {
            let seen = read_record().await.last_seen;
            if seen == want {
                Ok(())
            } else {
                Err(seen)
            }
        },
    )
    .await;
    beating.trigger();
    hb.0.await.unwrap();
    hb.1.offline().await.unwrap();
    assert_eq!(read_record().await.state, TerminalState::Offline);

    let events = posfee_harness::eventually_within(
        "both presence events",
        Duration::from_secs(5),
        || async {
            let events = stored_events(&operator, "posfee.events.terminal.*")
                .await
                .unwrap();
            if events.len() >= 2 {
                Ok(events)
            } else {
                Err(kinds(&events))
            }
        },
    )
    .await;
    assert_eq!(
        kinds(&events),
        vec![EventKind::TerminalOnline, EventKind::TerminalOffline]
    );
}
