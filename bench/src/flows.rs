//! `posfee bench flows`: complete pay flows under load — bill issued, pairing, phone joins
//! and pays, ledger settles, receipt at the kiosk — driven through the real kiosk and phone
//! libraries, mode A and B alternating, against a system it starts itself (or a running
//! one), measured against the bus's own request-reply limit in the same run.

use crate::system::{self, OwnSystem};
use anyhow::bail;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use posfee_client::{bus, creds, SystemClock};
use posfee_companion::confirm::Always;
use posfee_companion::home::Home;
use posfee_companion::register::Identity;
use posfee_companion::{join, pay, register, wallet, Companion};
use posfee_deploy::identities::Registry;
use posfee_deploy::layout::DataDir;
use posfee_operator::import::publish;
use posfee_operator::up::running_url;
use posfee_pos_agent::bill::ShownBill;
use posfee_pos_agent::flow::{self, PaySpec, PayView};
use posfee_pos_agent::{Agent, CancellationToken, Settings};
use posfee_schemas::events::{AccountUpserted, EventBody};
use posfee_schemas::fee::QuoteRequest;
use posfee_schemas::identity::Holder;
use posfee_schemas::ids::{AccountNo, DeviceId, FeeKind, PairToken, TenantId, TerminalId};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::Fen;
use posfee_schemas::pairing::{PairCode, WalletAnswer};
use posfee_schemas::subjects::{
    self, Identity as BusIdentity, Role, EVENTS_STREAM, LEDGER_JOURNAL, PAYGATE_JOURNAL,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

/// The flow pays a 30.00 CNY phone top-up: top-ups may be bought again and again, unlike a
/// month's bill, so one account serves many flows.
pub const TOP_UP_FEN: i64 = 3_000;
/// A sandbox payer starts with 10,000.00; a fresh phone registers before it runs out.
pub const FLOWS_PER_PHONE: u64 = 300;
/// Telecom accounts the flows spread over.
pub const ACCOUNTS: usize = 1_000;
/// Request-reply exchanges of one flow (contract 0.5.0): bill.issue and the append of its
/// `bill.issued`, the join (mode A) or the offer (mode B), the phone's `paying` report to the
/// kiosk, paygate.pay and the append of the hold, ledger.settle and the append of the
/// settlement. The pairing, `payment.authorized` and `payment.settled` travel on those
/// appends, the capture is applied from the settlement, and the receipt reaches the kiosk
/// as one message, no round trip.
pub const HOPS_PER_FLOW: u32 = 8;
/// A flow that takes longer than this counts as an error.
pub const FLOW_TIMEOUT_SECS: u64 = 30;
/// Payload of the bare round trips: about a signed bill offer.
pub const BUS_PAYLOAD_BYTES: usize = 1_200;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchFlowsArgs {
    /// A running system's data dir (for its credentials and, unless --url, its server's
    /// URL); without it the bench starts its own in a temp dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The running system's NATS URL, when it is not the one its data dir records
    /// (`--url` is the old name).
    #[arg(long, alias = "url", requires = "data_dir")]
    pub nats_url: Option<String>,
    /// Closed loop: flows in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Open loop: flows started per second (latency counts from the scheduled start).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A few seconds at low load: proves flows complete without errors (used by the tests).
    #[arg(long)]
    pub short: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// The system the bench starts itself runs this many nats-server nodes as one cluster
    /// (`posfee up --cluster`), streams on 3 replicas; ignored with --data-dir.
    #[arg(long, default_value_t = 1, conflicts_with = "data_dir")]
    pub cluster: u16,
    /// Instances of each service that may run side by side in the system the bench starts
    /// (`posfee up --instances`); ignored with --data-dir.
    #[arg(long, default_value_t = 1, conflicts_with = "data_dir")]
    pub instances: u16,
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub shape: String,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub seconds: f64,
    pub flows: u64,
    pub flows_per_sec: f64,
    pub errors: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Per stage: bill (issue + pairing open), join (mode A), pay (phone to receipt), receipt
    /// (kiosk gets it after the phone).
    pub stages: BTreeMap<String, Percentiles>,
    pub hops_per_flow: u32,
    pub bus_roundtrips_per_sec: f64,
    pub bus_ratio: f64,
    /// Every journal entry (hold, settlement, void, credit) and every event acked after its fsync
    /// (JetStream `sync_interval: always`, read from the running server's configuration).
    pub durable: bool,
    pub durability: String,
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// CPU milliseconds each process spent per completed flow during the measured run.
    pub cpu_ms_per_flow: BTreeMap<String, f64>,
    /// The sum over the system's own processes (nats-server and the services).
    pub server_cpu_ms_per_flow: f64,
    /// The simulated kiosks and phones (this bench process).
    pub client_cpu_ms_per_flow: f64,
    pub store_mib_per_10k_settled: BTreeMap<String, f64>,
    /// Messages each stream stored per completed flow during the measured run: each one a
    /// write the server fsynced before its ack, the first thing a flow's server CPU pays for.
    pub stream_writes_per_flow: BTreeMap<String, f64>,
    pub settled: u64,
}

/// The per-kiosk limits of the bench's own system: none to speak of.
const UNLIMITED_PER_SEC: &str = "1000000";

/// Where the system is and how to log in as a role, a kiosk or a phone.
#[derive(Clone)]
struct Bus {
    url: String,
    data: DataDir,
}

impl Bus {
    /// The system's root, as `posfee up` keeps it in the data dir.
    fn root(&self) -> anyhow::Result<posfee_schemas::trust::TrustRoot> {
        self.data.trust_root()
    }

    async fn connect(&self, who: impl Into<BusIdentity>) -> anyhow::Result<async_nats::Client> {
        let who = who.into();
        let seed = creds::read_seed(&Registry::new(&self.data.creds()).seed_file(&who))?;
        bus::connect(&self.url, who, Some(seed), "posfee-bench").await
    }

    /// Keys for the bench's kiosks (issued as `posfee keys terminal` does, kept for the next
    /// run) and one phone per lane, which makes and enrols its own key as every phone does
    /// (revoked when the run ends).
    async fn issue(&self, lanes: usize) -> anyhow::Result<(Vec<TerminalId>, Vec<DeviceId>)> {
        let registry = Registry::new(&self.data.creds());
        let operator = self.connect(Role::Operator).await?;
        let mut terminals = Vec::with_capacity(lanes);
        let mut devices = Vec::with_capacity(lanes);
        for lane in 0..lanes {
            let t = TerminalId::parse(format!("bench-kiosk-{lane}"))?;
            if !registry
                .seed_file(&BusIdentity::Terminal(t.clone()))
                .exists()
            {
                registry
                    .issue(&operator, Holder::Terminal(t.clone()), None, true)
                    .await?;
            }
            terminals.push(t);
            let seed = posfee_client::enrol::new_key()?;
            let enrolled = posfee_client::enrol::enrol(&self.url, &seed, "posfee-bench").await?;
            creds::write_seed(
                &registry.seed_file(&BusIdentity::Device(enrolled.device_id.clone())),
                &seed,
            )?;
            devices.push(enrolled.device_id);
        }
        Ok((terminals, devices))
    }

    async fn revoke(&self, devices: &[DeviceId]) -> anyhow::Result<()> {
        let operator = self.connect(Role::Operator).await?;
        for d in devices {
            posfee_deploy::identities::revoke(&operator, Holder::Device(d.clone())).await?;
        }
        Ok(())
    }
}

struct System {
    data: DataDir,
    bus: Bus,
    /// The system the bench started itself, if it did; stopped when the bench ends.
    _own: Option<OwnSystem>,
}

fn start_system(args: &BenchFlowsArgs) -> anyhow::Result<System> {
    let (data, url, own) = match &args.data_dir {
        Some(dir) => {
            let data = DataDir::new(dir);
            let url = match &args.nats_url {
                Some(u) => u.clone(),
                None => running_url(&data)?,
            };
            (data, url, None)
        }
        None => {
            let (cluster, instances) = (args.cluster.to_string(), args.instances.to_string());
            // Each simulated kiosk serves a payer every few milliseconds, far faster than any
            // real one: the per-kiosk limits are lifted so the run measures the flows.
            let own = OwnSystem::start(
                "flows",
                &[
                    ("POSFEE_KIOSK_BILLS_PER_SEC", UNLIMITED_PER_SEC),
                    ("POSFEE_KIOSK_READS_PER_SEC", UNLIMITED_PER_SEC),
                    ("POSFEE_EDGE_REQUESTS_PER_SEC", UNLIMITED_PER_SEC),
                ],
                &["--cluster", &cluster, "--instances", &instances],
            )?;
            (own.data.clone(), running_url(&own.data)?, Some(own))
        }
    };
    let bus = Bus {
        url,
        data: data.clone(),
    };
    Ok(System {
        data,
        bus,
        _own: own,
    })
}

fn telecom() -> anyhow::Result<TenantId> {
    Ok(TenantId::parse("city-telecom")?)
}

fn account(i: usize) -> anyhow::Result<AccountNo> {
    Ok(AccountNo::parse(format!("139{:08}", i))?)
}

/// One simulated kiosk and the phone in front of it.
struct Lane {
    agent: Agent,
    phone: Arc<Companion>,
    phone_flows: u64,
    homes: PathBuf,
    lane: usize,
    phones_made: u32,
}

impl Lane {
    async fn new(
        bus: &Bus,
        homes: &Path,
        lane: usize,
        terminal: TerminalId,
        device: DeviceId,
    ) -> anyhow::Result<Lane> {
        let agent = Agent::new(
            bus.connect(BusIdentity::Terminal(terminal.clone())).await?,
            Settings {
                terminal,
                pairing_ttl: Duration::from_secs(60),
                receipt_wait: Duration::from_secs(FLOW_TIMEOUT_SECS),
                heartbeat: Duration::from_secs(10),
                root: bus.root()?,
            },
            Arc::new(SystemClock),
        );
        let mut l = Lane {
            agent,
            phone: Arc::new(new_phone(
                bus.connect(BusIdentity::Device(device.clone())).await?,
                device,
                (&homes.join(format!("{lane}-0")), bus.root()?),
            )?),
            phone_flows: 0,
            homes: homes.to_path_buf(),
            lane,
            phones_made: 1,
        };
        l.register().await?;
        Ok(l)
    }

    async fn register(&mut self) -> anyhow::Result<()> {
        register::register(
            &self.phone,
            Identity {
                name: "压测用户".into(),
                national_id: "11010519491231002X".into(),
                bank_account: "4111111111111111".into(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("registering a bench phone: {e}"))?;
        Ok(())
    }

    /// A fresh payer (registered anew on the same device) when this one's sandbox balance is
    /// nearly spent.
    async fn refresh(&mut self) -> anyhow::Result<()> {
        if self.phone_flows < FLOWS_PER_PHONE {
            return Ok(());
        }
        let dir = self
            .homes
            .join(format!("{}-{}", self.lane, self.phones_made));
        self.phone = Arc::new(new_phone(
            self.phone.client.clone(),
            self.phone.device.clone(),
            (&dir, self.phone.keys().root().clone()),
        )?);
        self.phones_made += 1;
        self.phone_flows = 0;
        self.register().await
    }
}

fn new_phone(
    client: async_nats::Client,
    device: DeviceId,
    (dir, root): (&Path, posfee_schemas::trust::TrustRoot),
) -> anyhow::Result<Companion> {
    let home = Home::open(dir).map_err(|e| anyhow::anyhow!("phone home: {e}"))?;
    Ok(Companion::new(
        client,
        device,
        (home, root),
        Arc::new(SystemClock),
    ))
}

/// Where a flow spent its time.
#[derive(Default)]
struct Timing {
    bill: Option<Duration>,
    join: Option<Duration>,
    pay: Option<Duration>,
    receipt: Option<Duration>,
}

struct CodeView {
    codes: mpsc::UnboundedSender<PairCode>,
}

impl PayView for CodeView {
    fn bill(&mut self, _: &ShownBill) {}
    fn pairing(&mut self, code: &PairCode, _: DateTime<Utc>) {
        let _ = self.codes.send(code.clone());
    }
    fn joined(&mut self) {}
    fn wallet_answered(&mut self, _: &WalletAnswer) {}
    fn receipt(&mut self, _: &Receipt) {}
}

fn quote(i: usize) -> anyhow::Result<QuoteRequest> {
    Ok(QuoteRequest {
        tenant: telecom()?,
        account: account(i % ACCOUNTS)?,
        kinds: vec![FeeKind::parse("mobile")?],
        as_of: None,
        prepay_months: None,
        top_up: Some(Fen::new(TOP_UP_FEN)),
    })
}

/// One complete flow; `mode_b` picks who shows the code.
async fn one_flow(lane: &Lane, n: usize, mode_b: bool) -> Result<Timing, Failed> {
    let started = Instant::now();
    let q = quote(n).map_err(|e| Failed::other("QUOTE", e))?;
    if !mode_b {
        kiosk_shows_code(lane, q, started).await
    } else {
        phone_shows_code(lane, q).await
    }
}

/// Why a flow failed: the code the results count it under, and what a reader needs to see
/// why (the stage and the error's message).
#[derive(Debug)]
struct Failed {
    code: String,
    detail: String,
}

impl Failed {
    fn at(stage: &str, e: posfee_schemas::WireError) -> Failed {
        Failed {
            code: e.code.name().to_string(),
            detail: format!("{stage}: {e}"),
        }
    }

    fn other(code: &str, why: impl std::fmt::Display) -> Failed {
        Failed {
            code: code.to_string(),
            detail: why.to_string(),
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.detail)
    }
}

/// Mode A: the kiosk issues the bill and shows a pairing code, the phone joins and pays,
/// and the kiosk gets the receipt; the bill stage counts from `started`.
async fn kiosk_shows_code(
    lane: &Lane,
    q: QuoteRequest,
    started: Instant,
) -> Result<Timing, Failed> {
    let mut t = Timing::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let agent = lane.agent.clone();
    let kiosk = tokio::spawn(async move {
        let mut view = CodeView { codes: tx };
        flow::pay(
            &agent,
            PaySpec {
                quote: q,
                more: Vec::new(),
                wallet: None,
            },
            &mut view,
            &CancellationToken::new(),
        )
        .await
    });
    let code = match rx.recv().await {
        Some(c) => c,
        None => {
            return Err(match kiosk.await {
                Ok(Err(e)) => Failed::at("kiosk", e),
                _ => Failed::other("KIOSK_FAILED", "the kiosk's task ended"),
            })
        }
    };
    t.bill = Some(started.elapsed());
    let j = Instant::now();
    let verified = join::join(&lane.phone, &code)
        .await
        .map_err(|e| Failed::at("join", e))?;
    t.join = Some(j.elapsed());
    let p = Instant::now();
    pay::pay(&lane.phone, &verified)
        .await
        .map_err(|e| Failed::at("pay", e))?;
    t.pay = Some(p.elapsed());
    let r = Instant::now();
    match kiosk.await {
        Ok(Ok(_)) => t.receipt = Some(r.elapsed()),
        Ok(Err(e)) => return Err(Failed::at("receipt", e)),
        Err(_) => return Err(Failed::other("KIOSK_PANICKED", "the kiosk's task panicked")),
    }
    Ok(t)
}

/// Mode B: the phone shows its wallet code, the kiosk offers the bill to it, the phone
/// accepts and pays while the kiosk waits for the receipt; only the pay stage is timed.
async fn phone_shows_code(lane: &Lane, q: QuoteRequest) -> Result<Timing, Failed> {
    let mut t = Timing::default();
    let shown = wallet::show(&lane.phone, Duration::from_secs(60))
        .await
        .map_err(|e| Failed::at("wallet", e))?;
    let code = shown.code.clone();
    let phone = lane.phone.clone();
    let phone_side = tokio::spawn(async move {
        let mut yes = Always(true);
        let (verified, _) = shown
            .wait_offer(&phone, &mut yes, &CancellationToken::new())
            .await?;
        let p = Instant::now();
        pay::pay(&phone, &verified).await?;
        Ok::<_, posfee_schemas::WireError>(p.elapsed())
    });
    let mut view = CodeView {
        codes: mpsc::unbounded_channel().0,
    };
    flow::pay(
        &lane.agent,
        PaySpec {
            quote: q,
            more: Vec::new(),
            wallet: Some(code),
        },
        &mut view,
        &CancellationToken::new(),
    )
    .await
    .map_err(|e| Failed::at("kiosk", e))?;
    match phone_side.await {
        Ok(Ok(pay)) => t.pay = Some(pay),
        Ok(Err(e)) => return Err(Failed::at("pay", e)),
        Err(_) => return Err(Failed::other("PHONE_PANICKED", "the phone's task panicked")),
    }
    Ok(t)
}

struct Recorder {
    total: Histogram<u64>,
    stages: BTreeMap<&'static str, Histogram<u64>>,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    fn new() -> anyhow::Result<Recorder> {
        let h = || Histogram::<u64>::new_with_bounds(1, 120_000_000, 3);
        let mut stages = BTreeMap::new();
        for s in ["bill", "join", "pay", "receipt"] {
            stages.insert(s, h()?);
        }
        Ok(Recorder {
            total: h()?,
            stages,
            errors: BTreeMap::new(),
        })
    }

    fn record(&mut self, since: Instant, result: Result<Timing, Failed>) {
        match result {
            Ok(t) => {
                self.total
                    .saturating_record(since.elapsed().as_micros() as u64);
                for (name, d) in [
                    ("bill", t.bill),
                    ("join", t.join),
                    ("pay", t.pay),
                    ("receipt", t.receipt),
                ] {
                    if let (Some(d), Some(h)) = (d, self.stages.get_mut(name)) {
                        h.saturating_record(d.as_micros() as u64);
                    }
                }
            }
            Err(failed) => *self.errors.entry(failed.code).or_default() += 1,
        }
    }
}

fn pct(h: &Histogram<u64>) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
    }
}

