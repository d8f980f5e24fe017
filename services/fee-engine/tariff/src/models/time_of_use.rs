//! Model 4b: time-of-use prices. The meter keeps one cumulative register per time band
//! (peak / flat / valley); each register's monthly usage is priced at its band's price, one
//! line per band.

use super::{Ctx, Piece};
use crate::error::QuoteError;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The register name readings carry, e.g. `peak`.
    pub name: String,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOfUse {
    pub unit: String,
    pub registers: Vec<Register>,
}

impl TimeOfUse {
    /// One band's usage for one month.
    pub(crate) fn price(
        &self,
        ctx: Ctx,
        period: &str,
        register: &Register,
        usage: Decimal,
    ) -> Result<Piece, QuoteError> {
        Piece::priced(
            ctx,
            period,
            usage,
            &self.unit,
            register.price,
            format!(
                "{} band: {usage} {} × {}",
                register.name, self.unit, register.price
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

    #[test]
    fn each_band_is_priced_at_its_own_price() {
        // peak 120.5 kWh × 1.0250 = 123.5125 → 123.51; valley 80 kWh × 0.3050 = 24.40.
        let ctx = Ctx {
            rounding: Rounding::HalfUp,
            currency: Currency::CNY,
        };
        let tou = TimeOfUse {
            unit: "kWh".into(),
            registers: vec![
                Register {
                    name: "peak".into(),
                    price: dec!(1.0250),
                },
                Register {
                    name: "valley".into(),
                    price: dec!(0.3050),
                },
            ],
        };
        let peak = tou
            .price(ctx, "2026-03", &tou.registers[0], dec!(120.5))
            .unwrap();
        let valley = tou
            .price(ctx, "2026-03", &tou.registers[1], dec!(80))
            .unwrap();
        assert_eq!(peak.amount, Fen(12351));
        assert_eq!(valley.amount, Fen(2440));
        assert_eq!(peak.explanation, "peak band: 120.5 kWh × 1.0250");
    }
}
