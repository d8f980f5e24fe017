//! Money on the bus: authorize → settle → capture, or void; exactly once; refunds; and the
//! books reconcile. The phone and the kiosk are played by the test with the wire types, so
//! this proves the services whatever client drives them.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::StreamExt;
use posfee_client::{call, CallError, ManualClock};
use posfee_harness::fixtures::{self, billing_now, register_phone, Phone};
use posfee_harness::{Harness, ServiceOptions};
use posfee_operator::reconcile::reconcile;
use posfee_schemas::fee::{BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{Receipt, RefundReply, RefundRequest, SignedReceipt};
use posfee_schemas::money::Money;
use posfee_schemas::paygate::{
    AmendReply, AmendRequest, PayOrder, PayRequest, PaygatePayment, PaymentState, PaymentsList,
    PaymentsListQuery,
};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::statement::{
    RowKind, Statement, StatementChunk, StatementFormat, StatementRequest,
};
use posfee_schemas::subjects::{self, PaygateOp, Role, ServiceName};
use posfee_schemas::{decode, ErrorCode};
use std::sync::Arc;
use std::time::Duration;

fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}

struct World {
    h: Harness,
    clock: ManualClock,
    terminal: async_nats::Client,
    companion: async_nats::Client,
    operator: async_nats::Client,
    phone: Phone,
}

async fn world(accounts: &[&str]) -> World {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(billing_now());
    h.start_all(ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let accounts: Vec<AccountNo> = accounts
        .iter()
        .map(|a| AccountNo::parse(*a).unwrap())
        .collect();
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &accounts)
        .await
        .unwrap();
    let companion = h.phone().await.unwrap().1;
    let phone = register_phone(&companion, "测试付款人").await.unwrap();
    World {
        terminal: h.terminal("kiosk-01").await.unwrap(),
        operator: h.connect(Role::Operator).await.unwrap(),
        companion,
        phone,
        clock,
        h,
    }
}

async fn issue(w: &World, account: &str, key: &str) -> IssuedBill {
    call(
        &w.terminal,
        subjects::bill_issue(&kiosk()),
        &BillIssueRequest {
            basket: None,
            quote: QuoteRequest {
                tenant: fixtures::water(),
                account: AccountNo::parse(account).unwrap(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            terminal: kiosk(),
            idempotency_key: IdempotencyKey::parse(key).unwrap(),
        },
        None,
    )
    .await
    .unwrap()
}

fn order(w: &World, bill: &IssuedBill, payment_id: PaymentId) -> PayRequest {
    let b: posfee_schemas::fee::Bill = bill.signed.peek().unwrap();
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id,
        payer: w.phone.payer.clone(),
        bill_id: b.bill_id,
        amount: b.total,
        terminal: b.terminal,
    };
    PayRequest {
        pairing: None,
        more_bills: Vec::new(),
        order: Signed::sign(
            Purpose::DevicePay,
            &order,
            &w.phone.device_key_id,
            &w.phone.device_key,
        ),
        bill: bill.clone(),
    }
}

async fn pay(w: &World, req: &PayRequest) -> Result<Receipt, CallError> {
    call(
        &w.companion,
        fixtures::pay_subject(&w.companion),
        req,
        Some(Duration::from_secs(30)),
    )
    .await
    .map(|r: SignedReceipt| r.peek().unwrap())
}

fn code(r: Result<Receipt, CallError>) -> ErrorCode {
    r.unwrap_err().remote().unwrap().code
}

async fn clean_books(w: &World) -> posfee_operator::reconcile::Report {
    posfee_harness::eventually_within("the books reconcile", Duration::from_secs(5), || async {
        let r = reconcile(&w.operator, w.clock_now()).await.unwrap();
        if r.differences.is_empty() {
            Ok(r)
        } else {
            Err(r)
        }
    })
    .await
}

impl World {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        posfee_client::Clock::now(&self.clock)
    }
}

