//! `posfee bench query`: queries per second and latency percentiles over NATS against a
//! running system, optionally after loading a large generated set of accounts.

use anyhow::Context;
use futures::StreamExt;
use hdrhistogram::Histogram;
use posfee_client::{bus, call, creds, CallError};
use posfee_deploy::layout::DataDir;
use posfee_operator::import::{publish, What};
use posfee_operator::refdata::generate;
use posfee_operator::up::{connect_operator, running_url};
use posfee_schemas::events::Event;
use posfee_schemas::query::{AccountRef, AccountSummary, BillsReply, ReadingsQuery, ReadingsReply};
use posfee_schemas::subjects::{self, QueryKind, Role};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One query may take this long before it counts as a timeout.
pub const QUERY_TIMEOUT_MS: u64 = 5_000;
/// How long to wait for the query view to have applied a large import.
pub const CATCH_UP_TIMEOUT_SECS: u64 = 600;

#[derive(Debug, Clone, Copy, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Account summary (includes the live amount from the fee-engine).
    Account,
    Bills,
    Readings,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchQueryArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Generate this many accounts (and a year of their readings) and import them first.
    #[arg(long, default_value_t = 100_000)]
    pub accounts: usize,
    /// Query the accounts an earlier run with the same --accounts and --seed imported,
    /// without importing them again.
    #[arg(long)]
    pub skip_import: bool,
    /// Import the generated accounts even into a system that already holds accounts (a
    /// system in use: they would be billed, listed and reported like real ones).
    #[arg(long)]
    pub into_existing: bool,
    /// Seed of the generated accounts: same seed, same accounts.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// What to ask the query service for.
    #[arg(long, value_enum, default_value_t = Kind::Account)]
    pub kind: Kind,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub kind: Kind,
    pub accounts: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub queries_per_sec: f64,
    pub errors: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

pub async fn run(args: BenchQueryArgs, json: bool) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let tmp = tempfile_dir()?;
    let generated = generate_accounts(&args, &tmp)?;
    if !args.skip_import {
        import_generated(&args, &data, &generated).await?;
    }
    let client = connect_operator(&data).await?;
    wait_for_view(&client, generated.refs.last().context("no accounts")?).await?;

    let refs = Arc::new(generated.refs);
    let measured = measure(&client, &refs, &args).await?;
    let results = summarise(&args, refs.len(), measured);
    if json {
        println!("{}", serde_json::to_string(&results)?);
    } else {
        print_results(&results);
    }
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// The generated accounts: their events, whom to ask about, and the file of their readings.
struct Generated {
    accounts: Vec<Event>,
    refs: Vec<AccountRef>,
    readings_file: PathBuf,
}

/// Generates the accounts and their readings into `tmp` (the same for the same --seed) and
/// reads the accounts back, as `posfee import` would.
fn generate_accounts(args: &BenchQueryArgs, tmp: &Path) -> anyhow::Result<Generated> {
    let accounts_file = tmp.join("accounts.csv");
    let readings_file = tmp.join("readings.csv");
    let count = args.accounts.max(1);
    generate::write(
        count,
        args.seed,
        &mut std::io::BufWriter::new(std::fs::File::create(&accounts_file)?),
        &mut std::io::BufWriter::new(std::fs::File::create(&readings_file)?),
    )?;
    let parsed = posfee_operator::import::parse(What::Accounts, &accounts_file)?;
    let refs: Vec<AccountRef> = parsed
        .events
        .iter()
        .filter_map(|e| match &e.body {
            posfee_schemas::events::EventBody::AccountUpserted(a) => Some(AccountRef {
                tenant: a.tenant.clone(),
                account: a.account.clone(),
            }),
            _ => None,
        })
        .collect();
    Ok(Generated {
        accounts: parsed.events,
        refs,
        readings_file,
    })
}

