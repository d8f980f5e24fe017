//! `posfee events`: follow the events, as a table or one JSON object per line.
//!
//! Events are stored in three homes ([`Home`]): the event stream, and the ledger's and
//! paygate's journals, whose entries carry the events of the money records they are. What is
//! stored already is shown merged by time; then each home is followed as it grows.
//!
//! The table shows each event on a line of its own (sequence, local time with its UTC offset
//! as receipts print it, kind, tenant, terminal) and what it says on the lines under it,
//! never wider than [`WIDTH`] columns. `--json` lines carry RFC 3339 times.

use crate::up::connect_operator;
use anyhow::{bail, Context};
use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_client::keydir::KeyDirectory;
use posfee_client::screen::{local_time, LOCAL_TZ};
use posfee_deploy::layout::DataDir;
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::{BillId, KeyId, PaymentId};
use posfee_schemas::pairing::PairMode;
use posfee_schemas::subjects::{self, EventKind, Role};
use posfee_schemas::trust::SEAL_HEADER;
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// With `--no-follow`, how long the stream may stay silent before the dump gives up with an
/// error (it ends, successfully, only once it has read what the stream held when it started).
pub const STALL_MS: u64 = 15_000;
/// The operator's tables fit a terminal this many columns wide.
pub const WIDTH: usize = 100;
/// Where an event's summary lines start.
const SUMMARY_INDENT: usize = 9;

#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// The data dir of the running system (as given to `posfee up`).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Event kinds: `payment.settled`, `payment.*`, … (repeatable; default all).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only events of this tenant (its id, e.g. city-water).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only events of this terminal (its id, e.g. kiosk-01).
    #[arg(long)]
    pub terminal: Option<String>,
    /// Only events of this account (e.g. 3-1-1202): its bills, and everything that happened
    /// to each of them (pairing, payment, refund) from the bill's issue on.
    #[arg(long)]
    pub account: Option<String>,
    /// Only events of this payment (its id), and of its bill once the payment names it.
    #[arg(long)]
    pub payment: Option<String>,
    /// Where to start: `now` (default), `start`, or a time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, default_value = "now")]
    pub since: String,
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
    /// Where it is stored: `POSFEE_EVENTS`, or the journal whose entry carries it.
    pub stream: &'a str,
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

pub fn deliver_policy(since: &str) -> anyhow::Result<consumer::DeliverPolicy> {
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
            from_time(at).context("--since out of range")?
        }
    })
}

/// Deliver what the stream stored from `at` on.
pub fn from_time(at: DateTime<Utc>) -> anyhow::Result<consumer::DeliverPolicy> {
    let start_time = time::OffsetDateTime::from_unix_timestamp(at.timestamp())?;
    Ok(consumer::DeliverPolicy::ByStartTime { start_time })
}