pub async fn run(mut args: BenchFlowsArgs, json: bool) -> anyhow::Result<()> {
    if args.short {
        args.duration = args.duration.min(3);
        args.concurrency = args.concurrency.min(4);
        args.rate = None;
    }
    let sys = start_system(&args)?;
    let importer = sys.bus.connect(Role::Importer).await?;
    import_accounts(&sys.bus, &importer).await?;

    let homes = std::env::temp_dir().join(format!("posfee-bench-phones-{}", std::process::id()));
    let lanes_n = lanes_for(&args);
    let (terminals, devices) = sys.bus.issue(lanes_n).await?;
    let lanes = open_lanes(&sys.bus, &homes, &terminals, &devices).await?;
    warm_up(&lanes).await?;

    let bus = bus_roundtrips(&sys.bus, lanes_n, &terminals[0], &devices[0]).await?;

    let measured = measure(&sys, &args, lanes).await?;
    let durable = posfee_deploy::natsd::syncs_every_write(&sys.data)?;
    let settled = revoke_and_count(&sys, &devices).await;
    let facts = RunFacts {
        lanes: lanes_n,
        bus_roundtrips_per_sec: bus,
        durable,
        settled,
    };
    let results = summarise(&sys.data, args.rate, &measured, facts).await;
    if json {
        println!("{}", serde_json::to_string(&results)?);
    } else {
        print_results(&results);
    }
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    let _ = std::fs::remove_dir_all(&homes);
    check_flows(&results)
}

