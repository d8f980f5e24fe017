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