#[tokio::test]
async fn a_payment_settles_once_the_terminal_gets_its_receipt_and_a_retry_changes_nothing() {
    let w = world(&["1-1-101"]).await;
    let mut receipts = w
        .terminal
        .subscribe(subjects::receipt(&kiosk()))
        .await
        .unwrap();
    w.terminal.flush().await.unwrap();
    let bill = issue(&w, "1-1-101", "b-1").await;
    let req = order(&w, &bill, PaymentId::new_random());
    let receipt = pay(&w, &req).await.unwrap();
    assert_eq!(receipt.bill_id, bill.bill_id);
    assert_eq!(receipt.total, Money::cny(19000));
    assert_eq!(receipt.tenant_name, "City Water Supply Co.");
    assert_eq!(receipt.terminal, kiosk());

    let at_kiosk = tokio::time::timeout(Duration::from_secs(5), receipts.next())
        .await
        .expect("no receipt at the terminal")
        .unwrap();
    let at_kiosk: Receipt = decode::<SignedReceipt>(&at_kiosk.payload)
        .unwrap()
        .peek()
        .unwrap();
    assert_eq!(at_kiosk, receipt);

    // The phone retries (it never saw the answer): same receipt, nothing moves twice.
    let again = pay(&w, &req).await.unwrap();
    assert_eq!(again, receipt);
    // The same order sent by another phone is not answered with the payer's receipt.
    let (_, other) = w.h.phone().await.unwrap();
    let copied = call::<_, SignedReceipt>(
        &other,
        fixtures::pay_subject(&other),
        &req,
        Some(Duration::from_secs(30)),
    )
    .await;
    match copied {
        Err(posfee_client::CallError::Remote(e)) => {
            assert_eq!(e.code, ErrorCode::Forbidden, "{e}")
        }
        other => panic!("another phone got the payer's receipt: {other:?}"),
    }
    let report = clean_books(&w).await;
    assert_eq!((report.settled, report.captured, report.voided), (1, 1, 0));
    assert_eq!(report.settled_fen, 19000);
}

#[tokio::test]
async fn a_second_payment_of_the_same_bill_or_period_is_voided_and_moves_no_money() {
    let w = world(&["1-1-102"]).await;
    let bill = issue(&w, "1-1-102", "b-2").await;
    pay(&w, &order(&w, &bill, PaymentId::new_random()))
        .await
        .unwrap();

    // Another phone payment of the same bill.
    let twice = pay(&w, &order(&w, &bill, PaymentId::new_random())).await;
    assert_eq!(code(twice), ErrorCode::BillAlreadyPaid);

    // A second bill for the same account issued before the first was paid covers the same
    // period: the ledger refuses it too.
    let w2 = world(&["1-1-103"]).await;
    let first = issue(&w2, "1-1-103", "b-3a").await;
    let second = issue(&w2, "1-1-103", "b-3b").await;
    assert_ne!(first.bill_id, second.bill_id);
    pay(&w2, &order(&w2, &first, PaymentId::new_random()))
        .await
        .unwrap();
    let dup = pay(&w2, &order(&w2, &second, PaymentId::new_random())).await;
    assert_eq!(code(dup), ErrorCode::BillAlreadyPaid);

    for w in [&w, &w2] {
        let report = clean_books(w).await;
        assert_eq!((report.settled, report.captured, report.voided), (1, 1, 1));
        assert_eq!(report.captured_fen, 19000);
    }
}

