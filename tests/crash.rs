//! kill -9 of any service between any two steps: every payment ends captured once or voided,
//! and the ledger and paygate reconcile; every basket is settled whole or not at all. Real
//! processes under `posfee up`, which restarts what dies.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod campaign;

use campaign::{kill9, service_pid, Campaign};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The campaign's size in CI; `POSFEE_CRASH_PAYMENTS` and `POSFEE_CRASH_KILLS` run a longer one
/// (e.g. 300 and 100, with `POSFEE_CAMPAIGN_PAYMENT_SECS=600`: a service killed again as soon
/// as it is back waits out `posfee up`'s restart backoff, up to about 30 s each time).
const PAYMENTS: usize = 60;
const KILLS: usize = 9;
const KILL_EVERY_MS: u64 = 150;

/// The basket campaign: accounts paid three to a basket while paygate and the ledger die.
const BASKET_ACCOUNTS: usize = 30;
const BASKET_KILLS: usize = 6;

/// SIGKILLs `services` round robin every [`KILL_EVERY_MS`] until `kill_count` kills or `stop`;
/// how many it made.
fn killer(
    data: std::path::PathBuf,
    services: &'static [&'static str],
    kill_count: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut kills = 0;
        for svc in services.iter().cycle() {
            if kills == kill_count || stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(KILL_EVERY_MS));
            if let Some(pid) = service_pid(&data, svc) {
                kill9(pid);
                kills += 1;
            }
        }
        kills
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baskets_stay_whole_or_void_when_paygate_and_the_ledger_die_half_way() {
    let accounts = campaign::knob("POSFEE_CRASH_BASKET_ACCOUNTS", BASKET_ACCOUNTS);
    let kill_count = campaign::knob("POSFEE_CRASH_BASKET_KILLS", BASKET_KILLS);
    let mut c = Campaign::start(&[], accounts).await;
    let stop = Arc::new(AtomicBool::new(false));
    let killing = killer(
        c.data.clone(),
        &["paygate", "ledger"],
        kill_count,
        stop.clone(),
    );
    let (outcome, baskets) = c.pay_baskets(3).await;
    stop.store(true, Ordering::Relaxed);
    let kills = killing.join().unwrap();
    assert!(kills >= kill_count.min(2), "only {kills} kills happened");
    eprintln!(
        "baskets: {} bills paid, {} refused, {kills} kills",
        outcome.receipts,
        outcome.refused.len()
    );
    c.reconciled_keeping(&outcome).await;
    c.whole_or_none(&baskets).await;
    c.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_survive_services_killed_at_random_and_the_books_reconcile() {
    let payments = campaign::knob("POSFEE_CRASH_PAYMENTS", PAYMENTS);
    let kill_count = campaign::knob("POSFEE_CRASH_KILLS", KILLS);
    let c = Campaign::start(&[], payments).await;
    // The killer: SIGKILL a service every KILL_EVERY_MS, round robin, while payments run.
    let stop = Arc::new(AtomicBool::new(false));
    let services = &["ledger", "paygate", "fee-engine"];
    let killing = killer(c.data.clone(), services, kill_count, stop.clone());
    let outcome = c.pay_all().await;
    stop.store(true, Ordering::Relaxed);
    let kills = killing.join().unwrap();
    assert!(kills >= kill_count.min(3), "only {kills} kills happened");
    c.reconciled(&outcome).await;
}

/// A request a service instance took and then died with is answered by another instance about
/// [`posfee_client::call::RESEND_AFTER_MS`] later on the payment path (`call_resending` sends
/// a copy), not after the asker's whole timeout: nobody tells the asker that the instance
/// died while its own connection stayed up. Plain `call` waits the timeout out, which is why
/// the payment path resends. Both instances hear the subject; the live one leaves alone the
/// request the doomed one took (by its reply subject) and answers any copy.
#[tokio::test]
async fn a_request_whose_instance_died_holding_it_is_answered_by_another_after_a_resend() {
    use posfee_client::call::RESEND_AFTER_MS;
    use posfee_client::CallError;
    let h = posfee_harness::Harness::start().await.unwrap();
    let (answer, took) = died_holding(&h, true, Duration::from_secs(10)).await;
    assert_eq!(answer.unwrap(), "settled", "answered after {took:?}");
    assert!(
        took >= Duration::from_millis(RESEND_AFTER_MS),
        "answered after {took:?}, before any copy was sent"
    );
    // The probe could fail: without copies the request is lost with its instance.
    let (answer, took) = died_holding(&h, false, Duration::from_secs(3)).await;
    assert!(
        matches!(answer, Err(CallError::TimedOut(_))),
        "without a copy the request is lost with its instance: {answer:?}"
    );
    assert!(took >= Duration::from_secs(3), "gave up after {took:?}");
}

/// Paygate asks the ledger's settle subject (`call_resending` or `call`, within `timeout`);
/// one ledger connection takes the request and never answers, another answers every other
/// copy. The answer and how long it took.
async fn died_holding(
    h: &posfee_harness::Harness,
    resending: bool,
    timeout: Duration,
) -> (Result<String, posfee_client::CallError>, Duration) {
    use futures::StreamExt;
    use posfee_client::{call, call_resending};
    use posfee_schemas::subjects::{self, LedgerOp, Role};
    let bounded = Duration::from_secs(15);
    let subject = subjects::ledger(LedgerOp::Settle);
    let asker = h.connect(Role::Paygate).await.unwrap();
    let doomed = h.connect(Role::Ledger).await.unwrap();
    let live = h.connect(Role::Ledger).await.unwrap();
    let mut taken = doomed.subscribe(subject.clone()).await.unwrap();
    let mut serving = live.subscribe(subject.clone()).await.unwrap();
    for sub in [&mut taken, &mut serving] {
        assert!(
            posfee_harness::hears(&asker, sub, &subject).await,
            "a ledger connection never heard {subject}"
        );
    }
    let asked = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let answer = match resending {
            true => call_resending(&asker, subject, &"settle", Some(timeout)).await,
            false => call(&asker, subject, &"settle", Some(timeout)).await,
        };
        (answer, started.elapsed())
    });
    // The request, not a probe (those carry no reply subject).
    let first = tokio::time::timeout(bounded, async {
        loop {
            match taken.next().await {
                Some(m) if m.reply.is_some() => return m.reply,
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .expect("the first request within 15 s")
    .expect("the doomed connection closed before the request");
    let server = tokio::spawn(async move {
        while let Some(m) = serving.next().await {
            let Some(reply) = m.reply else { continue };
            if reply != first {
                let answer = posfee_schemas::codec::encode(&"settled");
                live.publish(reply, answer.into()).await.unwrap();
            }
        }
    });
    let done = tokio::time::timeout(bounded, asked)
        .await
        .expect("the call's end within 15 s")
        .unwrap();
    server.abort();
    done
}
