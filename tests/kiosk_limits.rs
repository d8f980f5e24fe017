//! A kiosk's key, stolen or running away, cannot issue bills, read accounts or ask a service
//! anything without end, nor record a version string of 60 KB or keep itself "online" with a
//! clock set ahead: each is refused with a code and a reason, and another kiosk is not held
//! back.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{call, CallError, ManualClock};
use posfee_harness::{asker, fixtures, Harness, ServiceOptions};
use posfee_schemas::fee::{BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::query::{AccountRef, AccountSummary};
use posfee_schemas::subjects::{self, QueryKind, Role, ServiceName};
use posfee_schemas::terminal::{TerminalSeen, TerminalState};
use posfee_schemas::ErrorCode;
use std::sync::Arc;

fn account() -> AccountNo {
    AccountNo::parse("3-1-1202").unwrap()
}

/// The fee-engine and the query service, letting a kiosk issue or read `burst` at once and
/// then hardly any more (0.1 a second).
async fn system() -> Harness {
    let mut h = Harness::start().await.unwrap();
    let opts = ServiceOptions {
        clock: Arc::new(ManualClock::new(fixtures::billing_now())),
        kiosk_bills_per_sec: 0.1,
        kiosk_reads_per_sec: 0.1,
        ..Default::default()
    };
    for s in [ServiceName::FeeEngine, ServiceName::Query] {
        h.start_service(s, opts.clone()).await.unwrap();
    }
    let importer = h.connect(Role::Importer).await.unwrap();
    fixtures::import_water_households(&importer, &h.signer(Role::Importer), &[account()])
        .await
        .unwrap();
    h
}

/// Thirty seconds' worth at 0.1 a second.
const BURST: usize = 3;

async fn issue(kiosk: &async_nats::Client, id: &str, key: &str) -> Result<IssuedBill, CallError> {
    let terminal = TerminalId::parse(id).unwrap();
    call(
        kiosk,
        subjects::bill_issue(&terminal),
        &BillIssueRequest {
            basket: None,
            quote: QuoteRequest {
                tenant: fixtures::water(),
                account: account(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            terminal,
            idempotency_key: IdempotencyKey::parse(key).unwrap(),
        },
        None,
    )
    .await
}

fn code<T: std::fmt::Debug>(r: Result<T, CallError>) -> ErrorCode {
    match r {
        Err(CallError::Remote(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_kiosk_issues_only_so_many_bills_and_another_is_not_held_back() {
    let h = system().await;
    let kiosk = h.terminal("kiosk-01").await.unwrap();
    // The probe can succeed: the first bills are issued.
    let mut first = None;
    for i in 0..BURST {
        let bill = issue(&kiosk, "kiosk-01", &format!("k-{i}")).await.unwrap();
        first.get_or_insert(bill);
    }
    assert_eq!(
        code(issue(&kiosk, "kiosk-01", "k-more").await),
        ErrorCode::RateLimited
    );
    // A retry of a bill already issued is answered: it issues nothing new.
    let again = issue(&kiosk, "kiosk-01", "k-0").await.unwrap();
    assert_eq!(Some(again.bill_id), first.map(|b| b.bill_id));
    let other = h.terminal("kiosk-02").await.unwrap();
    issue(&other, "kiosk-02", "k2-0").await.unwrap();
}

#[tokio::test]
async fn a_kiosk_reads_only_so_many_accounts_and_the_operator_is_not_held_back() {
    let h = system().await;
    let kiosk = h.terminal("kiosk-01").await.unwrap();
    let read = |c: &async_nats::Client| {
        let subject = subjects::query(QueryKind::Account, &asker(c));
        let (c, subject) = (c.clone(), subject);
        async move {
            call::<_, AccountSummary>(
                &c,
                subject,
                &AccountRef {
                    tenant: fixtures::water(),
                    account: account(),
                },
                None,
            )
            .await
        }
    };
    for _ in 0..BURST {
        read(&kiosk).await.unwrap();
    }
    assert_eq!(code(read(&kiosk).await), ErrorCode::RateLimited);
    let operator = h.connect(Role::Operator).await.unwrap();
    for _ in 0..BURST + 2 {
        read(&operator).await.unwrap();
    }
}

#[tokio::test]
async fn a_heartbeat_is_dated_by_the_service_and_a_huge_version_is_refused() {
    let h = system().await;
    let id = TerminalId::parse("kiosk-01").unwrap();
    let kiosk = h.terminal("kiosk-01").await.unwrap();
    let seen = |last_seen, version: String| TerminalSeen {
        terminal: id.clone(),
        state: TerminalState::Online,
        last_seen,
        heartbeat_secs: 10,
        version,
    };
    let beat = |s: TerminalSeen| {
        let kiosk = kiosk.clone();
        let subject = subjects::terminal_seen(&id);
        async move { call::<_, TerminalSeen>(&kiosk, subject, &s, None).await }
    };
    // The probe can succeed: a heartbeat of now is recorded.
    let recorded = beat(seen(fixtures::billing_now(), "0.2.0".into()))
        .await
        .unwrap();
    assert_eq!(recorded.last_seen, fixtures::billing_now());
    // A beat dated in the year 9999 (a kiosk keeping itself "online") is recorded at the
    // service's time, not the kiosk's.
    let year_9999 = chrono::DateTime::parse_from_rfc3339("9999-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let recorded = beat(seen(year_9999, "0.2.0".into())).await.unwrap();
    assert_eq!(recorded.last_seen, fixtures::billing_now());
    for (what, s) in [
        (
            "60 KB of version",
            seen(fixtures::billing_now(), "v".repeat(60_000)),
        ),
        (
            "a control character in the version",
            seen(fixtures::billing_now(), "0.2\n0".into()),
        ),
        ("no heartbeat interval", {
            let mut s = seen(fixtures::billing_now(), "0.2.0".into());
            s.heartbeat_secs = 0;
            s
        }),
    ] {
        match beat(s).await {
            Err(CallError::Remote(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidField, "{what}: {e}")
            }
            other => panic!("{what} was recorded: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_kiosk_asks_a_service_only_so_often_whatever_it_asks_and_another_is_not_held_back() {
    let mut h = Harness::start().await.unwrap();
    h.start_service(
        ServiceName::Query,
        ServiceOptions {
            clock: Arc::new(ManualClock::new(fixtures::billing_now())),
            edge_requests_per_sec: 0.1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let beat = |id: &'static str| {
        let h = &h;
        async move {
            let kiosk = h.terminal(id).await.unwrap();
            let terminal = TerminalId::parse(id).unwrap();
            let seen = TerminalSeen {
                terminal: terminal.clone(),
                state: TerminalState::Online,
                last_seen: fixtures::billing_now(),
                heartbeat_secs: 10,
                version: "0.2.0".into(),
            };
            let mut answers = Vec::new();
            for _ in 0..BURST + 1 {
                let subject = subjects::terminal_seen(&terminal);
                answers.push(call::<_, TerminalSeen>(&kiosk, subject, &seen, None).await);
            }
            answers
        }
    };
    // The probe can succeed: the first few are recorded; past the budget, refused.
    let mut first = beat("kiosk-01").await;
    assert_eq!(code(first.pop().unwrap()), ErrorCode::RateLimited);
    assert!(first.into_iter().all(|a| a.is_ok()));
    // Another kiosk has its own budget, and the operator none.
    assert!(beat("kiosk-02")
        .await
        .into_iter()
        .take(BURST)
        .all(|a| a.is_ok()));
    let operator = h.connect(Role::Operator).await.unwrap();
    for _ in 0..BURST + 2 {
        let asked = call::<_, AccountSummary>(
            &operator,
            subjects::query(QueryKind::Account, &asker(&operator)),
            &AccountRef {
                tenant: fixtures::water(),
                account: account(),
            },
            None,
        )
        .await;
        // Nothing was imported here: "no such tenant" is an answer, not a refusal.
        assert_eq!(code(asked), ErrorCode::TenantNotFound);
    }
}
