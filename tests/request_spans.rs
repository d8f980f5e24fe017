//! Every request a service answers is logged inside a span naming the service, the endpoint,
//! the subject and, once known, the caller, bill and payment, so one payment can be followed
//! across processes and a failure says where it happened.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_harness::{Harness, ServiceOptions};
use posfee_schemas::ids::BillId;
use posfee_schemas::ledger::CloseRequest;
use posfee_schemas::pairing::CloseReason;
use posfee_schemas::subjects::{self, LedgerOp, Role, ServiceName};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything the services log, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

#[tokio::test]
async fn refused_requests_are_logged_with_service_endpoint_subject_and_ids() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("posfee=debug,posfee_ledger=debug,posfee_runtime=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Ledger, ServiceOptions::default())
        .await
        .unwrap();

    // Garbage on settle: refused before anything is known but where it came in.
    let paygate = h.connect(Role::Paygate).await.unwrap();
    let reply = paygate
        .request(subjects::ledger(LedgerOp::Settle), "garbage".into())
        .await
        .unwrap();
    assert!(posfee_client::call::error_from_headers(&reply).is_some());
    // A close whose bill is not signed: refused, with the bill it named.
    let kiosk = h.terminal("kiosk-01").await.unwrap();
    let bill_id = BillId::new_random();
    let forged = CloseRequest {
        pairing: None,
        bill: posfee_schemas::fee::IssuedBill {
            bill_id,
            signed: posfee_schemas::signed::Signed {
                body: vec![1, 2, 3],
                key_id: posfee_schemas::ids::KeyId::parse("nobody").unwrap(),
                signature: vec![0; 64],
            },
        },
        reason: CloseReason::Cancelled,
        code: None,
    };
    let subject =
        subjects::ledger_close(&posfee_schemas::ids::TerminalId::parse("kiosk-01").unwrap());
    let err = posfee_client::call::<_, posfee_schemas::ledger::CloseReply>(
        &kiosk, subject, &forged, None,
    )
    .await
    .unwrap_err();
    assert!(err.remote().is_some(), "{err}");

    let text = logs.text();
    let settle = text
        .lines()
        .find(|l| l.contains("request refused") && l.contains("endpoint=\"settle\""))
        .unwrap_or_else(|| panic!("no refused settle in the logs:\n{text}"));
    assert!(settle.contains("posfee-ledger"), "{settle}");
    assert!(settle.contains("posfee.ledger.settle"), "{settle}");
    let close = text
        .lines()
        .find(|l| l.contains("request refused") && l.contains("posfee.ledger.close.kiosk-01"))
        .unwrap_or_else(|| panic!("no refused close in the logs:\n{text}"));
    assert!(close.contains(&bill_id.to_string()), "{close}");
}
