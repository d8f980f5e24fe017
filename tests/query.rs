//! The query service: import then query, history paged, the kiosk's summary with the live
//! amount, 404s that say what is missing, and a view rebuilt by replay equal to the live one.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{call, CallError, ManualClock};
use posfee_harness::asker;
use posfee_harness::fixtures::{self, billing_now, register_phone};
use posfee_harness::{publish_events, Harness, ServiceOptions};
use posfee_schemas::events::{AccountUpserted, Event, EventBody};
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::query::*;
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, QueryKind, Role, ServiceName};
use posfee_schemas::ErrorCode;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn telecom() -> TenantId {
    TenantId::parse("city-telecom").unwrap()
}
fn phone_no() -> AccountNo {
    AccountNo::parse("13800138000").unwrap()
}
fn kiosk() -> TerminalId {
    TerminalId::parse("kiosk-q").unwrap()
}

async fn system() -> (Harness, ManualClock) {
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
        &[AccountNo::parse("3-1-1202").unwrap()],
    )
    .await
    .unwrap();
    publish_events(
        &importer,
        &h.signer(Role::Importer),
        &[Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::AccountUpserted(AccountUpserted {
                tenant: telecom(),
                account: phone_no(),
                class: "personal".into(),
                holder_name: "李小龙".into(),
                attributes: BTreeMap::new(),
                meters: BTreeMap::new(),
                paid_through: BTreeMap::new(),
                arrears: vec![],
            }),
        )],
    )
    .await
    .unwrap();
    (h, clock)
}

fn aref(tenant: TenantId, account: &str) -> AccountRef {
    AccountRef {
        tenant,
        account: AccountNo::parse(account).unwrap(),
    }
}

/// Buys a top-up of `yuan` for the phone number, end to end.
async fn top_up(h: &Harness, phone: &fixtures::Phone, fen: i64, key: &str) -> Receipt {
    let terminal = h.terminal("kiosk-q").await.unwrap();
    let companion = h.phone().await.unwrap().1;
    let bill: IssuedBill = call(
        &terminal,
        subjects::bill_issue(&kiosk()),
        &BillIssueRequest {
            basket: None,
            quote: QuoteRequest {
                tenant: telecom(),
                account: phone_no(),
                kinds: vec![FeeKind::parse("mobile").unwrap()],
                as_of: None,
                prepay_months: None,
                top_up: Some(Fen::new(fen)),
            },
            terminal: kiosk(),
            idempotency_key: IdempotencyKey::parse(key).unwrap(),
        },
        None,
    )
    .await
    .unwrap();
    let b: Bill = bill.signed.peek().unwrap();
    let order = PayOrder {
        more_bills: Vec::new(),
        payment_id: PaymentId::new_random(),
        payer: phone.payer.clone(),
        bill_id: b.bill_id,
        amount: b.total,
        terminal: kiosk(),
    };
    call(
        &companion,
        fixtures::pay_subject(&companion),
        &PayRequest {
            pairing: None,
            more_bills: Vec::new(),
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &phone.device_key_id,
                &phone.device_key,
            ),
            bill,
        },
        Some(Duration::from_secs(30)),
    )
    .await
    .map(|r: SignedReceipt| r.peek().unwrap())
    .unwrap()
}

