//! `posfee reconcile --tenant T --date D`: what the books say one tenant collected on one day
//! of its time zone, the figures its daily statement must show: the payments the ledger
//! settled that day (its settlements listing) and the refunds it made that day (its sealed
//! `payment.refunded` events), whenever their payments were. A statement's totals are these,
//! to the fen, but for a settlement that reached the books after that day's statement was
//! issued: that one is on the next statement, marked late.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use posfee_client::keydir::KeyDirectory;
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::{KeyId, PaymentId, TenantId};
use posfee_schemas::subjects::{self, EventKind};
use posfee_schemas::trust::SEAL_HEADER;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// One tenant's day, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayTotals {
    pub tenant: TenantId,
    pub date: NaiveDate,
    pub time_zone: String,
    pub payments: u64,
    pub amount_fen: i64,
    pub refunds: u64,
    pub refunded_fen: i64,
    pub net_fen: i64,
}

/// How long one event may take to arrive.
const WAIT_MS: u64 = 10_000;

/// `tenant`'s payments and refunds on `date` in `tz`, as the ledger booked them (its
/// settlements walked as `posfee reconcile` walks them).
pub async fn totals(
    client: &async_nats::Client,
    keys: &KeyDirectory,
    (tenant, date, tz): (&TenantId, NaiveDate, Tz),
) -> anyhow::Result<DayTotals> {
    let on_day = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive() == date;
    let mut day = DayTotals {
        tenant: tenant.clone(),
        date,
        time_zone: tz.name().to_string(),
        payments: 0,
        amount_fen: 0,
        refunds: 0,
        refunded_fen: 0,
        net_fen: 0,
    };
    let mut tenants_payments = BTreeSet::new();
    let settled = crate::reconcile::settlements(client).await?;
    for s in settled.values().filter(|s| &s.tenant == tenant) {
        tenants_payments.insert(s.payment_id);
        if on_day(s.settled_at) {
            day.payments += 1;
            day.amount_fen += s.amount.fen.get();
        }
    }
    for (payment, fen, at) in refunds(client, keys).await? {
        if tenants_payments.contains(&payment) && on_day(at) {
            day.refunds += 1;
            day.refunded_fen += fen;
        }
    }
    day.net_fen = day.amount_fen - day.refunded_fen;
    Ok(day)
}

/// Every refund the ledger sealed: its payment, amount in fen and when it was made.
async fn refunds(
    client: &async_nats::Client,
    keys: &KeyDirectory,
) -> anyhow::Result<Vec<(PaymentId, i64, DateTime<Utc>)>> {
    use async_nats::jetstream::{self, consumer};
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: subjects::event(EventKind::PaymentRefunded),
            ..Default::default()
        })
        .await?;
    let stored = consumer.cached_info().num_pending;
    let mut out = Vec::new();
    if stored == 0 {
        return Ok(out);
    }
    let ledger = KeyId::parse(EventKind::PaymentRefunded.writer().as_str())?;
    let mut messages = consumer.messages().await?;
    for _ in 0..stored {
        let msg = tokio::time::timeout(Duration::from_millis(WAIT_MS), messages.next())
            .await
            .map_err(|_| anyhow::anyhow!("the event stream stopped sending refunds; run again"))?
            .ok_or_else(|| anyhow::anyhow!("the event stream ended"))??;
        let seal = msg.headers.as_ref().and_then(|h| h.get(SEAL_HEADER));
        let sealed = keys
            .sealed_by(
                &ledger,
                &msg.subject,
                &msg.payload,
                seal.map(|v| v.as_str()),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot check the events' seals: {e}"))?;
        let Ok(event) = Event::read_on(&msg.subject, &msg.payload) else {
            continue;
        };
        if let (true, EventBody::PaymentRefunded(r)) = (sealed, &event.body) {
            out.push((r.payment_id, r.amount.fen.get(), event.at));
        }
    }
    Ok(out)
}

/// The line `posfee reconcile` prints for the day.
pub fn render(d: &DayTotals) -> String {
    let cny = posfee_schemas::money::Money::cny;
    format!(
        "{} on {} ({}): {} payment(s) {}, {} refund(s) {}, net {}\n",
        d.tenant,
        d.date,
        d.time_zone,
        d.payments,
        cny(d.amount_fen),
        d.refunds,
        cny(d.refunded_fen),
        cny(d.net_fen)
    )
}
