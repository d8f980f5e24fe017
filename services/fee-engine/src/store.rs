//! The fee-engine's own view, built from the event stream alone and rebuilt from it if
//! lost: accounts and readings, the bills issued (each `bill.issued` event carries its
//! [`BillRecord`], so every instance knows every bill), and what posfee payments have settled
//! since the tenant's books were imported. A bill's event is always before its settlement in
//! the stream (a bill is handed out only once its event is stored), so the view that applies
//! a settlement has its bill.
//!
//! Keys are `tenant \0 account \0 …`, so one account's records sit together and are read with
//! a prefix scan. The last applied stream sequence is written in the same batch as the
//! effects of the events up to it.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use posfee_runtime::feed::Delivered;
use posfee_schemas::events::{
    AccountUpserted, BillIssued, EventBody, PaymentSettled, ReadingRecorded,
};
use posfee_schemas::fee::{period_months, Bill, BillLine, IssuedBill};
use posfee_schemas::ids::{AccountNo, BillId, FeeKind, IdempotencyKey, TenantId, TerminalId};
use posfee_schemas::{decode, encode};
use posfee_tariff::{AccountFacts, Arrear, Reading, YearMonth};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use posfee_runtime::feed::FEED_SEQ_KEY;

/// An issued bill as the fee-engine keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBill {
    pub bill: Bill,
    pub issued: IssuedBill,
    /// What the request looked like, to tell a retry from a reused key.
    #[serde(with = "serde_bytes")]
    pub fingerprint: Vec<u8>,
    /// Per kind, the last month this bill pays.
    pub pays_through: BTreeMap<String, String>,
    /// The arrears (kind, period) this bill pays off.
    pub arrears: Vec<(String, String)>,
    #[serde(default)]
    pub paid: bool,
}

/// The account as the fee-engine keeps it: the holder only masked (`张*`), for the payer to
/// recognise the account on the signed bill; it prices without it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountRecord {
    #[serde(default)]
    holder_masked: String,
    class: String,
    attributes: BTreeMap<String, String>,
    meters: BTreeMap<FeeKind, String>,
    paid_through: BTreeMap<FeeKind, posfee_schemas::ids::Month>,
    arrears: Vec<posfee_schemas::events::ArrearRecord>,
}

#[derive(Clone)]
pub struct Store {
    pub db: posfee_store::Db,
    accounts: posfee_store::Tree,
    readings: posfee_store::Tree,
    /// tenant\0account\0kind → the month posfee payments have paid through.
    paid: posfee_store::Tree,
    /// tenant\0account\0kind\0period → bill id that paid that arrear.
    arrears_paid: posfee_store::Tree,
    pub bills: posfee_store::Tree,
    /// [`idem_key`] (terminal and its idempotency key) → bill id.
    pub idem: posfee_store::Tree,
    /// expiry (ms, big-endian) ++ bill id → idempotency key: what [`Store::prune`] walks.
    pub expiry: posfee_store::Tree,
    meta: posfee_store::Tree,
}

fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

