//! `posfee reconcile --tenant T --date D`: what the books say one tenant collected on one day
//! of its time zone, the figures its daily statement must show: the payments the ledger
//! settled that day (its settlements listing) and the refunds it made that day (its sealed
//! `payment.refunded` events), whenever their payments were. A statement's totals are these,
//! to the fen, but for a settlement that reached the books after that day's statement was
//! issued: that one is on the next statement, marked late.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use posfee_client::keydir::KeyDirectory;
use posfee_schemas::events::EventBody;
use posfee_schemas::ids::{PaymentId, TenantId};
use posfee_schemas::subjects::{self, EventKind};
use serde::Serialize;
use std::collections::BTreeMap;

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

/// `tenant`'s payments and refunds on `date` in `tz`, as the ledger booked them (its
/// settlements walked as `posfee reconcile` walks them).
pub async fn totals(
    client: &async_nats::Client,
    keys: &KeyDirectory,
    (tenant, date, tz): (&TenantId, NaiveDate, Tz),
) -> anyhow::Result<DayTotals> {
    let mut days = days(client, keys, &[(tenant.clone(), tz)], (date, date)).await?;
    days.pop()
        .ok_or_else(|| anyhow::anyhow!("no totals for {tenant} on {date}"))
}

/// Every tenant's totals for every day from `from` to `to` (each in the tenant's own time
/// zone), a day with nothing in it included; by tenant, then day.
pub async fn days(
    client: &async_nats::Client,
    keys: &KeyDirectory,
    tenants: &[(TenantId, Tz)],
    (from, to): (NaiveDate, NaiveDate),
) -> anyhow::Result<Vec<DayTotals>> {
    let mut out: BTreeMap<(TenantId, NaiveDate), DayTotals> = BTreeMap::new();
    for (tenant, tz) in tenants {
        for date in from.iter_days().take_while(|d| *d <= to) {
            out.insert((tenant.clone(), date), DayTotals::empty(tenant, date, *tz));
        }
    }
    let zone = |t: &TenantId| tenants.iter().find(|(id, _)| id == t).map(|(_, tz)| *tz);
    let mut tenant_of = BTreeMap::new();
    for s in crate::reconcile::settlements(client).await?.into_values() {
        tenant_of.insert(s.payment_id, s.tenant.clone());
        let Some(tz) = zone(&s.tenant) else { continue };
        let key = (s.tenant, s.settled_at.with_timezone(&tz).date_naive());
        if let Some(day) = out.get_mut(&key) {
            day.payments += 1;
            day.amount_fen += s.amount.fen.get();
        }
    }
    for (payment, fen, at) in refunds(client, keys).await? {
        let Some(tenant) = tenant_of.get(&payment) else {
            continue;
        };
        let Some(tz) = zone(tenant) else { continue };
        if let Some(day) = out.get_mut(&(tenant.clone(), at.with_timezone(&tz).date_naive())) {
            day.refunds += 1;
            day.refunded_fen += fen;
        }
    }
    Ok(out
        .into_values()
        .map(|mut d| {
            d.net_fen = d.amount_fen - d.refunded_fen;
            d
        })
        .collect())
}

impl DayTotals {
    fn empty(tenant: &TenantId, date: NaiveDate, tz: Tz) -> DayTotals {
        DayTotals {
            tenant: tenant.clone(),
            date,
            time_zone: tz.name().to_string(),
            payments: 0,
            amount_fen: 0,
            refunds: 0,
            refunded_fen: 0,
            net_fen: 0,
        }
    }
}

/// Every refund the ledger sealed: its payment, amount in fen and when it was made.
async fn refunds(
    client: &async_nats::Client,
    keys: &KeyDirectory,
) -> anyhow::Result<Vec<(PaymentId, i64, DateTime<Utc>)>> {
    let sealed = crate::events::read_sealed(
        client,
        keys,
        vec![subjects::event(EventKind::PaymentRefunded)],
        async_nats::jetstream::consumer::DeliverPolicy::All,
    )
    .await?;
    Ok(sealed
        .events
        .into_iter()
        .filter_map(|s| match s.event.body {
            EventBody::PaymentRefunded(r) => Some((r.payment_id, r.amount.fen.get(), s.event.at)),
            _ => None,
        })
        .collect())
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
