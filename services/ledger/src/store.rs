//! The ledger's own store.
//!
//! * `settlements`: payment id → [`Settlement`] (the receipt and what was refunded)
//! * `bills_paid`: bill id → payment id — a bill is settled once
//! * `periods`: tenant \0 account \0 kind \0 period → bill id — a period is paid once, even
//!   through two different bills issued for it
//! * `bills_closed`: bill id → the reason its kiosk closed it unpaid; a closed bill is never
//!   settled
//! * `refunds`: idempotency key → [`RefundRecord`]
//! * `postings`: sequence → [`Posting`] and `balances`: ledger account → fen
//! * `rows`: tenant \0 journal sequence → [`Row`], each payment and refund as a statement
//!   shows it; `row_tenants`: tenant → when its first row happened
//! * `statements`: tenant \0 date → [`IssuedStatement`]
//! * `meta`: the journal sequence applied, this instance's id
//! * the outbox
//!
//! All of it is a view of the ledger's journal ([`crate::journal`]), rebuilt from it if lost.

use chrono::{DateTime, NaiveDate, Utc};
use posfee_schemas::fee::BillLine;
use posfee_schemas::ids::{AccountNo, BillId, PayerHandle, PaymentId, TenantId, TerminalId};
use posfee_schemas::ledger::{Receipt, RefundReply};
use posfee_schemas::money::Fen;
use posfee_schemas::statement::RowKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settlement {
    pub receipt: Receipt,
    pub payer: PayerHandle,
    /// The exact notice bytes settled, to tell a retry from a different request reusing the
    /// payment id.
    #[serde(with = "serde_bytes")]
    pub notice_body: Vec<u8>,
    pub refunded: Fen,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundRecord {
    #[serde(with = "serde_bytes")]
    pub fingerprint: Vec<u8>,
    pub reply: RefundReply,
}

/// A payment or refund as a daily statement shows it, kept under its journal sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub at: DateTime<Utc>,
    pub kind: RowKind,
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub account: AccountNo,
    /// The bill's lines as `kind period`, `; `-separated.
    pub fees: String,
    /// The payment's or the refund's amount.
    pub amount: Fen,
    pub terminal: TerminalId,
    pub payer: PayerHandle,
}

impl Row {
    /// The row of a settled payment.
    pub fn payment(s: &Settlement) -> Row {
        let r = &s.receipt;
        Row {
            at: r.settled_at,
            kind: RowKind::Payment,
            payment_id: r.payment_id,
            bill_id: r.bill_id,
            account: r.account.clone(),
            fees: fees(&r.lines),
            amount: r.total.fen,
            terminal: r.terminal.clone(),
            payer: s.payer.clone(),
        }
    }

    /// The row of a refund of `s` made at `at`.
    pub fn refund(s: &Settlement, amount: Fen, at: DateTime<Utc>) -> Row {
        Row {
            at,
            kind: RowKind::Refund,
            amount,
            ..Row::payment(s)
        }
    }
}

/// The fee kinds and periods a bill pays, as `kind period`, `; `-separated, each once, in
/// the bill's order (a bill prices one month of water in several lines: tiers, sewage).
fn fees(lines: &[BillLine]) -> String {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let fee = format!("{} {}", l.kind, l.period);
        if !out.contains(&fee) {
            out.push(fee);
        }
    }
    out.join("; ")
}