/// Imports the telecom accounts the flows pay top-ups to, as `posfee import` would.
async fn import_accounts(bus: &Bus, importer: &async_nats::Client) -> anyhow::Result<()> {
    let events: Vec<_> = (0..ACCOUNTS)
        .map(|i| {
            Ok(posfee_operator::refdata::row_event(
                EventBody::AccountUpserted(AccountUpserted {
                    tenant: telecom()?,
                    account: account(i)?,
                    class: "personal".into(),
                    holder_name: String::new(),
                    attributes: BTreeMap::new(),
                    meters: BTreeMap::new(),
                    paid_through: BTreeMap::new(),
                    arrears: vec![],
                }),
                Utc::now(),
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    publish(importer, &bus.data.signer(Role::Importer)?, &events, false).await?;
    Ok(())
}

/// How many lanes (a kiosk and its phone each) run flows side by side.
fn lanes_for(args: &BenchFlowsArgs) -> usize {
    match args.rate {
        // Open loop: enough lanes that a lane is free when a flow is due (rate × worst
        // latency), bounded.
        Some(rate) => ((rate * 0.25).ceil() as usize).clamp(4, 256),
        None => args.concurrency.max(1),
    }
}

/// A lane for each kiosk and phone key, its phone registered, its home under `homes`.
async fn open_lanes(
    bus: &Bus,
    homes: &Path,
    terminals: &[TerminalId],
    devices: &[DeviceId],
) -> anyhow::Result<Vec<Lane>> {
    let mut lanes = Vec::with_capacity(terminals.len());
    for (i, (t, d)) in terminals.iter().zip(devices).enumerate() {
        lanes.push(Lane::new(bus, homes, i, t.clone(), d.clone()).await?);
    }
    Ok(lanes)
}

/// Warms the key directory and connections with one flow per lane, not measured.
async fn warm_up(lanes: &[Lane]) -> anyhow::Result<()> {
    for (i, lane) in lanes.iter().enumerate() {
        one_flow(lane, i, false)
            .await
            .map_err(|e| anyhow::anyhow!("warm-up flow failed: {e}"))?;
    }
    Ok(())
}

/// What the measured run leaves: its recorded flows, its length, and the CPU each process
/// had used and the last sequence of each stream just before and just after it.
struct Measured {
    recorder: Arc<Mutex<Recorder>>,
    seconds: f64,
    cpu_before: BTreeMap<String, f64>,
    cpu_after: BTreeMap<String, f64>,
    writes_before: BTreeMap<String, u64>,
    writes_after: BTreeMap<String, u64>,
}

impl Measured {
    /// CPU milliseconds each process spent per completed flow.
    fn cpu_per_flow(&self, flows: u64) -> BTreeMap<String, f64> {
        self.cpu_after
            .iter()
            .map(|(name, after)| {
                let before = self.cpu_before.get(name).copied().unwrap_or(0.0);
                (name.clone(), (after - before) / (flows.max(1) as f64))
            })
            .collect()
    }

    /// Messages each stream stored per completed flow.
    fn writes_per_flow(&self, flows: u64) -> BTreeMap<String, f64> {
        self.writes_after
            .iter()
            .map(|(stream, after)| {
                let before = self.writes_before.get(stream).copied().unwrap_or(0);
                (
                    stream.clone(),
                    after.saturating_sub(before) as f64 / flows.max(1) as f64,
                )
            })
            .collect()
    }
}

/// What each lane's task shares with the others during the measured run.
#[derive(Clone)]
struct Load {
    recorder: Arc<Mutex<Recorder>>,
    /// The next flow's number: odd ones are mode B.
    counter: Arc<std::sync::atomic::AtomicUsize>,
    progress: indicatif::ProgressBar,
    /// Open loop: the scheduled start times; closed loop: `None`, run until the deadline.
    due_rx: DueRx,
    deadline: Instant,
}

/// The measured run: every lane runs flows until the deadline (closed loop) or while the
/// ticker hands out start times (open loop), the CPU and stream counters read on either side.
async fn measure(
    sys: &System,
    args: &BenchFlowsArgs,
    lanes: Vec<Lane>,
) -> anyhow::Result<Measured> {
    let recorder = Arc::new(Mutex::new(Recorder::new()?));
    let progress = progress_bar(args.quiet);
    let writes_before = stream_seqs(&sys.bus).await?;
    let cpu_before = cpu_ms(&sys.data);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(lanes.len()));
    let (ticker, due_rx) = schedule(args.rate, deadline, started);
    let load = Load {
        recorder: recorder.clone(),
        counter,
        progress: progress.clone(),
        due_rx,
        deadline,
    };
    let mut tasks = Vec::new();
    for lane in lanes {
        tasks.push(tokio::spawn(drive_lane(lane, load.clone())));
    }
    drop(ticker);
    progress.set_message("flows");
    for t in tasks {
        let _ = t.await;
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = cpu_ms(&sys.data);
    let writes_after = stream_seqs(&sys.bus).await?;
    Ok(Measured {
        recorder,
        seconds,
        cpu_before,
        cpu_after,
        writes_before,
        writes_after,
    })
}

/// The flows counter on stderr, or nothing with --quiet.
fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(posfee_operator::progress::style(
            "{spinner} {pos} flows, {per_sec}",
        ));
        bar
    }
}

/// One lane's share of the measured run: a flow at each start time (or back to back), each
/// recorded from its scheduled start, its phone replaced when its balance runs low.
async fn drive_lane(mut lane: Lane, load: Load) {
    while let Some(scheduled) = next_start(&load.due_rx, load.deadline).await {
        if let Err(e) = lane.refresh().await {
            *load
                .recorder
                .lock()
                .await
                .errors
                .entry(format!("PHONE_REFRESH: {e}"))
                .or_default() += 1;
            break;
        }
        let n = load
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = tokio::time::timeout(
            Duration::from_secs(FLOW_TIMEOUT_SECS),
            one_flow(&lane, n, n % 2 == 1),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Failed::other(
                "FLOW_TIMEOUT",
                format!("no end within {FLOW_TIMEOUT_SECS} s"),
            ))
        });
        lane.phone_flows += 1;
        load.recorder.lock().await.record(scheduled, result);
        load.progress.inc(1);
    }
}

