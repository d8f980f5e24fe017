//! A payment campaign against a real `posfee up`: accounts imported, a kiosk and enough phones
//! to pay every bill, payments made one after another with retries while something is being
//! killed, and the books reconciled at the end. Shared by the kill -9 test and the cluster test.
//!
//! Its size is the test's; `POSFEE_CAMPAIGN_PAYMENT_SECS` (default 90) is how long one payment
//! may keep meeting transient errors, for longer campaigns whose killer keeps a service in
//! `posfee up`'s restart backoff.

// Each test uses part of this module.
#![allow(dead_code)]

use posfee_client::{bus, call, call_resending, creds, CallError};
use posfee_harness::fixtures::{self, register_phone, Phone};
use posfee_operator::reconcile::reconcile;
use posfee_paygate::app::SANDBOX_OPENING_BALANCE_FEN;
use posfee_schemas::basket::BasketPaid;
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill, QuoteRequest};
use posfee_schemas::ids::*;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, Identity, Role};
use posfee_schemas::ErrorCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");

/// Each account's bill in the campaign (the fixtures' water household): 190.00.
const BILL_FEN: i64 = 19_000;
/// Bills one phone's sandbox opening balance pays.
const BILLS_PER_PHONE: usize = (SANDBOX_OPENING_BALANCE_FEN / BILL_FEN) as usize;