/// Two ledger and two paygate instances, each with its own store, take concurrent payments of
/// the same bills: every bill is settled once and the other payment voided with its hold
/// released, whichever instances each payment reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_money_service_settle_each_bill_once() {
    const BILLS: usize = 12;
    let accounts: Vec<String> = (0..BILLS).map(|i| format!("1-2-{i}")).collect();
    let refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let mut w = world(&refs).await;
    let opts = ServiceOptions {
        clock: Arc::new(w.clock.clone()),
        ..Default::default()
    };
    w.h.start_service(ServiceName::Ledger, opts.clone())
        .await
        .unwrap();
    w.h.start_service(ServiceName::Paygate, opts).await.unwrap();
    let mut paid = 0;
    for (i, account) in accounts.iter().enumerate() {
        let bill = issue(&w, account, &format!("two-{i}")).await;
        let (a, b) = (
            order(&w, &bill, PaymentId::new_random()),
            order(&w, &bill, PaymentId::new_random()),
        );
        let (a, b) = tokio::join!(pay(&w, &a), pay(&w, &b));
        let outcomes = [a, b];
        let settled = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(settled, 1, "bill {i}: {outcomes:?}");
        let refused = outcomes.into_iter().find(|r| r.is_err()).unwrap();
        assert_eq!(code(refused), ErrorCode::BillAlreadyPaid);
        paid += 1;
    }
    // Both instances of each took requests (so each decision above could have gone either way).
    for (service, endpoint) in [("posfee-ledger", "settle"), ("posfee-paygate", "pay")] {
        let served = requests_per_instance(&w.operator, service, endpoint).await;
        assert_eq!(served.len(), 2, "{service}: {served:?}");
        assert!(served.iter().all(|n| *n > 0), "{service}: {served:?}");
    }
    let report = clean_books(&w).await;
    assert_eq!(
        (report.settled, report.captured, report.voided),
        (paid, paid, paid)
    );
}

/// How many requests on `endpoint` each running instance of `service` has answered
/// (`$SRV.STATS`).
async fn requests_per_instance(
    operator: &async_nats::Client,
    service: &str,
    endpoint: &str,
) -> Vec<u64> {
    let inbox = operator.new_inbox();
    let mut answers = operator.subscribe(inbox.clone()).await.unwrap();
    operator
        .publish_with_reply(
            format!("{}.{service}", subjects::srv::stats()),
            inbox,
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < 2 {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), answers.next()).await else {
            break;
        };
        let stats: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        let settle = stats["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == endpoint)
            .unwrap();
        out.push(settle["num_requests"].as_u64().unwrap());
    }
    out
}

#[tokio::test]
async fn expired_tampered_and_foreign_orders_are_refused_before_money_moves() {
    let w = world(&["1-1-104"]).await;
    let bill = issue(&w, "1-1-104", "b-4").await;

    // Changing the amount in the order breaks nothing but the order: AMOUNT_MISMATCH.
    let mut o: PayOrder = order(&w, &bill, PaymentId::new_random())
        .order
        .peek()
        .unwrap();
    o.amount = Money::cny(100);
    let cheap = PayRequest {
        pairing: None,
        more_bills: Vec::new(),
        order: Signed::sign(
            Purpose::DevicePay,
            &o,
            &w.phone.device_key_id,
            &w.phone.device_key,
        ),
        bill: bill.clone(),
    };
    assert_eq!(code(pay(&w, &cheap).await), ErrorCode::AmountMismatch);

    // An order signed by another key under this device's id.
    let forged_key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let mut forged = order(&w, &bill, PaymentId::new_random());
    forged.order = Signed::sign(
        Purpose::DevicePay,
        &forged.order.peek::<PayOrder>().unwrap(),
        &w.phone.device_key_id,
        &forged_key,
    );
    assert_eq!(code(pay(&w, &forged).await), ErrorCode::BadSignature);

    // A bill whose body was changed after signing.
    let mut tampered = bill.clone();
    let mut b: posfee_schemas::fee::Bill = tampered.signed.peek().unwrap();
    b.total = Money::cny(1);
    tampered.signed.body = posfee_schemas::encode(&b);
    let t = order(&w, &tampered, PaymentId::new_random());
    assert_eq!(code(pay(&w, &t).await), ErrorCode::BadSignature);

    // Sixteen minutes later the bill has expired.
    w.clock.advance(chrono::Duration::minutes(16));
    let late = pay(&w, &order(&w, &bill, PaymentId::new_random())).await;
    assert_eq!(code(late), ErrorCode::BillExpired);

    let report = clean_books(&w).await;
    assert_eq!((report.settled, report.captured, report.voided), (0, 0, 0));
}

