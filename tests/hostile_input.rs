//! Hostile input on every endpoint: truncated and garbage MessagePack, wrong types, huge
//! declared lengths, empty and oversized payloads, requests nobody can be answered on, and
//! values that decode but must be refused (zero, negative and overflowing amounts, unknown
//! currencies, ids that would address other subjects, reused idempotency keys, expired bills).
//! Each gets its stable code, no service panics, and the books, the event stream and the
//! services' answers are the same afterwards.
//! (Replayed and expired pairing tokens: tests/pairing.rs.)

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use posfee_client::call::error_from_headers;
use posfee_client::{call, Clock, ManualClock};
use posfee_harness::asker;
use posfee_harness::fixtures::{self, billing_now, register_phone, Phone};
use posfee_harness::{Harness, ServiceOptions};
use posfee_operator::reconcile::reconcile;
use posfee_schemas::events::{AccountUpserted, Event, EventBody};
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{
    Receipt, RefundReply, RefundRequest, SettleRequest, SettlementNotice, SettlementsPage,
    SettlementsQuery, SignedReceipt,
};
use posfee_schemas::money::Money;
use posfee_schemas::paygate::{PayOrder, PayRequest, PaymentsListQuery, RegisterRequest};
use posfee_schemas::query::{AccountRef, BillsReply, PaymentsQuery, ReadingsQuery};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, LedgerOp, PaygateOp, QueryKind, Role, ServiceName};
use posfee_schemas::{encode, ErrorCode, WireError, MAX_PAYLOAD_BYTES};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const PAID: &str = "1-1-201";
const UNPAID: &str = "1-1-202";
const SPARE: &str = "1-1-203";
/// A City Telecom line: broadband paid through October, mobile top-ups.
const PHONE_LINE: &str = "13800000000";

fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-01").unwrap()
}

fn acct(a: &str) -> AccountNo {
    AccountNo::parse(a).unwrap()
}

struct World {
    _h: Harness,
    clock: ManualClock,
    terminal: async_nats::Client,
    companion: async_nats::Client,
    operator: async_nats::Client,
    clerk: async_nats::Client,
    paygate: async_nats::Client,
    phone: Phone,
    /// Paid and settled: refunds have something to refund.
    receipt: Receipt,
    /// Issued, not paid: pay requests have something to pay.
    open_bill: IssuedBill,
}

async fn world() -> World {
    let mut h = Harness::start().await.unwrap();
    let clock = ManualClock::new(billing_now());
    h.start_all(ServiceOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        &[acct(PAID), acct(UNPAID), acct(SPARE)],
    )
    .await
    .unwrap();
    posfee_harness::publish_events(
        &importer,
        &h.signer(Role::Importer),
        &[Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::AccountUpserted(AccountUpserted {
                tenant: TenantId::parse("city-telecom").unwrap(),
                account: acct(PHONE_LINE),
                class: "residential".into(),
                holder_name: String::new(),
                attributes: BTreeMap::new(),
                meters: BTreeMap::new(),
                paid_through: BTreeMap::from([(
                    FeeKind::parse("broadband").unwrap(),
                    Month::parse("2026-10").unwrap(),
                )]),
                arrears: vec![],
            }),
        )],
    )
    .await
    .unwrap();
    let companion = h.phone().await.unwrap().1;
    let phone = register_phone(&companion, "测试付款人").await.unwrap();
    let terminal = h.terminal("kiosk-01").await.unwrap();
    let paid_bill = issue(&terminal, PAID, "setup-paid").await;
    let receipt: Receipt = call::<_, SignedReceipt>(
        &companion,
        fixtures::pay_subject(&companion),
        &order(&phone, &paid_bill, PaymentId::new_random()),
        Some(Duration::from_secs(30)),
    )
    .await
    .unwrap()
    .peek()
    .unwrap();
    let open_bill = issue(&terminal, UNPAID, "setup-open").await;
    World {
        operator: h.connect(Role::Operator).await.unwrap(),
        clerk: h.clerk("city-water").await.unwrap(),
        paygate: h.connect(Role::Paygate).await.unwrap(),
        terminal,
        companion,
        phone,
        receipt,
        open_bill,
        clock,
        _h: h,
    }
}

