//! Quotes and bills: what the fee-engine answers on `posfee.fee.quote` and `posfee.bill.issue`.

use crate::ids::{AccountNo, BillId, FeeKind, IdempotencyKey, TenantId, TerminalId};
use crate::money::{Currency, Fen, Money};
use crate::signed::Signed;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `posfee.fee.quote`: what is owed now for an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    pub tenant: TenantId,
    pub account: AccountNo,
    /// The fee kinds to price; empty means all the tenant bills this account for.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub kinds: Vec<FeeKind>,
    /// The billing date in the tenant's time zone; absent means today. Quotes may look at
    /// another day; bills are always priced as of today.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Pay this many months of periodic fees ahead (prepayment terms may apply).
    #[serde(default)]
    pub prepay_months: Option<u32>,
    /// The top-up denomination chosen, for top-up fee kinds.
    #[serde(default)]
    pub top_up: Option<Fen>,
}

/// One priced line of a quote or bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    pub kind: FeeKind,
    /// The period priced, e.g. `2026-10` or `2026-01..2026-06`.
    pub period: String,
    /// Exact decimal quantity (m³, kWh, m², months …), as a string on the wire.
    pub quantity: Decimal,
    pub unit: String,
    /// Price per unit in yuan, exact; may carry fractions of a fen.
    pub unit_price: Decimal,
    /// The line amount, rounded once, in fen.
    pub amount: Fen,
    pub rule_id: String,
    pub rule_version: String,
    /// One line a payer can read: how this amount came about.
    pub explanation: String,
    /// The fee kind's label as the tenant writes it, e.g. `Tap water`; empty from older
    /// writers (show the kind id then).
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub label: String,
    /// The kind's label in Chinese, e.g. `自来水`; empty when the tenant gives none (show
    /// `label` then).
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub label_zh: String,
    /// `unit` in Chinese, e.g. `个月` for `month`; empty = show `unit`.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub unit_zh: String,
    /// `explanation` in Chinese (`每月 300.00 元 × 3 个月`); empty from older writers.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub explanation_zh: String,
}

/// `posfee.fee.payees.<asker>` asks with an empty map; the answer lists every payee the system
/// collects for, as a kiosk shows them: in both languages, in a stable order (by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PayeesRequest {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payees {
    pub payees: Vec<Payee>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    pub tenant: TenantId,
    /// e.g. `City Water Company`.
    pub name: String,
    /// e.g. `市自来水公司`; empty when the tenant gives none (show `name` then).
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub name_zh: String,
    /// The fee kinds it bills, in its file's order.
    pub kinds: Vec<FeeKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub tenant: TenantId,
    /// The payee as the payer should see it, e.g. `Acme Property Management`.
    pub tenant_name: String,
    pub account: AccountNo,
    pub as_of: NaiveDate,
    pub currency: Currency,
    pub lines: Vec<BillLine>,
    pub total: Fen,
    /// The payee in Chinese, e.g. `市自来水公司`; empty when the tenant gives none.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub tenant_name_zh: String,
    /// The customer class that priced the quote, as the tenant names it (`residential`);
    /// empty from older writers.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub class: String,
    /// The class in Chinese (`居民`); empty when the tenant gives none.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub class_zh: String,
}

/// `posfee.bill.issue`: the quote, stored as a payable bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillIssueRequest {
    pub quote: QuoteRequest,
    /// The terminal the bill will be paid at; the receipt goes there.
    pub terminal: TerminalId,
    /// Same key, same request → the same bill; same key, different request → 409.
    pub idempotency_key: IdempotencyKey,
    /// The basket this bill is one of, when the payer pays several bills at once
    /// ([`crate::basket`]); signed into the bill. Since contract 0.4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basket: Option<crate::basket::BasketTag>,
}

/// A payable bill. It travels signed by the tenant's key ([`IssuedBill`]), so a terminal
/// cannot change the amount or the payee on its way to the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub account: AccountNo,
    pub terminal: TerminalId,
    pub as_of: NaiveDate,
    pub lines: Vec<BillLine>,
    pub total: Money,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The account holder's name, masked (`张*`), so the payer can tell the account is theirs.
    #[serde(default)]
    pub holder_masked: Option<String>,
    /// The payee in Chinese; empty when the tenant gives none (show `tenant_name`).
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub tenant_name_zh: String,
    /// The customer class that priced the bill (`residential`); empty from older writers.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub class: String,
    /// The class in Chinese (`居民`); empty when the tenant gives none.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub class_zh: String,
    /// The basket the bill was issued in: it is paid only together with the basket's other
    /// bills ([`crate::basket`]). Absent for a bill paid on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basket: Option<crate::basket::BasketTag>,
}

/// The reply to `posfee.bill.issue`: the signed bill ([`Bill`] inside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedBill {
    pub bill_id: BillId,
    pub signed: Signed,
}

/// The months a period label names: `2026-10` → (2026-10, 2026-10), `2026-01..2026-06` →
/// (2026-01, 2026-06), as `YYYY-MM` strings (they sort as dates). Anything else (a day, as
/// top-ups carry) is `None`: such a line is not a billing period and may be bought again.
pub fn period_months(period: &str) -> Option<(String, String)> {
    fn month(s: &str) -> Option<String> {
        let b = s.as_bytes();
        let ok = b.len() == 7
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..].iter().all(u8::is_ascii_digit)
            && matches!(
                &s[5..],
                "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
            );
        ok.then(|| s.to_string())
    }
    match period.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (month(a)?, month(b)?);
            (a <= b).then_some((a, b))
        }
        None => month(period).map(|m| (m.clone(), m)),
    }
}

#[cfg(test)]
mod tests {
    use super::period_months;

    #[test]
    fn period_labels_name_months_or_nothing() {
        let m = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(period_months("2026-10"), m("2026-10", "2026-10"));
        assert_eq!(period_months("2026-01..2026-06"), m("2026-01", "2026-06"));
        assert_eq!(period_months("2026-11-25"), None);
        assert_eq!(period_months("2026-13"), None);
        assert_eq!(period_months("2026-06..2026-01"), None);
        assert_eq!(period_months("top-up"), None);
    }
}
