//! The query service's view, built from `POSFEE_EVENTS` into its own store.
//!
//! Every effect is keyed so that applying an event again writes the same bytes: a replay from
//! the start rebuilds exactly the view a live run built. The holder's name is stored masked;
//! the full name never reaches this store.

use posfee_runtime::feed::Delivered;
use posfee_schemas::events::{
    AccountUpserted, BillIssued, EventBody, PaymentRefunded, PaymentSettled, ReadingRecorded,
};
use posfee_schemas::query::{mask_name, BillSummary, PaymentItem, ReadingItem};
use posfee_schemas::{decode, encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use posfee_runtime::feed::FEED_SEQ_KEY;

/// An account as the query service shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub class: String,
    pub holder_masked: String,
    pub attributes: BTreeMap<String, String>,
    pub meters: BTreeMap<posfee_schemas::ids::FeeKind, String>,
}

#[derive(Clone)]
pub struct View {
    pub db: posfee_store::Db,
    pub tenants: posfee_store::Tree,
    pub accounts: posfee_store::Tree,
    /// tenant\0account\0read_on\0meter\0register → value: day first, so an account's
    /// history pages in date order across all its meters.
    pub readings_by_day: posfee_store::Tree,
    /// tenant\0account\0issued_at\0bill id → BillSummary
    pub bills: posfee_store::Tree,
    /// bill id → key in `bills`
    pub bill_index: posfee_store::Tree,
    /// tenant\0account\0settled_at\0payment id → PaymentItem
    pub payments: posfee_store::Tree,
    /// payment id → key in `payments`
    pub payment_index: posfee_store::Tree,
    /// bill ids settled, remembered even when `payment.settled` comes before `bill.issued`
    pub paid_bills: posfee_store::Tree,
    meta: posfee_store::Tree,
}

/// `tenant \0 account \0`, the prefix of everything about one account.
pub fn account_prefix(tenant: &str, account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + account.len() + 2);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k
}

fn join(prefix: &[u8], rest: &[&str]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(rest.join("\0").as_bytes());
    k
}

/// The tree older views kept readings in, keyed meter first (`…\0meter\0register\0day`);
/// moved into `readings_by_day` when such a view is opened.
const OLD_READINGS_TREE: &str = "readings";

/// One reading from its key in `readings_by_day` after the account prefix
/// (`read_on\0meter\0register`) and its value; `None` for a key this view did not write.
pub fn reading_from_key(rest: &[u8], value: &[u8]) -> Option<ReadingItem> {
    let rest = std::str::from_utf8(rest).ok()?;
    let mut parts = rest.split('\0');
    let (day, meter, register) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(ReadingItem {
        meter: meter.to_string(),
        register: (!register.is_empty()).then(|| register.to_string()),
        read_on: day.parse().ok()?,
        value: std::str::from_utf8(value).ok()?.parse().ok()?,
    })
}

impl View {
    pub fn open(db: posfee_store::Db) -> anyhow::Result<View> {
        let view = View {
            tenants: db.open_tree("tenants")?,
            accounts: db.open_tree("accounts")?,
            readings_by_day: db.open_tree("readings_by_day")?,
            bills: db.open_tree("bills")?,
            bill_index: db.open_tree("bill_index")?,
            payments: db.open_tree("payments")?,
            payment_index: db.open_tree("payment_index")?,
            paid_bills: db.open_tree("paid_bills")?,
            meta: db.open_tree("meta")?,
            db,
        };
        view.move_old_readings()?;
        Ok(view)
    }

    /// Rekeys the readings of a view written before `readings_by_day` existed, so it keeps
    /// its history without a replay.
    fn move_old_readings(&self) -> anyhow::Result<()> {
        if !self
            .db
            .tree_names()
            .iter()
            .any(|n| n == OLD_READINGS_TREE.as_bytes())
        {
            return Ok(());
        }
        let old = self.db.open_tree(OLD_READINGS_TREE)?;
        for item in old.iter() {
            let (k, v) = item?;
            let parts: Vec<&[u8]> = k.split(|b| *b == 0).collect();
            // tenant, account, meter, register, day
            if let [tenant, account, meter, register, day] = parts[..] {
                let mut key = Vec::with_capacity(k.len());
                for part in [tenant, account, day, meter] {
                    key.extend_from_slice(part);
                    key.push(0);
                }
                key.extend_from_slice(register);
                self.readings_by_day.insert(key, v)?;
            }
        }
        self.readings_by_day.flush()?;
        self.db.drop_tree(OLD_READINGS_TREE)?;
        Ok(())
    }