#[tokio::test]
async fn refunds_are_partial_or_full_idempotent_and_never_exceed_the_payment() {
    let w = world(&["1-1-105"]).await;
    let bill = issue(&w, "1-1-105", "b-5").await;
    let receipt = pay(&w, &order(&w, &bill, PaymentId::new_random()))
        .await
        .unwrap();
    let clerk = w.h.clerk("city-water").await.unwrap();
    let refund = |fen: i64, key: &str| RefundRequest {
        payment_id: receipt.payment_id,
        amount: Money::cny(fen),
        reason: "meter misread".into(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    };
    let subject = subjects::ledger_refund(&posfee_harness::fixtures::water());
    let first: RefundReply = call(&clerk, subject.clone(), &refund(5000, "r-1"), None)
        .await
        .unwrap();
    assert_eq!(first.total_refunded, Money::cny(5000));
    // A clerk of another tenant cannot refund this payment: not on its own subject (the
    // ledger refuses), and not on city-water's (the server refuses the publish).
    let other = posfee_schemas::ids::TenantId::parse("acme-property").unwrap();
    let acme = w.h.clerk(other.as_str()).await.unwrap();
    let foreign = call::<_, RefundReply>(
        &acme,
        subjects::ledger_refund(&other),
        &refund(100, "r-acme"),
        None,
    )
    .await;
    assert_eq!(
        foreign.unwrap_err().remote().unwrap().code,
        ErrorCode::Forbidden
    );
    let borrowed = call::<_, RefundReply>(
        &acme,
        subject.clone(),
        &refund(100, "r-acme-2"),
        Some(std::time::Duration::from_secs(2)),
    )
    .await;
    assert!(
        borrowed.is_err(),
        "a clerk of acme-property refunded on city-water's subject"
    );
    let replayed: RefundReply = call(&clerk, subject.clone(), &refund(5000, "r-1"), None)
        .await
        .unwrap();
    assert_eq!(replayed, first);
    let reused = call::<_, RefundReply>(&clerk, subject.clone(), &refund(6000, "r-1"), None).await;
    assert_eq!(
        reused.unwrap_err().remote().unwrap().code,
        ErrorCode::IdempotencyConflict
    );
    let too_much =
        call::<_, RefundReply>(&clerk, subject.clone(), &refund(14001, "r-2"), None).await;
    assert_eq!(
        too_much.unwrap_err().remote().unwrap().code,
        ErrorCode::RefundExceedsPayment
    );
    let rest: RefundReply = call(&clerk, subject.clone(), &refund(14000, "r-3"), None)
        .await
        .unwrap();
    assert_eq!(rest.total_refunded, Money::cny(19000));
    let zero = call::<_, RefundReply>(&clerk, subject.clone(), &refund(0, "r-4"), None).await;
    assert_eq!(
        zero.unwrap_err().remote().unwrap().code,
        ErrorCode::InvalidField
    );
    let mut unknown = refund(1, "r-5");
    unknown.payment_id = PaymentId::new_random();
    let missing = call::<_, RefundReply>(&clerk, subject, &unknown, None).await;
    assert_eq!(
        missing.unwrap_err().remote().unwrap().code,
        ErrorCode::PaymentNotFound
    );

    // Paygate credits the payer as the ledger booked: the books agree on 190.00 refunded.
    clean_books(&w).await;
}

#[tokio::test]
async fn a_payment_made_while_the_ledger_is_down_completes_once_it_is_back() {
    let mut w = world(&["1-1-106"]).await;
    w.h.stop_service(ServiceName::Ledger).await.unwrap();
    let bill = issue(&w, "1-1-106", "b-6").await;
    let req = order(&w, &bill, PaymentId::new_random());
    // Paygate holds the money, cannot reach the ledger within its deadline and says so.
    let pending = pay(&w, &req).await;
    assert_eq!(code(pending), ErrorCode::Unavailable);
    let report = reconcile(&w.operator, w.clock_now()).await.unwrap_err();
    // The ledger is down: reconcile cannot read it.
    assert!(report.to_string().contains("ledger"), "{report}");

    w.h.start_service(
        ServiceName::Ledger,
        ServiceOptions {
            clock: Arc::new(w.clock.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // The recovery loop settles it; the phone's retry gets the receipt.
    let receipt = pay(&w, &req).await.unwrap();
    assert_eq!(receipt.bill_id, bill.bill_id);
    let report = clean_books(&w).await;
    assert_eq!((report.settled, report.captured, report.voided), (1, 1, 0));
}

/// A paygate instance that starts with an empty store rebuilds its payments from paygate's
/// journal and the ledger's `payment.settled` events, which reach it in either order. The
/// ledger is down while it does, so nothing but those events can capture a payment: it lists
/// every payment captured or voided and answers the phone's retries with the receipts and
/// refusals the first instance gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paygate_with_an_empty_store_rebuilds_its_payments_from_the_journal_and_the_ledgers_events(
) {
    const BILLS: usize = 4;
    let accounts: Vec<String> = (0..BILLS).map(|i| format!("1-3-{i}")).collect();
    let refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let mut w = world(&refs).await;
    let mut paid = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let bill = issue(&w, account, &format!("rebuild-{i}")).await;
        let req = order(&w, &bill, PaymentId::new_random());
        let receipt = pay(&w, &req).await.unwrap();
        paid.push((bill, req, receipt));
    }
    let refused = order(&w, &paid[0].0, PaymentId::new_random());
    assert_eq!(code(pay(&w, &refused).await), ErrorCode::BillAlreadyPaid);
    // The capture is the ledger's settlement: paygate's journal holds the phone's
    // registration, the holds and the void, and a capture of its own only where the ledger's
    // event took more than 2 s to reach paygate (a loaded machine): never for every payment.
    let mut journal = async_nats::jetstream::new(w.operator.clone())
        .get_stream(subjects::PAYGATE_JOURNAL)
        .await
        .unwrap();
    let entries = journal.info().await.unwrap().state.messages as usize;
    let without_captures = 1 + (BILLS + 1) + 1;
    assert!(
        (without_captures..without_captures + BILLS).contains(&entries),
        "{entries} journal entries"
    );

    w.h.stop_service(ServiceName::Ledger).await.unwrap();
    let opts = ServiceOptions {
        clock: Arc::new(w.clock.clone()),
        ..Default::default()
    };
    // A second instance with a store of its own, then the first one gone.
    w.h.start_service(ServiceName::Paygate, opts).await.unwrap();
    w.h.stop_service(ServiceName::Paygate).await.unwrap();

    let listed = final_payments(&w.operator, BILLS + 1).await;
    let captured = listed.iter().filter(|p| p.state == PaymentState::Captured);
    assert_eq!(captured.count(), BILLS, "{listed:?}");
    for (_, req, receipt) in &paid {
        assert_eq!(&pay(&w, req).await.unwrap(), receipt);
    }
    assert_eq!(code(pay(&w, &refused).await), ErrorCode::BillAlreadyPaid);
    // Who the payer is was rebuilt too (sealed, from the journal): the same name and card
    // again change nothing, a new name changes the name only.
    let amend = |name: &str| {
        AmendRequest::signed(
            Some(name.to_string()),
            Some("4111111111111111".to_string()),
            &w.phone.device_key,
            w.phone.device_key_id.clone(),
        )
    };
    let subject = posfee_harness::fixtures::amend_subject(&w.companion);
    let same: AmendReply = call(&w.companion, subject.clone(), &amend("测试付款人"), None)
        .await
        .unwrap();
    assert_eq!(same.changed, Vec::<String>::new(), "the identity was lost");
    let renamed: AmendReply = call(&w.companion, subject, &amend("测试付款者"), None)
        .await
        .unwrap();
    assert_eq!(renamed.changed, vec!["name".to_string()]);
}

/// Paygate's payments once it lists `count` of them and none is still authorized.
async fn final_payments(operator: &async_nats::Client, count: usize) -> Vec<PaygatePayment> {
    let listed = || async {
        let list: Result<PaymentsList, CallError> = call(
            operator,
            subjects::paygate(
                PaygateOp::Payments,
                &subjects::Identity::Role(Role::Operator),
            ),
            &PaymentsListQuery {
                page_size: None,
                cursor: None,
            },
            Some(Duration::from_secs(5)),
        )
        .await;
        // An instance that has just rebuilt its view, on a loaded machine, may answer its
        // first call late: that is asked again within the deadline; any other error fails.
        let list = match list {
            Ok(list) => list,
            Err(CallError::TimedOut(_)) => return Err(None),
            Err(e) => panic!("listing paygate's payments: {e}"),
        };
        let authorized = list
            .items
            .iter()
            .any(|p| p.state == PaymentState::Authorized);
        if list.items.len() == count && !authorized {
            Ok(list.items)
        } else {
            Err(Some(list.items))
        }
    };
    posfee_harness::eventually_within(
        "paygate lists every payment finished",
        Duration::from_secs(20),
        listed,
    )
    .await
}

#[tokio::test]
async fn overlapping_prepaid_months_cannot_be_paid_by_two_bills() {
    use posfee_harness::publish_events;
    use posfee_schemas::events::{AccountUpserted, Event, EventBody};
    use std::collections::BTreeMap;
    let w = world(&[]).await;
    let importer = w.h.connect(Role::Importer).await.unwrap();
    let property = TenantId::parse("acme-property").unwrap();
    publish_events(
        &importer,
        &w.h.signer(Role::Importer),
        &[Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::AccountUpserted(AccountUpserted {
                tenant: property.clone(),
                account: AccountNo::parse("5-2-0501").unwrap(),
                class: "residential".into(),
                holder_name: String::new(),
                attributes: BTreeMap::from([
                    ("area_m2".into(), "100.00".into()),
                    ("building".into(), "A".into()),
                ]),
                meters: BTreeMap::new(),
                paid_through: BTreeMap::from([(
                    FeeKind::parse("property").unwrap(),
                    Month::parse("2026-10").unwrap(),
                )]),
                arrears: vec![],
            }),
        )],
    )
    .await
    .unwrap();
    let prepay = |months: u32, key: &str| BillIssueRequest {
        basket: None,
        quote: QuoteRequest {
            tenant: property.clone(),
            account: AccountNo::parse("5-2-0501").unwrap(),
            kinds: vec![FeeKind::parse("property").unwrap()],
            as_of: None,
            prepay_months: Some(months),
            top_up: None,
        },
        terminal: kiosk(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    };
    // November to January, and November to April: both payable at the same time.
    let three: IssuedBill = call(
        &w.terminal,
        subjects::bill_issue(&kiosk()),
        &prepay(3, "p-3"),
        None,
    )
    .await
    .unwrap();
    let six: IssuedBill = call(
        &w.terminal,
        subjects::bill_issue(&kiosk()),
        &prepay(6, "p-6"),
        None,
    )
    .await
    .unwrap();
    pay(&w, &order(&w, &three, PaymentId::new_random()))
        .await
        .unwrap();
    let again = pay(&w, &order(&w, &six, PaymentId::new_random())).await;
    let err = again.unwrap_err();
    let wire = err.remote().unwrap();
    assert_eq!(wire.code, ErrorCode::BillAlreadyPaid, "{wire}");
    assert!(wire.message.contains("2026-11"), "{wire}");
    let report = clean_books(&w).await;
    assert_eq!((report.settled, report.captured, report.voided), (1, 1, 1));
}

/// One day's statement of city-water, fetched as its clerk fetches it.
async fn statement(
    clerk: &async_nats::Client,
    date: chrono::NaiveDate,
    format: StatementFormat,
) -> anyhow::Result<(StatementChunk, Vec<u8>)> {
    let req = StatementRequest {
        date,
        format,
        offset: 0,
        max_bytes: None,
    };
    posfee_operator::report::fetch(clerk, &fixtures::water(), req).await
}

#[tokio::test]
async fn a_daily_statement_lists_the_days_payments_and_refunds_and_never_changes() {
    use chrono::TimeZone;
    let shanghai = chrono_tz::Asia::Shanghai;
    let local = |d: u32, h: u32, m: u32| {
        shanghai
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let w = world(&["1-1-101", "1-1-102", "1-1-103", "1-1-104"]).await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let next = day.succ_opt().unwrap();
    // The day: two payments, at 10:00 Shanghai time.
    w.clock.set(local(25, 10, 0));
    let mut paid = Vec::new();
    for (account, key) in [("1-1-101", "s-1"), ("1-1-102", "s-2")] {
        let bill = issue(&w, account, key).await;
        paid.push(
            pay(&w, &order(&w, &bill, PaymentId::new_random()))
                .await
                .unwrap(),
        );
    }
    let clerk = w.h.clerk("city-water").await.unwrap();
    // Not before the day has ended in the tenant's time zone (and ten minutes more).
    w.clock.set(local(26, 0, 5));
    let early = statement(&clerk, day, StatementFormat::Csv)
        .await
        .unwrap_err();
    assert!(early.to_string().contains("INVALID_FIELD: date"), "{early}");
    // The next day at noon, part of the first payment is given back.
    w.clock.set(local(26, 12, 0));
    let refund = RefundRequest {
        payment_id: paid[0].payment_id,
        amount: Money::cny(3000),
        reason: "meter misread".into(),
        idempotency_key: IdempotencyKey::parse("s-refund").unwrap(),
    };
    let subject = subjects::ledger_refund(&fixtures::water());
    let _: RefundReply = call(&clerk, subject, &refund, None).await.unwrap();

    // The day's statement: both payments, not the refund (it was made the next day).
    let (head, json) = statement(&clerk, day, StatementFormat::Json).await.unwrap();
    let s: Statement = serde_json::from_slice(&json).unwrap();
    assert_eq!((s.date, s.time_zone.as_str()), (day, "Asia/Shanghai"));
    let total: i64 = paid.iter().map(|r| r.total.fen.get()).sum();
    assert_eq!(
        (
            s.totals.payments,
            s.totals.refunds,
            s.totals.amount.get(),
            s.totals.refunded.get()
        ),
        (2, 0, total, 0),
        "{s:?}"
    );
    // Row by row as paygate captured them, times in the tenant's zone.
    let captured = final_payments(&w.operator, 2).await;
    for r in &s.rows {
        let at_paygate = captured
            .iter()
            .find(|p| p.payment_id == r.payment_id)
            .unwrap();
        assert_eq!(r.amount, at_paygate.amount.fen, "{r:?}");
        assert!(r.at.starts_with("2026-11-25T10:00:00+08:00"), "{r:?}");
        assert_eq!(r.fees, "water 2026-10", "{r:?}");
        assert!(!r.late);
    }
    let sha: String =
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&json))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    assert_eq!(head.sha256, sha);
    let (csv_head, csv) = statement(&clerk, day, StatementFormat::Csv).await.unwrap();
    // Fetched in 100-byte chunks, it is the same file; a chunk past its end is refused.
    let small = StatementRequest {
        date: day,
        format: StatementFormat::Csv,
        offset: 0,
        max_bytes: Some(100),
    };
    let (_, chunked) = posfee_operator::report::fetch(&clerk, &fixtures::water(), small.clone())
        .await
        .unwrap();
    assert!(csv.len() > 300, "{} bytes: several chunks", csv.len());
    assert_eq!(chunked, csv);
    let past = StatementRequest {
        offset: csv.len() as u64 + 1,
        ..small
    };
    let subject = subjects::ledger_statement(&fixtures::water());
    let refused = call::<_, StatementChunk>(&clerk, subject, &past, None)
        .await
        .unwrap_err();
    assert_eq!(refused.remote().unwrap().code, ErrorCode::InvalidField);
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.contains("# totals,payments,2,refunds,0,amount,380.00,refunded,0.00,net,380.00"),
        "{csv}"
    );

    // A settlement that reaches the books after the day's statement was issued (an instance
    // whose clock is behind, at 23:59 the same day): the issued statement does not change,
    // the payment goes on the next one, marked late.
    w.clock.set(local(25, 23, 59));
    let bill = issue(&w, "1-1-103", "s-3").await;
    let late = pay(&w, &order(&w, &bill, PaymentId::new_random()))
        .await
        .unwrap();
    w.clock.set(local(27, 0, 20));
    let (again, _) = statement(&clerk, day, StatementFormat::Csv).await.unwrap();
    assert_eq!(again.sha256, csv_head.sha256, "an issued statement changed");
    let (_, json) = statement(&clerk, next, StatementFormat::Json)
        .await
        .unwrap();
    let s: Statement = serde_json::from_slice(&json).unwrap();
    let kinds: Vec<(RowKind, PaymentId, bool)> = s
        .rows
        .iter()
        .map(|r| (r.kind, r.payment_id, r.late))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (RowKind::Payment, late.payment_id, true),
            (RowKind::Refund, paid[0].payment_id, false)
        ],
        "{s:?}"
    );
    assert_eq!(
        (
            s.totals.amount.get(),
            s.totals.refunded.get(),
            s.totals.net.get()
        ),
        (late.total.fen.get(), 3000, late.total.fen.get() - 3000)
    );
    // What `posfee reconcile --tenant --date` says of each day, from the ledger's listing and
    // its sealed refund events: the statements' totals to the fen, the late settlement
    // counted on its own day there and on the next statement here.
    let keys = posfee_client::keydir::KeyDirectory::open(&w.operator, w.h.root())
        .await
        .unwrap();
    let water = fixtures::water();
    let on = |d| posfee_operator::day::totals(&w.operator, &keys, (&water, d, shanghai));
    let first = on(day).await.unwrap();
    assert_eq!(
        (
            first.payments,
            first.amount_fen,
            first.refunds,
            first.refunded_fen
        ),
        (3, total + late.total.fen.get(), 0, 0)
    );
    let second = on(next).await.unwrap();
    assert_eq!(
        (
            second.payments,
            second.amount_fen,
            second.refunds,
            second.refunded_fen
        ),
        (0, 0, 1, s.totals.refunded.get())
    );

    // A settlement dated before the tenant's first statement (a clock a day behind) opens no
    // earlier statement: it is on the next one, late.
    w.clock.set(local(24, 23, 0));
    let bill = issue(&w, "1-1-104", "s-4").await;
    let older = pay(&w, &order(&w, &bill, PaymentId::new_random()))
        .await
        .unwrap();
    w.clock.set(local(28, 0, 20));
    let before = day.pred_opt().unwrap();
    let refused = statement(&clerk, before, StatementFormat::Csv)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("statements begin on 2026-11-25"),
        "{refused}"
    );
    let third = next.succ_opt().unwrap();
    let (_, json) = statement(&clerk, third, StatementFormat::Json)
        .await
        .unwrap();
    let s: Statement = serde_json::from_slice(&json).unwrap();
    let rows: Vec<(PaymentId, bool)> = s.rows.iter().map(|r| (r.payment_id, r.late)).collect();
    assert_eq!(rows, vec![(older.payment_id, true)], "{s:?}");

    // Another tenant's clerk cannot fetch it: the server refuses the request on city-water's
    // subject (the same request succeeded above as city-water's clerk), and acme-property's
    // own statements hold none of city-water's payments.
    let acme = w.h.clerk("acme-property").await.unwrap();
    let borrowed = call::<_, StatementChunk>(
        &acme,
        subjects::ledger_statement(&fixtures::water()),
        &StatementRequest {
            date: day,
            format: StatementFormat::Csv,
            offset: 0,
            max_bytes: None,
        },
        Some(Duration::from_secs(2)),
    )
    .await;
    assert!(
        borrowed.is_err(),
        "acme-property's clerk read city-water's statement"
    );
    let own = posfee_operator::report::fetch(
        &acme,
        &TenantId::parse("acme-property").unwrap(),
        StatementRequest {
            date: day,
            format: StatementFormat::Csv,
            offset: 0,
            max_bytes: None,
        },
    )
    .await
    .unwrap_err();
    assert!(own.to_string().contains("PAYMENT_NOT_FOUND"), "{own}");
}