#[tokio::test]
async fn the_account_summary_masks_the_holder_and_shows_the_live_amount() {
    let (h, _) = system().await;
    let terminal = h.terminal("kiosk-q").await.unwrap();
    let s: AccountSummary = call(
        &terminal,
        subjects::query(QueryKind::Account, &asker(&terminal)),
        &aref(fixtures::water(), "3-1-1202"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.holder_masked, "王*");
    assert_eq!(s.class, "residential");
    assert_eq!(s.outstanding, Some(Money::cny(19000)));
    assert_eq!(s.outstanding_error, None);

    let readings: ReadingsReply = call(
        &terminal,
        subjects::query(QueryKind::Readings, &asker(&terminal)),
        &ReadingsQuery {
            tenant: fixtures::water(),
            account: AccountNo::parse("3-1-1202").unwrap(),
            meter: None,
            from: Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            to: None,
            page_size: None,
            cursor: None,
        },
        None,
    )
    .await
    .unwrap();
    let days: Vec<String> = readings
        .readings
        .iter()
        .map(|r| r.read_on.to_string())
        .collect();
    assert_eq!(days, ["2026-09-30", "2026-10-31"]);
    assert_eq!(readings.next_cursor, None);
}

fn readings_query(
    account: &AccountNo,
    page_size: Option<u32>,
    cursor: Option<String>,
) -> ReadingsQuery {
    ReadingsQuery {
        tenant: fixtures::water(),
        account: account.clone(),
        meter: None,
        from: None,
        to: None,
        page_size,
        cursor,
    }
}

#[tokio::test]
async fn readings_of_every_meter_page_in_date_order_and_each_comes_once() {
    use chrono::NaiveDate;
    use posfee_schemas::events::ReadingRecorded;
    use rust_decimal::Decimal;
    let (h, _) = system().await;
    let account = AccountNo::parse("9-9-0002").unwrap();
    let mut events = vec![Event::new(
        EventId::new_random(),
        billing_now(),
        EventBody::AccountUpserted(AccountUpserted {
            tenant: fixtures::water(),
            account: account.clone(),
            class: "residential".into(),
            holder_name: "赵六".into(),
            attributes: BTreeMap::new(),
            meters: BTreeMap::from([
                (FeeKind::parse("water").unwrap(), "W-a".into()),
                (FeeKind::parse("hot-water").unwrap(), "W-b".into()),
            ]),
            paid_through: BTreeMap::new(),
            arrears: vec![],
        }),
    )];
    // Meter W-a, first in key order, read daily: more readings than one answer holds. W-b is
    // read monthly and its newest reading is the account's newest.
    let mut expected = Vec::new();
    let start = NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    for i in 0..600u32 {
        expected.push(("W-a".to_string(), start + chrono::Days::new(i.into()), i));
    }
    for m in 1..=24u32 {
        let end_of_month = NaiveDate::from_ymd_opt(2025 + (m as i32) / 12, m % 12 + 1, 1)
            .unwrap()
            .pred_opt()
            .unwrap();
        expected.push(("W-b".to_string(), end_of_month, 10 * m));
    }
    for (meter, read_on, value) in &expected {
        events.push(Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::ReadingRecorded(ReadingRecorded {
                tenant: fixtures::water(),
                account: account.clone(),
                meter: meter.clone(),
                register: None,
                read_on: *read_on,
                value: Decimal::from(*value),
            }),
        ));
    }
    let importer = h.connect(Role::Importer).await.unwrap();
    publish_events(&importer, &h.signer(Role::Importer), &events)
        .await
        .unwrap();
    h.wait_query_caught_up().await.unwrap();

    let terminal = h.terminal("kiosk-q").await.unwrap();
    let ask = |q: ReadingsQuery| {
        let terminal = terminal.clone();
        async move {
            call::<_, ReadingsReply>(
                &terminal,
                subjects::query(QueryKind::Readings, &asker(&terminal)),
                &q,
                None,
            )
            .await
            .unwrap()
        }
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = ask(readings_query(&account, Some(200), cursor)).await;
        assert!(page.readings.len() <= 200);
        pages += 1;
        seen.extend(page.readings);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 4, "624 readings in pages of 200");
    let got: Vec<(String, NaiveDate, u32)> = seen
        .iter()
        .map(|r| {
            assert_eq!(r.register, None);
            (r.meter.clone(), r.read_on, r.value.try_into().unwrap())
        })
        .collect();
    // Every reading once, oldest first by day and then meter.
    let mut want = expected.clone();
    want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    assert_eq!(got, want);
    // The newest reading of each meter is there.
    let newest = |meter: &str| got.iter().filter(|r| r.0 == meter).map(|r| r.1).max();
    assert_eq!(newest("W-a"), Some(start + chrono::Days::new(599)));
    assert_eq!(newest("W-b"), NaiveDate::from_ymd_opt(2026, 12, 31));

    // A reader that names no page size gets a full page of 500 and is told there is more.
    let first = ask(readings_query(&account, None, None)).await;
    assert_eq!(first.readings.len(), 500);
    assert!(first.next_cursor.is_some());
    let rest = ask(readings_query(&account, None, first.next_cursor)).await;
    assert_eq!(rest.readings.len(), 124);
    assert_eq!(rest.next_cursor, None);

    // One meter, a date range: only those, still in order.
    let mut q = readings_query(&account, None, None);
    q.meter = Some("W-b".into());
    q.from = NaiveDate::from_ymd_opt(2026, 1, 1);
    q.to = NaiveDate::from_ymd_opt(2026, 6, 30);
    let days: Vec<String> = ask(q)
        .await
        .readings
        .iter()
        .map(|r| r.read_on.to_string())
        .collect();
    assert_eq!(
        days,
        [
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-30"
        ]
    );

    // A cursor is only good for the account it was given for.
    let other = ask(readings_query(&account, Some(1), None)).await;
    let e = call::<_, ReadingsReply>(
        &terminal,
        subjects::query(QueryKind::Readings, &asker(&terminal)),
        &readings_query(
            &AccountNo::parse("3-1-1202").unwrap(),
            None,
            other.next_cursor,
        ),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.remote().unwrap().code, ErrorCode::InvalidField);
}

