//! Past one machine: `posfee up --cluster 3 --instances 2` loses a nats-server node, then a
//! ledger, a paygate, a fee-engine and the identity service process, while payments run; every payment ends captured once or
//! voided, the books reconcile, and payments resume within seconds. Then one node loses its
//! whole store while it is down, comes back empty and catches up from the other two.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod campaign;

use campaign::{kill9, server_pid, service_pid, Campaign};
use posfee_client::{call, CallError};
use posfee_schemas::ids::IdempotencyKey;
use posfee_schemas::ledger::{Receipt, RefundReply, RefundRequest};
use posfee_schemas::money::Money;
use posfee_schemas::subjects::{self, EventKind};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const PAYMENTS: usize = 40;
/// The receipt counts at which the killer strikes, and what: every kind of process.
const STRIKES: [(usize, &str); 5] = [
    (4, "node-2"),
    (12, "ledger"),
    (20, "paygate"),
    (27, "fee-engine"),
    (33, "identity"),
];
/// Payments may stop this long at most while something restarts.
const MAX_GAP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loses_a_node_and_money_services_under_payments_and_loses_nothing() {
    let c = Campaign::start(&["--cluster", "3", "--instances", "2"], PAYMENTS).await;
    let killer = {
        let (data, progress) = (c.data.clone(), c.progress.clone());
        std::thread::spawn(move || {
            let mut struck = Vec::new();
            for (at, what) in STRIKES {
                while progress.load(Ordering::Relaxed) < at {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let pid = match what {
                    "node-2" => server_pid(&data.join("nats/node-2/run")),
                    svc => service_pid(&data, svc),
                };
                kill9(pid.unwrap_or_else(|| panic!("no {what} process to kill")));
                struck.push((what, progress.load(Ordering::Relaxed)));
            }
            struck
        })
    };
    let outcome = c.pay_all().await;
    let struck = killer.join().unwrap();
    assert!(
        struck.iter().all(|(_, at)| *at < PAYMENTS),
        "every kill must land while payments run: {struck:?}"
    );
    let (longest_before, _) = outcome
        .longest_gap_in(0..outcome.gaps.len())
        .unwrap_or_default();
    println!(
        "killed {struck:?}; {} paid, {} refused; payments stopped for at most {:.1} s (before receipt {longest_before})",
        outcome.receipts,
        outcome.refused.len(),
        outcome.longest_gap().as_secs_f64()
    );
    // What each strike cost: the longest wait for a receipt between it and the next strike.
    for (i, (what, at)) in struck.iter().enumerate() {
        let until = struck
            .get(i + 1)
            .map_or(outcome.gaps.len(), |(_, next)| *next);
        if let Some((receipt, gap)) = outcome.longest_gap_in(*at..until) {
            let s = gap.as_secs_f64();
            println!("  after {what}: {s:.2} s (before receipt {receipt})");
        }
    }
    assert!(
        outcome.longest_gap() < MAX_GAP,
        "payments stopped for {:?}",
        outcome.longest_gap()
    );

    let settled_before = settled_events(&c).await;
    assert_eq!(settled_before, outcome.receipts);
    // Node 3 loses its disk while down; the launcher starts it again on an empty store.
    let node = c.data.join("nats/node-3");
    kill9(server_pid(&node.join("run")).unwrap());
    std::fs::rename(node.join("jetstream"), node.join("jetstream.lost")).unwrap();
    std::fs::remove_dir_all(node.join("jetstream.lost")).unwrap();
    caught_up(&c, "posfee-3", &node).await;
    // A reader placed on the rebuilt copy may see it a moment behind the leader's word.
    posfee_harness::eventually_within(
        "every settled event read after the node lost its store",
        Duration::from_secs(30),
        || async {
            let seen = settled_events(&c).await;
            if seen == settled_before {
                Ok(())
            } else {
                Err(seen)
            }
        },
    )
    .await;
    c.reconciled(&outcome).await;
}

/// The payment.settled events the stream holds, asked again while the cluster answers
/// "timed out" (its clients move to another node when theirs goes away).
async fn settled_events(c: &Campaign) -> usize {
    let filter = subjects::event(EventKind::PaymentSettled);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match posfee_harness::stored_events(&c.operator, &filter).await {
            Ok(events) => return events.len(),
            Err(e) if Instant::now() < deadline => {
                eprintln!("reading the settled events again: {e:#}");
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("reading the settled events: {e:#}"),
        }
    }
}

/// Waits until the node runs again with a store of its own and the stream's leader reports
/// its copy of the events current, nothing behind.
async fn caught_up(c: &Campaign, peer: &str, node: &Path) {
    let js = async_nats::jetstream::new(c.operator.clone());
    let current = || async {
        let restarted = server_pid(&node.join("run")).is_some() && node.join("jetstream").exists();
        if !restarted {
            return Err("not restarted yet".to_string());
        }
        let mut stream = js
            .get_stream(subjects::EVENTS_STREAM)
            .await
            .map_err(|e| e.to_string())?;
        let info = stream.info().await.map_err(|e| e.to_string())?;
        let cluster = info.cluster.clone().unwrap_or_default();
        match cluster.replicas.iter().find(|r| r.name == peer) {
            Some(r) if r.current && r.lag.unwrap_or(0) == 0 => Ok(()),
            _ => Err(format!("{cluster:?}")),
        }
    };
    posfee_harness::eventually_within(
        &format!("{peer} catches up"),
        Duration::from_secs(60),
        current,
    )
    .await;
}

/// Copies of one request sent at once: what each got, in order.
async fn at_once<T, F>(copies: usize, send: impl Fn(usize) -> F) -> Vec<Result<T, CallError>>
where
    F: std::future::Future<Output = Result<T, CallError>>,
{
    futures::future::join_all((0..copies).map(send)).await
}

/// The answers that say the books could not be reached, or none came.
fn not_answered<T>(results: &[Result<T, CallError>]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| !matches!(e, CallError::Remote(w) if w.code.status() < 500))
        .map(|e| e.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_writes_on_a_clustered_journal_are_conflicts_decided_never_unavailable() {
    const BILLS: usize = 6;
    const COPIES: usize = 8;
    let c = Campaign::start(&["--cluster", "3", "--instances", "2"], BILLS).await;
    let clerk = c.clerk("city-water").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut paid = Vec::new();
    for i in 0..BILLS {
        // Copies of one pay order through both paygates at once: one payment, one receipt.
        let (req, payment_id) = c.order(i, deadline).await;
        let answers = at_once(COPIES, |_| {
            c.send::<posfee_schemas::ledger::SignedReceipt>(&req)
        })
        .await;
        assert_eq!(not_answered(&answers), Vec::<String>::new(), "bill {i}");
        for r in &answers {
            let receipt: Receipt = r.as_ref().unwrap().peek().unwrap();
            assert_eq!(receipt.payment_id, payment_id);
        }
        paid.push(payment_id);
    }
    for (n, payment_id) in paid.iter().enumerate() {
        let refund = |key: String| RefundRequest {
            payment_id: *payment_id,
            amount: Money::cny(100),
            reason: "meter misread".into(),
            idempotency_key: IdempotencyKey::parse(key).unwrap(),
        };
        let subject = subjects::ledger_refund(&posfee_harness::fixtures::water());
        let ask = |req: RefundRequest| {
            let (clerk, subject) = (clerk.clone(), subject.clone());
            async move { call::<_, RefundReply>(&clerk, subject, &req, None).await }
        };
        // Refunds of one payment under different keys at once: each is decided on the books
        // the others left. And copies of one refund at once: one refund.
        let distinct = at_once(COPIES, |k| ask(refund(format!("r-{n}-{k}")))).await;
        assert_eq!(not_answered(&distinct), Vec::<String>::new(), "payment {n}");
        let same = at_once(COPIES, |_| ask(refund(format!("same-{n}")))).await;
        assert_eq!(not_answered(&same), Vec::<String>::new(), "payment {n}");
        let refunded = distinct.iter().filter(|r| r.is_ok()).count() + 1;
        let last: RefundReply = call(&clerk, subject, &refund(format!("last-{n}")), None)
            .await
            .unwrap();
        assert_eq!(
            last.total_refunded,
            Money::cny(100 * (refunded as i64 + 1)),
            "payment {n}: {distinct:?} {same:?}"
        );
    }
    let outcome = campaign::Outcome {
        receipts: BILLS,
        refused: Vec::new(),
        gaps: Vec::new(),
    };
    c.reconciled(&outcome).await;
}