pub async fn run(args: EventsArgs, json: bool) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data_dir);
    let client = connect_operator(&data).await?;
    let root = data.trust_root()?;
    let keys = KeyDirectory::open(&client, root).await?;
    let filters = filters(&args.kinds)?;
    let deliver = deliver_policy(&args.since)?;
    let mut filter = Filter::new(&args)?;
    if !json {
        println!("{}", header());
    }
    let mut shown = 0;
    let mut seen = Seen::default();
    let mut keep = |s: &Stored| -> anyhow::Result<bool> {
        if !seen.first(&s.event) || !filter.keeps(&s.event) {
            return Ok(false);
        }
        print_one(s, json)?;
        shown += 1;
        Ok(args.limit.is_some_and(|l| shown >= l))
    };
    // What is stored already, every home merged by time; then what comes, as it comes.
    let mut after = [None; Home::ALL.len()];
    if !matches!(deliver, consumer::DeliverPolicy::New) {
        let read = read_sealed(&client, &keys, filters.clone(), deliver).await?;
        for s in &read.events {
            if keep(s)? {
                return Ok(());
            }
        }
        after = read.last.map(Some);
    }
    if args.no_follow {
        return Ok(());
    }
    let js = jetstream::new(client.clone());
    let mut live = Vec::new();
    for home in Home::ALL {
        let from = match after[home as usize] {
            Some(last) => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: last + 1,
            },
            None => consumer::DeliverPolicy::New,
        };
        if let Some(opened) = open(&js, home, &filters, from).await? {
            live.push(opened.messages.map(move |m| (home, m)).boxed());
        }
    }
    let mut live = futures::stream::select_all(live);
    while let Some((home, msg)) = live.next().await {
        for s in stored(home, &keys, &filters, &msg?).await? {
            if keep(&s)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What `--tenant`, `--terminal`, `--account` and `--payment` keep: an account's or a
/// payment's events name its bills, which are followed from the first event that links them.
pub struct Filter {
    tenant: Option<String>,
    terminal: Option<String>,
    account: Option<String>,
    payment: Option<PaymentId>,
    bills: HashSet<BillId>,
}

impl Filter {
    fn new(args: &EventsArgs) -> anyhow::Result<Filter> {
        Filter::of(
            args.tenant.clone(),
            args.terminal.clone(),
            args.account.clone(),
            args.payment.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--{e}"))
    }

    /// A filter on what is given; an error names the field (`payment …`).
    pub fn of(
        tenant: Option<String>,
        terminal: Option<String>,
        account: Option<String>,
        payment: Option<&str>,
    ) -> anyhow::Result<Filter> {
        let payment = match payment {
            Some(p) => Some(
                uuid::Uuid::parse_str(p)
                    .map(PaymentId)
                    .with_context(|| format!("payment {p}: not a payment id (a UUID)"))?,
            ),
            None => None,
        };
        Ok(Filter {
            tenant,
            terminal,
            account,
            payment,
            bills: HashSet::new(),
        })
    }

    /// Whether it follows bills (an account or a payment), which needs the stream from its
    /// start to know them.
    pub fn follows_bills(&self) -> bool {
        self.account.is_some() || self.payment.is_some()
    }

    pub fn keeps(&mut self, event: &Event) -> bool {
        let tenant = event.tenant().map(|t| t.as_str());
        let terminal = event.terminal().map(|t| t.as_str());
        let differs = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_some_and(|w| got.is_some_and(|g| g != w))
        };
        if differs(&self.tenant, tenant) || differs(&self.terminal, terminal) {
            return false;
        }
        let bill = event.bill();
        let linked = (self.account.is_some()
            && event.account().map(|a| a.as_str()) == self.account.as_deref())
            || (self.payment.is_some() && event.payment() == self.payment);
        if linked {
            self.bills.extend(bill);
        }
        if self.account.is_some() || self.payment.is_some() {
            // An event of a followed bill that names no tenant or terminal (a pairing, a
            // payment) belongs to the bill's; a basket's pairing to each of its bills'.
            return linked || event.bills().iter().any(|b| self.bills.contains(b));
        }
        let missing = |want: &Option<String>, got: Option<&str>| want.is_some() && got.is_none();
        !missing(&self.tenant, tenant) && !missing(&self.terminal, terminal)
    }
}

/// Prints one event, as a table row or a JSON line.
fn print_one(s: &Stored, json: bool) -> anyhow::Result<()> {
    if json {
        let subject = s.event.subject();
        let line = Line {
            subject: &subject,
            stream: s.home.stream(),
            seq: s.seq,
            time: s.time,
            event: &s.event,
        };
        println!("{}", serde_json::to_string(&line)?);
    } else {
        print!("{}", row(&s.home.position(s.seq), s.time, &s.event));
    }
    Ok(())
}

/// The event ids met lately, so that one event stored twice (a pairing told by a hold and by
/// the bill's close; an event an outbox published again after the stream's duplicate window)
/// is shown once. Keeps the last [`SEEN_MAX`] ids.
#[derive(Default)]
struct Seen {
    ids: HashSet<posfee_schemas::ids::EventId>,
    order: std::collections::VecDeque<posfee_schemas::ids::EventId>,
}

/// Event ids [`Seen`] remembers: far more than arrive between the two tellings of one fact.
const SEEN_MAX: usize = 100_000;

impl Seen {
    /// Whether `event` is met for the first time.
    fn first(&mut self, event: &Event) -> bool {
        if !self.ids.insert(event.id) {
            return false;
        }
        self.order.push_back(event.id);
        if self.order.len() > SEEN_MAX {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }
}

/// Where events are stored: the event stream (bills, pairings, presence, accounts) and the
/// journals whose entries carry the events of the money records they are (`payment.*`,
/// `bill.closed`; events carried beside a journal entry, [`posfee_schemas::events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    Events = 0,
    Ledger = 1,
    Paygate = 2,
}

impl Home {
    pub const ALL: [Home; 3] = [Home::Events, Home::Ledger, Home::Paygate];

    pub fn stream(self) -> &'static str {
        match self {
            Home::Events => subjects::EVENTS_STREAM,
            Home::Ledger => subjects::LEDGER_JOURNAL,
            Home::Paygate => subjects::PAYGATE_JOURNAL,
        }
    }

    /// The service whose journal it is, if it is one.
    pub fn owner(self) -> Option<Role> {
        subjects::journal_owner(self.stream())
    }

    /// An event's place as the table shows it: its sequence in the event stream, or `L`
    /// (the ledger's journal) or `P` (paygate's) before the journal entry's sequence.
    pub fn position(self, seq: u64) -> String {
        match self {
            Home::Events => seq.to_string(),
            Home::Ledger => format!("L{seq}"),
            Home::Paygate => format!("P{seq}"),
        }
    }
}

/// Whether an event on `subject` passes the subject `filters`.
fn wanted(filters: &[String], subject: &str) -> bool {
    filters.iter().any(|f| subjects::matches(f, subject))
}

/// A consumer of `home` delivering from `deliver`, and the home's last sequence when it was
/// made; `None` when none of the kinds `filters` asks for is stored there. A journal is read
/// headers only: the events its entries carry, never the entries.
struct Opened {
    messages: consumer::pull::Ordered,
    last_at_start: u64,
    pending: u64,
}

async fn open(
    js: &jetstream::Context,
    home: Home,
    filters: &[String],
    deliver: consumer::DeliverPolicy,
) -> anyhow::Result<Option<Opened>> {
    let config = match home {
        Home::Events => consumer::pull::OrderedConfig {
            filter_subjects: filters.to_vec(),
            deliver_policy: deliver,
            ..Default::default()
        },
        _ => {
            let carried = posfee_schemas::events::CARRIED_KINDS.iter();
            if !carried
                .clone()
                .any(|k| wanted(filters, &subjects::event(*k)))
            {
                return Ok(None);
            }
            consumer::pull::OrderedConfig {
                deliver_policy: deliver,
                headers_only: true,
                ..Default::default()
            }
        }
    };
    let mut stream = js.get_stream(home.stream()).await?;
    let last_at_start = stream.info().await?.state.last_sequence;
    let consumer = stream.create_consumer(config).await?;
    let pending = consumer.cached_info().num_pending;
    Ok(Some(Opened {
        messages: consumer.messages().await?,
        last_at_start,
        pending,
    }))
}

/// The events one stored message holds that their writers sealed and `filters` asks for:
/// the message itself on the event stream, the events a journal entry carries. The others
/// are passed over, said on stderr.
async fn stored(
    home: Home,
    keys: &KeyDirectory,
    filters: &[String],
    msg: &jetstream::Message,
) -> anyhow::Result<Vec<Stored>> {
    let info = msg.info().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (seq, time) = (info.stream_sequence, published(&info));
    let position = home.position(seq);
    let events = match home {
        Home::Events => match Event::read_on(&msg.subject, &msg.payload) {
            Ok(event) if sealed_by_writer(keys, msg, &event).await? => vec![event],
            Ok(event) => {
                eprintln!(
                    "seq {position}: skipped, a {} event without its writer's ({}) seal",
                    event.kind(),
                    event.kind().writer()
                );
                Vec::new()
            }
            Err(e) => {
                eprintln!("seq {position}: skipped, {e}");
                Vec::new()
            }
        },
        _ => posfee_runtime::feed::carried_events(
            keys,
            (home.owner().unwrap_or(Role::Operator), seq),
            msg.headers.as_ref(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot check the events' seals: {e}"))?
        .into_iter()
        .filter(|e| wanted(filters, &e.subject()))
        .collect(),
    };
    Ok(events
        .into_iter()
        .map(|event| Stored {
            home,
            seq,
            time,
            event,
        })
        .collect())
}

/// Whether the one writer of the event's kind sealed it, as every service's view checks
/// before it believes an event.
async fn sealed_by_writer(
    keys: &KeyDirectory,
    msg: &jetstream::Message,
    event: &Event,
) -> anyhow::Result<bool> {
    let writer = KeyId::parse(event.kind().writer().as_str())?;
    let seal = msg.headers.as_ref().and_then(|h| h.get(SEAL_HEADER));
    keys.sealed_by(
        &writer,
        &msg.subject,
        &msg.payload,
        seal.map(|v| v.as_str()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot check the events' seals: {e}"))
}

/// An event as stored: where, when, and the event.
#[derive(Debug, Clone)]
pub struct Stored {
    pub home: Home,
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub event: Event,
}

/// What [`read_sealed`] read.
#[derive(Debug, Default)]
pub struct Sealed {
    /// Oldest first, every home merged by the time it stored each; an event stored twice
    /// (one id) once, where it was stored first.
    pub events: Vec<Stored>,
    /// The latest time any home had stored something when the read began, in microseconds
    /// since 1970: everything stored up to it was read (a cursor for what comes after).
    pub through: i64,
    /// Each home's last sequence when the read began ([`Home::ALL`]'s order).
    pub last: [u64; 3],
}

/// Every event of the kinds `filters` asks for, stored from `deliver` on, up to where each
/// home was when the read began, that its writer sealed (the others are skipped, said on
/// stderr): the event stream and the journals' carried events, merged by time.
pub async fn read_sealed(
    client: &async_nats::Client,
    keys: &KeyDirectory,
    filters: Vec<String>,
    deliver: consumer::DeliverPolicy,
) -> anyhow::Result<Sealed> {
    let js = jetstream::new(client.clone());
    let mut out = Sealed::default();
    for home in Home::ALL {
        let Some(opened) = open(&js, home, &filters, deliver).await? else {
            continue;
        };
        out.last[home as usize] = opened.last_at_start;
        out.events
            .extend(read_home(home, keys, &filters, opened).await?);
    }
    out.events.sort_by_key(|s| (s.time, s.home as u8, s.seq));
    out.through = out
        .events
        .iter()
        .map(|s| s.time.timestamp_micros())
        .max()
        .unwrap_or(0);
    Ok(out)
}

/// What `opened` delivers up to the home's last sequence when it was opened.
async fn read_home(
    home: Home,
    keys: &KeyDirectory,
    filters: &[String],
    mut opened: Opened,
) -> anyhow::Result<Vec<Stored>> {
    let mut out = Vec::new();
    if opened.pending == 0 {
        return Ok(out);
    }
    loop {
        let msg = tokio::time::timeout(Duration::from_millis(STALL_MS), opened.messages.next())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} sent nothing for {} s: run the command again",
                    home.stream(),
                    STALL_MS / 1000
                )
            })?
            .ok_or_else(|| anyhow::anyhow!("{} ended", home.stream()))??;
        let info = msg.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        out.extend(stored(home, keys, filters, &msg).await?);
        if pending == 0 || seq >= opened.last_at_start {
            return Ok(out);
        }
    }
}

/// When the stream stored a message.
fn published(info: &async_nats::jetstream::message::Info<'_>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_nanos(
        i64::try_from(info.published.unix_timestamp_nanos()).unwrap_or(i64::MAX),
    )
}