#[tokio::test]
async fn unknown_tenants_and_accounts_are_404s_that_say_which() {
    let (h, _) = system().await;
    let terminal = h.terminal("kiosk-q").await.unwrap();
    let ask = |r: AccountRef| {
        let terminal = terminal.clone();
        async move {
            call::<_, AccountSummary>(
                &terminal,
                subjects::query(QueryKind::Account, &asker(&terminal)),
                &r,
                None,
            )
            .await
            .unwrap_err()
        }
    };
    let e: CallError = ask(aref(TenantId::parse("nobody").unwrap(), "1")).await;
    assert_eq!(e.remote().unwrap().code, ErrorCode::TenantNotFound);
    let e = ask(aref(fixtures::water(), "0-0-0000")).await;
    let w = e.remote().unwrap();
    assert_eq!(w.code, ErrorCode::AccountNotFound);
    assert!(
        w.message.contains("0-0-0000") && w.message.contains("city-water"),
        "{w}"
    );
}

#[tokio::test]
async fn payment_history_pages_and_bills_show_paid() {
    let (h, clock) = system().await;
    let companion = h.phone().await.unwrap().1;
    let phone = register_phone(&companion, "测试").await.unwrap();
    let mut paid = Vec::new();
    for (i, fen) in [3000, 5000, 10000].into_iter().enumerate() {
        paid.push(top_up(&h, &phone, fen, &format!("t-{i}")).await);
        clock.advance(chrono::Duration::minutes(1));
    }
    let terminal = h.terminal("kiosk-q").await.unwrap();
    // Every page, two at a time; the view may still be applying the last settlement, so the
    // walk starts over until it sees all three.
    let walk = || async {
        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let page: PaymentsPage = call(
                &terminal,
                subjects::query(QueryKind::Payments, &asker(&terminal)),
                &PaymentsQuery {
                    tenant: telecom(),
                    account: phone_no(),
                    from: None,
                    to: None,
                    page_size: Some(2),
                    cursor: cursor.clone(),
                },
                None,
            )
            .await
            .unwrap();
            seen.extend(page.items.iter().map(|p| (p.payment_id, p.amount)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None if seen.len() == 3 => return Ok(seen),
                None => return Err(seen.len()),
            }
        }
    };
    let seen = posfee_harness::eventually_within(
        "all three payments listed",
        Duration::from_secs(5),
        walk,
    )
    .await;
    let expected: Vec<_> = paid.iter().map(|r| (r.payment_id, r.total)).collect();
    assert_eq!(seen, expected);

    let bills: BillsReply = call(
        &terminal,
        subjects::query(QueryKind::Bills, &asker(&terminal)),
        &aref(telecom(), "13800138000"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(bills.bills.len(), 3);
    assert!(bills.bills.iter().all(|b| b.paid), "{:?}", bills.bills);

    let bad = call::<_, PaymentsPage>(
        &terminal,
        subjects::query(QueryKind::Payments, &asker(&terminal)),
        &PaymentsQuery {
            tenant: telecom(),
            account: phone_no(),
            from: None,
            to: None,
            page_size: Some(0),
            cursor: None,
        },
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(bad.remote().unwrap().code, ErrorCode::InvalidField);
}

#[tokio::test]
async fn a_deleted_view_is_rebuilt_by_replay_and_equals_the_live_one() {
    let (mut h, clock) = system().await;
    let companion = h.phone().await.unwrap().1;
    let phone = register_phone(&companion, "测试").await.unwrap();
    top_up(&h, &phone, 5000, "r-1").await;
    top_up(&h, &phone, 3000, "r-2").await;
    // Everything the two payments will ever report is in the stream once the services that
    // report them have stopped with empty outboxes; then the live view applies all of it.
    for name in [
        ServiceName::FeeEngine,
        ServiceName::Ledger,
        ServiceName::Paygate,
    ] {
        h.stop_and_drain(name).await.unwrap();
    }
    let stored = h.wait_query_caught_up().await.unwrap();
    h.stop_service(ServiceName::Query).await.unwrap();
    let dir = h.data().service("query").join("db");
    let digest = |dir: &std::path::Path| {
        let view = posfee_query::view::View::open(posfee_store::open(dir).unwrap()).unwrap();
        (view.digest().unwrap(), view.feed_seq().unwrap())
    };
    let (live, live_seq) = digest(&dir);
    assert_eq!(live_seq, stored);
    assert!(live
        .iter()
        .any(|(name, rows)| name == "payments" && rows.len() == 2));

    std::fs::remove_dir_all(&dir).unwrap();
    h.start_service(
        ServiceName::Query,
        ServiceOptions {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // The rebuilt view replays up to the same position; then stop and compare.
    assert_eq!(h.wait_query_caught_up().await.unwrap(), stored);
    h.stop_service(ServiceName::Query).await.unwrap();
    let (rebuilt, rebuilt_seq) = digest(&dir);
    assert_eq!(rebuilt_seq, live_seq);
    assert_eq!(rebuilt, live);
}

#[tokio::test]
async fn the_kiosk_query_menu_shows_the_account_from_the_query_service() {
    use posfee_pos_agent::{bill, Agent, Settings};
    let (h, clock) = system().await;
    let agent = Agent::new(
        h.terminal("kiosk-q").await.unwrap(),
        Settings {
            terminal: kiosk(),
            pairing_ttl: Duration::from_secs(120),
            receipt_wait: Duration::from_secs(10),
            heartbeat: Duration::from_secs(10),
            root: h.root(),
        },
        Arc::new(clock),
    );
    let req = QuoteRequest {
        tenant: fixtures::water(),
        account: AccountNo::parse("3-1-1202").unwrap(),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    };
    let account = bill::account(&agent, &req).await.unwrap();
    assert_eq!(account.holder_masked, "王*");
    let shown = posfee_pos_agent::render::account(posfee_pos_agent::i18n::Lang::En, &account);
    assert_eq!(shown, "Holder: 王*  Customer class: residential\n");
    assert!(!shown.contains("王五"));
}
