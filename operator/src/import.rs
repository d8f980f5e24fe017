//! `posfee import accounts|readings FILE.csv`: reference data in, as events.
//!
//! The whole file is read and checked first, against the CSV format and then against what
//! the running system will do with each row: the tenant has rules (the folder `posfee up`
//! gave the fee-engine), the account's class, attributes and fee kinds are ones its rules
//! price, and a reading's account is in this run or already in the system. Every bad row is
//! reported with its line and reason, and a file with bad rows imports nothing unless
//! `--skip-bad` is given. Each row's
//! event id is derived from its content, so importing the same file again stores nothing new
//! (JetStream's duplicate window), and the services' views, which upsert, change nothing.

use crate::refdata::{check, csv_accounts, csv_readings, Parsed};
use crate::up::running_url;
use anyhow::bail;
use async_nats::jetstream;
use posfee_client::{bus, creds};
use posfee_deploy::layout::DataDir;
use posfee_deploy::rules_dir;
use posfee_schemas::events::Event;
use posfee_schemas::subjects::Role;
use std::collections::VecDeque;
use std::path::PathBuf;

/// Publishes in flight before waiting for the oldest ack: the stream fsyncs each one, so a
/// deep pipeline is what makes a 100,000-row import take seconds, not minutes.
pub const MAX_ACKS_IN_FLIGHT: usize = 512;
/// Files this long get a progress bar.
pub const PROGRESS_FROM_ROWS: usize = 2_000;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    Accounts,
    Readings,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// What the file holds: `accounts` or `readings`.
    pub what: What,
    /// The CSV file, UTF-8 with a header row: accounts
    /// `tenant,account,class,holder_name,attributes,meters,paid_through,arrears`, readings
    /// `tenant,account,meter,register,read_on,value` (docs/import.md describes each column).
    pub file: PathBuf,
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// With `readings`: an accounts file imported in the same run, before the readings, so
    /// readings of its new accounts are accepted.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Import the good rows of a file that has bad ones.
    #[arg(long)]
    pub skip_bad: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn parse(what: What, file: &std::path::Path) -> anyhow::Result<Parsed> {
    let now = chrono::Utc::now();
    match what {
        What::Accounts => csv_accounts::parse(file, now),
        What::Readings => csv_readings::parse(file, now),
    }
}

/// One file of the run and what was read from it.
struct Input {
    file: PathBuf,
    parsed: Parsed,
}

pub async fn run(args: ImportArgs, json: bool) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let url = running_url(&data)?;
    let rules_dir = rules_dir::of_running(&data)?;
    let rules = rules_dir::load(&rules_dir)?;
    let mut inputs = Vec::new();
    match (args.what, &args.accounts) {
        (What::Accounts, Some(_)) => {
            bail!("--accounts goes with `posfee import readings`; to import accounts, name the accounts file alone")
        }
        (What::Readings, Some(accounts)) => inputs.push(read(What::Accounts, accounts)?),
        (_, None) => {}
    }
    inputs.push(read(args.what, &args.file)?);
    for input in &mut inputs {
        check::against_rules(&mut input.parsed, &rules, &rules_dir);
    }
    let seed = creds::read_seed(&data.role_seed(Role::Importer))?;
    let signer = data.signer(Role::Importer)?;
    let client = bus::connect(&url, Role::Importer, Some(seed), "posfee-import").await?;
    if let [accounts @ .., readings] = inputs.as_mut_slice() {
        if matches!(args.what, What::Readings) {
            let in_run = accounts
                .iter()
                .flat_map(|a| check::accounts_of(&a.parsed.events))
                .collect();
            check::readings_of_known_accounts(&mut readings.parsed, &in_run, &client).await?;
        }
    }
    refuse_bad_rows(&inputs, args.skip_bad, json)?;
    for input in &inputs {
        let progress = !args.quiet && !json;
        let stored = publish(&client, &signer, &input.parsed.events, progress).await?;
        report(input, stored, json);
    }
    Ok(())
}

fn read(what: What, file: &std::path::Path) -> anyhow::Result<Input> {
    Ok(Input {
        file: file.to_path_buf(),
        parsed: parse(what, file)?,
    })
}

/// Prints every bad row of every file; refuses the whole run if there are any, unless the
/// operator asked for the good rows only.
fn refuse_bad_rows(inputs: &[Input], skip_bad: bool, json: bool) -> anyhow::Result<()> {
    let mut bad = 0;
    for input in inputs {
        for row in &input.parsed.bad {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "bad_row": { "file": input.file, "row": row.to_string() } })
                );
            } else {
                eprintln!("{}: {row}", input.file.display());
            }
        }
        bad += input.parsed.bad.len();
    }
    if bad > 0 && !skip_bad {
        let good: usize = inputs.iter().map(|i| i.parsed.events.len()).sum();
        let files: Vec<String> = inputs
            .iter()
            .map(|i| i.file.display().to_string())
            .collect();
        bail!(
            "{bad} bad row(s) in {}; nothing imported (fix them, or pass --skip-bad to import the {good} good rows)",
            files.join(" and ")
        );
    }
    Ok(())
}

fn report(input: &Input, stored: usize, json: bool) {
    let parsed = &input.parsed;
    if json {
        println!(
            "{}",
            serde_json::json!({ "imported": {
                "file": input.file,
                "rows": parsed.events.len(),
                "stored": stored,
                "already_there": parsed.events.len() - stored,
                "skipped_bad": parsed.bad.len(),
            } })
        );
        return;
    }
    println!(
        "imported {} row(s) from {} ({} new events stored, {} already there){}",
        parsed.events.len(),
        input.file.display(),
        stored,
        parsed.events.len() - stored,
        if parsed.bad.is_empty() {
            String::new()
        } else {
            format!("; skipped {} bad row(s)", parsed.bad.len())
        }
    );
}

/// Publishes events with their ids as `Nats-Msg-Id`, sealed by the importer's authority,
/// pipelined; returns how many the stream stored as new (the rest were duplicates it already
/// had).
pub async fn publish(
    client: &async_nats::Client,
    signer: &posfee_schemas::trust::Signer,
    events: &[Event],
    progress: bool,
) -> anyhow::Result<usize> {
    let js = jetstream::new(client.clone());
    let bar = if progress && events.len() >= PROGRESS_FROM_ROWS {
        indicatif::ProgressBar::new(events.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(crate::progress::style(
        "{bar:40} {pos}/{len} rows {per_sec} eta {eta}",
    ));
    let mut in_flight = VecDeque::new();
    let mut stored = 0;
    for e in events {
        let (subject, msg) = posfee_client::sealed::message(e, signer);
        in_flight.push_back(js.send_publish(subject, msg).await?);
        if in_flight.len() >= MAX_ACKS_IN_FLIGHT {
            if let Some(ack) = in_flight.pop_front() {
                stored += usize::from(!ack.await?.duplicate);
                bar.inc(1);
            }
        }
    }
    while let Some(ack) = in_flight.pop_front() {
        stored += usize::from(!ack.await?.duplicate);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(stored)
}
