//! Read requests answered by the query service from its own view of the event stream.

use crate::ids::{AccountNo, BillId, PaymentId, TenantId, TerminalId};
use crate::money::Money;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names one account; the request of `posfee.query.account` and `posfee.query.bills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub tenant: TenantId,
    pub account: AccountNo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub tenant: TenantId,
    pub account: AccountNo,
    pub class: String,
    pub attributes: BTreeMap<String, String>,
    /// The holder's name with all but the first character masked, e.g. `张*`.
    pub holder_masked: String,
    /// What the account owes now, as the fee-engine prices it; absent when it cannot be
    /// priced right now (see `outstanding_error`).
    #[serde(default)]
    pub outstanding: Option<Money>,
    /// Why `outstanding` is absent, e.g. `RULE_VIOLATION: missing readings …`.
    #[serde(default)]
    pub outstanding_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillSummary {
    pub bill_id: BillId,
    pub total: Money,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillsReply {
    pub bills: Vec<BillSummary>,
    /// What the account owes right now, as the fee-engine prices it.
    #[serde(default)]
    pub live_total: Option<Money>,
}

/// `posfee.query.payments`: payment history, paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentsQuery {
    pub tenant: TenantId,
    pub account: AccountNo,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Opaque cursor from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentItem {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub amount: Money,
    pub refunded: Money,
    pub terminal: TerminalId,
    pub settled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentsPage {
    pub items: Vec<PaymentItem>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `posfee.query.readings`: meter-reading history, paged oldest first (by day, then meter,
/// then register) with an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingsQuery {
    pub tenant: TenantId,
    pub account: AccountNo,
    #[serde(default)]
    pub meter: Option<String>,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Most readings in this page, 1 to 500; absent means 500. A page is also cut short to
    /// fit the payload limit.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingItem {
    pub meter: String,
    #[serde(default)]
    pub register: Option<String>,
    pub read_on: NaiveDate,
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingsReply {
    pub readings: Vec<ReadingItem>,
    /// Present when more readings follow: ask again with it as `cursor`. Absent on the last
    /// page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Masks all but the first character: `张三` → `张*`, `王小明` → `王**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.filter(|c| !c.is_whitespace()).count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_name;

    #[test]
    fn names_keep_only_their_first_character_and_masking_twice_changes_nothing() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("Li"), "L*");
        assert_eq!(mask_name("X"), "X*");
        assert_eq!(mask_name(""), "");
        for n in ["张三", "王小明", "John Smith"] {
            assert_eq!(mask_name(&mask_name(n)), mask_name(n));
        }
    }
}