/// When a lane's next flow starts: the ticker's next time (open loop) or now (closed loop);
/// `None` once the ticker has stopped or the deadline has passed.
async fn next_start(due_rx: &DueRx, deadline: Instant) -> Option<Instant> {
    match due_rx {
        Some(rx) => rx.lock().await.recv().await,
        None => {
            if Instant::now() >= deadline {
                return None;
            }
            Some(Instant::now())
        }
    }
}

/// Revokes the bench's phones and counts the payments settled; a failure of either is
/// reported but does not fail the bench (the settled count is then 0).
async fn revoke_and_count(sys: &System, devices: &[DeviceId]) -> u64 {
    if let Err(e) = sys.bus.revoke(devices).await {
        eprintln!("could not revoke the bench's phones: {e:#}");
    }
    match settled_count(sys).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("could not count settlements: {e:#}");
            0
        }
    }
}

/// What the results need besides the measured run: the lanes, the bus's bare round trips
/// per second, whether JetStream syncs every write, and the payments settled.
struct RunFacts {
    lanes: usize,
    bus_roundtrips_per_sec: f64,
    durable: bool,
    settled: u64,
}

/// The run's results: latencies and errors from the recorder, CPU and stream writes per flow
/// from the counters, and peak memory and store sizes read now.
async fn summarise(data: &DataDir, rate: Option<f64>, m: &Measured, facts: RunFacts) -> Results {
    let rec = m.recorder.lock().await;
    let flows = rec.total.len();
    let flows_per_sec = flows as f64 / m.seconds;
    let totals = pct(&rec.total);
    let bus = facts.bus_roundtrips_per_sec;
    let cpu_per_flow = m.cpu_per_flow(flows);
    Results {
        shape: if rate.is_some() {
            "open".into()
        } else {
            "closed".into()
        },
        concurrency: facts.lanes,
        rate,
        seconds: m.seconds,
        flows,
        flows_per_sec,
        errors: rec.errors.clone(),
        p50_ms: totals.p50_ms,
        p90_ms: totals.p90_ms,
        p99_ms: totals.p99_ms,
        p999_ms: totals.p999_ms,
        stages: rec
            .stages
            .iter()
            .map(|(k, h)| (k.to_string(), pct(h)))
            .collect(),
        hops_per_flow: HOPS_PER_FLOW,
        bus_roundtrips_per_sec: bus,
        bus_ratio: flows_per_sec * f64::from(HOPS_PER_FLOW) / bus.max(1.0),
        durable: facts.durable,
        durability: durability(facts.durable),
        peak_rss_mib: peak_rss(data),
        server_cpu_ms_per_flow: cpu_per_flow
            .iter()
            .filter(|(name, _)| name.as_str() != CLIENT_PROCESS)
            .map(|(_, v)| v)
            .sum(),
        client_cpu_ms_per_flow: cpu_per_flow.get(CLIENT_PROCESS).copied().unwrap_or(0.0),
        cpu_ms_per_flow: cpu_per_flow,
        store_mib_per_10k_settled: store_sizes(data, facts.settled),
        stream_writes_per_flow: m.writes_per_flow(flows),
        settled: facts.settled,
    }
}