    pub fn feed_seq(&self) -> anyhow::Result<u64> {
        posfee_runtime::feed::recorded_seq(&self.meta)
    }

    /// The tree where the view records how far it got in each stream.
    pub fn meta(&self) -> &posfee_store::Tree {
        &self.meta
    }

    /// Applies a batch of the event stream in order and records how far it got.
    pub fn apply(&self, batch: Vec<Delivered>) -> anyhow::Result<u64> {
        self.apply_at(FEED_SEQ_KEY, batch)
    }

    /// Applies a batch in stream order and records how far it got under `key` (the event
    /// stream's, or a journal's whose carried events it is).
    pub fn apply_at(&self, key: &[u8], batch: Vec<Delivered>) -> anyhow::Result<u64> {
        let mut last = posfee_runtime::feed::seq_at(&self.meta, key)?;
        for d in batch {
            last = last.max(d.seq);
            let Some(event) = d.event else { continue };
            match event.body {
                EventBody::AccountUpserted(a) => self.account(&a)?,
                EventBody::ReadingRecorded(r) => self.reading(&r)?,
                EventBody::BillIssued(b) => self.bill(&b, event.at)?,
                EventBody::PaymentSettled(p) => self.settled(&p)?,
                EventBody::PaymentRefunded(r) => self.refunded(&r)?,
                _ => {}
            }
        }
        self.meta.insert(key, &last.to_be_bytes())?;
        Ok(last)
    }

    fn account(&self, a: &AccountUpserted) -> anyhow::Result<()> {
        self.tenants.insert(a.tenant.as_str().as_bytes(), &[])?;
        let view = AccountView {
            class: a.class.clone(),
            holder_masked: mask_name(&a.holder_name),
            attributes: a.attributes.clone(),
            meters: a.meters.clone(),
        };
        let mut key = account_prefix(a.tenant.as_str(), a.account.as_str());
        key.pop();
        self.accounts.insert(key, encode(&view))?;
        Ok(())
    }

    fn reading(&self, r: &ReadingRecorded) -> anyhow::Result<()> {
        let prefix = account_prefix(r.tenant.as_str(), r.account.as_str());
        let key = join(
            &prefix,
            &[
                &r.read_on.to_string(),
                &r.meter,
                r.register.as_deref().unwrap_or(""),
            ],
        );
        self.readings_by_day
            .insert(key, r.value.to_string().as_bytes())?;
        Ok(())
    }

    fn bill(&self, b: &BillIssued, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
        let id = b.bill_id.0.as_bytes();
        if self.bill_index.contains_key(id)? {
            return Ok(());
        }
        let prefix = account_prefix(b.tenant.as_str(), b.account.as_str());
        let key = join(&prefix, &[&sortable(at), &b.bill_id.to_string()]);
        let summary = BillSummary {
            bill_id: b.bill_id,
            total: b.total,
            issued_at: at,
            expires_at: b.expires_at,
            // The outboxes of the fee-engine and the ledger are independent: the settlement
            // may already be in the view.
            paid: self.paid_bills.contains_key(id)?,
        };
        self.bills.insert(key.as_slice(), encode(&summary))?;
        self.bill_index.insert(id, key)?;
        Ok(())
    }

    fn settled(&self, p: &PaymentSettled) -> anyhow::Result<()> {
        self.paid_bills.insert(p.bill_id.0.as_bytes(), &[])?;
        if let Some(key) = self.bill_index.get(p.bill_id.0.as_bytes())? {
            if let Some(raw) = self.bills.get(&key)? {
                let mut summary: BillSummary = decode(&raw)?;
                summary.paid = true;
                self.bills.insert(key, encode(&summary))?;
            }
        }
        let id = p.payment_id.0.as_bytes();
        if self.payment_index.contains_key(id)? {
            return Ok(());
        }
        let prefix = account_prefix(p.tenant.as_str(), p.account.as_str());
        let key = join(
            &prefix,
            &[&sortable(p.settled_at), &p.payment_id.to_string()],
        );
        let item = PaymentItem {
            payment_id: p.payment_id,
            bill_id: p.bill_id,
            amount: p.amount,
            refunded: posfee_schemas::Money {
                fen: posfee_schemas::Fen::ZERO,
                currency: p.amount.currency,
            },
            terminal: p.terminal.clone(),
            settled_at: p.settled_at,
        };
        self.payments.insert(key.as_slice(), encode(&item))?;
        self.payment_index.insert(id, key)?;
        Ok(())
    }