impl Store {
    pub fn open(db: posfee_store::Db) -> anyhow::Result<Store> {
        Ok(Store {
            accounts: db.open_tree("accounts")?,
            readings: db.open_tree("readings")?,
            paid: db.open_tree("paid")?,
            arrears_paid: db.open_tree("arrears_paid")?,
            bills: db.open_tree("bills")?,
            idem: db.open_tree("idem")?,
            expiry: db.open_tree("expiry")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Where the view keeps its place in the stream and this instance's id.
    pub fn meta(&self) -> &posfee_store::Tree {
        &self.meta
    }

    pub fn feed_seq(&self) -> anyhow::Result<u64> {
        posfee_runtime::feed::recorded_seq(&self.meta)
    }

    /// Applies a batch of events and records the last sequence. Each effect is an upsert or
    /// a monotonic advance, so applying an event twice changes nothing.
    pub fn apply(&self, batch: Vec<Delivered>) -> anyhow::Result<u64> {
        self.apply_at(FEED_SEQ_KEY, batch)
    }

    /// [`Store::apply`] for a batch of another stream (the events the ledger's journal
    /// carries), whose position is recorded under `key`.
    pub fn apply_at(&self, key: &[u8], batch: Vec<Delivered>) -> anyhow::Result<u64> {
        let mut last = posfee_runtime::feed::seq_at(&self.meta, key)?;
        let mut latest: Option<DateTime<Utc>> = None;
        for d in batch {
            if let Some(event) = d.event {
                latest = latest.max(Some(event.at));
                match event.body {
                    EventBody::AccountUpserted(a) => self.put_account(&a)?,
                    EventBody::ReadingRecorded(r) => self.put_reading(&r)?,
                    EventBody::BillIssued(b) => self.put_bill(&b)?,
                    EventBody::PaymentSettled(p) => self.mark_paid(&p)?,
                    _ => {}
                }
            }
            last = last.max(d.seq);
        }
        self.meta.insert(key, &last.to_be_bytes())?;
        if let Some(at) = latest {
            if Some(at) > self.feed_time()? {
                self.meta
                    .insert(FEED_TIME_KEY, &at.timestamp_millis().to_be_bytes())?;
            }
        }
        Ok(last)
    }

    /// When the newest event this view applied happened: how far the view has caught up.
    pub fn feed_time(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(match self.meta.get(FEED_TIME_KEY)? {
            Some(v) => {
                let bytes: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .context("the stored feed time is not 8 bytes")?;
                DateTime::<Utc>::from_timestamp_millis(i64::from_be_bytes(bytes))
            }
            None => None,
        })
    }

    /// Forgets bills that expired before `now - retention` (at most `limit` of them), with
    /// their idempotency records; returns how many. A bill is needed after it is issued only
    /// to answer a retried issue and to advance paid-through months when its settlement
    /// arrives, and a settlement can only come within minutes of the bill's expiry. The cut
    /// is also never later than the newest event the view applied minus `retention`, so a
    /// fee-engine that was down and is still catching up does not forget a bill whose
    /// settlement it has yet to read.
    pub fn prune(
        &self,
        now: DateTime<Utc>,
        retention: chrono::Duration,
        limit: usize,
    ) -> anyhow::Result<usize> {
        let caught_up = self.feed_time()?.unwrap_or(now).min(now);
        let cut = expiry_key((caught_up - retention).timestamp_millis(), &[]);
        let mut n = 0;
        for entry in self.expiry.range(..cut).take(limit) {
            let (k, idem) = entry?;
            let Some(bill_id) = k.get(8..) else {
                anyhow::bail!("an expiry key shorter than its timestamp");
            };
            // Only the idempotency record that still names this bill.
            if self.idem.get(&idem)?.as_deref() == Some(bill_id) {
                self.idem.remove(&idem)?;
            }
            self.bills.remove(bill_id)?;
            self.expiry.remove(&k)?;
            n += 1;
        }
        Ok(n)
    }

    fn put_account(&self, a: &AccountUpserted) -> anyhow::Result<()> {
        let rec = AccountRecord {
            // Masked again: the stream should only carry masked names, but the fee-engine
            // does not rely on every importer for that.
            holder_masked: posfee_schemas::query::mask_name(&a.holder_name),
            class: a.class.clone(),
            attributes: a.attributes.clone(),
            meters: a.meters.clone(),
            paid_through: a.paid_through.clone(),
            arrears: a.arrears.clone(),
        };
        self.accounts
            .insert(key(&[a.tenant.as_str(), a.account.as_str()]), encode(&rec))?;
        Ok(())
    }

    fn put_reading(&self, r: &ReadingRecorded) -> anyhow::Result<()> {
        let k = key(&[
            r.tenant.as_str(),
            r.account.as_str(),
            &r.meter,
            r.register.as_deref().unwrap_or(""),
            &r.read_on.to_string(),
        ]);
        self.readings.insert(k, r.value.to_string().as_bytes())?;
        Ok(())
    }

    /// A bill as its event records it; one the view has already (applied again after a
    /// restart) is left as it is, paid or not.
    fn put_bill(&self, b: &BillIssued) -> anyhow::Result<()> {
        let Some(record) = &b.record else {
            return Ok(()); // written before events carried the record
        };
        let bill_key = b.bill_id.0.as_bytes();
        if self.bills.contains_key(bill_key)? {
            return Ok(());
        }
        let bill: posfee_schemas::fee::Bill =
            decode(&record.issued.signed.body).context("the bill in a bill.issued event")?;
        let idem = idem_key(&bill.terminal, &record.idempotency_key);
        let expiry = expiry_key(bill.expires_at.timestamp_millis(), bill_key);
        let stored = StoredBill {
            bill,
            issued: record.issued.clone(),
            fingerprint: record.request_hash.clone(),
            pays_through: record.pays_through.clone(),
            arrears: record.arrears.clone(),
            paid: false,
        };
        self.bills.insert(bill_key, encode(&stored))?;
        self.expiry.insert(expiry, idem.as_slice())?;
        self.idem.insert(idem, bill_key)?;
        Ok(())
    }

    fn mark_paid(&self, p: &PaymentSettled) -> anyhow::Result<()> {
        let Some(raw) = self.bills.get(p.bill_id.0.as_bytes())? else {
            // A bill from before events carried their record, or forgotten (retention).
            return Ok(());
        };
        let mut stored: StoredBill = decode(&raw)?;
        let prefix = [p.tenant.as_str(), p.account.as_str()];
        for (kind, month) in &stored.pays_through {
            let k = key(&[prefix[0], prefix[1], kind]);
            let newer = match self.paid.get(&k)? {
                Some(old) => String::from_utf8_lossy(&old).as_ref() < month.as_str(),
                None => true,
            };
            if newer {
                self.paid.insert(k, month.as_bytes())?;
            }
        }
        for (kind, period) in &stored.arrears {
            self.arrears_paid.insert(
                key(&[prefix[0], prefix[1], kind, period]),
                p.bill_id.0.as_bytes().to_vec(),
            )?;
        }
        stored.paid = true;
        self.bills.insert(p.bill_id.0.as_bytes(), encode(&stored))?;
        Ok(())
    }

    pub fn has_account(&self, tenant: &TenantId, account: &AccountNo) -> anyhow::Result<bool> {
        Ok(self
            .accounts
            .contains_key(key(&[tenant.as_str(), account.as_str()]))?)
    }

    /// Everything the tariff needs about one account, or `None` if it is unknown.
    /// The account holder's masked name, if the account is known and has one.
    pub fn holder_masked(&self, tenant: &TenantId, account: &AccountNo) -> Option<String> {
        let raw = self
            .accounts
            .get(key(&[tenant.as_str(), account.as_str()]))
            .ok()??;
        let rec: AccountRecord = decode(&raw).ok()?;
        Some(rec.holder_masked).filter(|h| !h.is_empty())
    }

    pub fn facts(
        &self,
        tenant: &TenantId,
        account: &AccountNo,
    ) -> anyhow::Result<Option<AccountFacts>> {
        let Some(raw) = self
            .accounts
            .get(key(&[tenant.as_str(), account.as_str()]))?
        else {
            return Ok(None);
        };
        let rec: AccountRecord = decode(&raw).context("stored account")?;
        let meters = rec.meters.clone();
        let mut paid_through = BTreeMap::new();
        for (kind, month) in &rec.paid_through {
            let month = YearMonth::parse(month.as_str())
                .with_context(|| format!("paid_through month {month} of {kind}"))?;
            paid_through.insert(kind.clone(), month);
        }
        let mut prefix = key(&[tenant.as_str(), account.as_str()]);
        prefix.push(0);
        for item in self.paid.scan_prefix(&prefix) {
            let (k, v) = item?;
            let kind = String::from_utf8_lossy(&k[prefix.len()..]).to_string();
            let month = String::from_utf8_lossy(&v).to_string();
            if let (Ok(kind), Ok(month)) = (FeeKind::parse(kind), YearMonth::parse(&month)) {
                let e = paid_through.entry(kind).or_insert(month);
                if *e < month {
                    *e = month;
                }
            }
        }
        let mut readings = Vec::new();
        for item in self.readings.scan_prefix(&prefix) {
            let (k, v) = item?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).to_string();
            let parts: Vec<&str> = rest.split('\0').collect();
            let [meter, register, day] = parts[..] else {
                continue;
            };
            let (Ok(read_on), Ok(value)) = (
                NaiveDate::from_str(day),
                Decimal::from_str(&String::from_utf8_lossy(&v)),
            ) else {
                continue;
            };
            readings.push(Reading {
                meter: meter.to_string(),
                register: (!register.is_empty()).then(|| register.to_string()),
                read_on,
                value,
            });
        }
        let mut arrears = Vec::new();
        for a in &rec.arrears {
            let paid = self.arrears_paid.contains_key(key(&[
                tenant.as_str(),
                account.as_str(),
                a.kind.as_str(),
                &a.period,
            ]))?;
            if paid {
                continue;
            }
            arrears.push(Arrear {
                kind: a.kind.clone(),
                period: a.period.clone(),
                amount: a.amount.fen,
                due_on: a.due_on,
            });
        }
        Ok(Some(AccountFacts {
            tenant: tenant.clone(),
            account: account.clone(),
            class: rec.class,
            attributes: rec.attributes,
            meters,
            readings,
            paid_through,
            arrears,
        }))
    }

    pub fn bill(&self, id: &BillId) -> anyhow::Result<Option<StoredBill>> {
        match self.bills.get(id.0.as_bytes())? {
            Some(raw) => Ok(Some(decode(&raw)?)),
            None => Ok(None),
        }
    }
}

/// Per kind, the latest month named in the bill's own lines (arrear lines excluded): once the
/// bill is paid, the account is paid through that month.
/// The meta key of [`Store::feed_time`].
const FEED_TIME_KEY: &[u8] = b"feed_time";

/// The key of an issue request in the `idem` tree: the terminal, NUL, its idempotency key
/// (one kiosk's keys never meet another's).
pub fn idem_key(terminal: &TerminalId, key: &IdempotencyKey) -> Vec<u8> {
    self::key(&[terminal.as_str(), key.as_str()])
}

/// The key of a bill in the expiry index: milliseconds (big-endian, offset so that order is
/// time order) then the bill id.
pub fn expiry_key(expires_at_ms: i64, bill_id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + bill_id.len());
    k.extend_from_slice(&((expires_at_ms as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(bill_id);
    k
}

pub fn pays_through(lines: &[BillLine], arrears: &[Arrear]) -> BTreeMap<String, String> {
    let arrear_lines: BTreeSet<(&str, &str)> = arrears
        .iter()
        .map(|a| (a.kind.as_str(), a.period.as_str()))
        .collect();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        if arrear_lines.contains(&(line.kind.as_str(), line.period.as_str())) {
            continue;
        }
        if let Some((_, month)) = period_months(&line.period) {
            let e = out
                .entry(line.kind.to_string())
                .or_insert_with(|| month.clone());
            if *e < month {
                *e = month;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn bill(store: &Store, id: &[u8], idem: &[u8], expires: &str) {
        store.bills.insert(id, b"bill".to_vec()).unwrap();
        store.idem.insert(idem, id.to_vec()).unwrap();
        store
            .expiry
            .insert(
                expiry_key(at(expires).timestamp_millis(), id),
                idem.to_vec(),
            )
            .unwrap();
    }

    fn caught_up_to(store: &Store, when: &str) {
        store
            .meta
            .insert(FEED_TIME_KEY, &at(when).timestamp_millis().to_be_bytes())
            .unwrap();
    }

    #[test]
    fn bills_past_retention_are_forgotten_but_not_while_the_view_lags() {
        let db = posfee_store::temporary().unwrap();
        let store = Store::open(db).unwrap();
        bill(&store, b"old", b"key-old", "2026-11-01T10:00:00Z");
        bill(&store, b"new", b"key-new", "2026-11-03T10:00:00Z");
        let day = chrono::Duration::hours(24);
        let now = at("2026-11-04T00:00:00Z");

        // The view has read nothing newer than the old bill's expiry: keep everything.
        caught_up_to(&store, "2026-11-01T09:00:00Z");
        assert_eq!(store.prune(now, day, 100).unwrap(), 0);
        assert!(store.bills.contains_key(b"old").unwrap());

        // Caught up: the bill that expired more than a day ago goes, with its key.
        caught_up_to(&store, "2026-11-03T23:00:00Z");
        assert_eq!(store.prune(now, day, 100).unwrap(), 1);
        assert!(!store.bills.contains_key(b"old").unwrap());
        assert!(!store.idem.contains_key(b"key-old").unwrap());
        assert!(store.bills.contains_key(b"new").unwrap());
        assert!(store.idem.contains_key(b"key-new").unwrap());
        assert_eq!(store.expiry.len(), 1);
        // Nothing more to do, and doing it again changes nothing.
        assert_eq!(store.prune(now, day, 100).unwrap(), 0);
    }

    #[test]
    fn a_pass_stops_at_its_limit_and_order_is_by_expiry() {
        let db = posfee_store::temporary().unwrap();
        let store = Store::open(db).unwrap();
        bill(&store, b"c", b"k-c", "2026-10-03T00:00:00Z");
        bill(&store, b"a", b"k-a", "2026-10-01T00:00:00Z");
        bill(&store, b"b", b"k-b", "2026-10-02T00:00:00Z");
        caught_up_to(&store, "2026-11-01T00:00:00Z");
        let now = at("2026-11-01T00:00:00Z");
        let day = chrono::Duration::hours(24);
        assert_eq!(store.prune(now, day, 2).unwrap(), 2);
        assert!(
            store.bills.contains_key(b"c").unwrap(),
            "the latest expiry stays"
        );
        assert_eq!(store.prune(now, day, 2).unwrap(), 1);
        assert!(store.bills.is_empty());
    }

    #[test]
    fn expiry_keys_sort_in_time_order_across_the_epoch() {
        assert!(expiry_key(-5, b"") < expiry_key(0, b""));
        assert!(expiry_key(0, b"z") < expiry_key(1, b"a"));
    }
}
