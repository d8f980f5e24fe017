//! kill -9 of any service between any two steps: every payment ends captured once or voided,
//! and the ledger and paygate reconcile. Real processes under `posfee up`, which restarts
//! what dies.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{bus, call, creds, CallError};
use posfee_harness::fixtures::{self, register_phone};
use posfee_operator::reconcile::reconcile;
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, Identity, Role};
use posfee_schemas::ErrorCode;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");
const PAYMENTS: usize = 60;
const KILLS: usize = 9;
const KILL_EVERY_MS: u64 = 150;

/// Pids of the service processes serving `data`.
fn service_pid(data: &Path, service: &str) -> Option<i32> {
    let needle = format!("--store-dir {}", data.join(service).display());
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd)
            .replace('\0', " ")
            .contains(&needle)
        {
            return Some(pid);
        }
    }
    None
}

async fn connect(data: &Path, url: &str, role: Role) -> async_nats::Client {
    let seed =
        creds::read_seed(&posfee_deploy::layout::DataDir::new(data).role_seed(role)).unwrap();
    bus::connect(url, role, Some(seed), "crash-test")
        .await
        .unwrap()
}

/// Issues a key with `posfee keys …` against the running system, as an operator would, and
/// returns the seed file the command wrote.
fn issue_key(data: &Path, what: &[&str]) -> std::path::PathBuf {
    let out = Command::new(POSFEE)
        .arg("keys")
        .args(what)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "posfee keys {what:?}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("seed"))
        .and_then(|l| l.trim().split(' ').next())
        .unwrap_or_else(|| panic!("no seed file in {text}"));
    std::path::PathBuf::from(seed)
}

/// Retries while the answer says "not now" (nobody serving, timed out, 503).
fn transient(e: &CallError) -> bool {
    match e {
        CallError::Remote(w) => w.code == ErrorCode::Unavailable || w.code == ErrorCode::Internal,
        CallError::Decode { .. } | CallError::TooLarge(_) => false,
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_survive_services_killed_at_random_and_the_books_reconcile() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut up = Command::new(POSFEE)
        .args(["up", "--port", "0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = posfee_operator::up::read_ready_line(up.stdout.take().unwrap()).unwrap();
    std::thread::spawn(move || for _ in ready.rest {});
    let url = std::fs::read_to_string(data.join("run/nats.url")).unwrap();

    let accounts: Vec<AccountNo> = (0..PAYMENTS)
        .map(|i| AccountNo::parse(format!("9-{i}")).unwrap())
        .collect();
    let importer = connect(&data, &url, Role::Importer).await;
    fixtures::import_water_households(&importer, &accounts)
        .await
        .unwrap();
    // The phone makes its own key and enrols it, as every phone does.
    let phone_seed = posfee_client::enrol::new_key().unwrap();
    let device = posfee_client::enrol::enrol(&url, &phone_seed, "crash-test")
        .await
        .unwrap()
        .device_id;
    let companion = bus::connect(
        &url,
        Identity::Device(device),
        Some(phone_seed),
        "crash-test",
    )
    .await
    .unwrap();
    // Two phones: one sandbox balance (10,000.00) pays 52 bills of 190.00.
    let phones = [
        register_phone(&companion, "测试甲").await.unwrap(),
        register_phone(&companion, "测试乙").await.unwrap(),
    ];
    let kiosk_seed = issue_key(&data, &["terminal", "kiosk-crash"]);
    let terminal = bus::connect(
        &url,
        Identity::Terminal(TerminalId::parse("kiosk-crash").unwrap()),
        Some(creds::read_seed(&kiosk_seed).unwrap()),
        "crash-test",
    )
    .await
    .unwrap();
    let operator = connect(&data, &url, Role::Operator).await;

    // The killer: SIGKILL a service every KILL_EVERY_MS, round robin, while payments run.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (data, stop) = (data.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut kills = 0;
            for svc in ["ledger", "paygate", "fee-engine"].iter().cycle() {
                if kills == KILLS || stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(KILL_EVERY_MS));
                if let Some(pid) = service_pid(&data, svc) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    kills += 1;
                }
            }
            kills
        })
    };

    let kiosk = TerminalId::parse("kiosk-crash").unwrap();
    let mut receipts = 0;
    let mut refused = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(90);
        let issue = BillIssueRequest {
            quote: QuoteRequest {
                tenant: fixtures::water(),
                account: account.clone(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            terminal: kiosk.clone(),
            idempotency_key: IdempotencyKey::parse(format!("crash-{i}")).unwrap(),
        };
        let bill: IssuedBill = loop {
            match call(
                &terminal,
                subjects::bill_issue(&kiosk),
                &issue,
                Some(Duration::from_secs(3)),
            )
            .await
            {
                Ok(b) => break b,
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("issuing bill {i}: {e}"),
            }
        };
        let b: Bill = bill.signed.peek().unwrap();
        let phone = &phones[i % phones.len()];
        let order = PayOrder {
            payment_id: PaymentId::new_random(),
            payer: phone.payer.clone(),
            bill_id: b.bill_id,
            amount: b.total,
            terminal: kiosk.clone(),
        };
        let req = PayRequest {
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &phone.device_key_id,
                &phone.device_key,
            ),
            bill,
        };
        loop {
            let r: Result<Receipt, CallError> = call(
                &companion,
                fixtures::pay_subject(&companion),
                &req,
                Some(Duration::from_secs(5)),
            )
            .await;
            match r {
                Ok(receipt) => {
                    assert_eq!(receipt.payment_id, order.payment_id);
                    receipts += 1;
                    break;
                }
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(CallError::Remote(w)) => {
                    // A final refusal (e.g. the bill expired while everything restarted)
                    // is allowed; money must then not have moved, which reconcile checks.
                    assert!(w.code.status() < 500, "payment {i}: {w}");
                    refused.push(w.to_string());
                    break;
                }
                Err(e) => panic!("payment {i}: {e}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().unwrap();
    assert!(kills >= 3, "only {kills} kills happened");

    let mut last = None;
    for _ in 0..120 {
        match reconcile(&operator, chrono::Utc::now()).await {
            Ok(r) if r.differences.is_empty() && r.in_flight == 0 => {
                assert_eq!(r.settled, receipts, "{r:?}");
                assert_eq!(r.captured, receipts, "{r:?}");
                assert_eq!(r.voided, refused.len(), "{r:?} {refused:?}");
                assert_eq!(r.settled_fen, 19000 * receipts as i64);
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(up.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                )
                .unwrap();
                assert!(up.wait().unwrap().success());
                return;
            }
            other => last = Some(format!("{other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = up.kill();
    panic!("books never reconciled after the kills: {last:?}");
}
