//! The fee-engine on the bus: quotes and signed bills from rule files and reference events,
//! idempotent issue, clear errors, and payments moving the account's paid-through month.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveDate, TimeZone, Utc};
use posfee_client::{call, CallError, ManualClock};
use posfee_harness::asker;
use posfee_harness::fixtures;
use posfee_harness::{publish_events, stored_events, Harness, ServiceOptions};
use posfee_schemas::events::*;
use posfee_schemas::fee::*;
use posfee_schemas::ids::*;
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::signed::{KeyRing, Purpose};
use posfee_schemas::subjects::{self, EventKind, Role, ServiceName};
use posfee_schemas::ErrorCode;
use std::sync::Arc;

fn tenant() -> TenantId {
    TenantId::parse("city-water").unwrap()
}
fn account() -> AccountNo {
    AccountNo::parse("3-1-1202").unwrap()
}
fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}
fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 2026-11-25 10:00 in Shanghai.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()
}

/// A household paid through September, 170 m³ used this year before October, 30 m³ in
/// October. The engine and its view, up and fed.
async fn system() -> (Harness, async_nats::Client, ManualClock) {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(now());
    h.start_service(
        ServiceName::FeeEngine,
        ServiceOptions {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    // The household of posfee_harness::fixtures: 190.00 CNY owed for October.
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &[account()])
        .await
        .unwrap();
    let terminal = h.terminal("kiosk-01").await.unwrap();
    (h, terminal, clock)
}

fn quote_req() -> QuoteRequest {
    QuoteRequest {
        tenant: tenant(),
        account: account(),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    }
}

fn issue_req(key: &str) -> BillIssueRequest {
    BillIssueRequest {
        basket: None,
        quote: quote_req(),
        terminal: kiosk(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    }
}

/// The ledger's `payment.settled` of the household's 190.00 CNY `bill`, by a new payment.
fn settlement(bill: BillId) -> Event {
    Event::new(
        EventId::new_random(),
        now(),
        EventBody::PaymentSettled(PaymentSettled {
            payment_id: PaymentId::new_random(),
            bill_id: bill,
            tenant: tenant(),
            account: account(),
            terminal: kiosk(),
            payer: PayerHandle::parse("p-1").unwrap(),
            amount: Money::cny(19000),
            settled_at: now(),
            receipt: None,
        }),
    )
}

fn remote_code(e: CallError) -> ErrorCode {
    e.remote()
        .unwrap_or_else(|| panic!("not a remote error: {e}"))
        .code
}

#[tokio::test]
async fn quote_prices_october_across_the_year_to_date_tier_boundary() {
    let (_h, terminal, _) = system().await;
    let q: Quote = call(
        &terminal,
        subjects::fee_quote(&asker(&terminal)),
        &quote_req(),
        None,
    )
    .await
    .unwrap();
    // 170 m³ were used before October, so October's 30 m³ are 10 m³ in tier 1 (to 180) and
    // 20 m³ in tier 2:
    //   tier 1: 10 × (2.07 + 1.57 + 1.36) = 50.00
    //   tier 2: 20 × (4.07 + 1.57 + 1.36) = 140.00      total 190.00 CNY
    assert_eq!(q.total, Fen::new(19000));
    assert_eq!(Fen::sum(q.lines.iter().map(|l| l.amount)).unwrap(), q.total);
    assert_eq!(q.as_of, day(2026, 11, 25));
    assert!(q
        .lines
        .iter()
        .all(|l| l.rule_id == "water-residential" && l.rule_version == "2014-05"));
    assert!(
        q.lines.iter().all(|l| l.period.contains("2026-10")),
        "{:?}",
        q.lines
    );
    assert!(
        q.lines.iter().any(|l| l.explanation.contains("sewage")),
        "{:?}",
        q.lines
    );
}

#[tokio::test]
async fn a_bill_is_signed_expires_in_15_minutes_and_is_reported() {
    let (h, terminal, _) = system().await;
    let issued: IssuedBill = call(
        &terminal,
        subjects::bill_issue(&kiosk()),
        &issue_req("k-1"),
        None,
    )
    .await
    .unwrap();
    // Verify with the public half of the tenant's key file, as a phone would.
    let key_file = h
        .data()
        .service("fee-engine")
        .join("keys/city-water/1.ed25519");
    let seed: [u8; 32] = std::fs::read(&key_file).unwrap().try_into().unwrap();
    // Key `1` of this instance: `<tenant>-<instance>-1`.
    let id = issued.signed.key_id.clone();
    assert!(
        id.as_str().starts_with("city-water-") && id.as_str().ends_with("-1"),
        "{id}"
    );
    let mut ring = KeyRing::new();
    ring.insert(
        id,
        ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key(),
    );
    let bill: Bill = issued.signed.verify(Purpose::Bill, &ring).unwrap();
    assert_eq!(bill.bill_id, issued.bill_id);
    assert_eq!(bill.total, Money::cny(19000));
    assert_eq!(bill.tenant_name, "City Water Supply Co.");
    assert_eq!(bill.terminal, kiosk());
    assert_eq!(
        bill.expires_at - bill.issued_at,
        chrono::Duration::minutes(15)
    );

    let operator = h.connect(Role::Operator).await.unwrap();
    let events = posfee_harness::eventually_within(
        "the bill's event is stored",
        std::time::Duration::from_secs(5),
        || async {
            let events = stored_events(&operator, &subjects::event(EventKind::BillIssued))
                .await
                .unwrap();
            if events.is_empty() {
                Err(0)
            } else {
                Ok(events)
            }
        },
    )
    .await;
    assert_eq!(events.len(), 1);
    match &events[0].body {
        EventBody::BillIssued(e) => {
            assert_eq!(e.bill_id, bill.bill_id);
            assert_eq!(e.total, Money::cny(19000));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn the_same_key_returns_the_same_bill_and_a_changed_request_is_refused() {
    let (mut h, terminal, _) = system().await;
    let first: IssuedBill = call(
        &terminal,
        subjects::bill_issue(&kiosk()),
        &issue_req("k-7"),
        None,
    )
    .await
    .unwrap();
    let again: IssuedBill = call(
        &terminal,
        subjects::bill_issue(&kiosk()),
        &issue_req("k-7"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(first, again);

    let mut changed = issue_req("k-7");
    changed.quote.kinds = vec![FeeKind::parse("water").unwrap()];
    let err = call::<_, IssuedBill>(&terminal, subjects::bill_issue(&kiosk()), &changed, None)
        .await
        .unwrap_err();
    assert_eq!(remote_code(err), ErrorCode::IdempotencyConflict);

    // A request naming another terminal than the one asking is refused before anything else.
    let mut other = issue_req("k-8");
    other.terminal = TerminalId::parse("kiosk-02").unwrap();
    let err = call::<_, IssuedBill>(&terminal, subjects::bill_issue(&kiosk()), &other, None)
        .await
        .unwrap_err();
    let wire = err.remote().unwrap().clone();
    assert_eq!(wire.code, ErrorCode::Forbidden);
    assert!(wire.message.contains("kiosk-02"), "{}", wire.message);

    // Exactly one bill was reported, whatever was retried: once the fee-engine has stopped
    // with an empty outbox, everything it reported is in the stream.
    h.stop_and_drain(ServiceName::FeeEngine).await.unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let events = stored_events(&operator, &subjects::event(EventKind::BillIssued))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn bad_requests_get_stable_codes_and_change_nothing() {
    let (mut h, terminal, _) = system().await;
    let mut unknown_tenant = quote_req();
    unknown_tenant.tenant = TenantId::parse("nobody").unwrap();
    let e = call::<_, Quote>(
        &terminal,
        subjects::fee_quote(&asker(&terminal)),
        &unknown_tenant,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(remote_code(e), ErrorCode::TenantNotFound);

    let mut unknown_account = quote_req();
    unknown_account.account = AccountNo::parse("9-9-9999").unwrap();
    let e = call::<_, Quote>(
        &terminal,
        subjects::fee_quote(&asker(&terminal)),
        &unknown_account,
        None,
    )
    .await
    .unwrap_err();
    let wire = e.remote().unwrap().clone();
    assert_eq!(wire.code, ErrorCode::AccountNotFound);
    assert!(wire.message.contains("9-9-9999"), "{wire}");

    let mut unknown_kind = quote_req();
    unknown_kind.kinds = vec![FeeKind::parse("gas").unwrap()];
    let e = call::<_, Quote>(
        &terminal,
        subjects::fee_quote(&asker(&terminal)),
        &unknown_kind,
        None,
    )
    .await
    .unwrap_err();
    let wire = e.remote().unwrap().clone();
    assert_eq!(wire.code, ErrorCode::InvalidField);
    assert!(wire.message.starts_with("kinds:"), "{wire}");

    // Garbage is a 400 with the decoder's reason.
    let reply = terminal
        .request(
            subjects::fee_quote(&asker(&terminal)),
            vec![0xc1, 0x00, 0x13].into(),
        )
        .await
        .unwrap();
    let err = posfee_client::call::error_from_headers(&reply).unwrap();
    assert_eq!(err.code, ErrorCode::BadRequest);

    // A bill priced as of another day than today is refused.
    let mut backdated = issue_req("k-back");
    backdated.quote.as_of = Some(day(2026, 10, 1));
    let e = call::<_, IssuedBill>(&terminal, subjects::bill_issue(&kiosk()), &backdated, None)
        .await
        .unwrap_err();
    let wire = e.remote().unwrap().clone();
    assert_eq!(wire.code, ErrorCode::InvalidField);
    assert!(wire.message.starts_with("quote.as_of"), "{wire}");

    h.stop_and_drain(ServiceName::FeeEngine).await.unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let events = stored_events(&operator, &subjects::event(EventKind::BillIssued))
        .await
        .unwrap();
    assert!(events.is_empty(), "a refused request issued a bill");
}

#[tokio::test]
async fn a_settled_payment_moves_the_account_past_what_it_paid() {
    let (h, terminal, _) = system().await;
    let issued: IssuedBill = call(
        &terminal,
        subjects::bill_issue(&kiosk()),
        &issue_req("k-pay"),
        None,
    )
    .await
    .unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let settled = || settlement(issued.bill_id);
    // Written on the settlement subject with the ledger's bus credential (a leaked seed) but
    // not sealed by the ledger's authority: unsealed, and sealed by another service's
    // authority. Neither counts: the bill is still owed once the view has read them.
    let js = async_nats::jetstream::new(ledger.clone());
    let forged = settled();
    js.publish(forged.subject(), posfee_schemas::encode(&forged).into())
        .await
        .unwrap()
        .await
        .unwrap();
    publish_events(&ledger, &h.signer(Role::Query), &[settled()])
        .await
        .unwrap();
    // A household imported after them: once the view knows it, it has read the forgeries.
    let importer = h.connect(Role::Importer).await.unwrap();
    let later = AccountNo::parse("3-1-1299").unwrap();
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        std::slice::from_ref(&later),
    )
    .await
    .unwrap();
    let known = QuoteRequest {
        account: later,
        ..quote_req()
    };
    posfee_harness::eventually("the later household is known", || async {
        call::<_, Quote>(
            &terminal,
            subjects::fee_quote(&asker(&terminal)),
            &known,
            None,
        )
        .await
        .is_ok()
    })
    .await;
    let still: Quote = call(
        &terminal,
        subjects::fee_quote(&asker(&terminal)),
        &quote_req(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        still.total,
        Fen::new(19000),
        "a forged settlement was believed"
    );
    // The ledger's own, sealed by its authority, moves the account on.
    publish_events(&ledger, &h.signer(Role::Ledger), &[settled()])
        .await
        .unwrap();
    posfee_harness::eventually_within(
        "nothing owed after the payment settled",
        std::time::Duration::from_secs(5),
        || async {
            let quote = subjects::fee_quote(&asker(&terminal));
            match call::<_, Quote>(&terminal, quote, &quote_req(), None).await {
                Err(e) if e.remote().map(|w| w.code) == Some(ErrorCode::NothingOwed) => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
}

/// Two instances side by side, as `posfee up --instances 2` runs them: copies of one request
/// spread over both make one bill; an instance started on an empty store folder rebuilds its
/// view from the stream alone and answers exactly as before (the same bill for the same key,
/// the same amount owed after its settlement).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_agree_on_every_bill_and_a_lost_store_is_rebuilt_from_the_stream() {
    let (mut h, terminal, clock) = system().await;
    let opts = || ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    h.start_service(ServiceName::FeeEngine, opts())
        .await
        .unwrap();
    let issue = |key: &'static str| {
        let terminal = terminal.clone();
        async move {
            call::<_, IssuedBill>(
                &terminal,
                subjects::bill_issue(&kiosk()),
                &issue_req(key),
                None,
            )
            .await
        }
    };
    let twins = futures::future::join_all((0..8).map(|_| issue("k-twin"))).await;
    let bills: std::collections::BTreeSet<BillId> =
        twins.into_iter().map(|r| r.unwrap().bill_id).collect();
    assert_eq!(bills.len(), 1, "one key made {bills:?}");
    let bill = *bills.first().unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let of_key = stored_events(&operator, &subjects::event(EventKind::BillIssued))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| match &e.body {
            EventBody::BillIssued(b) => b
                .record
                .as_ref()
                .is_some_and(|r| r.idempotency_key.as_str() == "k-twin"),
            _ => false,
        })
        .count();
    assert_eq!(of_key, 1, "the stream holds {of_key} bills for one key");

    // The ledger settles it: the account owes nothing more.
    let ledger = h.connect(Role::Ledger).await.unwrap();
    publish_events(&ledger, &h.signer(Role::Ledger), &[settlement(bill)])
        .await
        .unwrap();
    let owes_nothing = || async {
        matches!(
            call::<_, Quote>(&terminal, subjects::fee_quote(&asker(&terminal)), &quote_req(), None).await,
            Err(e) if e.remote().map(|w| w.code) == Some(ErrorCode::NothingOwed)
        )
    };
    posfee_harness::eventually("the settled account owes nothing", owes_nothing).await;

    // The first instance's store is lost; the second stops too; one starts on the empty
    // folder, alone.
    h.stop_service(ServiceName::FeeEngine).await.unwrap();
    let folder = h.data().service(Role::FeeEngine.as_str());
    assert!(folder.join("db").exists(), "{}", folder.display());
    std::fs::remove_dir_all(&folder).unwrap();
    h.stop_service(ServiceName::FeeEngine).await.unwrap();
    h.start_service(ServiceName::FeeEngine, opts())
        .await
        .unwrap();
    assert!(folder.join("db").exists(), "not started on the lost folder");
    let again = issue("k-twin").await.unwrap();
    assert_eq!(again.bill_id, bill, "a retried key got another bill");
    assert!(
        owes_nothing().await,
        "the rebuilt view forgot the settlement"
    );
    // And it issues new bills with the keys it made anew.
    let other = AccountNo::parse("3-1-1203").unwrap();
    fixtures::import_water_households(
        &h.connect(Role::Importer).await.unwrap(),
        &h.signer(Role::Importer),
        std::slice::from_ref(&other),
    )
    .await
    .unwrap();
    let fresh = BillIssueRequest {
        quote: QuoteRequest {
            account: other,
            ..quote_req()
        },
        ..issue_req("k-fresh")
    };
    posfee_harness::eventually("a bill for the new household", || async {
        call::<_, IssuedBill>(&terminal, subjects::bill_issue(&kiosk()), &fresh, None)
            .await
            .is_ok()
    })
    .await;
}