/// A whole number from the environment variable `name`, or `default` when it is unset.
/// A value that is not a number stops the test: a knob silently ignored is a wrong run.
pub fn knob(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Pids of the service processes serving `data`.
pub fn service_pid(data: &Path, service: &str) -> Option<i32> {
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

pub async fn connect(data: &Path, url: &str, role: Role) -> async_nats::Client {
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
pub fn transient(e: &CallError) -> bool {
    match e {
        CallError::Remote(w) => w.code == ErrorCode::Unavailable || w.code == ErrorCode::Internal,
        CallError::Decode { .. } | CallError::TooLarge(_) => false,
        _ => true,
    }
}

/// The registered name of the `n`th phone's payer: 测试甲, 测试乙, … 测试癸, 测试甲甲, ….
fn phone_name(n: usize) -> String {
    const STEMS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];
    let stem = STEMS[n % STEMS.len()];
    format!(
        "测试{}",
        std::iter::repeat_n(stem, n / STEMS.len() + 1).collect::<String>()
    )
}

/// A running system with its clients, ready to pay.
pub struct Campaign {
    pub data: PathBuf,
    pub url: String,
    up: Child,
    accounts: Vec<AccountNo>,
    terminal: async_nats::Client,
    companion: async_nats::Client,
    phones: Vec<Phone>,
    pub operator: async_nats::Client,
    /// How long one payment may keep meeting transient errors.
    payment_allowed: Duration,
    /// Receipts so far, for a killer that strikes at a point in the campaign.
    pub progress: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _tmp: tempfile::TempDir,
}

/// How the payments ended.
pub struct Outcome {
    pub receipts: usize,
    pub refused: Vec<String>,
    /// The wait before each receipt, in order (the first from the start): `gaps[n]` ends
    /// with receipt `n + 1`.
    pub gaps: Vec<Duration>,
}

impl Outcome {
    /// The longest wait between two receipts: how long payments stopped while something was
    /// down.
    pub fn longest_gap(&self) -> Duration {
        self.longest_gap_in(0..self.gaps.len())
            .map_or(Duration::ZERO, |(_, gap)| gap)
    }

    /// The longest of the waits that ended with the receipts after `receipts.start` up to and
    /// including `receipts.end`, and the receipt it ended with. A strike at `n` receipts costs
    /// the longest wait until the next strike, not only `gaps[n]`: a payment already past the
    /// struck process can land before the one that waits for it.
    pub fn longest_gap_in(&self, receipts: std::ops::Range<usize>) -> Option<(usize, Duration)> {
        let waits = self.gaps.iter().copied().enumerate();
        let (n, gap) = waits
            .take(receipts.end)
            .skip(receipts.start)
            .max_by_key(|(_, gap)| *gap)?;
        Some((n + 1, gap))
    }
}

impl Campaign {
    /// `posfee up` with `up_args` on a fresh data dir, `payments` accounts to pay.
    pub async fn start(up_args: &[&str], payments: usize) -> Campaign {
        let mut tmp = tempfile::tempdir().unwrap();
        // POSFEE_KEEP_TEST_DATA=1 keeps the data dir (logs, stores) for a look after a failure.
        if std::env::var_os("POSFEE_KEEP_TEST_DATA").is_some() {
            tmp.disable_cleanup(true);
            eprintln!("data dir kept: {}", tmp.path().display());
        }
        let data = tmp.path().join("data");
        let mut up = Command::new(POSFEE)
            .args(["up", "--port", "0", "--data-dir"])
            .arg(&data)
            .args(up_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = posfee_operator::up::read_ready_line(up.stdout.take().unwrap()).unwrap();
        std::thread::spawn(move || for _ in ready.rest {});
        let url = std::fs::read_to_string(data.join("run/nats.url")).unwrap();
        let accounts: Vec<AccountNo> = (0..payments)
            .map(|i| AccountNo::parse(format!("9-{i}")).unwrap())
            .collect();
        let importer = connect(&data, &url, Role::Importer).await;
        let signer = posfee_deploy::layout::DataDir::new(&data)
            .signer(Role::Importer)
            .unwrap();
        fixtures::import_water_households(&importer, &signer, &accounts)
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
        // Payments alternate between at least two phones, and there are enough of them for
        // every bill to be paid.
        let mut phones = Vec::new();
        for n in 0..payments.div_ceil(BILLS_PER_PHONE).max(2) {
            phones.push(register_phone(&companion, &phone_name(n)).await.unwrap());
        }
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
        Campaign {
            data,
            url,
            up,
            accounts,
            terminal,
            companion,
            phones,
            operator,
            payment_allowed: Duration::from_secs(knob("POSFEE_CAMPAIGN_PAYMENT_SECS", 90) as u64),
            progress: Default::default(),
            _tmp: tmp,
        }
    }

    /// Pays every account's bill in turn, retrying what is transient for up to `payment_allowed` each.
    pub async fn pay_all(&self) -> Outcome {
        let mut receipts = 0;
        let mut refused = Vec::new();
        let mut last = Instant::now();
        let mut gaps = Vec::new();
        for i in 0..self.accounts.len() {
            match self.pay_one(i).await {
                Ok(()) => {
                    receipts += 1;
                    self.progress
                        .store(receipts, std::sync::atomic::Ordering::Relaxed);
                    gaps.push(last.elapsed());
                    last = Instant::now();
                }
                Err(refusal) => refused.push(refusal),
            }
        }
        Outcome {
            receipts,
            refused,
            gaps,
        }
    }

    /// Pays the accounts in baskets of `size` bills (one order each), retrying what is
    /// transient: the outcome counts bills (a basket's receipts, or its refused bills), and
    /// each basket's bills' payment ids are returned for [`Campaign::whole_or_none`].
    pub async fn pay_baskets(&self, size: usize) -> (Outcome, Vec<Vec<PaymentId>>) {
        let (mut receipts, mut refused, mut gaps) = (0, Vec::new(), Vec::new());
        let mut baskets = Vec::new();
        let mut last = Instant::now();
        for first in (0..self.accounts.len()).step_by(size) {
            let size = size.min(self.accounts.len() - first);
            let (parts, paid) = self.pay_basket(first, size).await;
            match paid {
                Ok(()) => {
                    receipts += size;
                    gaps.push(last.elapsed());
                    last = Instant::now();
                }
                Err(why) => refused.extend(std::iter::repeat_n(why, size)),
            }
            baskets.push(parts);
        }
        let outcome = Outcome {
            receipts,
            refused,
            gaps,
        };
        (outcome, baskets)
    }

    /// One basket: every receipt, or a final refusal; its bills' payment ids either way.
    async fn pay_basket(&self, first: usize, size: usize) -> (Vec<PaymentId>, Result<(), String>) {
        let deadline = Instant::now() + self.payment_allowed;
        let (req, parts) = self.basket_order(first, size, deadline).await;
        loop {
            match self.send::<BasketPaid>(&req).await {
                Ok(paid) => {
                    let got: Vec<PaymentId> = paid
                        .receipts
                        .iter()
                        .map(|r| r.peek().unwrap().payment_id)
                        .collect();
                    assert_eq!(got, parts, "basket at account {first}");
                    return (parts, Ok(()));
                }
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(CallError::Remote(w)) => {
                    assert!(w.code.status() < 500, "basket at account {first}: {w}");
                    return (parts, Err(w.to_string()));
                }
                Err(e) => panic!("basket at account {first}: {e}"),
            }
        }
    }

    /// The bills of accounts `first..first + size`, issued as one basket, and a phone's
    /// signed order paying them all; with each bill's payment id.
    async fn basket_order(
        &self,
        first: usize,
        size: usize,
        deadline: Instant,
    ) -> (PayRequest, Vec<PaymentId>) {
        let tag = posfee_schemas::basket::BasketTag {
            id: BasketId::new_random(),
            size: u8::try_from(size).unwrap(),
        };
        let mut issued = Vec::new();
        for i in first..first + size {
            issued.push(self.issue(i, Some(tag), deadline).await);
        }
        let bills: Vec<Bill> = issued.iter().map(|b| b.signed.peek().unwrap()).collect();
        let phone = &self.phones[first % self.phones.len()];
        let payment_id = PaymentId::new_random();
        let order = PayOrder {
            more_bills: bills[1..].iter().map(|b| b.bill_id).collect(),
            payment_id,
            payer: phone.payer.clone(),
            bill_id: bills[0].bill_id,
            amount: posfee_schemas::money::Money::cny(BILL_FEN * size as i64),
            terminal: bills[0].terminal.clone(),
        };
        let req = PayRequest {
            pairing: None,
            more_bills: issued[1..].to_vec(),
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &phone.device_key_id,
                &phone.device_key,
            ),
            bill: issued[0].clone(),
        };
        let parts = bills
            .iter()
            .map(|b| PaymentId::part(payment_id, b.bill_id))
            .collect();
        (req, parts)
    }

    /// Every basket is settled whole or not at all at the ledger.
    pub async fn whole_or_none(&self, baskets: &[Vec<PaymentId>]) {
        let page: posfee_schemas::ledger::SettlementsPage = call(
            &self.operator,
            subjects::ledger(subjects::LedgerOp::Settlements),
            &posfee_schemas::ledger::SettlementsQuery {
                page_size: None,
                cursor: None,
            },
            None,
        )
        .await
        .unwrap();
        assert!(page.next_cursor.is_none(), "more settlements than one page");
        let settled: std::collections::HashSet<PaymentId> =
            page.items.iter().map(|s| s.payment_id).collect();
        for parts in baskets {
            let n = parts.iter().filter(|p| settled.contains(p)).count();
            assert!(
                n == 0 || n == parts.len(),
                "a basket half settled: {n} of {parts:?}"
            );
        }
    }

    /// One payment: a receipt, or a final refusal (allowed: money must then not have moved,
    /// which reconcile checks).
    async fn pay_one(&self, i: usize) -> Result<(), String> {
        let deadline = Instant::now() + self.payment_allowed;
        let (req, payment_id) = self.order(i, deadline).await;
        loop {
            match self.send::<SignedReceipt>(&req).await {
                Ok(receipt) => {
                    let receipt: Receipt = receipt.peek().unwrap();
                    assert_eq!(receipt.payment_id, payment_id);
                    return Ok(());
                }
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(CallError::Remote(w)) => {
                    assert!(w.code.status() < 500, "payment {i}: {w}");
                    return Err(w.to_string());
                }
                Err(e) => panic!("payment {i}: {e}"),
            }
        }
    }

    /// The `i`th account's bill, issued at the kiosk (asked again while that is transient,
    /// until `deadline`), and a phone's signed order to pay it.
    pub async fn order(&self, i: usize, deadline: Instant) -> (PayRequest, PaymentId) {
        let kiosk = TerminalId::parse("kiosk-crash").unwrap();
        let bill = self.issue(i, None, deadline).await;
        let b: Bill = bill.signed.peek().unwrap();
        let phone = &self.phones[i % self.phones.len()];
        let order = PayOrder {
            more_bills: Vec::new(),
            payment_id: PaymentId::new_random(),
            payer: phone.payer.clone(),
            bill_id: b.bill_id,
            amount: b.total,
            terminal: kiosk,
        };
        let req = PayRequest {
            pairing: None,
            more_bills: Vec::new(),
            order: Signed::sign(
                Purpose::DevicePay,
                &order,
                &phone.device_key_id,
                &phone.device_key,
            ),
            bill,
        };
        (req, order.payment_id)
    }

    /// The `i`th account's bill, issued at the kiosk (asked again while that is transient,
    /// until `deadline`), in `basket` if given.
    async fn issue(
        &self,
        i: usize,
        basket: Option<posfee_schemas::basket::BasketTag>,
        deadline: Instant,
    ) -> IssuedBill {
        let kiosk = TerminalId::parse("kiosk-crash").unwrap();
        let issue = BillIssueRequest {
            basket,
            quote: QuoteRequest {
                tenant: fixtures::water(),
                account: self.accounts[i].clone(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
            terminal: kiosk.clone(),
            idempotency_key: IdempotencyKey::parse(format!("crash-{i}")).unwrap(),
        };
        loop {
            match call_resending(
                &self.terminal,
                subjects::bill_issue(&kiosk),
                &issue,
                Some(Duration::from_secs(3)),
            )
            .await
            {
                Ok(b) => return b,
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                // One kiosk issuing a long campaign's bills (a basket's three at once) meets
                // its bill budget (2 a second after a burst of 60): it waits, as a kiosk does.
                Err(CallError::Remote(w))
                    if w.code == ErrorCode::RateLimited && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Err(e) => panic!("issuing bill {i}: {e}"),
            }
        }
    }

    /// A connection as `tenant`'s billing clerk, with a key issued as an operator would.
    pub async fn clerk(&self, tenant: &str) -> async_nats::Client {
        let seed = issue_key(&self.data, &["clerk", tenant]);
        bus::connect(
            &self.url,
            Identity::Clerk(TenantId::parse(tenant).unwrap()),
            Some(creds::read_seed(&seed).unwrap()),
            "crash-test",
        )
        .await
        .unwrap()
    }

    /// Sends one copy of a pay order through whichever paygate instance takes it.
    pub async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: &PayRequest,
    ) -> Result<T, CallError> {
        call_resending(
            &self.companion,
            fixtures::pay_subject(&self.companion),
            req,
            Some(Duration::from_secs(5)),
        )
        .await
    }

    /// Waits until the books reconcile with `outcome` (every receipt settled and captured
    /// once, every refusal voided), then stops the system cleanly.
    pub async fn reconciled(mut self, outcome: &Outcome) {
        self.reconciled_keeping(outcome).await;
        self.stop();
    }

    /// Stops the system cleanly.
    pub fn stop(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.up.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert!(self.up.wait().unwrap().success());
    }

    /// [`Campaign::reconciled`], leaving the system running for more checks.
    pub async fn reconciled_keeping(&mut self, outcome: &Outcome) {
        let mut last = None;
        for _ in 0..120 {
            match reconcile(&self.operator, chrono::Utc::now()).await {
                Ok(r) if r.differences.is_empty() && r.in_flight == 0 => {
                    assert_eq!(r.settled, outcome.receipts, "{r:?}");
                    assert_eq!(r.captured, outcome.receipts, "{r:?}");
                    assert_eq!(
                        r.voided,
                        outcome.refused.len(),
                        "{r:?} {:?}",
                        outcome.refused
                    );
                    assert_eq!(r.settled_fen, BILL_FEN * outcome.receipts as i64);
                    return;
                }
                other => last = Some(format!("{other:?}")),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let _ = self.up.kill();
        panic!("books never reconciled: {last:?}");
    }
}

/// A failed test still stops the system it started.
impl Drop for Campaign {
    fn drop(&mut self) {
        if let Ok(None) = self.up.try_wait() {
            posfee_deploy::natsd::terminate(&mut self.up, Duration::from_secs(20));
        }
    }
}

/// SIGKILL to `pid`.
pub fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The pid of the nats-server whose ports file is in `run_dir`, if it runs.
pub fn server_pid(run_dir: &Path) -> Option<i32> {
    std::fs::read_dir(run_dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        let pid: i32 = name
            .strip_prefix("nats-server_")?
            .strip_suffix(".ports")?
            .parse()
            .ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    })
}
