//! Model 5: top-ups in fixed denominations (30 / 50 / 100 / 200 CNY), some with a bonus.
//!
//! The bonus is credit added to the account's balance, not a discount on what is paid: the
//! payer pays the full denomination. It is shown as an informational line with amount 0 whose
//! quantity is the bonus in yuan (unit `bonus credit`), so a receipt shows it and the total
//! stays what is paid.

use super::{Ctx, Piece};
use crate::error::QuoteError;
use crate::values::yuan;
use posfee_schemas::ids::FeeKind;
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denomination {
    pub amount: Fen,
    /// Credit added on top; zero for none.
    pub bonus: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUp {
    pub denominations: Vec<Denomination>,
}

impl TopUp {
    pub fn amounts(&self) -> Vec<Fen> {
        self.denominations.iter().map(|d| d.amount).collect()
    }

    /// The top-up line and, if the denomination carries one, the bonus line.
    pub(crate) fn price(
        &self,
        ctx: Ctx,
        kind: &FeeKind,
        period: &str,
        chosen: Option<Fen>,
    ) -> Result<Vec<Piece>, QuoteError> {
        let denom = chosen
            .and_then(|c| self.denominations.iter().find(|d| d.amount == c))
            .ok_or_else(|| QuoteError::BadTopUp {
                kind: kind.clone(),
                offered: chosen,
                allowed: self.amounts(),
            })?;
        let mut pieces = vec![Piece::priced(
            ctx,
            period,
            Decimal::ONE,
            "top-up",
            yuan(denom.amount),
            format!("top-up of {} {}", denom.amount, ctx.currency),
        )?];
        if denom.bonus > Fen::ZERO {
            pieces.push(Piece {
                period: period.to_string(),
                quantity: yuan(denom.bonus),
                unit: "bonus credit".to_string(),
                unit_price: Decimal::ZERO,
                amount: Fen::ZERO,
                explanation: format!(
                    "bonus {} {} credited to the balance with a {} top-up (not paid, not a discount)",
                    denom.bonus, ctx.currency, denom.amount
                ),
            });
        }
        Ok(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use posfee_schemas::money::Currency;

    const CTX: Ctx = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
    };

    fn offer() -> TopUp {
        let d = |a, b| Denomination {
            amount: Fen(a),
            bonus: Fen(b),
        };
        TopUp {
            denominations: vec![d(3000, 0), d(5000, 0), d(10000, 0), d(20000, 1000)],
        }
    }

    fn kind() -> FeeKind {
        FeeKind::parse("mobile").unwrap()
    }

    #[test]
    fn two_hundred_pays_two_hundred_and_shows_a_ten_yuan_bonus_line_at_zero() {
        let p = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen(20000)))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].amount, Fen(20000));
        assert_eq!(p[1].amount, Fen::ZERO);
        assert_eq!(p[1].quantity, Decimal::new(1000, 2));
    }

    #[test]
    fn a_denomination_without_bonus_is_one_line() {
        let p = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen(3000)))
            .unwrap();
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn an_amount_not_on_offer_is_refused_with_the_choices() {
        let err = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen(4000)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mobile: top-up of 40.00 is not offered; choose one of 30.00, 50.00, 100.00, 200.00"
        );
        let none = offer().price(CTX, &kind(), "2026-03-05", None).unwrap_err();
        assert_eq!(none.code(), "bad_top_up");
    }
}