fn quote_req(account: &str) -> QuoteRequest {
    QuoteRequest {
        tenant: fixtures::water(),
        account: acct(account),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    }
}

fn issue_req(account: &str, key: &str) -> BillIssueRequest {
    BillIssueRequest {
        basket: None,
        quote: quote_req(account),
        terminal: kiosk(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    }
}

async fn issue(terminal: &async_nats::Client, account: &str, key: &str) -> IssuedBill {
    call(
        terminal,
        subjects::bill_issue(&kiosk()),
        &issue_req(account, key),
        None,
    )
    .await
    .unwrap()
}

fn signed_order(phone: &Phone, order: &PayOrder) -> Signed {
    Signed::sign(
        Purpose::DevicePay,
        order,
        &phone.device_key_id,
        &phone.device_key,
    )
}

fn order(phone: &Phone, bill: &IssuedBill, payment_id: PaymentId) -> PayRequest {
    let b: Bill = bill.signed.peek().unwrap();
    PayRequest {
        pairing: None,
        more_bills: Vec::new(),
        order: signed_order(
            phone,
            &PayOrder {
                more_bills: Vec::new(),
                payment_id,
                payer: phone.payer.clone(),
                bill_id: b.bill_id,
                amount: b.total,
                terminal: b.terminal,
            },
        ),
        bill: bill.clone(),
    }
}

fn refund_req(w: &World, fen: i64, key: &str) -> RefundRequest {
    RefundRequest {
        payment_id: w.receipt.payment_id,
        amount: Money::cny(fen),
        reason: "meter misread".into(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
    }
}

fn register_req(name: &str, key: &str, device: &SigningKey, device_id: &str) -> RegisterRequest {
    RegisterRequest::signed(
        name.into(),
        "11010519491231002X".into(),
        "4111111111111111".into(),
        device,
        KeyId::parse(device_id).unwrap(),
        IdempotencyKey::parse(key).unwrap(),
    )
}

/// A settlement notice for the open bill, signed with a key paygate never had.
fn rogue_settle(w: &World) -> SettleRequest {
    let notice = SettlementNotice {
        basket: None,
        payment_id: PaymentId::new_random(),
        payer: w.phone.payer.clone(),
        amount: Money::cny(19000),
        bill: w.open_bill.clone(),
        authorized_at: billing_now(),
    };
    SettleRequest {
        more: Vec::new(),
        notice: Signed::sign(
            Purpose::Settlement,
            &notice,
            &KeyId::parse("paygate-1").unwrap(),
            &SigningKey::from_bytes(&[9; 32]),
        ),
    }
}

/// One endpoint: who may call it, where, and a valid request for it.
struct Endpoint<'a> {
    client: &'a async_nats::Client,
    subject: String,
    valid: Vec<u8>,
}

fn endpoints(w: &World) -> Vec<Endpoint<'_>> {
    let account_ref = AccountRef {
        tenant: fixtures::water(),
        account: acct(PAID),
    };
    let device = SigningKey::from_bytes(&[3; 32]);
    let e = |client, subject, valid| Endpoint {
        client,
        subject,
        valid,
    };
    vec![
        e(
            &w.terminal,
            subjects::fee_quote(&asker(&w.terminal)),
            encode(&quote_req(PAID)),
        ),
        e(
            &w.terminal,
            subjects::bill_issue(&kiosk()),
            encode(&issue_req(SPARE, "never-issued")),
        ),
        e(
            &w.terminal,
            subjects::query(QueryKind::Account, &asker(&w.terminal)),
            encode(&account_ref),
        ),
        e(
            &w.terminal,
            subjects::query(QueryKind::Bills, &asker(&w.terminal)),
            encode(&account_ref),
        ),
        e(
            &w.terminal,
            subjects::query(QueryKind::Payments, &asker(&w.terminal)),
            encode(&PaymentsQuery {
                tenant: fixtures::water(),
                account: acct(PAID),
                from: None,
                to: None,
                page_size: None,
                cursor: None,
            }),
        ),
        e(
            &w.terminal,
            subjects::query(QueryKind::Readings, &asker(&w.terminal)),
            encode(&ReadingsQuery {
                tenant: fixtures::water(),
                account: acct(PAID),
                meter: None,
                from: None,
                to: None,
                page_size: None,
                cursor: None,
            }),
        ),
        e(
            &w.companion,
            subjects::paygate(PaygateOp::Register, &asker(&w.companion)),
            encode(&register_req(
                "无回复",
                "reg-never",
                &device,
                "dev-never-registered",
            )),
        ),
        e(
            &w.companion,
            subjects::paygate(PaygateOp::Pay, &asker(&w.companion)),
            encode(&order(&w.phone, &w.open_bill, PaymentId::new_random())),
        ),
        e(
            &w.operator,
            subjects::paygate(PaygateOp::Payments, &asker(&w.operator)),
            encode(&PaymentsListQuery {
                page_size: None,
                cursor: None,
            }),
        ),
        e(
            &w.paygate,
            subjects::ledger(LedgerOp::Settle),
            encode(&rogue_settle(w)),
        ),
        e(
            &w.paygate,
            subjects::ledger(LedgerOp::SettleBasket),
            encode(&SettleRequest {
                more: vec![rogue_settle(w).notice],
                ..rogue_settle(w)
            }),
        ),
        e(
            &w.clerk,
            subjects::ledger_refund(&posfee_harness::fixtures::water()),
            encode(&refund_req(w, 100, "never-refunded")),
        ),
        e(
            &w.operator,
            subjects::ledger(LedgerOp::Settlements),
            encode(&SettlementsQuery {
                page_size: None,
                cursor: None,
            }),
        ),
    ]
}