    fn refunded(&self, r: &PaymentRefunded) -> anyhow::Result<()> {
        let Some(key) = self.payment_index.get(r.payment_id.0.as_bytes())? else {
            return Ok(());
        };
        if let Some(raw) = self.payments.get(&key)? {
            let mut item: PaymentItem = decode(&raw)?;
            // The refunded total only grows; an older event never lowers it.
            if r.total_refunded.fen > item.refunded.fen {
                item.refunded = r.total_refunded;
                self.payments.insert(key, encode(&item))?;
            }
        }
        Ok(())
    }

    /// A digest of everything the view holds (not its feed position), to compare two views.
    pub fn digest(&self) -> anyhow::Result<Vec<(String, Rows)>> {
        let mut out = Vec::new();
        for (name, tree) in [
            ("tenants", &self.tenants),
            ("accounts", &self.accounts),
            ("readings_by_day", &self.readings_by_day),
            ("bills", &self.bills),
            ("bill_index", &self.bill_index),
            ("payments", &self.payments),
            ("payment_index", &self.payment_index),
            ("paid_bills", &self.paid_bills),
        ] {
            let mut rows = Vec::new();
            for item in tree.iter() {
                let (k, v) = item?;
                rows.push((k.to_vec(), v.to_vec()));
            }
            out.push((name.to_string(), rows));
        }
        Ok(out)
    }
}

/// A tree's contents, key and value bytes in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// An instant as text that sorts in time order.
fn sortable(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use posfee_runtime::feed::Delivered;
    use posfee_schemas::events::Event;
    use posfee_schemas::ids::*;
    use posfee_schemas::Money;

    #[test]
    fn a_settlement_seen_before_its_bill_still_marks_the_bill_paid() {
        let dir = tempfile::tempdir().unwrap();
        let view = View::open(posfee_store::open(dir.path()).unwrap()).unwrap();
        let at = chrono::Utc::now();
        let (tenant, account) = (
            TenantId::parse("t").unwrap(),
            AccountNo::parse("a").unwrap(),
        );
        let bill_id = BillId::new_random();
        let settled = EventBody::PaymentSettled(PaymentSettled {
            payment_id: PaymentId::new_random(),
            bill_id,
            tenant: tenant.clone(),
            account: account.clone(),
            terminal: TerminalId::parse("k").unwrap(),
            payer: PayerHandle::parse("p").unwrap(),
            amount: Money::cny(5),
            settled_at: at,
            receipt: None,
        });
        let issued = EventBody::BillIssued(BillIssued {
            bill_id,
            tenant,
            account,
            terminal: TerminalId::parse("k").unwrap(),
            total: Money::cny(5),
            expires_at: at,
            record: None,
        });
        let d = |seq, body| Delivered {
            seq,
            event: Some(Event::new(EventId::new_random(), at, body)),
        };
        view.apply(vec![d(1, settled), d(2, issued)]).unwrap();
        let (_, raw) = view.bills.iter().next().unwrap().unwrap();
        let bill: BillSummary = decode(&raw).unwrap();
        assert!(bill.paid);
    }

    #[test]
    fn a_view_written_meter_first_keeps_its_readings_in_day_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = posfee_store::open(dir.path()).unwrap();
        let old = db.open_tree(OLD_READINGS_TREE).unwrap();
        let prefix = account_prefix("city-water", "3-1-1202");
        for (meter, day, value) in [("W-2", "2026-01-31", "7"), ("W-1", "2026-02-28", "12.5")] {
            old.insert(join(&prefix, &[meter, "", day]), value.as_bytes())
                .unwrap();
        }
        let view = View::open(db.clone()).unwrap();
        assert!(!db
            .tree_names()
            .iter()
            .any(|n| n == OLD_READINGS_TREE.as_bytes()));
        let got: Vec<ReadingItem> = view
            .readings_by_day
            .scan_prefix(&prefix)
            .map(|item| {
                let (k, v) = item.unwrap();
                reading_from_key(&k[prefix.len()..], &v).unwrap()
            })
            .collect();
        let shown: Vec<(String, String, String)> = got
            .iter()
            .map(|r| (r.read_on.to_string(), r.meter.clone(), r.value.to_string()))
            .collect();
        assert_eq!(
            shown,
            [
                ("2026-01-31".into(), "W-2".into(), "7".into()),
                ("2026-02-28".into(), "W-1".into(), "12.5".into())
            ]
        );
        assert!(got.iter().all(|r| r.register.is_none()));
    }
}
