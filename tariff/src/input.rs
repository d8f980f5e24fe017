//! Offline pricing (`posfee rules quote --rules DIR --input FILE`): account facts and options
//! from a TOML input file, priced against loaded rules without any service running. The
//! format, and how year-to-date history enters through cumulative readings, is documented
//! with checked examples in `docs/tariffs.md`.
//!
//! # Input file format
//!
//! ```toml
//! tenant = "city-water"          # TenantId; picks the rule file
//! account = "BJ-0042"            # AccountNo
//! class = "residential"          # customer class
//! as_of = 2026-04-05             # payment date (TOML date)
//! kinds = ["water"]              # optional; empty or absent = everything owed
//! prepay_months = 12             # optional; periodic kinds only
//! top_up = "200.00"              # optional; chosen denomination in yuan
//!
//! [attributes]                   # optional; values as strings (integers accepted)
//! area_m2 = "89.50"
//! building = "A"
//!
//! [meters]                       # optional; fee kind → meter id
//! water = "W-778812"
//!
//! [paid_through]                 # optional; fee kind → last paid month "YYYY-MM"
//! water = "2026-01"
//!
//! [[reading]]                    # cumulative register readings, any order
//! meter = "W-778812"
//! read_on = 2025-12-31
//! value = "1520"                 # decimal as a string (or integer)
//! # register = "peak"            # time-of-use band; absent = the total register
//!
//! [[arrear]]                     # unpaid earlier bills
//! kind = "water"
//! period = "2025-11"
//! amount = "86.40"               # yuan, at most two decimals
//! due_on = 2025-12-15
//! ```
//!
//! Unknown keys are refused with their line, as in rule files.

use crate::error::{QuoteError, RuleFileError};
use crate::facts::{AccountFacts, Arrear, QuoteOptions, Reading};
use crate::quote::quote;
use crate::ruleset::RuleSet;
use crate::values::{Day, Dec, YearMonth, Yuan};
use posfee_schemas::fee::Quote;
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    tenant: TenantId,
    account: AccountNo,
    class: String,
    as_of: Day,
    #[serde(default)]
    kinds: Vec<FeeKind>,
    #[serde(default)]
    prepay_months: Option<u32>,
    #[serde(default)]
    top_up: Option<Yuan>,
    #[serde(default)]
    attributes: BTreeMap<String, Text>,
    #[serde(default)]
    meters: BTreeMap<FeeKind, String>,
    #[serde(default)]
    paid_through: BTreeMap<FeeKind, YearMonth>,
    #[serde(default, rename = "reading")]
    readings: Vec<ReadingFile>,
    #[serde(default, rename = "arrear")]
    arrears: Vec<ArrearFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingFile {
    meter: String,
    #[serde(default)]
    register: Option<String>,
    read_on: Day,
    value: Dec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArrearFile {
    kind: FeeKind,
    period: String,
    amount: Yuan,
    due_on: Day,
}

/// An attribute value: a string, or an integer written bare.
#[derive(Debug)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(Text(s)),
            toml::Value::Integer(i) => Ok(Text(i.to_string())),
            other => Err(D::Error::custom(format!(
                "attribute values are strings (e.g. \"89.50\"), found a {}",
                other.type_str()
            ))),
        }
    }
}

/// Reads an input file into the facts and options [`quote`] takes.
pub fn parse_input(
    file_name: &str,
    text: &str,
) -> Result<(AccountFacts, QuoteOptions), RuleFileError> {
    let raw: InputFile =
        toml::from_str(text).map_err(|e| RuleFileError::from_toml(file_name, text, &e))?;
    let facts = AccountFacts {
        tenant: raw.tenant,
        account: raw.account,
        class: raw.class,
        attributes: raw.attributes.into_iter().map(|(k, v)| (k, v.0)).collect(),
        meters: raw.meters,
        readings: raw
            .readings
            .into_iter()
            .map(|r| Reading {
                meter: r.meter,
                register: r.register,
                read_on: r.read_on.0,
                value: r.value.0,
            })
            .collect(),
        paid_through: raw.paid_through,
        arrears: raw
            .arrears
            .into_iter()
            .map(|a| Arrear {
                kind: a.kind,
                period: a.period,
                amount: a.amount.0,
                due_on: a.due_on.0,
            })
            .collect(),
    };
    let opts = QuoteOptions {
        kinds: raw.kinds,
        as_of: raw.as_of.0,
        prepay_months: raw.prepay_months,
        top_up: raw.top_up.map(|y| y.0),
    };
    Ok((facts, opts))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Input(#[from] RuleFileError),
    #[error("no rules are loaded for tenant {0}")]
    UnknownTenant(TenantId),
    #[error(transparent)]
    Quote(#[from] QuoteError),
}

/// Prices an input file against `rules`.
pub fn preview(rules: &RuleSet, input_file: &str, input_text: &str) -> Result<Quote, PreviewError> {
    let (facts, opts) = parse_input(input_file, input_text)?;
    let tenant = rules
        .tenant(&facts.tenant)
        .ok_or_else(|| PreviewError::UnknownTenant(facts.tenant.clone()))?;
    Ok(quote(tenant, &facts, &opts)?)
}
