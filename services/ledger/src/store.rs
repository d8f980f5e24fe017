//! The ledger's own sled store.
//!
//! * `settlements`: payment id → [`Settlement`] (the receipt and what was refunded)
//! * `bills_paid`: bill id → payment id — a bill is settled once
//! * `periods`: tenant \0 account \0 kind \0 period → bill id — a period is paid once, even
//!   through two different bills issued for it
//! * `refunds`: idempotency key → [`RefundRecord`]
//! * `postings`: sequence → [`Posting`] and `balances`: ledger account → fen
//! * the outbox

use posfee_schemas::fee::BillLine;
use posfee_schemas::ids::{AccountNo, PayerHandle, TenantId};
use posfee_schemas::ledger::{Receipt, RefundReply};
use posfee_schemas::money::Fen;
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
    pub db: sled::Db,
    pub settlements: sled::Tree,
    pub bills_paid: sled::Tree,
    pub periods: sled::Tree,
    pub refunds: sled::Tree,
    pub postings: sled::Tree,
    pub balances: sled::Tree,
}

impl Store {
    pub fn open(db: sled::Db) -> anyhow::Result<Store> {
        Ok(Store {
            settlements: db.open_tree("settlements")?,
            bills_paid: db.open_tree("bills_paid")?,
            periods: db.open_tree("periods")?,
            refunds: db.open_tree("refunds")?,
            postings: db.open_tree("postings")?,
            balances: db.open_tree("balances")?,
            db,
        })
    }

    /// Every ledger account's balance; they sum to zero when the books balance.
    pub fn balances(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for item in self.balances.iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).to_string(), decode_i64(&v)));
        }
        Ok(out)
    }
}

pub fn decode_i64(v: &[u8]) -> i64 {
    v.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

/// The payment platform's clearing account: money paygate has captured and owes the tenants.
pub const CLEARING_ACCOUNT: &str = "asset:paygate-clearing";

/// What the tenant is owed for settled bills.
pub fn tenant_account(tenant: &TenantId) -> String {
    format!("liability:tenant:{tenant}")
}

/// The key that makes a billed period payable once.
pub fn period_key(tenant: &TenantId, account: &AccountNo, line: &BillLine) -> Vec<u8> {
    [
        tenant.as_str(),
        account.as_str(),
        line.kind.as_str(),
        line.period.as_str(),
        line.rule_id.as_str(),
    ]
    .join("\0")
    .into_bytes()
}
