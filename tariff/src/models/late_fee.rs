//! Model 6: the late-payment penalty on arrears.
//!
//! A penalty accrues each day from the day after the due date (plus any grace days) up to and
//! including the payment date (`as_of`), at a daily rate of the overdue amount chosen by the
//! customer class and by the arrears' age: while the calendar year the arrear fell due in
//! lasts, it is *current-year* arrears; from 1 January after, it is *earlier-year* arrears and
//! accrues at `earlier_years_per_day`. So an arrear due 20 December and paid 10 January accrues
//! 11 days at the current-year rate and 10 days at the earlier-year rate.
//!
//! One line per arrear: quantity = the overdue amount, unit price = the accrued fraction
//! (`Σ days × daily rate`, capped at `max_ratio`), amount = round(quantity × unit price).
//! The tenant's minimum applies to the sum of a kind's penalty lines in one quote and is made
//! up by a separate line (see [`super::adjustments`]).
//!
//! Rule file: `[rule.version.late_fee]` with `grace_days?`, `minimum?`, `max_ratio?` and
//! `[[…rate]]` entries `{ classes?, per_day, earlier_years_per_day? }`; a rule of its own.

use super::{per_mille, Bi, Ctx, LateFeePricing, ModelTable, Piece};
use crate::error::QuoteError;
use crate::facts::Arrear;
use crate::parse::{Checked, Checker};
use crate::values::{yuan, Dec, Yuan};
use chrono::{Datelike, Days, NaiveDate};
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

/// Daily rates for some customer classes (`classes == None`: every class not listed
/// elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub classes: Option<Vec<String>>,
    /// Daily fraction of the overdue amount while it is current-year arrears (`0.001` = 1‰).
    pub per_day: Decimal,
    /// Daily fraction once the arrears are from an earlier year; `None` = `per_day`.
    pub earlier_years_per_day: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFee {
    /// Days after the due date that accrue nothing; accrual starts the day after them.
    pub grace_days: u32,
    /// A kind's total penalty in one quote, if above zero, is at least this.
    pub minimum: Option<Fen>,
    /// An arrear's penalty is at most this fraction of it (`1` = 100 %).
    pub max_ratio: Option<Decimal>,
    pub rates: Vec<Rate>,
}

impl LateFee {
    /// The rate row for `class`: the row naming it, else the catch-all row.
    pub fn rate_for(&self, class: &str) -> Option<&Rate> {
        self.rates
            .iter()
            .find(|r| {
                r.classes
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c == class))
            })
            .or_else(|| self.rates.iter().find(|r| r.classes.is_none()))
    }

    /// The penalty line for one arrear paid on `as_of`, or `None` if nothing accrued.
    pub(crate) fn price(
        &self,
        ctx: Ctx<'_>,
        class: &str,
        arrear: &Arrear,
        as_of: NaiveDate,
    ) -> Result<Option<Piece>, QuoteError> {
        let Some(rate) = self.rate_for(class) else {
            return Ok(None);
        };
        let start = arrear
            .due_on
            .checked_add_days(Days::new(u64::from(self.grace_days) + 1))
            .ok_or(QuoteError::Overflow)?;
        if start > as_of {
            return Ok(None);
        }
        let year_end =
            NaiveDate::from_ymd_opt(arrear.due_on.year(), 12, 31).ok_or(QuoteError::Overflow)?;
        let all_days = (as_of - start).num_days() + 1;
        let current_days = if start <= year_end {
            (as_of.min(year_end) - start).num_days() + 1
        } else {
            0
        };
        let earlier_days = all_days - current_days;
        let earlier_rate = rate.earlier_years_per_day.unwrap_or(rate.per_day);

        let accrued = Decimal::from(current_days)
            .checked_mul(rate.per_day)
            .zip(Decimal::from(earlier_days).checked_mul(earlier_rate))
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or(QuoteError::Overflow)?;
        let (ratio, capped) = match self.max_ratio {
            Some(max) if accrued > max => (max, true),
            _ => (accrued, false),
        };

        let (how, how_zh) = days_explained(rate, current_days, earlier_days);
        let (cap, cap_zh) = if capped {
            (
                format!(", capped at {} of the arrears", per_mille(ratio)),
                format!("，以欠费的 {} 为上限", per_mille(ratio)),
            )
        } else {
            (String::new(), String::new())
        };
        Piece::priced(
            ctx,
            &arrear.period,
            yuan(arrear.amount),
            Bi::new(
                format!("{} overdue", ctx.currency),
                format!("{}欠费", ctx.cur_zh()),
            ),
            ratio,
            Bi::new(
                format!(
                    "late fee on {} due {}: {}{cap}",
                    arrear.amount,
                    arrear.due_on,
                    how.join(" + ")
                ),
                format!(
                    "滞纳金：欠费 {} {}（{} 到期），{}{cap_zh}",
                    arrear.amount,
                    ctx.cur_zh(),
                    arrear.due_on,
                    how_zh.join(" + ")
                ),
            ),
        )
        .map(Some)
    }
}