/// The key prefix of a tenant's rows (and statements).
pub fn row_prefix(tenant: &TenantId) -> Vec<u8> {
    let mut k = tenant.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

/// The key of a tenant's row at journal sequence `seq`.
pub fn row_key(tenant: &TenantId, seq: u64) -> Vec<u8> {
    let mut k = row_prefix(tenant);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The journal sequence of a row's key.
pub fn row_seq(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|at| <[u8; 8]>::try_from(&key[at..]).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// The key of a tenant's statement of `date`.
pub fn statement_key(tenant: &TenantId, date: NaiveDate) -> Vec<u8> {
    let mut k = row_prefix(tenant);
    k.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
    k
}

/// The day of a statement's key, after its tenant's prefix of `prefix` bytes.
fn statement_day(key: &[u8], prefix: usize) -> anyhow::Result<NaiveDate> {
    let text = String::from_utf8_lossy(key.get(prefix..).unwrap_or_default());
    Ok(NaiveDate::parse_from_str(&text, "%Y-%m-%d")?)
}

/// A statement as its journal entry decided it: what it covers and the hashes of its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedStatement {
    /// The last journal sequence it covers.
    pub through: u64,
    pub issued_at: DateTime<Utc>,
    pub csv_sha256: String,
    pub json_sha256: String,
}

/// One leg of a double-entry posting: every entry's legs sum to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The payment (or refund) the entry records.
    pub entry: String,
    pub account: String,
    /// Debit positive, credit negative.
    pub fen: i64,
}

#[derive(Clone)]
pub struct Store {
    pub db: posfee_store::Db,
    pub settlements: posfee_store::Tree,
    pub bills_paid: posfee_store::Tree,
    pub bills_closed: posfee_store::Tree,
    pub periods: posfee_store::Tree,
    pub refunds: posfee_store::Tree,
    pub postings: posfee_store::Tree,
    pub balances: posfee_store::Tree,
    pub rows: posfee_store::Tree,
    pub row_tenants: posfee_store::Tree,
    pub statements: posfee_store::Tree,
    /// The journal sequence the view has applied, and this instance's id.
    pub meta: posfee_store::Tree,
}

impl Store {
    pub fn open(db: posfee_store::Db) -> anyhow::Result<Store> {
        Ok(Store {
            settlements: db.open_tree("settlements")?,
            bills_paid: db.open_tree("bills_paid")?,
            bills_closed: db.open_tree("bills_closed")?,
            periods: db.open_tree("periods")?,
            refunds: db.open_tree("refunds")?,
            postings: db.open_tree("postings")?,
            balances: db.open_tree("balances")?,
            rows: db.open_tree("rows")?,
            row_tenants: db.open_tree("row_tenants")?,
            statements: db.open_tree("statements")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// `tenant`'s statement of `date`, if issued.
    pub fn statement(
        &self,
        tenant: &TenantId,
        date: NaiveDate,
    ) -> anyhow::Result<Option<IssuedStatement>> {
        match self.statements.get(statement_key(tenant, date))? {
            Some(raw) => Ok(Some(posfee_schemas::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// The day of `tenant`'s latest statement, if any.
    pub fn last_statement(&self, tenant: &TenantId) -> anyhow::Result<Option<NaiveDate>> {
        let prefix = row_prefix(tenant);
        match self.statements.scan_prefix(&prefix).next_back() {
            Some(item) => statement_day(&item?.0, prefix.len()).map(Some),
            None => Ok(None),
        }
    }

    /// The day of `tenant`'s first statement, if any.
    pub fn first_statement(&self, tenant: &TenantId) -> anyhow::Result<Option<NaiveDate>> {
        let prefix = row_prefix(tenant);
        match self.statements.scan_prefix(&prefix).next() {
            Some(item) => statement_day(&item?.0, prefix.len()).map(Some),
            None => Ok(None),
        }
    }

    /// When `tenant`'s earliest payment or refund happened, if it has any.
    pub fn first_row_at(&self, tenant: &TenantId) -> anyhow::Result<Option<DateTime<Utc>>> {
        match self.row_tenants.get(tenant.as_str().as_bytes())? {
            Some(raw) => Ok(Some(posfee_schemas::decode(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every tenant with a payment, with when its earliest happened.
    pub fn statement_tenants(&self) -> anyhow::Result<Vec<(TenantId, DateTime<Utc>)>> {
        let mut out = Vec::new();
        for item in self.row_tenants.iter() {
            let (key, raw) = item?;
            let tenant = TenantId::parse(String::from_utf8_lossy(&key).as_ref())
                .map_err(|e| anyhow::anyhow!("a tenant id in the view: {e}"))?;
            out.push((tenant, posfee_schemas::decode(&raw)?));
        }
        Ok(out)
    }

    /// Every ledger account's balance; they sum to zero when the books balance.
    pub fn balances(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for item in self.balances.iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).to_string(), decode_i64(&v)?));
        }
        Ok(out)
    }
}

/// Writes an entry's legs and moves each ledger account's balance, inside the caller's
/// transaction (settle and refund both post this way).
pub fn post(
    postings: &posfee_store::transaction::TransactionalTree,
    balances: &posfee_store::transaction::TransactionalTree,
    legs: &[([u8; 8], Posting)],
) -> Result<(), posfee_store::transaction::UnabortableTransactionError> {
    for (key, leg) in legs {
        postings.insert(key, posfee_schemas::encode(leg))?;
        let old = match balances.get(leg.account.as_bytes())? {
            Some(v) => decode_i64(&v).map_err(|e| {
                posfee_store::transaction::UnabortableTransactionError::Storage(
                    posfee_store::Error::ReportableBug(e.to_string()),
                )
            })?,
            None => 0,
        };
        balances.insert(
            leg.account.as_bytes(),
            &old.saturating_add(leg.fen).to_be_bytes(),
        )?;
    }
    Ok(())
}

/// A stored balance: eight big-endian bytes, or an error (never a silent zero).
pub fn decode_i64(v: &[u8]) -> anyhow::Result<i64> {
    let bytes: [u8; 8] = v
        .try_into()
        .map_err(|_| anyhow::anyhow!("a stored balance is {} bytes, not 8", v.len()))?;
    Ok(i64::from_be_bytes(bytes))
}

/// The payment platform's clearing account: money paygate has captured and owes the tenants.
pub const CLEARING_ACCOUNT: &str = "asset:paygate-clearing";

/// What the tenant is owed for settled bills.
pub fn tenant_account(tenant: &TenantId) -> String {
    format!("liability:tenant:{tenant}")
}

/// The keys that make each billed month payable once: one per month a line covers
/// (`2026-01..2026-03` is three), whatever label or rule version the bill used, so two bills
/// with overlapping periods cannot both be settled. Lines that name no months (top-ups, which
/// may be bought again) have none.
pub fn month_keys(tenant: &TenantId, account: &AccountNo, line: &BillLine) -> Vec<Vec<u8>> {
    let Some((first, last)) = posfee_schemas::fee::period_months(&line.period) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut month = first;
    loop {
        out.push(
            [
                tenant.as_str(),
                account.as_str(),
                line.kind.as_str(),
                month.as_str(),
            ]
            .join("\0")
            .into_bytes(),
        );
        if month >= last {
            return out;
        }
        month = next_month(&month);
    }
}

/// `2026-12` → `2027-01`.
fn next_month(m: &str) -> String {
    let (y, mo) = m.split_once('-').unwrap_or(("0", "0"));
    let (y, mo): (i32, u32) = (y.parse().unwrap_or(0), mo.parse().unwrap_or(0));
    if mo >= 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", mo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_one_key_per_month_across_the_year_end() {
        let line = |period: &str| BillLine {
            kind: posfee_schemas::ids::FeeKind::parse("property").unwrap(),
            period: period.into(),
            quantity: Default::default(),
            unit: String::new(),
            unit_price: Default::default(),
            amount: Fen::new(1),
            rule_id: "r".into(),
            rule_version: "v".into(),
            explanation: String::new(),
            label: String::new(),
            label_zh: String::new(),
            unit_zh: String::new(),
            explanation_zh: String::new(),
        };
        let t = TenantId::parse("acme").unwrap();
        let a = AccountNo::parse("1").unwrap();
        let keys = month_keys(&t, &a, &line("2026-11..2027-02"));
        let months: Vec<String> = keys
            .iter()
            .map(|k| {
                String::from_utf8_lossy(k)
                    .rsplit('\0')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(months, ["2026-11", "2026-12", "2027-01", "2027-02"]);
        assert_eq!(month_keys(&t, &a, &line("2026-03")).len(), 1);
        assert!(month_keys(&t, &a, &line("2026-03-05")).is_empty());
        // The same month reached by two labels is the same key.
        assert_eq!(month_keys(&t, &a, &line("2026-12"))[0], keys[1]);
    }
}
