//! `posfee bench identities`: a city's phones on one identity service.
//!
//! Starts its own system (`posfee up` in a temp dir, enrolment rate raised by
//! `POSFEE_ENROL_RATE` so the run is not throttled), then:
//! - enrols `--phones` fresh keys, each the way a phone enrols its own (a connection of the
//!   new key, `posfee.identity.enrol.<device>` with its proof, the close), `--in-flight` at a
//!   time: the identity service's enrolment rate, callout included (the bench's service asks
//!   for no stamp work, `POSFEE_STAMP_BITS=0`);
//! - the whole phone path for a sample (new key, connect unenrolled, enrol, reconnect as a
//!   phone) and a phone's connect time with the store full;
//! - the server's and the identity service's resident memory, the server's configuration
//!   check and reload times (nats-server holds no phone: these must not grow with phones);
//! - revocation: from `posfee keys revoke device` (the request) to the phone's connection
//!   being closed by the server.

use crate::system::{self, OwnSystem};
use anyhow::Context;
use hdrhistogram::Histogram;
use posfee_client::{bus, enrol};
use posfee_deploy::layout::DataDir;
use posfee_operator::up::running_url;
use posfee_schemas::identity::{EnrolReply, Holder};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::{Identity, Role};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchIdentitiesArgs {
    /// Phones to enrol.
    #[arg(long, default_value_t = 1_000_000)]
    pub phones: u64,
    /// Phones enrolling at once (each on a connection of its own new key).
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// Phones taken the whole way (connect, enrol, reconnect), connected, then revoked.
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub phones_enrolled: u64,
    pub enrol_seconds: f64,
    pub enrolments_per_sec: f64,
    /// A new phone's whole path: connect with an unknown key, enrol, connect as a phone.
    pub phone_enrol_p50_ms: f64,
    pub phone_enrol_p99_ms: f64,
    /// An enrolled phone connecting (the callout answered from a store of `phones_enrolled`).
    pub connect_p50_ms: f64,
    pub connect_p99_ms: f64,
    /// From the revoke request to the phone's connection closed by the server.
    pub revoke_p50_ms: f64,
    pub revoke_p99_ms: f64,
    pub revoke_max_ms: f64,
    pub server_rss_mib: f64,
    pub identity_rss_mib: f64,
    pub identity_store_mib: f64,
    /// `nats-server -t` on the running configuration.
    pub server_config_check_ms: f64,
    /// SIGHUP until the server's log says the configuration is reloaded.
    pub server_reload_ms: f64,
    pub enrol_rate_limit_per_sec: f64,
    pub errors: u64,
}

/// The enrolment rate the bench runs the identity service with before it asks for harder
/// stamps, so the run measures the service and not the stamps' work.
const BENCH_ENROL_RATE: &str = "1000000";
/// The stamp bits the bench's identity service asks for: none, so a million made-up phones
/// cost the bench no hashing (a real phone spends 16 bits, once).
const BENCH_STAMP_BITS: u32 = 0;

pub async fn run(args: BenchIdentitiesArgs, json: bool) -> anyhow::Result<()> {
    let sys = OwnSystem::start(
        "identities",
        &[
            ("POSFEE_ENROL_RATE", BENCH_ENROL_RATE),
            ("POSFEE_STAMP_BITS", &BENCH_STAMP_BITS.to_string()),
        ],
        &[],
    )?;
    let url = running_url(&sys.data)?;
    let mut r = Results {
        enrol_rate_limit_per_sec: BENCH_ENROL_RATE.parse().unwrap_or_default(),
        ..Results::default()
    };
    let started = Instant::now();
    let (enrolled, errors) = enrol_many(&url, args.phones, args.in_flight, args.quiet).await;
    r.enrol_seconds = started.elapsed().as_secs_f64();
    r.phones_enrolled = enrolled;
    r.errors = errors;
    r.enrolments_per_sec = enrolled as f64 / r.enrol_seconds.max(1e-9);
    let (phones, enrol_h) = whole_path(&url, args.sample).await?;
    (r.phone_enrol_p50_ms, r.phone_enrol_p99_ms) = p50_p99(&enrol_h);
    let connect_h = connects(&url, &phones).await?;
    (r.connect_p50_ms, r.connect_p99_ms) = p50_p99(&connect_h);
    let revoke_h = revocations(&sys.data, &url, &phones).await?;
    (r.revoke_p50_ms, r.revoke_p99_ms) = p50_p99(&revoke_h);
    r.revoke_max_ms = revoke_h.max() as f64 / 1000.0;
    r.server_rss_mib = rss_mib(&sys.data, "nats-server")?;
    r.identity_rss_mib = rss_mib(&sys.data, Role::Identity.as_str())?;
    r.identity_store_mib =
        system::dir_bytes(&sys.data.service(Role::Identity.as_str())) as f64 / 1048576.0;
    (r.server_config_check_ms, r.server_reload_ms) = config_times(&sys.data)?;
    report(&r, json, args.out.as_deref())
}

fn report(r: &Results, json: bool, out: Option<&Path>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(r)?;
    if let Some(p) = out {
        std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        println!("{text}");
    }
    anyhow::ensure!(r.errors == 0, "{} enrolments failed", r.errors);
    Ok(())
}

