//! `posfee events`: follow the event stream, as a table or one JSON object per line.

use crate::cmd::up::connect_operator;
use crate::layout::DataDir;
use anyhow::{bail, Context};
use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::subjects::{self, EventKind};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// With `--no-follow`, stop when nothing arrives for this long.
pub const IDLE_STOP_MS: u64 = 1_000;

#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Event kinds: `payment.settled`, `payment.*`, … (repeatable; default all).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only events of this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only events of this terminal.
    #[arg(long)]
    pub terminal: Option<String>,
    /// Where to start: `now` (default), `start`, or a time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, default_value = "now")]
    pub since: String,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Stop once caught up instead of following.
    #[arg(long)]
    pub no_follow: bool,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// One line of `--json` output.
#[derive(Debug, Serialize)]
pub struct Line<'a> {
    pub subject: &'a str,
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub event: &'a Event,
}

/// Subject filters for `--kind` values.
pub fn filters(kinds: &[String]) -> anyhow::Result<Vec<String>> {
    if kinds.is_empty() {
        return Ok(vec![subjects::events_all()]);
    }
    let mut out = Vec::new();
    for k in kinds {
        if let Some(entity) = k.strip_suffix(".*") {
            if !EventKind::ALL.iter().any(|e| e.entity() == entity) {
                bail!("--kind {k}: no event kind starts with {entity:?}");
            }
            out.push(subjects::events_of(entity)?);
        } else if let Some(kind) = EventKind::parse(k) {
            out.push(subjects::event(kind));
        } else {
            let known: Vec<&str> = EventKind::ALL.iter().map(|e| e.as_str()).collect();
            bail!(
                "--kind {k}: unknown event kind (known: {})",
                known.join(", ")
            );
        }
    }
    Ok(out)
}

fn deliver_policy(since: &str) -> anyhow::Result<consumer::DeliverPolicy> {
    Ok(match since {
        "now" => consumer::DeliverPolicy::New,
        "start" => consumer::DeliverPolicy::All,
        t => {
            let at: DateTime<Utc> = match DateTime::parse_from_rfc3339(t) {
                Ok(t) => t.with_timezone(&Utc),
                Err(_) => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .with_context(|| {
                        format!("--since {t}: not now, start, RFC 3339 or YYYY-MM-DD")
                    })?
                    .and_hms_opt(0, 0, 0)
                    .context("midnight")?
                    .and_utc(),
            };
            let start_time = time::OffsetDateTime::from_unix_timestamp(at.timestamp())
                .context("--since out of range")?;
            consumer::DeliverPolicy::ByStartTime { start_time }
        }
    })
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let client = connect_operator(&DataDir::new(&args.data_dir)).await?;
    let filters = filters(&args.kinds)?;
    let js = jetstream::new(client);
    let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subjects: filters,
            deliver_policy: deliver_policy(&args.since)?,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    if !args.json {
        println!(
            "{:>7}  {:<20}  {:<18}  {:<14}  {:<12}  SUMMARY",
            "SEQ", "TIME", "KIND", "TENANT", "TERMINAL"
        );
    }
    let mut shown = 0;
    loop {
        let next = if args.no_follow {
            match tokio::time::timeout(Duration::from_millis(IDLE_STOP_MS), messages.next()).await {
                Ok(n) => n,
                Err(_) => break,
            }
        } else {
            messages.next().await
        };
        let Some(msg) = next else { break };
        let msg = msg?;
        let info = msg.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        let time = DateTime::<Utc>::from_timestamp_nanos(
            i64::try_from(info.published.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        );
        let Ok(event) = posfee_schemas::decode::<Event>(&msg.payload) else {
            eprintln!("seq {seq}: undecodable event on {}", msg.subject);
            continue;
        };
        let keep = args
            .tenant
            .as_deref()
            .is_none_or(|t| event.tenant().is_some_and(|e| e.as_str() == t))
            && args
                .terminal
                .as_deref()
                .is_none_or(|t| event.terminal().is_some_and(|e| e.as_str() == t));
        if keep {
            if args.json {
                let line = Line {
                    subject: msg.subject.as_str(),
                    seq,
                    time,
                    event: &event,
                };
                println!("{}", serde_json::to_string(&line)?);
            } else {
                println!(
                    "{:>7}  {:<20}  {:<18}  {:<14}  {:<12}  {}",
                    seq,
                    time.format("%Y-%m-%d %H:%M:%S"),
                    event.kind().as_str(),
                    event.tenant().map(|t| t.as_str()).unwrap_or("-"),
                    event.terminal().map(|t| t.as_str()).unwrap_or("-"),
                    summary(&event.body)
                );
            }
            shown += 1;
            if args.limit.is_some_and(|l| shown >= l) {
                break;
            }
        }
        if args.no_follow && pending == 0 {
            break;
        }
    }
    Ok(())
}

/// One readable line about an event; never personal data (holder names are left out).
fn summary(body: &EventBody) -> String {
    match body {
        EventBody::BillIssued(b) => format!("bill {} account {} {}", b.bill_id, b.account, b.total),
        EventBody::PairingOpened(p) => format!(
            "bill {} {:?} until {}",
            p.bill_id,
            p.mode,
            p.expires_at.format("%H:%M:%S")
        ),
        EventBody::PairingJoined(p)
        | EventBody::PairingExpired(p)
        | EventBody::PairingCancelled(p) => {
            format!("bill {}", p.bill_id)
        }
        EventBody::PaymentAuthorized(p) => {
            format!("payment {} bill {} {}", p.payment_id, p.bill_id, p.amount)
        }
        EventBody::PaymentSettled(p) => format!(
            "payment {} account {} {}",
            p.payment_id, p.account, p.amount
        ),
        EventBody::PaymentVoided(p) => format!("payment {} {}", p.payment_id, p.reason),
        EventBody::PaymentRefunded(p) => format!(
            "payment {} refunded {} (total {})",
            p.payment_id, p.amount, p.total_refunded
        ),
        EventBody::TerminalOnline(t) | EventBody::TerminalOffline(t) => {
            format!("version {}", t.version)
        }
        EventBody::AccountUpserted(a) => format!("account {} class {}", a.account, a.class),
        EventBody::ReadingRecorded(r) => format!(
            "account {} meter {} {} = {}",
            r.account, r.meter, r.read_on, r.value
        ),
    }
}
