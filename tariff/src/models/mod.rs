//! The charge models, one file each. A model turns a version's prices and one period's facts
//! into `Piece`s: priced, rounded amounts that quote assembly labels with kind and rule.
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
use crate::rounding::Rounding;
use crate::tenant::Zh;
use posfee_schemas::money::{Currency, Fen};
use rust_decimal::Decimal;

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
