//! `posfee import accounts|readings FILE.csv`: reference data in, as events.
//!
//! The whole file is read and checked first; every bad row is reported with its line and
//! reason, and a file with bad rows imports nothing unless `--skip-bad` is given. Each row's
//! event id is derived from its content, so importing the same file again stores nothing new
//! (JetStream's duplicate window), and the services' views, which upsert, change nothing.

use crate::cmd::up::running_url;
use crate::layout::DataDir;
use crate::refdata::{csv_accounts, csv_readings, Parsed};
use anyhow::bail;
use async_nats::jetstream::{self, message::PublishMessage};
use posfee_runtime::{bus, creds};
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
    pub what: What,
    pub file: PathBuf,
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
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

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let parsed = parse(args.what, &args.file)?;
    for bad in &parsed.bad {
        eprintln!("{}: {bad}", args.file.display());
    }
    if !parsed.bad.is_empty() && !args.skip_bad {
        bail!(
            "{} bad row(s) in {}; nothing imported (fix them, or pass --skip-bad to import the {} good rows)",
            parsed.bad.len(),
            args.file.display(),
            parsed.events.len()
        );
    }
    let data = DataDir::new(&args.data_dir);
    let url = running_url(&data)?;
    let seed = creds::read_seed(&data.creds().join(format!("{}.nk", Role::Importer)))?;
    let client = bus::connect(&url, Role::Importer, Some(seed), "posfee-import").await?;
    let stored = publish(&client, &parsed.events, !args.quiet).await?;
    println!(
        "imported {} row(s) from {} ({} new events stored, {} already there){}",
        parsed.events.len(),
        args.file.display(),
        stored,
        parsed.events.len() - stored,
        if parsed.bad.is_empty() {
            String::new()
        } else {
            format!("; skipped {} bad row(s)", parsed.bad.len())
        }
    );
    Ok(())
}

/// Publishes events with their ids as `Nats-Msg-Id`, pipelined; returns how many the stream
/// stored as new (the rest were duplicates it already had).
pub async fn publish(
    client: &async_nats::Client,
    events: &[Event],
    progress: bool,
) -> anyhow::Result<usize> {
    let js = jetstream::new(client.clone());
    let bar = if progress && events.len() >= PROGRESS_FROM_ROWS {
        indicatif::ProgressBar::new(events.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut in_flight = VecDeque::new();
    let mut stored = 0;
    for e in events {
        let msg = PublishMessage::build()
            .payload(posfee_schemas::encode(e).into())
            .message_id(e.id.to_string());
        in_flight.push_back(js.send_publish(e.subject(), msg).await?);
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
