//! Model 1: a fixed price per month (parking at 300.00 a month, a phone plan).

use super::{month_unit, months_word, months_zh, Bi, Ctx, Piece};
use crate::error::QuoteError;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// Price of one month, in yuan.
    pub price: Decimal,
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