/// What the run's acks promise about durability, money and bills first.
fn durability(js_fsync: bool) -> String {
    format!(
        "money: every hold and settlement is a journal entry acked after the stream's \
         fsync (a capture is the ledger's settlement, applied from its event), the \
         services' views flushed in the background; bills: their bill.issued event, \
         acked after the stream's fsync, is the record; JetStream: {}",
        if js_fsync {
            "sync_interval always (acks after fsync)"
        } else {
            "NO sync_interval always in the server's configuration: acks before fsync"
        }
    )
}

/// The bench fails when any flow failed or none completed.
fn check_flows(results: &Results) -> anyhow::Result<()> {
    if !results.errors.is_empty() {
        bail!(
            "{} flow(s) failed: {:?}",
            results.errors.values().sum::<u64>(),
            results.errors
        );
    }
    if results.flows == 0 {
        bail!("no flow completed");
    }
    Ok(())
}

type DueRx = Option<Arc<Mutex<mpsc::Receiver<Instant>>>>;

/// Open loop: a ticker hands out scheduled start times at `rate` until the deadline.
fn schedule(
    rate: Option<f64>,
    deadline: Instant,
    started: Instant,
) -> (Option<tokio::task::JoinHandle<()>>, DueRx) {
    let Some(rate) = rate else {
        return (None, None);
    };
    let (tx, rx) = mpsc::channel::<Instant>(100_000);
    let ticker = tokio::spawn(async move {
        let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let mut n: u32 = 0;
        loop {
            let at = started + period * n;
            if at >= deadline {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
            if tx.send(at).await.is_err() {
                break;
            }
            n = n.saturating_add(1);
        }
    });
    (Some(ticker), Some(Arc::new(Mutex::new(rx))))
}

/// Bare request-reply round trips per second at the same concurrency and payload size, on
/// the same server, through the same subject permissions as a pairing join: the phone asks on
/// the kiosk's pairing subject and the kiosk answers on a fresh wallet subject of the phone's
/// (`posfee_client::peer::ask`).
async fn bus_roundtrips(
    bus: &Bus,
    concurrency: usize,
    terminal: &TerminalId,
    device: &DeviceId,
) -> anyhow::Result<f64> {
    use futures::StreamExt;
    let responder = bus.connect(BusIdentity::Terminal(terminal.clone())).await?;
    let requester = bus.connect(BusIdentity::Device(device.clone())).await?;
    let subject = subjects::pair(terminal, &PairToken::generate());
    let mut sub = responder.subscribe(subject.clone()).await?;
    let r2 = responder.clone();
    let echo = tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                let _ = r2.publish(reply, m.payload).await;
            }
        }
    });
    // A request the server answers on the responder's own connection proves the
    // subscription is routed (flush only empties the socket, so the first request could
    // race the subscription and find no responders).
    bus::round_trip(&responder, &BusIdentity::Terminal(terminal.clone())).await?;
    let me = BusIdentity::Device(device.clone());
    // On a cluster the requester may sit on another node, which learns of the subscription a
    // moment later (ARCHITECTURE.md, "A fresh subscription is not yet known cluster-wide"):
    // the first ask is asked again for up to 2 s, as the kiosk's and phone's own are.
    let first = Instant::now();
    while let Err(e) = ask_raw(&requester, &me, subject.clone(), vec![0u8; 8].into()).await {
        if first.elapsed() > Duration::from_secs(2) {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let payload = bytes::Bytes::from(vec![7u8; BUS_PAYLOAD_BYTES]);
    let seconds = 3.0;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, s, p, me) = (
            requester.clone(),
            subject.clone(),
            payload.clone(),
            me.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if ask_raw(&c, &me, s.clone(), p.clone()).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    echo.abort();
    Ok(total as f64 / seconds)
}

/// One raw request answered on a fresh wallet subject of the asking phone's, as
/// `peer::ask` sends a join, without its encoding.
async fn ask_raw(
    client: &async_nats::Client,
    me: &BusIdentity,
    subject: String,
    payload: bytes::Bytes,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let reply = posfee_client::peer::answer_subject(me)
        .ok_or_else(|| anyhow::anyhow!("{me} has no pairing subjects"))?;
    let mut answer = client.subscribe(reply.clone()).await?;
    client.publish_with_reply(subject, reply, payload).await?;
    let got = tokio::time::timeout(Duration::from_secs(5), answer.next()).await;
    let _ = answer.unsubscribe().await;
    match got {
        Ok(Some(m)) if m.status.is_none() => Ok(()),
        Ok(_) => anyhow::bail!("no answer"),
        Err(_) => anyhow::bail!("timed out"),
    }
}

/// The last sequence of each stream a flow writes to, read as the operator does.
async fn stream_seqs(bus: &Bus) -> anyhow::Result<BTreeMap<String, u64>> {
    let js = async_nats::jetstream::new(bus.connect(Role::Operator).await?);
    let mut out = BTreeMap::new();
    for stream in [EVENTS_STREAM, LEDGER_JOURNAL, PAYGATE_JOURNAL] {
        let mut s = js.get_stream(stream).await?;
        out.insert(stream.to_string(), s.info().await?.state.last_sequence);
    }
    Ok(out)
}

async fn settled_count(sys: &System) -> anyhow::Result<u64> {
    let operator = sys.bus.connect(Role::Operator).await?;
    let report = posfee_operator::reconcile::reconcile(&operator, Utc::now()).await?;
    Ok(report.settled as u64)
}

/// The bench's own entry in the per-process maps: the simulated kiosks and phones.
const CLIENT_PROCESS: &str = "bench (kiosks and phones)";

/// The processes of the system under test (each service serving this data dir and its
/// nats-server) and this bench (the simulated kiosks and phones), by name.
fn system_processes(data: &DataDir) -> Vec<(String, PathBuf)> {
    let mut out = vec![(CLIENT_PROCESS.to_string(), PathBuf::from("/proc/self"))];
    out.extend(system::processes(data));
    out
}

/// Peak resident memory of each process of the system (VmHWM).
fn peak_rss(data: &DataDir) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, proc_dir) in system_processes(data) {
        // The largest of several processes of one name (a cluster's nodes, instances).
        if let Some(mib) = system::status_mib(&proc_dir, "VmHWM") {
            let peak = out.entry(name).or_insert(0.0_f64);
            *peak = peak.max(mib);
        }
    }
    out
}