fn p50_p99(h: &Histogram<u64>) -> (f64, f64) {
    (
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
    )
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Enrols `total` fresh keys, `in_flight` at a time, each the way a phone enrols its own: a
/// connection of the new key (stamped), the enrolment, the close. Returns (enrolled, errors).
async fn enrol_many(url: &str, total: u64, in_flight: usize, quiet: bool) -> (u64, u64) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let errors = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (next, done, errors) = (next.clone(), done.clone(), errors.clone());
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering::Relaxed;
            while next.fetch_add(1, Relaxed) < total {
                match enrol_one(&url).await {
                    Ok(()) => done.fetch_add(1, Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "enrolment failed");
                        errors.fetch_add(1, Relaxed)
                    }
                };
            }
        }));
    }
    let progress = (!quiet).then(|| {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                eprintln!(
                    "enrolled {}",
                    done.load(std::sync::atomic::Ordering::Relaxed)
                );
            }
        })
    });
    for t in tasks {
        let _ = t.await;
    }
    if let Some(p) = progress {
        p.abort();
    }
    use std::sync::atomic::Ordering::Relaxed;
    (done.load(Relaxed), errors.load(Relaxed))
}

/// One fresh key enrolled by its own connection, with its own proof. A key whose device id
/// another key holds (40 bits of fingerprint: about one in a million at a million phones) is
/// made again, as a phone does.
async fn enrol_one(url: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..4 {
        let seed = enrol::new_key()?;
        match enrol::enrol_with(url, &seed, "bench-identities", BENCH_STAMP_BITS).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no enrolment tried")))
}

/// `n` new phones the whole way: connect unenrolled, enrol, reconnect. Returns their keys.
async fn whole_path(
    url: &str,
    n: usize,
) -> anyhow::Result<(Vec<(DeviceId, String)>, Histogram<u64>)> {
    let mut h = histogram()?;
    let mut phones = Vec::with_capacity(n);
    for _ in 0..n {
        let seed = enrol::new_key()?;
        let t = Instant::now();
        let reply: EnrolReply = enrol::enrol(url, &seed, "bench-phone").await?;
        let c = bus::connect(
            url,
            Identity::Device(reply.device_id.clone()),
            Some(seed.clone()),
            "bench-phone",
        )
        .await?;
        h.record(t.elapsed().as_micros() as u64)?;
        drop(c);
        phones.push((reply.device_id, seed));
    }
    Ok((phones, h))
}

async fn connects(url: &str, phones: &[(DeviceId, String)]) -> anyhow::Result<Histogram<u64>> {
    let mut h = histogram()?;
    for (device, seed) in phones {
        let t = Instant::now();
        let c = bus::connect(
            url,
            Identity::Device(device.clone()),
            Some(seed.clone()),
            "bench-phone",
        )
        .await?;
        h.record(t.elapsed().as_micros() as u64)?;
        c.flush().await?;
    }
    Ok(h)
}

/// Each phone connected and watching for its connection to close; then revoked one by one.
async fn revocations(
    data: &DataDir,
    url: &str,
    phones: &[(DeviceId, String)],
) -> anyhow::Result<Histogram<u64>> {
    let operator_seed = posfee_client::creds::read_seed(&data.role_seed(Role::Operator))?;
    let operator =
        bus::connect(url, Role::Operator, Some(operator_seed), "bench-identities").await?;
    let mut h = histogram()?;
    for (device, seed) in phones {
        let (tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
        let _phone = async_nats::ConnectOptions::new()
            .nkey(seed.clone())
            .max_reconnects(Some(1))
            .custom_inbox_prefix(Identity::Device(device.clone()).inbox_prefix())
            .event_callback(move |e| {
                let tx = tx.clone();
                async move {
                    if matches!(e, async_nats::Event::Disconnected) {
                        let _ = tx.send(Instant::now());
                    }
                }
            })
            .connect(url)
            .await?;
        let t = Instant::now();
        posfee_deploy::identities::revoke(&operator, Holder::Device(device.clone())).await?;
        let at = tokio::time::timeout(Duration::from_secs(5), closed.recv())
            .await
            .context("a revoked phone's connection stayed open 5 s")?
            .context("no disconnect event")?;
        h.record(at.saturating_duration_since(t).as_micros() as u64)?;
    }
    Ok(h)
}

/// The resident memory of the system's process named `name` (`nats-server`, `identity` …).
fn rss_mib(data: &DataDir, name: &str) -> anyhow::Result<f64> {
    system::processes(data)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, proc_dir)| system::status_mib(&proc_dir, "VmRSS"))
        .with_context(|| format!("no {name} process serving {}", data.root().display()))
}

/// `nats-server -t` on the running configuration, and a reload (SIGHUP until the server's log
/// says it is in force), each timed.
fn config_times(data: &DataDir) -> anyhow::Result<(f64, f64)> {
    let binary = posfee_deploy::natsd::find_server()?;
    let t = Instant::now();
    posfee_deploy::natsd::check_config(&binary, &data.server_conf(), &data.jetstream())?;
    let check_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let log = data.logs().join(posfee_deploy::natsd::SERVER_LOG);
    posfee_deploy::natsd::reload(&data.nats_run(), &log)?
        .context("no nats-server running to reload")?;
    Ok((check_ms, t.elapsed().as_secs_f64() * 1000.0))
}
