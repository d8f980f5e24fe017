//! The charge models, one file each. A model's file holds all of it: its rule-file table (the
//! serde `…File` struct, unknown keys refused), its checks (`ModelTable`), and its pricing
//! (the pricing trait of its [`Family`]), which turns a version's prices and one period's facts
//! into `Piece`s: priced, rounded amounts that quote assembly labels with kind and rule.
//!
//! The shared code reaches the models through two tables with one line per model: the rule
//! file's (`VersionFile::models` in `file.rs`, beside the version's field for the table) and
//! the quote's (`Charge::model` here). Adding a model is one new file here, a [`Charge`]
//! variant, a line in each of those tables, and its `mod` line below (see "Adding a charge
//! model" in `docs/tariffs.md`).
//!
//! Every piece says how it came about in English and in Chinese ([`Bi`]): the same facts in
//! each language's own order and units (`300.00 CNY a month × 3 months`, `每月 300.00 元 ×
//! 3 个月`). The tenant's own words in them (components, bands, seasons, units, attribute
//! values) are the rule file's, put into Chinese by its `[zh]` glossary where it has them.

pub mod adjustments;
pub mod fixed;
pub mod late_fee;
pub mod per_attribute;
pub mod tiered;
pub mod time_of_use;
pub mod top_up;

use crate::error::QuoteError;
use crate::facts::Arrear;
use crate::parse::{Checked, Checker};
use crate::readings::MeterReads;
use crate::rounding::Rounding;
use crate::tenant::Zh;
use crate::values::YearMonth;
use chrono::NaiveDate;
use fixed::Fixed;
use late_fee::LateFee;
use per_attribute::PerAttribute;
use posfee_schemas::ids::FeeKind;
use posfee_schemas::money::{Currency, Fen};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tiered::Tiered;
use time_of_use::TimeOfUse;
use toml::Spanned;
use top_up::TopUp;

/// The charge model of a version: one variant per model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    Fixed(Fixed),
    PerAttribute(PerAttribute),
    Tiered(Tiered),
    TimeOfUse(TimeOfUse),
    TopUp(TopUp),
    LateFee(LateFee),
}

impl Charge {
    /// The quote's table of charge models, one line per model: each model's table name in a
    /// rule file, and its pricing, filed under the family that says how a quote bills it.
    fn model(&self) -> (&'static str, Pricing<'_>) {
        match self {
            Charge::Fixed(m) => (Fixed::NAME, Pricing::Periodic(m)),
            Charge::PerAttribute(m) => (PerAttribute::NAME, Pricing::Periodic(m)),
            Charge::Tiered(m) => (Tiered::NAME, Pricing::Metered(m)),
            Charge::TimeOfUse(m) => (TimeOfUse::NAME, Pricing::Metered(m)),
            Charge::TopUp(m) => (TopUp::NAME, Pricing::TopUp(m)),
            Charge::LateFee(m) => (LateFee::NAME, Pricing::LateFee(m)),
        }
    }

    /// How a quote finds what this charge bills.
    pub fn family(&self) -> Family {
        self.pricing().family()
    }

    /// The model's table name in a rule file.
    pub fn model_name(&self) -> &'static str {
        self.model().0
    }

    /// The model's pricing, by family.
    pub(crate) fn pricing(&self) -> Pricing<'_> {
        self.model().1
    }
}

/// How a family of models finds what to bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Months after `paid_through` up to `as_of` (or prepaid ahead): fixed, per-attribute.
    Periodic,
    /// Months after `paid_through` up to the last reading: tiered, time-of-use.
    Metered,
    /// One payment of a chosen denomination.
    TopUp,
    /// Levied on arrears, not on periods.
    LateFee,
}

/// A charge as a quote prices it: the model's pricing for its family.
#[derive(Clone, Copy)]
pub(crate) enum Pricing<'a> {
    Periodic(&'a dyn PeriodicPricing),
    Metered(&'a dyn MeteredPricing),
    TopUp(&'a dyn TopUpPricing),
    LateFee(&'a dyn LateFeePricing),
}

impl Pricing<'_> {
    /// The family the pricing belongs to.
    pub(crate) fn family(&self) -> Family {
        match self {
            Pricing::Periodic(_) => Family::Periodic,
            Pricing::Metered(_) => Family::Metered,
            Pricing::TopUp(_) => Family::TopUp,
            Pricing::LateFee(_) => Family::LateFee,
        }
    }
}

/// A charge model as a rule file writes it: its table under `[rule.version]` and the checks
/// that turn the table into the model. Every model file implements it.
pub(crate) trait ModelTable: Sized + 'static {
    /// The table's name, e.g. `tiered`: the key in the rule file and the model's name in
    /// messages.
    const NAME: &'static str;
    /// The table as written: a serde struct that refuses unknown keys.
    type File: 'static;

    /// The table checked into the model; `None` once its mistakes are recorded in `cx`.
    /// `declared` is the tenant's classes (`None` when that list was refused, already
    /// reported).
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<Self::File>,
        declared: Option<&[String]>,
    ) -> Checked<Self>;

    /// The tenant's own words in the table that a payer reads on a bill (units, names), which
    /// the `[zh.words]` glossary may translate. None by default.
    fn words(_file: &Self::File) -> Vec<&str> {
        Vec::new()
    }
}

