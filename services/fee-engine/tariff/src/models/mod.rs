//! The charge models, one file each. A model turns a version's prices and one period's facts
//! into `Piece`s: priced, rounded amounts that quote assembly labels with kind and rule.

pub mod adjustments;
pub mod fixed;
pub mod late_fee;
pub mod per_attribute;
pub mod tiered;
pub mod time_of_use;
pub mod top_up;

use crate::error::QuoteError;
use crate::rounding::Rounding;
use posfee_schemas::money::{Currency, Fen};
use rust_decimal::Decimal;

/// What every model needs from the tenant to price a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub rounding: Rounding,
    pub currency: Currency,
}

/// One priced line before it is labelled with its kind and rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub period: String,
    pub quantity: Decimal,
    pub unit: String,
    pub unit_price: Decimal,
    pub amount: Fen,
    pub explanation: String,
}

impl Piece {
    /// The usual line: `amount = round(quantity × unit_price)`, the one rounding of the line.
    pub(crate) fn priced(
        ctx: Ctx,
        period: &str,
        quantity: Decimal,
        unit: &str,
        unit_price: Decimal,
        explanation: String,
    ) -> Result<Piece, QuoteError> {
        let exact = quantity
            .checked_mul(unit_price)
            .ok_or(QuoteError::Overflow)?;
        Ok(Piece {
            period: period.to_string(),
            quantity,
            unit: unit.to_string(),
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