/// CPU time (user + system) each process of the system has used so far, in milliseconds.
/// The difference over the measured run divided by the flows is the CPU each flow costs,
/// which, unlike flows per second, does not move with what else the machine is doing.
fn cpu_ms(data: &DataDir) -> BTreeMap<String, f64> {
    // Clock ticks per second: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)).
    const TICKS_PER_SEC: f64 = 100.0;
    let mut out = BTreeMap::new();
    for (name, proc_dir) in system_processes(data) {
        let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start after its closing paren.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat, so 11 and 12 after the command.
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<f64>().ok()))
            .sum();
        // Several processes of one name (a cluster's nodes, a service's instances) add up.
        *out.entry(name).or_insert(0.0) += ticks * 1000.0 / TICKS_PER_SEC;
    }
    out
}

/// Each store's size on disk, scaled to 10,000 settled payments.
fn store_sizes(data: &DataDir, settled: u64) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if settled == 0 {
        return out;
    }
    let scale = 10_000.0 / settled as f64 / (1024.0 * 1024.0);
    for svc in posfee_deploy::services::SERVICES {
        out.insert(
            svc.dir().to_string(),
            system::dir_bytes(&data.service(svc.dir())) as f64 * scale,
        );
    }
    out.insert(
        "jetstream".into(),
        // Every node's store: all of <data-dir>/nats on a cluster.
        system::dir_bytes(&data.root().join("nats")) as f64 * scale,
    );
    out
}

