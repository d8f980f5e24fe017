//! The console's data, each answer a view the commands also print: the events (`posfee
//! events` with its filters), the kiosks (`posfee status`), collections per biller and day
//! (`posfee reconcile --date`), alerts, and the daily statements (`posfee report daily`).

use super::alerts::{self, Alert};
use super::session::Operator;
use super::{ApiError, Console, Tenant};
use crate::events::{self, Filter, Stored};
use crate::status::{self, TerminalStatus};
use async_nats::jetstream::consumer::DeliverPolicy;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Days, NaiveDate, Utc};
use posfee_client::screen::LOCAL_TZ;
use posfee_schemas::events::EventBody;
use posfee_schemas::statement::{StatementFormat, StatementRequest};
use posfee_schemas::subjects::{self, EventKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Events a first look shows, from this far back, unless following an account or payment.
const FIRST_LOOK_HOURS: i64 = 24;
/// At most this many events in one answer (the newest).
const MAX_EVENTS: usize = 1000;
const DEFAULT_EVENTS: usize = 200;
/// Collections cover at most this many days.
const MAX_DAYS: u32 = 90;

#[derive(Debug, Serialize)]
pub struct Overview {
    pub operator: String,
    pub time_zone: &'static str,
    pub tenants: Vec<Tenant>,
    pub event_kinds: Vec<&'static str>,
}

/// `GET /api/overview`: who is signed in, the billers, the event kinds.
pub async fn overview(State(c): State<Arc<Console>>, _: Operator) -> Json<Overview> {
    Json(Overview {
        operator: c.operator_key.clone(),
        time_zone: LOCAL_TZ.name(),
        tenants: c.tenants.clone(),
        event_kinds: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// One kind (`payment.settled`) or an entity's kinds (`payment.*`).
    pub kind: Option<String>,
    pub tenant: Option<String>,
    pub terminal: Option<String>,
    pub account: Option<String>,
    pub payment: Option<String>,
    /// `paid`, `declined`, `cancelled`, `expired`, `not_paid`, `no_receipt`, `voided`,
    /// `refunded`.
    pub outcome: Option<String>,
    /// Only events stored after this time, in microseconds since 1970 (the `through` of the
    /// last answer): events are stored in three homes, so no one sequence orders them.
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct EventRow {
    /// Where it is stored (`POSFEE_EVENTS`, or the journal whose entry carries it) and its
    /// sequence there.
    pub stream: &'static str,
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub kind: &'static str,
    pub tenant: Option<String>,
    pub terminal: Option<String>,
    pub account: Option<String>,
    pub payment: Option<String>,
    pub bill: Option<String>,
    pub amount_fen: Option<i64>,
    pub outcome: Option<&'static str>,
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<EventRow>,
    /// The latest time read (microseconds since 1970): ask with `after` set to it for what
    /// came since.
    pub through: i64,
}

/// The outcomes the filter knows.
const OUTCOMES: &[&str] = &[
    "paid",
    "declined",
    "cancelled",
    "expired",
    "not_paid",
    "no_receipt",
    "voided",
    "refunded",
];

/// `GET /api/events`: the events sealed by their writers that pass the filters, oldest first.
pub async fn events(
    State(c): State<Arc<Console>>,
    _: Operator,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    let kinds: Vec<String> = q.kind.iter().filter(|k| !k.is_empty()).cloned().collect();
    let filters = events::filters(&kinds).map_err(|e| {
        ApiError::refused(
            "INVALID_FIELD",
            "kind",
            format!("{e:#}"),
            "pick a listed kind",
        )
    })?;
    let blank = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let mut filter = Filter::of(
        blank(&q.tenant),
        blank(&q.terminal),
        blank(&q.account),
        blank(&q.payment).as_deref(),
    )
    .map_err(|e| {
        ApiError::refused(
            "INVALID_FIELD",
            "payment",
            format!("{e:#}"),
            "give a payment id as a receipt prints it",
        )
    })?;
    let outcome = blank(&q.outcome);
    if let Some(o) = outcome.as_deref().filter(|o| !OUTCOMES.contains(o)) {
        return Err(ApiError::refused(
            "INVALID_FIELD",
            "outcome",
            format!("{o}: not an outcome"),
            format!("one of {}", OUTCOMES.join(", ")),
        ));
    }
    let deliver = match q.after {
        // Bills are followed from the event that links them: read from the start.
        _ if filter.follows_bills() => DeliverPolicy::All,
        Some(after) => events::from_time(
            DateTime::<Utc>::from_timestamp_micros(after).unwrap_or_else(Utc::now),
        )
        .map_err(ApiError::unavailable)?,
        None => events::from_time(Utc::now() - chrono::Duration::hours(FIRST_LOOK_HOURS))
            .map_err(ApiError::unavailable)?,
    };
    let read = events::read_sealed(&c.client, &c.keys, filters, deliver)
        .await
        .map_err(ApiError::unavailable)?;
    let after = q.after.unwrap_or(0);
    if filter.follows_bills() {
        // A first pass learns the bills the account or payment names, so that a bill's
        // events before the one that names it (its issue, its pairing) are kept too.
        read.events.iter().for_each(|s| {
            filter.keeps(&s.event);
        });
    }
    let mut rows: Vec<EventRow> = read
        .events
        .iter()
        .filter(|s| filter.keeps(&s.event))
        .filter(|s| s.time.timestamp_micros() > after)
        .filter(|s| outcome.is_none() || events::outcome(&s.event.body) == outcome.as_deref())
        .map(row)
        .collect();
    let limit = q.limit.unwrap_or(DEFAULT_EVENTS).clamp(1, MAX_EVENTS);
    if rows.len() > limit {
        rows.drain(..rows.len() - limit);
    }
    Ok(Json(EventsPage {
        events: rows,
        through: read.through.max(after),
    }))
}

fn row(s: &Stored) -> EventRow {
    let e = &s.event;
    EventRow {
        stream: s.home.stream(),
        seq: s.seq,
        time: s.time,
        kind: e.kind().as_str(),
        tenant: e.tenant().map(|t| t.to_string()),
        terminal: e.terminal().map(|t| t.to_string()),
        account: e.account().map(|a| a.to_string()),
        payment: e.payment().map(|p| p.to_string()),
        bill: e.bill().map(|b| b.to_string()),
        amount_fen: amount_fen(&e.body),
        outcome: events::outcome(&e.body),
        summary: events::summary(&e.body),
    }
}

fn amount_fen(body: &EventBody) -> Option<i64> {
    Some(match body {
        EventBody::BillIssued(b) => b.total.fen.get(),
        EventBody::BillClosed(b) => b.total.fen.get(),
        EventBody::PaymentAuthorized(p) => p.amount.fen.get(),
        EventBody::PaymentSettled(p) => p.amount.fen.get(),
        EventBody::PaymentRefunded(p) => p.amount.fen.get(),
        _ => return None,
    })
}

#[derive(Debug, Serialize)]
pub struct Kiosk {
    #[serde(flatten)]
    pub status: TerminalStatus,
    /// `online`, `offline` or `revoked`.
    pub state: &'static str,
    pub payments_today: u64,
    pub collected_today_fen: i64,
}

/// `GET /api/kiosks`: every kiosk seen or revoked, with what it collected today (the
/// console's time zone).
pub async fn kiosks(
    State(c): State<Arc<Console>>,
    _: Operator,
) -> Result<Json<Vec<Kiosk>>, ApiError> {
    let now = Utc::now();
    let list = status::kiosks(&c.client, now)
        .await
        .map_err(ApiError::unavailable)?;
    let midnight = now
        .with_timezone(&LOCAL_TZ)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(LOCAL_TZ).earliest())
        .map(|m| m.with_timezone(&Utc))
        .unwrap_or(now);
    let settled = events::read_sealed(
        &c.client,
        &c.keys,
        vec![subjects::event(EventKind::PaymentSettled)],
        events::from_time(midnight).map_err(ApiError::unavailable)?,
    )
    .await
    .map_err(ApiError::unavailable)?;
    let mut today: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for s in &settled.events {
        if let EventBody::PaymentSettled(p) = &s.event.body {
            let t = today.entry(p.terminal.to_string()).or_default();
            t.0 += 1;
            t.1 += p.amount.fen.get();
        }
    }
    Ok(Json(
        list.into_iter()
            .map(|k| {
                let (payments_today, collected_today_fen) =
                    today.get(&k.terminal).copied().unwrap_or_default();
                Kiosk {
                    state: match (k.revoked, k.online) {
                        (true, _) => "revoked",
                        (false, true) => "online",
                        (false, false) => "offline",
                    },
                    status: k,
                    payments_today,
                    collected_today_fen,
                }
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DaysQuery {
    pub days: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Collections {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<crate::day::DayTotals>,
}

/// `GET /api/collections?days=30`: each biller's payments, refunds and net per day (its own
/// time zone), the last `days` days up to today.
pub async fn collections(
    State(c): State<Arc<Console>>,
    _: Operator,
    Query(q): Query<DaysQuery>,
) -> Result<Json<Collections>, ApiError> {
    let days = q.days.unwrap_or(30);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::refused(
            "INVALID_FIELD",
            "days",
            format!("{days}: from 1 to {MAX_DAYS} days"),
            "ask for fewer days",
        ));
    }
    let to = Utc::now().with_timezone(&LOCAL_TZ).date_naive();
    let from = to
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(to);
    let tenants: Vec<_> = c.tenants.iter().map(|t| (t.id.clone(), t.tz)).collect();
    let days = crate::day::days(&c.client, &c.keys, &tenants, (from, to))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(Collections { from, to, days }))
}

#[derive(Debug, Clone, Serialize)]
pub struct Alerts {
    pub checked_at: DateTime<Utc>,
    pub alerts: Vec<Alert>,
    /// Reconcile's counts behind the alerts.
    pub settled: usize,
    pub captured: usize,
    pub in_flight: usize,
}

/// `GET /api/alerts`: reconcile's differences (stuck holds first among them), services with
/// no instance, endpoints failing lately, kiosks offline; the most severe first.
pub async fn alerts(State(c): State<Arc<Console>>, _: Operator) -> Result<Json<Alerts>, ApiError> {
    // One check at a time, shared by every open console for a while: reconcile walks the
    // books and the journals.
    let mut last = c.last_alerts.lock().await;
    if let Some((at, a)) = last.as_ref().filter(|(at, _)| at.elapsed() < ALERTS_FRESH) {
        tracing::debug!(
            age_ms = at.elapsed().as_millis() as u64,
            "alerts from the last check"
        );
        return Ok(Json(a.clone()));
    }
    let a = check_alerts(&c).await.map_err(ApiError::unavailable)?;
    *last = Some((Instant::now(), a.clone()));
    Ok(Json(a))
}

/// How long one check's alerts are shown again instead of checking anew.
const ALERTS_FRESH: std::time::Duration = std::time::Duration::from_secs(10);

async fn check_alerts(c: &Console) -> anyhow::Result<Alerts> {
    let now = Utc::now();
    let status = status::collect(&c.client, String::new(), now).await?;
    let report = crate::reconcile::reconcile(&c.client, now).await?;
    let mut list = alerts::from_differences(&report.differences);
    list.extend(alerts::services_down(&status.services));
    list.extend(c.error_rates().observe(&status.services, Instant::now()));
    list.extend(alerts::kiosks_offline(&status.terminals));
    list.sort_by(|a, b| (a.severity, a.kind).cmp(&(b.severity, b.kind)));
    Ok(Alerts {
        checked_at: now,
        alerts: list,
        settled: report.settled,
        captured: report.captured,
        in_flight: report.in_flight,
    })
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    pub tenant: Option<String>,
    pub date: Option<String>,
    pub format: Option<String>,
}

/// `GET /api/statement?tenant=T&date=D&format=csv`: the statement file as the ledger issued
/// it, checked against its SHA-256 (also in the `x-posfee-sha256` header), as a download.
pub async fn statement(
    State(c): State<Arc<Console>>,
    _: Operator,
    Query(q): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    let tenant = c
        .tenants
        .iter()
        .find(|t| Some(t.id.as_str()) == q.tenant.as_deref())
        .ok_or_else(|| {
            ApiError::refused(
                "INVALID_FIELD",
                "tenant",
                format!(
                    "{}: not a biller of this system",
                    q.tenant.as_deref().unwrap_or("")
                ),
                "pick a biller from the list",
            )
        })?;
    let date = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            ApiError::refused(
                "INVALID_FIELD",
                "date",
                "not a day (YYYY-MM-DD)",
                "pick a day",
            )
        })?;
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => StatementFormat::Csv,
        "json" => StatementFormat::Json,
        other => {
            return Err(ApiError::refused(
                "INVALID_FIELD",
                "format",
                format!("{other}: csv or json"),
                "pick csv or json",
            ))
        }
    };
    let req = StatementRequest {
        date,
        format,
        offset: 0,
        max_bytes: None,
    };
    let (head, bytes) = match crate::report::fetch(&c.client, &tenant.id, req).await {
        Ok(got) => got,
        Err(e) => match e.downcast_ref::<crate::report::Refused>() {
            Some(r) => {
                return Err(ApiError::refused(
                    r.0.code.name(),
                    "date",
                    r.0.message.clone(),
                    "statements are issued after the day ends in the biller's time zone",
                ))
            }
            None => return Err(ApiError::unavailable(e)),
        },
    };
    let name = format!("{}-{date}.{}", tenant.id, format.as_str());
    let content_type = match format {
        StatementFormat::Csv => "text/csv; charset=utf-8",
        StatementFormat::Json => "application/json",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (
                header::HeaderName::from_static("x-posfee-sha256"),
                head.sha256,
            ),
        ],
        bytes,
    )
        .into_response())
}
