//! Each role is who it says it is and can do only its job: proven against the real server
//! with the project's nats.conf.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_harness::{Harness, ServiceOptions};
use posfee_schemas::subjects::{self, LedgerOp, Role, ServiceName};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Waits for the server to report a permission violation on this connection.
async fn expect_violation(errors: &mut UnboundedReceiver<String>, what: &str) {
    let got = tokio::time::timeout(Duration::from_secs(3), errors.recv())
        .await
        .unwrap_or_else(|_| panic!("no permission violation for {what}"))
        .unwrap();
    assert!(
        got.to_lowercase().contains("permissions violation"),
        "{what}: unexpected server error {got}"
    );
}

#[tokio::test]
async fn anonymous_and_unknown_keys_are_refused() {
    let h = Harness::start().await.unwrap();
    let anon = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(h.url())
        .await;
    assert!(anon.is_err(), "anonymous connection accepted");
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let res = async_nats::ConnectOptions::new()
        .nkey(stranger)
        .connection_timeout(Duration::from_secs(2))
        .connect(h.url())
        .await;
    assert!(res.is_err(), "unknown nkey accepted");
}

#[tokio::test]
async fn a_terminal_cannot_settle_and_its_attempt_never_reaches_the_ledger() {
    let h = Harness::start().await.unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let mut settle = ledger
        .subscribe(subjects::ledger(LedgerOp::Settle))
        .await
        .unwrap();
    ledger.flush().await.unwrap();
    let (terminal, mut errors) = h.connect_watching(Role::Terminal).await.unwrap();
    terminal
        .publish(subjects::ledger(LedgerOp::Settle), "forged".into())
        .await
        .unwrap();
    terminal.flush().await.unwrap();
    expect_violation(&mut errors, "terminal publishing posfee.ledger.settle").await;
    let delivered = tokio::time::timeout(
        Duration::from_millis(300),
        futures::StreamExt::next(&mut settle),
    )
    .await;
    assert!(
        delivered.is_err(),
        "the forged settlement reached the ledger"
    );

    terminal
        .publish(
            subjects::event(subjects::EventKind::PaymentSettled),
            "forged".into(),
        )
        .await
        .unwrap();
    terminal.flush().await.unwrap();
    expect_violation(&mut errors, "terminal publishing payment.settled").await;
}

#[tokio::test]
async fn a_companion_cannot_listen_to_events_or_other_inboxes() {
    let h = Harness::start().await.unwrap();
    let (companion, mut errors) = h.connect_watching(Role::Companion).await.unwrap();
    let _events = companion.subscribe(subjects::events_all()).await.unwrap();
    companion.flush().await.unwrap();
    expect_violation(&mut errors, "companion subscribing posfee.events.>").await;
    let _inboxes = companion.subscribe("_INBOX.>").await.unwrap();
    companion.flush().await.unwrap();
    expect_violation(&mut errors, "companion subscribing _INBOX.>").await;
}

#[tokio::test]
async fn the_operator_reads_but_cannot_write_events() {
    let h = Harness::start().await.unwrap();
    let (operator, mut errors) = h.connect_watching(Role::Operator).await.unwrap();
    operator
        .publish(
            subjects::event(subjects::EventKind::PaymentSettled),
            "forged".into(),
        )
        .await
        .unwrap();
    operator.flush().await.unwrap();
    expect_violation(&mut errors, "operator publishing payment.settled").await;
}

#[tokio::test]
async fn every_service_runs_in_process_and_answers_discovery() {
    let mut h = Harness::start().await.unwrap();
    h.start_all(ServiceOptions::default()).await.unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let status = posfee::cmd::status::collect(&operator, h.url().to_string(), chrono::Utc::now())
        .await
        .unwrap();
    let mut names: Vec<_> = status.services.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "posfee-fee-engine",
            "posfee-ledger",
            "posfee-paygate",
            "posfee-query"
        ]
    );
    h.stop_service(ServiceName::Ledger).await.unwrap();
    let res = operator
        .request(subjects::srv::ping_service("posfee-ledger"), "".into())
        .await;
    assert!(res.is_err(), "a stopped ledger still answers");
}