/// How the days accrued, in English and in Chinese: all days at one rate, or the current
/// year's days and the earlier years' days each at its own rate when the rate has two.
fn days_explained(rate: &Rate, current_days: i64, earlier_days: i64) -> (Vec<String>, Vec<String>) {
    let all_days = current_days + earlier_days;
    let earlier_rate = rate.earlier_years_per_day.unwrap_or(rate.per_day);
    let mut how = Vec::new();
    let mut how_zh = Vec::new();
    if rate.earlier_years_per_day.is_none() {
        how.push(format!("{all_days} days × {}", per_mille(rate.per_day)));
        how_zh.push(format!("{all_days} 天 × 每日 {}", per_mille(rate.per_day)));
    } else {
        if current_days > 0 {
            how.push(format!("{current_days} days × {}", per_mille(rate.per_day)));
            how_zh.push(format!(
                "{current_days} 天 × 每日 {}",
                per_mille(rate.per_day)
            ));
        }
        if earlier_days > 0 {
            how.push(format!(
                "{earlier_days} days × {} (earlier-year arrears)",
                per_mille(earlier_rate)
            ));
            how_zh.push(format!(
                "{earlier_days} 天 × 每日 {}（往年欠费）",
                per_mille(earlier_rate)
            ));
        }
    }
    (how, how_zh)
}

impl LateFeePricing for LateFee {
    fn price_arrear(
        &self,
        ctx: Ctx<'_>,
        class: &str,
        arrear: &Arrear,
        as_of: NaiveDate,
    ) -> Result<Option<Piece>, QuoteError> {
        self.price(ctx, class, arrear, as_of)
    }

    fn minimum(&self) -> Option<Fen> {
        self.minimum
    }
}

/// `[rule.version.late_fee]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LateFeeFile {
    #[serde(default)]
    pub grace_days: u32,
    #[serde(default)]
    pub minimum: Option<Spanned<Yuan>>,
    #[serde(default)]
    pub max_ratio: Option<Spanned<Dec>>,
    #[serde(default)]
    pub rate: Vec<Spanned<RateFile>>,
}

/// A `[[…rate]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateFile {
    #[serde(default)]
    pub classes: Option<Spanned<Vec<String>>>,
    pub per_day: Spanned<Dec>,
    #[serde(default)]
    pub earlier_years_per_day: Option<Spanned<Dec>>,
}

impl ModelTable for LateFee {
    const NAME: &'static str = "late_fee";
    type File = LateFeeFile;

