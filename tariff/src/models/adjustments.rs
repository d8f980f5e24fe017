//! Model 7: bill-level terms on top of a kind's charges — prepay N months and get M more free,
//! percentage off, and a minimum charge per bill (also used for the late-fee minimum).
//!
//! These are offers and terms of the day of payment, so they come from the rule version in
//! force on `as_of`, while each period's price comes from the version in force for that period.
//!
//! Rule file: `prepay_bonus = { months, free }`, `discount = { percent, min_prepay_months? }`
//! and `minimum` beside the version's charge model; which terms a model takes is checked with
//! the version (`parse.rs`).

use super::{bill_unit, Bi, Ctx, Piece};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::values::{yuan, Dec};
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

/// Prepay `months` and get `free` more months at no charge, per whole multiple of `months`:
/// `{ months: 12, free: 1 }` charges 12 prepaid months and covers 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepayBonus {
    pub months: u32,
    pub free: u32,
}

impl PrepayBonus {
    /// Free months earned by prepaying `prepaid` months: 12 → 1, 24 → 2, 11 → 0.
    pub fn free_months(&self, prepaid: u32) -> u32 {
        prepaid
            .checked_div(self.months)
            .map_or(0, |n| n.saturating_mul(self.free))
    }
}

/// A percentage off the kind's charges, optionally only when prepaying enough months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discount {
    /// 0–100.
    pub percent: Decimal,
    pub min_prepay_months: Option<u32>,
}

impl Discount {
    pub fn applies(&self, prepay_months: Option<u32>) -> bool {
        match self.min_prepay_months {
            None => true,
            Some(min) => prepay_months.is_some_and(|p| p >= min),
        }
    }

    /// The discount line on `base` (already-rounded charge lines): quantity is the base in
    /// yuan, the unit price the negative fraction, so the line reads `base × −5 %`.
    pub(crate) fn price(&self, ctx: Ctx<'_>, period: &str, base: Fen) -> Result<Piece, QuoteError> {
        let fraction = self
            .percent
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or(QuoteError::Overflow)?;
        Piece::priced(
            ctx,
            period,
            yuan(base),
            Bi::new(ctx.currency.code(), ctx.cur_zh()),
            -fraction,
            Bi::new(
                format!(
                    "{}% off {} {}",
                    self.percent.normalize(),
                    base,
                    ctx.currency
                ),
                format!(
                    "{} {}优惠 {}%",
                    base,
                    ctx.cur_zh(),
                    self.percent.normalize()
                ),
            ),
        )
    }
}

/// `prepay_bonus` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrepayBonusFile {
    pub months: Spanned<u32>,
    pub free: Spanned<u32>,
}

/// `discount` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscountFile {
    pub percent: Spanned<Dec>,
    #[serde(default)]
    pub min_prepay_months: Option<u32>,
}

impl PrepayBonus {
    /// Both numbers at least 1.
    pub(crate) fn check(cx: &Checker<'_>, b: &PrepayBonusFile) -> Checked<PrepayBonus> {
        for n in [&b.months, &b.free] {
            if *n.get_ref() == 0 {
                return cx.fail(cx.err(&n.span(), "must be at least 1"));
            }
        }
        Some(PrepayBonus {
            months: *b.months.get_ref(),
            free: *b.free.get_ref(),
        })
    }
}

impl Discount {
    /// A percentage from 0 to 100.
    pub(crate) fn check(cx: &Checker<'_>, d: &DiscountFile) -> Checked<Discount> {
        let percent = cx.non_negative(&d.percent, "percent")?;
        if percent > Decimal::ONE_HUNDRED {
            return cx.fail(cx.err(&d.percent.span(), format!("percent {percent} is above 100")));
        }
        Some(Discount {
            percent,
            min_prepay_months: d.min_prepay_months,
        })
    }
}

/// What a minimum is the minimum of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MinimumOf {
    /// A kind's charges on one bill.
    Charge,
    /// A kind's late fees in one quote.
    LateFee,
}

/// The line that raises `charged` to `minimum`, if it is below.
pub(crate) fn minimum(
    ctx: Ctx<'_>,
    charged: Fen,
    minimum: Fen,
    period: &str,
    of: MinimumOf,
) -> Option<Piece> {
    let short = minimum.checked_sub(charged).ok()?;
    let (what, what_zh) = match of {
        MinimumOf::Charge => ("charge", "费用"),
        MinimumOf::LateFee => ("late fee", "滞纳金"),
    };
    let cur = ctx.cur_zh();
    (short > Fen::ZERO).then(|| Piece {
        period: period.to_string(),
        quantity: Decimal::ONE,
        unit: bill_unit(),
        unit_price: yuan(short),
        amount: short,
        explanation: Bi::new(
            format!("{what} {charged} is below the minimum {minimum}; made up to it"),
            format!("{what_zh} {charged} {cur}低于最低收费 {minimum} {cur}，补足差额"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::money::Currency;
    use rust_decimal_macros::dec;

    const CTX: Ctx<'static> = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
        zh: &Zh::EMPTY,
    };

    #[test]
    fn prepay_twelve_get_one_per_whole_twelve() {
        let b = PrepayBonus {
            months: 12,
            free: 1,
        };
        assert_eq!(b.free_months(11), 0);
        assert_eq!(b.free_months(12), 1);
        assert_eq!(b.free_months(25), 2);
    }

    #[test]
    fn five_percent_off_is_a_negative_line_rounded_once() {
        // 5 % of 3007.21 = 150.3605 → −150.36.
        let d = Discount {
            percent: dec!(5),
            min_prepay_months: Some(6),
        };
        let p = d.price(CTX, "2026", Fen::new(300721)).unwrap();
        assert_eq!(p.amount, Fen::new(-15036));
        assert_eq!(p.explanation.en, "5% off 3007.21 CNY");
        assert_eq!(p.explanation.zh, "3007.21 元优惠 5%");
        assert_eq!(p.unit, Bi::new("CNY", "元"));
        assert!(d.applies(Some(6)));
        assert!(!d.applies(Some(5)));
        assert!(!d.applies(None));
    }

    #[test]
    fn a_minimum_only_adds_what_is_short() {
        let charge = MinimumOf::Charge;
        let short = minimum(CTX, Fen::new(630), Fen::new(1000), "2026-03", charge).unwrap();
        assert_eq!(short.amount, Fen::new(370));
        assert!(minimum(CTX, Fen::new(1000), Fen::new(1000), "2026-03", charge).is_none());
        assert!(minimum(CTX, Fen::new(1200), Fen::new(1000), "2026-03", charge).is_none());
        // 1 笔 of 3.70 元 makes 6.30 up to 10.00.
        assert_eq!(short.unit, Bi::new("bill", "笔"));
        assert_eq!(
            short.explanation.zh,
            "费用 6.30 元低于最低收费 10.00 元，补足差额"
        );
        assert_eq!(
            short.explanation.en,
            "charge 6.30 is below the minimum 10.00; made up to it"
        );
    }
}