/// What became of a bill or payment, as the console filters on it: `paid`, the reason a bill
/// closed unpaid, `voided`, `refunded`, or a pairing's `expired` and `cancelled`.
pub fn outcome(body: &EventBody) -> Option<&'static str> {
    Some(match body {
        EventBody::PaymentSettled(_) => "paid",
        EventBody::BillClosed(b) => b.reason.as_str(),
        EventBody::PaymentVoided(_) => "voided",
        EventBody::PaymentRefunded(_) => "refunded",
        EventBody::PairingExpired(_) => "expired",
        EventBody::PairingCancelled(_) => "cancelled",
        _ => return None,
    })
}

/// The table's header line.
pub fn header() -> String {
    format!(
        "{:>7}  {:<26}  {:<18}  {:<14}  TERMINAL",
        "SEQ",
        format!("TIME ({})", LOCAL_TZ.name()),
        "KIND",
        "TENANT"
    )
}

/// One event in the table: its line, then what it says, wrapped to [`WIDTH`] columns.
pub fn row(position: &str, time: DateTime<Utc>, event: &Event) -> String {
    let mut out = format!(
        "{:>7}  {:<26}  {:<18}  {:<14}  {}",
        position,
        local_time(time),
        event.kind().as_str(),
        fit(event.tenant().map(|t| t.as_str()).unwrap_or("-"), 14),
        fit(event.terminal().map(|t| t.as_str()).unwrap_or("-"), 24)
    );
    out.push('\n');
    for line in wrap(&summary(&event.body), WIDTH - SUMMARY_INDENT) {
        out.push_str(&" ".repeat(SUMMARY_INDENT));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `text` cut to `width` characters, the cut marked with an ellipsis.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Words in lines of at most `width` characters (a longer word gets a line of its own, cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&fit(word, width));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// How a pairing mode is called on the kiosk and in the README.
fn mode_name(mode: PairMode) -> &'static str {
    match mode {
        PairMode::TerminalPresents => "mode A (kiosk shows code)",
        PairMode::PhonePresents => "mode B (phone shows code)",
    }
}

/// One readable line about an event, amounts in CNY; never personal data (holder names are
/// left out).
pub fn summary(body: &EventBody) -> String {
    match body {
        EventBody::BillIssued(b) => format!("bill {} account {} {}", b.bill_id, b.account, b.total),
        EventBody::BillClosed(b) => format!(
            "bill {} account {} {} unpaid: {}{}",
            b.bill_id,
            b.account,
            b.total,
            b.reason.as_str(),
            b.code
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        EventBody::PairingJoined(p)
        | EventBody::PairingExpired(p)
        | EventBody::PairingCancelled(p) => format!(
            "bill {}{}, {}, shown {} until {}",
            p.bill_id,
            match p.more_bills.len() {
                0 => String::new(),
                n => format!(" and {n} more (a basket)"),
            },
            mode_name(p.mode),
            p.opened_at.with_timezone(&LOCAL_TZ).format("%H:%M:%S"),
            p.expires_at.with_timezone(&LOCAL_TZ).format("%H:%M:%S %:z")
        ),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use posfee_schemas::events::{PairingEnded, PaymentAuthorized};
    use posfee_schemas::ids::{BillId, EventId, PayerHandle, PaymentId, TerminalId};
    use posfee_schemas::money::Money;

    fn at() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 2, 0, 0).unwrap()
    }

    fn event(body: EventBody) -> Event {
        Event::new(EventId::new_random(), at(), body)
    }

    #[test]
    fn rows_show_local_times_mode_names_and_fit_100_columns() {
        let joined = event(EventBody::PairingJoined(PairingEnded {
            more_bills: Vec::new(),
            terminal: TerminalId::parse("kiosk-01").unwrap(),
            mode: PairMode::TerminalPresents,
            bill_id: BillId::new_random(),
            opened_at: at() - chrono::Duration::seconds(20),
            expires_at: at() + chrono::Duration::seconds(100),
        }));
        let text = row(&Home::Events.position(1_234_567), at(), &joined);
        assert!(
            text.starts_with("1234567  2026-11-25 10:00:00 +08:00  pairing.joined"),
            "{text}"
        );
        let said = text
            .lines()
            .skip(1)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            said.contains("mode A (kiosk shows code), shown 09:59:40 until 10:01:40 +08:00"),
            "{text}"
        );
        assert!(!text.contains("Presents"), "an enum name: {text}");
        let authorized = event(EventBody::PaymentAuthorized(PaymentAuthorized {
            payment_id: PaymentId::new_random(),
            bill_id: BillId::new_random(),
            payer: PayerHandle::parse("py0123456789abcdef").unwrap(),
            amount: Money::cny(123_456),
        }));
        let text2 = row(&Home::Paygate.position(7), at(), &authorized);
        assert!(text2.contains("1234.56 CNY"), "{text2}");
        for line in header().lines().chain(text.lines()).chain(text2.lines()) {
            assert!(
                line.chars().count() <= WIDTH,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(header().contains("TIME (Asia/Shanghai)"));
    }

    #[test]
    fn long_words_and_fields_are_cut_not_spilled() {
        assert_eq!(fit("kiosk-01", 8), "kiosk-01");
        assert_eq!(fit("kiosk-0123", 8), "kiosk-0…");
        let lines = wrap(&format!("a {} b", "x".repeat(120)), 91);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 91));
    }
}
