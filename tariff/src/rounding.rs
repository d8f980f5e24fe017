//! Rounding from exact yuan to whole fen, the tenant's way.
//!
//! Amounts are exact [`Decimal`] yuan inside the engine and become [`Fen`] exactly once per
//! bill line, in [`Rounding::to_fen`]. Nothing is rounded before that (unit prices keep their
//! fractions of a fen), and rounded lines are never rounded again.

use crate::error::QuoteError;
use posfee_schemas::money::Fen;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

/// How a tenant turns fractions of a fen into fen. Symmetric for negative amounts (discounts):
/// `half_up` rounds half a fen away from zero, `down` always towards zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// 0.5 fen and above goes up: the usual commercial rule.
    HalfUp,
    /// Banker's rounding: exactly half a fen goes to the even fen.
    HalfEven,
    /// Fractions of a fen are dropped: never charge a payer a fen not fully owed.
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }

    /// Exact yuan to fen, rounded once.
    pub fn to_fen(self, yuan: Decimal) -> Result<Fen, QuoteError> {
        let fen = yuan
            .checked_mul(Decimal::ONE_HUNDRED)
            .ok_or(QuoteError::Overflow)?
            .round_dp_with_strategy(0, self.strategy());
        fen.to_i64().map(Fen::new).ok_or(QuoteError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn each_mode_rounds_half_a_fen_its_own_way() {
        // 1.005 yuan is 100.5 fen; 1.015 is 101.5 fen.
        assert_eq!(Rounding::HalfUp.to_fen(dec!(1.005)).unwrap(), Fen::new(101));
        assert_eq!(
            Rounding::HalfEven.to_fen(dec!(1.005)).unwrap(),
            Fen::new(100)
        );
        assert_eq!(
            Rounding::HalfEven.to_fen(dec!(1.015)).unwrap(),
            Fen::new(102)
        );
        assert_eq!(Rounding::Down.to_fen(dec!(1.0099)).unwrap(), Fen::new(100));
    }

    #[test]
    fn negative_amounts_round_symmetrically() {
        assert_eq!(
            Rounding::HalfUp.to_fen(dec!(-1.005)).unwrap(),
            Fen::new(-101)
        );
        assert_eq!(
            Rounding::Down.to_fen(dec!(-1.0099)).unwrap(),
            Fen::new(-100)
        );
    }

    #[test]
    fn an_amount_beyond_i64_fen_is_overflow() {
        assert_eq!(
            Rounding::HalfUp.to_fen(Decimal::MAX),
            Err(QuoteError::Overflow)
        );
    }
}