    /// At least one rate, each checked (every bad one reported); a minimum and a cap of zero
    /// or more.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<LateFeeFile>,
        declared: Option<&[String]>,
    ) -> Checked<LateFee> {
        let raw = file.get_ref();
        if raw.rate.is_empty() {
            return cx.fail(cx.err(
                &file.span(),
                "late_fee needs rate entries (per_day, optional classes)",
            ));
        }
        let before = cx.count();
        let mut rates: Vec<Rate> = Vec::new();
        for r in &raw.rate {
            if let Some(rate) = rate(cx, r, &rates, declared) {
                rates.push(rate);
            }
        }
        let minimum = cx.non_negative_fen_opt(&raw.minimum, "minimum");
        let max_ratio = cx.non_negative_opt(&raw.max_ratio, "max_ratio");
        if cx.count() != before {
            return None;
        }
        Some(LateFee {
            grace_days: raw.grace_days,
            minimum: minimum?,
            max_ratio: max_ratio?,
            rates,
        })
    }
}

/// One late-fee rate, against the good rates before it: one catch-all at most, and no
/// class with two rates.
fn rate(
    cx: &Checker<'_>,
    r: &Spanned<RateFile>,
    rates: &[Rate],
    declared: Option<&[String]>,
) -> Checked<Rate> {
    let r_span = r.span();
    let r = r.get_ref();
    let classes = match &r.classes {
        None if rates.iter().any(|seen| seen.classes.is_none()) => {
            return cx.fail(cx.err(
                &r_span,
                "two late-fee rates leave out classes; only one may be the catch-all",
            ))
        }
        None => None,
        Some(c) => {
            let named = cx.named_classes(c, declared, "")?;
            for class in &named {
                let taken = rates
                    .iter()
                    .any(|seen| seen.classes.as_ref().is_some_and(|cs| cs.contains(class)));
                if taken {
                    return cx.fail(
                        cx.err(&c.span(), format!("class {class:?} has two late-fee rates")),
                    );
                }
            }
            Some(named)
        }
    };
    let per_day = cx.non_negative(&r.per_day, "per_day");
    let earlier = cx.non_negative_opt(&r.earlier_years_per_day, "earlier_years_per_day");
    Some(Rate {
        classes,
        per_day: per_day?,
        earlier_years_per_day: earlier?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::adjustments::{minimum, MinimumOf};
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::ids::FeeKind;
    use posfee_schemas::money::Currency;
    use rust_decimal_macros::dec;

    const CTX: Ctx<'static> = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
        zh: &Zh::EMPTY,
    };

    /// The electricity supply rules: residential 1‰ a day; other customers 2‰ a day on the
    /// current year's arrears and 3‰ on earlier years'; a total below 1.00 is charged 1.00.
    fn electricity() -> LateFee {
        LateFee {
            grace_days: 0,
            minimum: Some(Fen::new(100)),
            max_ratio: None,
            rates: vec![
                Rate {
                    classes: Some(vec!["residential".into()]),
                    per_day: dec!(0.001),
                    earlier_years_per_day: None,
                },
                Rate {
                    classes: None,
                    per_day: dec!(0.002),
                    earlier_years_per_day: Some(dec!(0.003)),
                },
            ],
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn arrear(amount: i64, due: &str) -> Arrear {
        Arrear {
            kind: FeeKind::parse("electricity").unwrap(),
            period: "2026-01".into(),
            amount: Fen::new(amount),
            due_on: date(due),
        }
    }

    #[test]
    fn residential_pays_one_per_mille_a_day() {
        // 120.00 due 2026-02-15, paid 2026-03-02: Feb 16–28 (13 days) + Mar 1–2 (2) = 15 days.
        // 120.00 × 15 × 0.001 = 1.80 CNY.
        let p = electricity()
            .price(
                CTX,
                "residential",
                &arrear(12000, "2026-02-15"),
                date("2026-03-02"),
            )
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(180));
        assert_eq!(p.unit_price, dec!(0.015));
        assert_eq!(
            p.explanation.en,
            "late fee on 120.00 due 2026-02-15: 15 days × 1‰"
        );
        assert_eq!(
            p.explanation.zh,
            "滞纳金：欠费 120.00 元（2026-02-15 到期），15 天 × 每日 1‰"
        );
        assert_eq!(p.unit, Bi::new("CNY overdue", "元欠费"));
    }

    #[test]
    fn other_customers_pay_two_per_mille_on_current_year_arrears() {
        // Same 120.00 and 15 days, commercial: 120.00 × 15 × 0.002 = 3.60 CNY.
        let p = electricity()
            .price(
                CTX,
                "commercial",
                &arrear(12000, "2026-02-15"),
                date("2026-03-02"),
            )
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(360));
    }

    #[test]
    fn other_customers_pay_three_per_mille_once_the_arrears_are_from_an_earlier_year() {
        // 500.00 due 2025-12-20, paid 2026-01-10, commercial:
        // 2025-12-21..31 = 11 days × 2‰ = 0.022; 2026-01-01..10 = 10 days × 3‰ = 0.030.
        // 500.00 × 0.052 = 26.00 CNY (11.00 + 15.00).
        let p = electricity()
            .price(
                CTX,
                "commercial",
                &arrear(50000, "2025-12-20"),
                date("2026-01-10"),
            )
            .unwrap()
            .unwrap();
        assert_eq!(p.unit_price, dec!(0.052));
        assert_eq!(p.amount, Fen::new(2600));
        assert_eq!(
            p.explanation.zh,
            "滞纳金：欠费 500.00 元（2025-12-20 到期），11 天 × 每日 2‰ + 10 天 × 每日 3‰（往年欠费）"
        );
    }

    #[test]
    fn a_total_penalty_below_one_yuan_is_charged_one_yuan() {
        // Residential 50.00 due 2026-03-01, paid 2026-03-05: 4 days × 1‰ × 50.00 = 0.20;
        // below the 1.00 minimum, so a 0.80 line makes it 1.00.
        let lf = electricity();
        let p = lf
            .price(
                CTX,
                "residential",
                &arrear(5000, "2026-03-01"),
                date("2026-03-05"),
            )
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(20));
        let top = minimum(
            CTX,
            p.amount,
            lf.minimum.unwrap(),
            "2026-03-05",
            MinimumOf::LateFee,
        )
        .unwrap();
        assert_eq!(top.amount, Fen::new(80));
        assert_eq!(
            top.explanation.zh,
            "滞纳金 0.20 元低于最低收费 1.00 元，补足差额"
        );
    }

    #[test]
    fn nothing_accrues_on_or_before_the_due_date_or_inside_the_grace() {
        let mut lf = electricity();
        let a = arrear(12000, "2026-02-15");
        assert!(lf
            .price(CTX, "residential", &a, date("2026-02-15"))
            .unwrap()
            .is_none());
        lf.grace_days = 5;
        assert!(lf
            .price(CTX, "residential", &a, date("2026-02-20"))
            .unwrap()
            .is_none());
        // Day 6 after the due date is the first that accrues: 1 day × 1‰ × 120.00 = 0.12.
        let p = lf
            .price(CTX, "residential", &a, date("2026-02-21"))
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(12));
    }

    #[test]
    fn the_cap_limits_a_penalty_to_a_fraction_of_the_arrears() {
        // 100.00 overdue 400 days at 3‰ would be 120 %; capped at 30 %: 30.00 CNY.
        let mut lf = electricity();
        lf.max_ratio = Some(dec!(0.3));
        let p = lf
            .price(
                CTX,
                "commercial",
                &arrear(10000, "2024-01-31"),
                date("2025-03-06"),
            )
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(3000));
        assert!(p.explanation.en.contains("capped"));
        // 2024-02-01..2024-12-31 = 335 days × 2‰, 2025-01-01..2025-03-06 = 65 days × 3‰.
        assert_eq!(
            p.explanation.zh,
            "滞纳金：欠费 100.00 元（2024-01-31 到期），335 天 × 每日 2‰ + 65 天 × 每日 3‰（往年欠费），以欠费的 300‰ 为上限"
        );
    }
}
