//! Model 5: top-ups in fixed denominations (30 / 50 / 100 / 200 CNY), some with a bonus.
//!
//! The bonus is credit added to the account's balance, not a discount on what is paid: the
//! payer pays the full denomination. It is shown as an informational line with amount 0 whose
//! quantity is the bonus in yuan (unit `bonus credit`), so a receipt shows it and the total
//! stays what is paid.
//!
//! Rule file: `[rule.version.top_up]` with `[[…denomination]]` entries `{ amount, bonus? }`.

use super::{Bi, Ctx, ModelTable, Piece, TopUpPricing};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::values::{yuan, Yuan};
use posfee_schemas::ids::FeeKind;
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

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
        ctx: Ctx<'_>,
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
            Bi::new("top-up", "笔"),
            yuan(denom.amount),
            Bi::new(
                format!("top-up of {} {}", denom.amount, ctx.currency),
                format!("充值 {} {}", denom.amount, ctx.cur_zh()),
            ),
        )?];
        if denom.bonus > Fen::ZERO {
            pieces.push(Piece {
                period: period.to_string(),
                quantity: yuan(denom.bonus),
                unit: Bi::new("bonus credit", format!("{}赠款", ctx.cur_zh())),
                unit_price: Decimal::ZERO,
                amount: Fen::ZERO,
                explanation: Bi::new(
                    format!(
                        "bonus {} {} credited to the balance with a {} top-up (not paid, not a discount)",
                        denom.bonus, ctx.currency, denom.amount
                    ),
                    format!(
                        "充值 {amount} {cur}赠送 {bonus} {cur}，计入余额（无需支付，不是折扣）",
                        amount = denom.amount,
                        bonus = denom.bonus,
                        cur = ctx.cur_zh()
                    ),
                ),
            });
        }
        Ok(pieces)
    }
}

impl TopUpPricing for TopUp {
    fn price_top_up(
        &self,
        ctx: Ctx<'_>,
        kind: &FeeKind,
        period: &str,
        chosen: Option<Fen>,
    ) -> Result<Vec<Piece>, QuoteError> {
        self.price(ctx, kind, period, chosen)
    }
}

/// `[rule.version.top_up]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopUpFile {
    #[serde(default)]
    pub denomination: Vec<Spanned<DenominationFile>>,
}

/// A `[[…denomination]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenominationFile {
    pub amount: Spanned<Yuan>,
    #[serde(default)]
    pub bonus: Option<Spanned<Yuan>>,
}

impl ModelTable for TopUp {
    const NAME: &'static str = "top_up";
    type File = TopUpFile;

    /// At least one denomination; amounts above zero and not repeated; bonuses zero or more.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<TopUpFile>,
        _declared: Option<&[String]>,
    ) -> Checked<TopUp> {
        let raw = file.get_ref();
        if raw.denomination.is_empty() {
            return cx.fail(cx.err(
                &file.span(),
                "top_up needs denomination entries (amount, optional bonus)",
            ));
        }
        let mut denominations: Vec<Denomination> = Vec::new();
        for d in &raw.denomination {
            let d = d.get_ref();
            let amount = d.amount.get_ref().0;
            if amount <= Fen::ZERO {
                return cx.fail(cx.err(
                    &d.amount.span(),
                    format!("denomination {amount} is not above zero"),
                ));
            }
            if denominations.iter().any(|seen| seen.amount == amount) {
                return cx.fail(cx.err(
                    &d.amount.span(),
                    format!("denomination {amount} is listed twice"),
                ));
            }
            let bonus = cx
                .non_negative_fen_opt(&d.bonus, "bonus")?
                .unwrap_or(Fen::ZERO);
            denominations.push(Denomination { amount, bonus });
        }
        Some(TopUp { denominations })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::money::Currency;

    const CTX: Ctx<'static> = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
        zh: &Zh::EMPTY,
    };

    fn offer() -> TopUp {
        let d = |a, b| Denomination {
            amount: Fen::new(a),
            bonus: Fen::new(b),
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
            .price(CTX, &kind(), "2026-03-05", Some(Fen::new(20000)))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].amount, Fen::new(20000));
        assert_eq!(p[1].amount, Fen::ZERO);
        assert_eq!(p[1].quantity, Decimal::new(1000, 2));
    }

    #[test]
    fn the_top_up_and_its_bonus_are_explained_in_chinese() {
        // 1 笔 × 200.00 = 200.00 元 paid; the bonus line is 10.00 元赠款 at 0.
        let p = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen::new(20000)))
            .unwrap();
        assert_eq!(p[0].unit, Bi::new("top-up", "笔"));
        assert_eq!(p[0].explanation.zh, "充值 200.00 元");
        assert_eq!(p[1].unit, Bi::new("bonus credit", "元赠款"));
        assert_eq!(
            p[1].explanation.zh,
            "充值 200.00 元赠送 10.00 元，计入余额（无需支付，不是折扣）"
        );
        assert_eq!(
            p[1].explanation.en,
            "bonus 10.00 CNY credited to the balance with a 200.00 top-up (not paid, not a discount)"
        );
    }

    #[test]
    fn a_denomination_without_bonus_is_one_line() {
        let p = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen::new(3000)))
            .unwrap();
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn an_amount_not_on_offer_is_refused_with_the_choices() {
        let err = offer()
            .price(CTX, &kind(), "2026-03-05", Some(Fen::new(4000)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mobile: top-up of 40.00 is not offered; choose one of 30.00, 50.00, 100.00, 200.00"
        );
        let none = offer().price(CTX, &kind(), "2026-03-05", None).unwrap_err();
        assert_eq!(none.code(), "bad_top_up");
    }
}