/// Sends raw bytes as a request and returns the answer, whatever it is.
async fn raw(client: &async_nats::Client, subject: &str, payload: Vec<u8>) -> async_nats::Message {
    let request = async_nats::Request::new()
        .payload(Bytes::from(payload))
        .timeout(Some(Duration::from_secs(15)));
    client
        .send_request(subject.to_string(), request)
        .await
        .unwrap_or_else(|e| panic!("{subject}: no answer: {e}"))
}

/// The error the service answered `payload` with; a success fails the test.
async fn refused(client: &async_nats::Client, subject: &str, payload: Vec<u8>) -> WireError {
    let answer = raw(client, subject, payload).await;
    error_from_headers(&answer)
        .unwrap_or_else(|| panic!("{subject}: accepted {:?}", answer.payload))
}

fn assert_code(e: &WireError, code: ErrorCode, what: &str) {
    assert_eq!(e.code, code, "{what}: {e}");
}

/// What the hostile requests must not change.
#[derive(Debug, PartialEq)]
struct State {
    /// Settled, captured, voided, in flight.
    books: (usize, usize, usize, usize),
    events: u64,
    settlements: SettlementsPage,
    bills: BillsReply,
}

async fn state(w: &World) -> State {
    // Wait until the outbox has drained and paygate and the ledger agree.
    let mut last: Option<State> = None;
    for _ in 0..100 {
        let r = reconcile(&w.operator, w.clock.now()).await.unwrap();
        // The events, and the ledger's entries (each carries its money event).
        let js = async_nats::jetstream::new(w.operator.clone());
        let mut events = 0;
        for stream in [subjects::EVENTS_STREAM, subjects::LEDGER_JOURNAL] {
            events += js
                .get_stream(stream)
                .await
                .unwrap()
                .cached_info()
                .state
                .messages;
        }
        let now = State {
            books: (r.settled, r.captured, r.voided, r.in_flight),
            events,
            settlements: call(
                &w.operator,
                subjects::ledger(LedgerOp::Settlements),
                &SettlementsQuery {
                    page_size: None,
                    cursor: None,
                },
                None,
            )
            .await
            .unwrap(),
            bills: call(
                &w.operator,
                subjects::query(QueryKind::Bills, &asker(&w.operator)),
                &AccountRef {
                    tenant: fixtures::water(),
                    account: acct(UNPAID),
                },
                None,
            )
            .await
            .unwrap(),
        };
        if r.differences.is_empty() && r.in_flight == 0 && last.as_ref() == Some(&now) {
            return now;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("the system never settled: {last:?}");
}

async fn every_service_answers_ping(w: &World) {
    for name in ServiceName::ALL {
        let ping = w
            .operator
            .request(subjects::srv::ping_service(name.as_str()), Bytes::new());
        tokio::time::timeout(Duration::from_secs(5), ping)
            .await
            .unwrap_or_else(|_| panic!("{name} does not answer its ping"))
            .unwrap_or_else(|e| panic!("{name} does not answer its ping: {e}"));
    }
}

/// A MessagePack map with every field name any request uses, each with a wrong type.
fn wrong_types() -> Vec<u8> {
    encode(&json!({
        "tenant": 42, "account": [1, 2], "kinds": "water", "as_of": 7, "prepay_months": "x",
        "top_up": "lots", "quote": 5, "terminal": true, "idempotency_key": 3.5,
        "meter": 9, "from": false, "to": [], "page_size": -1, "cursor": 8,
        "name": 1, "national_id": 2, "bank_account": 3, "device_public_key": "k",
        "device_key_id": 4, "order": "o", "bill": 1, "after": 42, "limit": "many",
        "notice": 6, "payment_id": "not-a-uuid", "amount": "100", "reason": 0,
    }))
}

/// Payloads that must never decode, each with the code it must get.
fn malformed(valid: &[u8]) -> Vec<(&'static str, Vec<u8>, ErrorCode)> {
    // An array whose header declares 2^32-1 elements, bare and inside a field.
    let mut huge_field = vec![0x81, 0xa5];
    huge_field.extend_from_slice(b"kinds");
    huge_field.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]);
    let mut over = valid.to_vec();
    over.resize(100 * 1024, 0xc0);
    assert!(over.len() > MAX_PAYLOAD_BYTES);
    vec![
        (
            "truncated",
            valid[..valid.len() / 2].to_vec(),
            ErrorCode::BadRequest,
        ),
        (
            "truncated by one byte",
            valid[..valid.len() - 1].to_vec(),
            ErrorCode::BadRequest,
        ),
        (
            "garbage",
            vec![0xc1, 0x00, 0xff, 0x13, 0x37, 0xde, 0xad],
            ErrorCode::BadRequest,
        ),
        ("text", b"hello, service".to_vec(), ErrorCode::BadRequest),
        ("wrong types", wrong_types(), ErrorCode::BadRequest),
        (
            "huge array header",
            vec![0xdd, 0xff, 0xff, 0xff, 0xff],
            ErrorCode::BadRequest,
        ),
        (
            "huge map header",
            vec![0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a'],
            ErrorCode::BadRequest,
        ),
        (
            "huge string header",
            vec![0xdb, 0xff, 0xff, 0xff, 0xff, b'x'],
            ErrorCode::BadRequest,
        ),
        ("huge array in a field", huge_field, ErrorCode::BadRequest),
        ("empty", Vec::new(), ErrorCode::BadRequest),
        ("100 KiB", over, ErrorCode::PayloadTooLarge),
    ]
}

#[tokio::test]
async fn malformed_payloads_get_400_or_413_on_every_endpoint_and_change_nothing() {
    let w = world().await;
    let before = state(&w).await;
    let endpoints = endpoints(&w);
    assert_eq!(endpoints.len(), 13, "every endpoint is tried");
    for ep in &endpoints {
        for (what, payload, code) in malformed(&ep.valid) {
            let e = refused(ep.client, &ep.subject, payload).await;
            assert_code(&e, code, &format!("{} {what}", ep.subject));
        }
    }

    // Valid requests that would change state, sent with no reply subject: nobody could learn
    // their outcome, so they are dropped unprocessed.
    for ep in &endpoints {
        ep.client
            .publish(ep.subject.clone(), ep.valid.clone().into())
            .await
            .unwrap();
        ep.client.flush().await.unwrap();
    }
    // Each endpoint takes its messages in order from one subscription and drops a message
    // without a reply before the next: once a request sent after it is answered, it was seen.
    for ep in &endpoints {
        let (what, payload, code) = malformed(&ep.valid).swap_remove(0);
        let e = refused(ep.client, &ep.subject, payload).await;
        assert_code(
            &e,
            code,
            &format!("{} {what} after the unanswerable", ep.subject),
        );
    }
    every_service_answers_ping(&w).await;
    assert_eq!(state(&w).await, before);

    // The dropped registration left no trace: its key is free for another request.
    let device = SigningKey::from_bytes(&[3; 32]);
    call::<_, posfee_schemas::paygate::RegisterReply>(
        &w.companion,
        subjects::paygate(PaygateOp::Register, &asker(&w.companion)),
        &register_req("另一人", "reg-never", &device, "dev-never-registered"),
        None,
    )
    .await
    .unwrap();
    // And every endpoint still answers its valid request as before.
    let q: posfee_schemas::fee::Quote = call(
        &w.terminal,
        subjects::fee_quote(&asker(&w.terminal)),
        &quote_req(UNPAID),
        None,
    )
    .await
    .unwrap();
    assert_eq!(q.total.get(), 19000);
}

#[tokio::test]
async fn hostile_values_get_their_codes_and_change_nothing() {
    let w = world().await;
    let before = state(&w).await;
    let refund = subjects::ledger_refund(&posfee_harness::fixtures::water());
    let pay = subjects::paygate(PaygateOp::Pay, &asker(&w.companion));

    // Refunds of zero, negative and overflowing amounts.
    for (fen, code) in [
        (0, ErrorCode::InvalidField),
        (-1, ErrorCode::InvalidField),
        (i64::MIN, ErrorCode::InvalidField),
        (i64::MAX, ErrorCode::RefundExceedsPayment),
        (19001, ErrorCode::RefundExceedsPayment),
    ] {
        let e = refused(&w.clerk, &refund, encode(&refund_req(&w, fen, "r-bad"))).await;
        assert_code(&e, code, &format!("refund of {fen} fen"));
        if code == ErrorCode::InvalidField {
            assert!(e.message.starts_with("amount"), "{e}");
        }
    }
    // An amount beyond i64 and an unknown currency never decode.
    let payment = w.receipt.payment_id.to_string();
    for amount in [
        json!({"fen": u64::MAX, "currency": "CNY"}),
        json!({"fen": 100, "currency": "XXX"}),
        json!({"fen": "100", "currency": "CNY"}),
        json!({"fen": 1.5, "currency": "CNY"}),
    ] {
        let body = json!({
            "payment_id": payment, "amount": amount, "reason": "x", "idempotency_key": "r-x",
        });
        let e = refused(&w.clerk, &refund, encode(&body)).await;
        assert_code(&e, ErrorCode::BadRequest, &format!("refund {amount}"));
    }
    // A registration whose proof was not made by the key it registers (someone else's
    // public key, or a proof copied from another registration).
    let victim = SigningKey::from_bytes(&[5; 32]);
    let thief = SigningKey::from_bytes(&[6; 32]);
    let mut stolen = register_req("冒名者", "reg-stolen", &thief, "dev-stolen");
    stolen.device_public_key = victim.verifying_key().to_bytes().to_vec();
    let mut copied = register_req("冒名者", "reg-copied", &victim, "dev-copied");
    copied.device_proof = register_req("x", "reg-other", &victim, "dev-copied").device_proof;
    let register = subjects::paygate(PaygateOp::Register, &asker(&w.companion));
    for (what, req) in [("another's key", stolen), ("a copied proof", copied)] {
        let e = refused(&w.companion, &register, encode(&req)).await;
        assert_code(&e, ErrorCode::BadSignature, what);
        assert!(e.message.starts_with("device_proof"), "{e}");
    }
    // A currency the payment was not made in.
    let mut hkd = refund_req(&w, 100, "r-hkd");
    hkd.amount.currency = posfee_schemas::Currency::HKD;
    let e = refused(&w.clerk, &refund, encode(&hkd)).await;
    assert_code(&e, ErrorCode::InvalidField, "refund in HKD");

    // Orders whose amount is not the signed bill's total: zero, negative, overflowing, less.
    let bill: Bill = w.open_bill.signed.peek().unwrap();
    for fen in [0, -19000, i64::MAX, i64::MIN, 100] {
        let mut req = order(&w.phone, &w.open_bill, PaymentId::new_random());
        let mut o: PayOrder = req.order.peek().unwrap();
        o.amount = Money::cny(fen);
        req.order = signed_order(&w.phone, &o);
        let e = refused(&w.companion, &pay, encode(&req)).await;
        assert_code(
            &e,
            ErrorCode::AmountMismatch,
            &format!("order of {fen} fen"),
        );
    }
    // The right amount in another currency.
    let mut req = order(&w.phone, &w.open_bill, PaymentId::new_random());
    let mut o: PayOrder = req.order.peek().unwrap();
    o.amount = Money {
        fen: bill.total.fen,
        currency: posfee_schemas::Currency::USD,
    };
    req.order = signed_order(&w.phone, &o);
    let e = refused(&w.companion, &pay, encode(&req)).await;
    assert_code(&e, ErrorCode::AmountMismatch, "order in USD");

    // Ids that would address other subjects, or carry whitespace, refused at decode with the
    // kind of id named.
    for bad in [
        "city.water",
        "city-*",
        "city->",
        "city water",
        "city\twater",
        ">",
    ] {
        let e = refused(
            &w.terminal,
            &subjects::fee_quote(&asker(&w.terminal)),
            encode(&json!({"tenant": bad, "account": PAID})),
        )
        .await;
        assert_code(&e, ErrorCode::BadRequest, &format!("tenant {bad:?}"));
        assert!(e.message.contains("tenant id"), "{e}");
    }
    for bad in ["1-1.201", "1-1-*", "1>1", "1-1 201", "1-1-201\n", " "] {
        for subject in [
            subjects::fee_quote(&asker(&w.terminal)),
            subjects::query(QueryKind::Account, &asker(&w.terminal)),
            subjects::query(QueryKind::Bills, &asker(&w.terminal)),
            subjects::query(QueryKind::Payments, &asker(&w.terminal)),
            subjects::query(QueryKind::Readings, &asker(&w.terminal)),
        ] {
            let body = json!({"tenant": "city-water", "account": bad});
            let e = refused(&w.terminal, &subject, encode(&body)).await;
            assert_code(&e, ErrorCode::BadRequest, &format!("{subject} {bad:?}"));
            assert!(e.message.contains("account number"), "{e}");
        }
    }
    for bad in ["kiosk.01", "kiosk-*", "kiosk>", "kiosk 01", ""] {
        let body = json!({
            "quote": {"tenant": "city-water", "account": SPARE},
            "terminal": bad,
            "idempotency_key": "k-bad-terminal",
        });
        let e = refused(&w.terminal, &subjects::bill_issue(&kiosk()), encode(&body)).await;
        assert_code(&e, ErrorCode::BadRequest, &format!("terminal {bad:?}"));
        assert!(e.message.contains("terminal id"), "{e}");
    }
    for bad in ["k.1", "k*", "k>", "k 1"] {
        let body = json!({
            "quote": {"tenant": "city-water", "account": SPARE},
            "terminal": "kiosk-01",
            "idempotency_key": bad,
        });
        let e = refused(&w.terminal, &subjects::bill_issue(&kiosk()), encode(&body)).await;
        assert_code(
            &e,
            ErrorCode::BadRequest,
            &format!("idempotency key {bad:?}"),
        );
        assert!(e.message.contains("idempotency key"), "{e}");
    }
    // Quote options out of range: months to prepay, top-up denominations.
    let telecom = |kind: &str, prepay: Option<u32>, top_up: Option<i64>| QuoteRequest {
        tenant: TenantId::parse("city-telecom").unwrap(),
        account: acct(PHONE_LINE),
        kinds: vec![FeeKind::parse(kind).unwrap()],
        as_of: None,
        prepay_months: prepay,
        top_up: top_up.map(posfee_schemas::Fen::new),
    };
    for (q, code) in [
        (telecom("broadband", Some(0), None), ErrorCode::InvalidField),
        (
            telecom("broadband", Some(u32::MAX), None),
            ErrorCode::RuleViolation,
        ),
        (
            telecom("mobile", None, Some(-20000)),
            ErrorCode::InvalidField,
        ),
        (telecom("mobile", None, Some(0)), ErrorCode::InvalidField),
        (
            telecom("mobile", None, Some(i64::MAX)),
            ErrorCode::InvalidField,
        ),
        (telecom("mobile", None, None), ErrorCode::InvalidField),
    ] {
        let e = refused(
            &w.terminal,
            &subjects::fee_quote(&asker(&w.terminal)),
            encode(&q),
        )
        .await;
        assert_code(&e, code, &format!("{q:?}"));
        let issue = BillIssueRequest {
            basket: None,
            quote: q,
            terminal: kiosk(),
            idempotency_key: IdempotencyKey::parse("k-bad-options").unwrap(),
        };
        let e = refused(&w.terminal, &subjects::bill_issue(&kiosk()), encode(&issue)).await;
        assert_code(&e, code, &format!("{issue:?}"));
    }
    let e = refused(
        &w.terminal,
        &subjects::query(QueryKind::Payments, &asker(&w.terminal)),
        encode(&json!({"tenant": "city-water", "account": PAID, "page_size": 0})),
    )
    .await;
    assert_code(&e, ErrorCode::InvalidField, "page size 0");
    let e = refused(
        &w.terminal,
        &subjects::query(QueryKind::Payments, &asker(&w.terminal)),
        encode(&json!({"tenant": "city-water", "account": PAID, "cursor": "zz"})),
    )
    .await;
    assert_code(&e, ErrorCode::InvalidField, "foreign cursor");

    // A settlement notice paygate did not sign, and one whose body is garbage.
    let settle = subjects::ledger(LedgerOp::Settle);
    let e = refused(&w.paygate, &settle, encode(&rogue_settle(&w))).await;
    assert_code(&e, ErrorCode::BadSignature, "rogue notice");
    let mut garbage = rogue_settle(&w);
    garbage.notice.body = vec![0xc1, 0xc1];
    let e = refused(&w.paygate, &settle, encode(&garbage)).await;
    assert_code(&e, ErrorCode::BadRequest, "garbage notice");
    // An order whose signed body is garbage, and one signed by an unknown device.
    let mut req = order(&w.phone, &w.open_bill, PaymentId::new_random());
    req.order.body = vec![0xc1];
    req.order.signature = posfee_schemas::signed::sign_detached(
        &w.phone.device_key,
        Purpose::DevicePay,
        &req.order.body,
    );
    let e = refused(&w.companion, &pay, encode(&req)).await;
    assert_code(&e, ErrorCode::BadRequest, "garbage order");
    let mut req = order(&w.phone, &w.open_bill, PaymentId::new_random());
    req.order.key_id = KeyId::parse("dev-nobody").unwrap();
    let e = refused(&w.companion, &pay, encode(&req)).await;
    assert_code(&e, ErrorCode::BadSignature, "unknown device");

    // A reused idempotency key with another body: 409, and the first answer stands.
    let first = issue(&w.terminal, SPARE, "k-reuse").await;
    let e = refused(
        &w.terminal,
        &subjects::bill_issue(&kiosk()),
        encode(&issue_req(UNPAID, "k-reuse")),
    )
    .await;
    assert_code(&e, ErrorCode::IdempotencyConflict, "bill.issue key reuse");
    assert_eq!(issue(&w.terminal, SPARE, "k-reuse").await, first);

    let first: RefundReply = call(
        &w.clerk,
        refund.clone(),
        &refund_req(&w, 500, "r-reuse"),
        None,
    )
    .await
    .unwrap();
    let e = refused(&w.clerk, &refund, encode(&refund_req(&w, 600, "r-reuse"))).await;
    assert_code(&e, ErrorCode::IdempotencyConflict, "refund key reuse");
    let again: RefundReply = call(
        &w.clerk,
        refund.clone(),
        &refund_req(&w, 500, "r-reuse"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again, first);
    assert_eq!(again.total_refunded, Money::cny(500));

    let register = subjects::paygate(PaygateOp::Register, &asker(&w.companion));
    let device = SigningKey::from_bytes(&[4; 32]);
    let original = register_req("原来的人", "reg-reuse", &device, "dev-reuse");
    let first: posfee_schemas::paygate::RegisterReply =
        call(&w.companion, register.clone(), &original, None)
            .await
            .unwrap();
    let other = register_req("别的人", "reg-reuse", &device, "dev-reuse");
    let e = refused(&w.companion, &register, encode(&other)).await;
    assert_code(&e, ErrorCode::IdempotencyConflict, "register key reuse");
    let again: posfee_schemas::paygate::RegisterReply =
        call(&w.companion, register.clone(), &original, None)
            .await
            .unwrap();
    assert_eq!(again, first);
    // The same device key under a fresh idempotency key is not a second payer.
    let e = refused(
        &w.companion,
        &register,
        encode(&register_req(
            "原来的人",
            "reg-reuse-2",
            &device,
            "dev-reuse",
        )),
    )
    .await;
    assert_code(&e, ErrorCode::IdempotencyConflict, "device key reuse");
    // Nor is the same public key under another key id.
    let e = refused(
        &w.companion,
        &register,
        encode(&register_req(
            "原来的人",
            "reg-reuse-3",
            &device,
            "dev-reuse-other-id",
        )),
    )
    .await;
    assert_code(&e, ErrorCode::IdempotencyConflict, "public key reuse");

    // Only what the legitimate requests did has changed: one bill issued (one event), one
    // refund booked (one ledger entry, which carries its event).
    let after = state(&w).await;
    assert_eq!(after.books, before.books);
    assert_eq!(after.events, before.events + 2);
    assert_eq!(after.bills, before.bills);
    assert_eq!(after.settlements.items.len(), 1);
    assert_eq!(after.settlements.items[0].refunded, Money::cny(500));

    // Sixteen minutes on, the open bill has expired: 410, and no money is held.
    w.clock.advance(chrono::Duration::minutes(16));
    let e = refused(
        &w.companion,
        &pay,
        encode(&order(&w.phone, &w.open_bill, PaymentId::new_random())),
    )
    .await;
    assert_code(&e, ErrorCode::BillExpired, "expired bill");
    let expired = state(&w).await;
    assert_eq!(expired.books, before.books);
    assert_eq!(expired.events, after.events);
    every_service_answers_ping(&w).await;
}