/// A periodic model: priced per month from the account's attributes.
pub(crate) trait PeriodicPricing {
    /// `months` consecutive months priced by this version, as one line. `rule` names the rule
    /// in errors.
    fn price_months(
        &self,
        ctx: Ctx<'_>,
        rule: &str,
        attributes: &BTreeMap<String, String>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError>;

    /// Whether an account's attributes can be priced: what an import checks. Any can, unless
    /// the model reads attributes.
    fn check_attributes(
        &self,
        _rule: &str,
        _attributes: &BTreeMap<String, String>,
    ) -> Result<(), QuoteError> {
        Ok(())
    }
}

/// A metered model: priced per month from cumulative meter registers.
pub(crate) trait MeteredPricing {
    /// The registers the model reads (`None`: the meter's only one); billing reaches as far
    /// as all of them do.
    fn registers(&self) -> Vec<Option<String>>;

    /// One month's usage priced, its registers read through `reads`.
    fn price_month(
        &self,
        ctx: Ctx<'_>,
        reads: &mut MeterReads<'_>,
        month: YearMonth,
    ) -> Result<Vec<Piece>, QuoteError>;
}

/// A top-up model: one payment of a chosen amount.
pub(crate) trait TopUpPricing {
    /// The lines of a top-up of `chosen` (`None`: none was chosen) on day `period`.
    fn price_top_up(
        &self,
        ctx: Ctx<'_>,
        kind: &FeeKind,
        period: &str,
        chosen: Option<Fen>,
    ) -> Result<Vec<Piece>, QuoteError>;
}

/// A late-fee model: a penalty levied on a kind's arrears.
pub(crate) trait LateFeePricing {
    /// The penalty line for one arrear of an account of `class` paid on `as_of`, or `None`
    /// if nothing accrued.
    fn price_arrear(
        &self,
        ctx: Ctx<'_>,
        class: &str,
        arrear: &Arrear,
        as_of: NaiveDate,
    ) -> Result<Option<Piece>, QuoteError>;

    /// The least a kind's penalties in one quote come to, if above zero.
    fn minimum(&self) -> Option<Fen>;
}

/// What every model needs from the tenant to price and explain a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub rounding: Rounding,
    pub currency: Currency,
    /// The tenant's Chinese names for its own words.
    pub zh: &'a Zh,
}

impl<'a> Ctx<'a> {
    /// The currency as Chinese text writes amounts: `元` for CNY, else the code.
    pub fn cur_zh(&self) -> &'static str {
        match self.currency {
            Currency::CNY => "元",
            other => other.code(),
        }
    }

    /// The tenant's word in Chinese, or as written when the file gives no Chinese for it.
    pub fn word<'w>(&self, word: &'w str) -> &'w str
    where
        'a: 'w,
    {
        self.zh.or(word)
    }
}

/// A text in English and in Chinese.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bi {
    pub en: String,
    pub zh: String,
}

impl Bi {
    pub(crate) fn new(en: impl Into<String>, zh: impl Into<String>) -> Bi {
        Bi {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

/// One priced line before it is labelled with its kind and rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub period: String,
    pub quantity: Decimal,
    pub unit: Bi,
    pub unit_price: Decimal,
    pub amount: Fen,
    pub explanation: Bi,
}

impl Piece {
    /// The usual line: `amount = round(quantity × unit_price)`, the one rounding of the line.
    pub(crate) fn priced(
        ctx: Ctx<'_>,
        period: &str,
        quantity: Decimal,
        unit: Bi,
        unit_price: Decimal,
        explanation: Bi,
    ) -> Result<Piece, QuoteError> {
        let exact = quantity
            .checked_mul(unit_price)
            .ok_or(QuoteError::Overflow)?;
        Ok(Piece {
            period: period.to_string(),
            quantity,
            unit,
            unit_price,
            amount: ctx.rounding.to_fen(exact)?,
            explanation,
        })
    }
}

/// `0.001` as `1‰`, `0.0025` as `2.5‰`: how tariffs state daily penalty rates.
pub(crate) fn per_mille(rate: Decimal) -> String {
    let pm = rate
        .checked_mul(Decimal::ONE_THOUSAND)
        .map(|d| d.normalize().to_string())
        .unwrap_or_else(|| rate.to_string());
    format!("{pm}‰")
}

/// `3` as `3 months`, `1` as `1 month`.
pub(crate) fn months_word(n: u32) -> String {
    if n == 1 {
        "1 month".to_string()
    } else {
        format!("{n} months")
    }
}

/// `3` as `3 个月`.
pub(crate) fn months_zh(n: u32) -> String {
    format!("{n} 个月")
}

/// The unit of a line counted in months: `month` / `个月`.
pub(crate) fn month_unit() -> Bi {
    Bi::new("month", "个月")
}

/// The unit of a line that is one bill (arrears, a minimum made up): `bill` / `笔`.
pub(crate) fn bill_unit() -> Bi {
    Bi::new("bill", "笔")
}