/// Imports the generated accounts, then their readings, as the importer; into a system that
/// already holds accounts only with --into-existing.
async fn import_generated(
    args: &BenchQueryArgs,
    data: &DataDir,
    generated: &Generated,
) -> anyhow::Result<()> {
    if !args.into_existing {
        refuse_a_system_in_use(data).await?;
    }
    let url = running_url(data)?;
    let seed = creds::read_seed(&data.role_seed(Role::Importer))?;
    let importer = bus::connect(&url, Role::Importer, Some(seed), "posfee-bench").await?;
    let t = Instant::now();
    let signer = data.signer(Role::Importer)?;
    let a = publish(&importer, &signer, &generated.accounts, true).await?;
    let readings = posfee_operator::import::parse(What::Readings, &generated.readings_file)?;
    let r = publish(&importer, &signer, &readings.events, true).await?;
    eprintln!(
        "imported {} accounts and {} readings ({a} + {r} new) in {:.1} s",
        generated.accounts.len(),
        readings.events.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the measured run found: every request's latency, the failures by code, and how long
/// the run took.
struct Measured {
    hist: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    seconds: f64,
}

/// The measured run: --concurrency workers ask about random accounts for --duration seconds;
/// their latencies and errors are added up when the last one ends.
async fn measure(
    client: &async_nats::Client,
    refs: &Arc<Vec<AccountRef>>,
    args: &BenchQueryArgs,
) -> anyhow::Result<Measured> {
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        tasks.push(tokio::spawn(ask_until(
            client.clone(),
            refs.clone(),
            args.kind,
            worker,
            deadline,
        )));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = BTreeMap::new();
    for t in tasks {
        let (h, e) = t.await??;
        hist.add(h)?;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Measured {
        hist,
        errors,
        seconds,
    })
}

/// One worker: asks about a random account (seeded by the worker's number) one request at a
/// time until the deadline, recording each request's latency and each failure's code.
async fn ask_until(
    client: async_nats::Client,
    refs: Arc<Vec<AccountRef>>,
    kind: Kind,
    worker: usize,
    deadline: Instant,
) -> anyhow::Result<(Histogram<u64>, BTreeMap<String, u64>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(worker as u64);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    while Instant::now() < deadline {
        let r = &refs[rng.gen_range(0..refs.len())];
        let t = Instant::now();
        let result = one(&client, kind, r).await;
        hist.saturating_record(t.elapsed().as_micros() as u64);
        if let Err(e) = result {
            *errors.entry(error_code(&e)).or_default() += 1;
        }
    }
    anyhow::Ok((hist, errors))
}

/// The name a failed query is counted under.
fn error_code(e: &CallError) -> String {
    match e {
        CallError::Remote(w) => w.code.name().to_string(),
        CallError::TimedOut(_) => "TIMED_OUT".into(),
        CallError::NoResponders(_) => "NO_RESPONDERS".into(),
        other => format!("{other}"),
    }
}

/// The results of the measured run over `accounts` accounts.
fn summarise(args: &BenchQueryArgs, accounts: usize, m: Measured) -> Results {
    let ms = |q: f64| m.hist.value_at_quantile(q) as f64 / 1000.0;
    Results {
        kind: args.kind,
        accounts,
        concurrency: args.concurrency,
        seconds: m.seconds,
        requests: m.hist.len(),
        queries_per_sec: m.hist.len() as f64 / m.seconds,
        errors: m.errors,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: m.hist.max() as f64 / 1000.0,
    }
}

/// The results as one line of text.
fn print_results(results: &Results) {
    println!(
        "query {}: {} accounts, {} in flight, {:.1} s: {} requests, {:.0} queries/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, errors {:?}",
        clap::ValueEnum::to_possible_value(&results.kind).map(|v| v.get_name().to_string()).unwrap_or_default(),
        results.accounts, results.concurrency, results.seconds, results.requests,
        results.queries_per_sec, results.p50_ms, results.p90_ms, results.p99_ms, results.p999_ms,
        results.max_ms, results.errors
    );
}

async fn one(client: &async_nats::Client, kind: Kind, r: &AccountRef) -> Result<(), CallError> {
    let timeout = Some(Duration::from_millis(QUERY_TIMEOUT_MS));
    let me = asker(client);
    match kind {
        Kind::Account => {
            call::<_, AccountSummary>(client, subjects::query(QueryKind::Account, &me), r, timeout)
                .await
                .map(|_| ())
        }
        Kind::Bills => {
            call::<_, BillsReply>(client, subjects::query(QueryKind::Bills, &me), r, timeout)
                .await
                .map(|_| ())
        }
        Kind::Readings => call::<_, ReadingsReply>(
            client,
            subjects::query(QueryKind::Readings, &me),
            &ReadingsQuery {
                tenant: r.tenant.clone(),
                account: r.account.clone(),
                meter: None,
                from: None,
                to: None,
                page_size: None,
                cursor: None,
            },
            timeout,
        )
        .await
        .map(|_| ()),
    }
}

/// Who `client` is; a bench connection is always a role's, so never the fallback.
fn asker(client: &async_nats::Client) -> subjects::Identity {
    posfee_client::bus::asker_of(client)
        .unwrap_or(subjects::Identity::Role(subjects::Role::Operator))
}

/// The bench's accounts are generated and would sit beside real ones for good: it imports
/// only into a system that holds no account yet.
async fn refuse_a_system_in_use(data: &DataDir) -> anyhow::Result<()> {
    let operator = connect_operator(data).await?;
    let js = async_nats::jetstream::new(operator);
    let filter =
        posfee_schemas::subjects::event(posfee_schemas::subjects::EventKind::AccountUpserted);
    let stream = js
        .get_stream(posfee_schemas::subjects::EVENTS_STREAM)
        .await?;
    let held: usize = stream
        .info_with_subjects(filter)
        .await?
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(Result::ok)
        .map(|(_, n)| n)
        .sum();
    if held > 0 {
        anyhow::bail!(
            "this system already holds {held} account record(s), and the bench's generated accounts would stay beside them for good: run it against a system of its own (posfee up --data-dir /tmp/bench), or pass --into-existing"
        );
    }
    Ok(())
}

/// Waits until the query service knows the last imported account.
async fn wait_for_view(client: &async_nats::Client, last: &AccountRef) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(CATCH_UP_TIMEOUT_SECS);
    loop {
        let r: Result<AccountSummary, CallError> = call(
            client,
            subjects::query(QueryKind::Account, &asker(client)),
            last,
            Some(Duration::from_secs(5)),
        )
        .await;
        match r {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("the query view never caught up: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("posfee-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
