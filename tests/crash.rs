//! kill -9 of any service between any two steps: every payment ends captured once or voided,
//! and the ledger and paygate reconcile. Real processes under `posfee up`, which restarts
//! what dies.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_survive_services_killed_at_random_and_the_books_reconcile() {
    let payments = campaign::knob("POSFEE_CRASH_PAYMENTS", PAYMENTS);
    let kill_count = campaign::knob("POSFEE_CRASH_KILLS", KILLS);
    let c = Campaign::start(&[], payments).await;
    // The killer: SIGKILL a service every KILL_EVERY_MS, round robin, while payments run.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (data, stop) = (c.data.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut kills = 0;
            for svc in ["ledger", "paygate", "fee-engine"].iter().cycle() {
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
    };
    let outcome = c.pay_all().await;
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().unwrap();
    assert!(kills >= kill_count.min(3), "only {kills} kills happened");
    c.reconciled(&outcome).await;
}
