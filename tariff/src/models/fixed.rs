//! Model 1: a fixed price per month (parking at 300.00 a month, a phone plan).
//!
//! Rule file: `[rule.version.fixed]` with `price`, the price of a month. Periodic.

use super::{month_unit, months_word, months_zh, Bi, Ctx, ModelTable, PeriodicPricing, Piece};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::values::Dec;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// Price of one month, in yuan.
    pub price: Decimal,
}

/// `[rule.version.fixed]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixedFile {
    pub price: Spanned<Dec>,
}

impl ModelTable for Fixed {
    const NAME: &'static str = "fixed";
    type File = FixedFile;

    /// The price must be zero or more.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<FixedFile>,
        _declared: Option<&[String]>,
    ) -> Checked<Fixed> {
        Some(Fixed {
            price: cx.non_negative(&file.get_ref().price, "price")?,
        })
    }
}

impl PeriodicPricing for Fixed {
    /// The same price for every account: the attributes are not read.
    fn price_months(
        &self,
        ctx: Ctx<'_>,
        _rule: &str,
        _attributes: &BTreeMap<String, String>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError> {
        self.price(ctx, period, months)
    }
}

impl Fixed {
    /// `months` consecutive months priced by this version, as one line.
    pub(crate) fn price(
        &self,
        ctx: Ctx<'_>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError> {
        Piece::priced(
            ctx,
            period,
            Decimal::from(months),
            month_unit(),
            self.price,
            Bi::new(
                format!(
                    "{} {} a month × {}",
                    self.price,
                    ctx.currency,
                    months_word(months)
                ),
                format!(
                    "每月 {} {} × {}",
                    self.price,
                    ctx.cur_zh(),
                    months_zh(months)
                ),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::money::{Currency, Fen};
    use rust_decimal_macros::dec;

    const CTX: Ctx<'static> = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
        zh: &Zh::EMPTY,
    };

    #[test]
    fn parking_for_three_months_is_three_times_the_monthly_price() {
        // 300.00 × 3 = 900.00 CNY.
        let p = Fixed {
            price: dec!(300.00),
        }
        .price(CTX, "2026-01..2026-03", 3)
        .unwrap();
        assert_eq!(p.amount, Fen::new(90000));
        assert_eq!(p.quantity, dec!(3));
        assert_eq!(p.unit, Bi::new("month", "个月"));
        assert_eq!(p.explanation.en, "300.00 CNY a month × 3 months");
    }

    #[test]
    fn the_chinese_explanation_reads_per_month_times_months() {
        // 每月 300.00 元 × 3 个月 = 900.00 元; one month is 1 个月 (no plural in Chinese).
        let f = Fixed {
            price: dec!(300.00),
        };
        let p = f.price(CTX, "2026-01..2026-03", 3).unwrap();
        assert_eq!(p.explanation.zh, "每月 300.00 元 × 3 个月");
        let one = f.price(CTX, "2026-01", 1).unwrap();
        assert_eq!(one.explanation.zh, "每月 300.00 元 × 1 个月");
        assert_eq!(one.explanation.en, "300.00 CNY a month × 1 month");
    }
}