fn print_results(r: &Results) {
    println!(
        "flows ({} loop, {} lanes{}): {} in {:.1} s = {:.1} flows/s; errors {:?}",
        r.shape,
        r.concurrency,
        r.rate
            .map(|x| format!(", {x}/s offered"))
            .unwrap_or_default(),
        r.flows,
        r.seconds,
        r.flows_per_sec,
        r.errors
    );
    println!(
        "end to end: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms",
        r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms
    );
    for (name, p) in &r.stages {
        println!(
            "  stage {name:<8} p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            p.p50_ms, p.p90_ms, p.p99_ms
        );
    }
    println!(
        "bus: {:.0} bare round trips/s at {} in flight ({} B); ratio flows/s x {} hops / round trips/s = {:.3}",
        r.bus_roundtrips_per_sec, r.concurrency, BUS_PAYLOAD_BYTES, r.hops_per_flow, r.bus_ratio
    );
    println!("durable: {} ({})", r.durable, r.durability);
    println!("peak RSS MiB: {:?}", r.peak_rss_mib);
    let total: f64 = r.cpu_ms_per_flow.values().sum();
    println!(
        "CPU ms per flow: {total:.2} in all, server side {:.2}, simulated clients {:.2} ({:?})",
        r.server_cpu_ms_per_flow,
        r.client_cpu_ms_per_flow,
        r.cpu_ms_per_flow
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
    );
    println!(
        "fsynced stream writes per flow: {:.2} ({})",
        r.stream_writes_per_flow.values().sum::<f64>(),
        r.stream_writes_per_flow
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "store MiB per 10,000 settled ({} settled): {:?}",
        r.settled, r.store_mib_per_10k_settled
    );
}
