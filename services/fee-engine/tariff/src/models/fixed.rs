//! Model 1: a fixed price per month (parking at 300.00 a month, a phone plan).

use super::{months_word, Ctx, Piece};
use crate::error::QuoteError;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// Price of one month, in yuan.
    pub price: Decimal,
}

impl Fixed {
    /// `months` consecutive months priced by this version, as one line.
    pub(crate) fn price(&self, ctx: Ctx, period: &str, months: u32) -> Result<Piece, QuoteError> {
        Piece::priced(
            ctx,
            period,
            Decimal::from(months),
            "month",
            self.price,
            format!(
                "{} {} a month × {}",
                self.price,
                ctx.currency,
                months_word(months)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use posfee_schemas::money::{Currency, Fen};
    use rust_decimal_macros::dec;

    const CTX: Ctx = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
    };

    #[test]
    fn parking_for_three_months_is_three_times_the_monthly_price() {
        // 300.00 × 3 = 900.00 CNY.
        let p = Fixed {
            price: dec!(300.00),
        }
        .price(CTX, "2026-01..2026-03", 3)
        .unwrap();
        assert_eq!(p.amount, Fen(90000));
        assert_eq!(p.quantity, dec!(3));
        assert_eq!(p.unit, "month");
        assert_eq!(p.explanation, "300.00 CNY a month × 3 months");
    }
}
