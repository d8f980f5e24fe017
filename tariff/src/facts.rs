//! What the engine is told about an account, and what the payer asked for.
//!
//! The engine never looks anything up: the service gathers these facts (from the tenant's
//! records and meter reads) and the quote is a pure function of them, the rules and `as_of`.

use crate::values::YearMonth;
use chrono::NaiveDate;
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFacts {
    pub tenant: TenantId,
    pub account: AccountNo,
    /// The customer class rules and late-fee rates are chosen by, e.g. `residential`.
    pub class: String,
    /// Account attributes per-attribute rules read, e.g. `area_m2 = "89.50"`, `building = "A"`.
    pub attributes: BTreeMap<String, String>,
    /// The meter that measures each metered kind.
    pub meters: BTreeMap<FeeKind, String>,
    pub readings: Vec<Reading>,
    /// The last month already paid, per kind. Periodic kinds are billed from the month after;
    /// metered kinds from the month after, up to the last read month.
    pub paid_through: BTreeMap<FeeKind, YearMonth>,
    pub arrears: Vec<Arrear>,
}

/// A cumulative meter register read on a day. A month's usage is the last reading dated in
/// that month minus the last reading dated on or before the end of the month before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub meter: String,
    /// The time-of-use band (`peak`, `flat`, `valley`); `None` for the total register.
    pub register: Option<String>,
    pub read_on: NaiveDate,
    pub value: Decimal,
}

/// An earlier bill still unpaid. It is owed in full and may carry a late fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrear {
    pub kind: FeeKind,
    /// The period the bill was for, as it was billed (e.g. `2026-01`).
    pub period: String,
    pub amount: Fen,
    pub due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteOptions {
    /// The kinds to price; empty = every kind the account is enrolled in (see [`crate::quote()`]).
    pub kinds: Vec<FeeKind>,
    /// The payment date in the tenant's time zone (see [`crate::Tenant::today`]).
    pub as_of: NaiveDate,
    /// Pay this many months of periodic kinds, counted from the month after `paid_through`.
    pub prepay_months: Option<u32>,
    /// The top-up denomination chosen.
    pub top_up: Option<Fen>,
}

impl QuoteOptions {
    /// Everything owed on `as_of`, no prepayment, no top-up.
    pub fn owed_on(as_of: NaiveDate) -> QuoteOptions {
        QuoteOptions {
            kinds: Vec::new(),
            as_of,
            prepay_months: None,
            top_up: None,
        }
    }
}
