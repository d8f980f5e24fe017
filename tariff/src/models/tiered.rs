//! Models 3 and 4: step (tiered) prices by usage, with optional seasonal tier bounds.
//!
//! Tier bounds count usage over a *cumulation period*: each month on its own, or the calendar
//! year to date, in which case a month's usage is priced from where the year's cumulative
//! consumption stood when the month began. A tier covers usage in `(from, to]`, so Beijing's
//! "0–180 m³, 181–260 m³, above 260 m³" is written `0..180, 180..260, 260..`.
//!
//! A tier's price may be a sum of named components (water fee + water-resource fee +
//! sewage-treatment fee); each component is its own line.
//!
//! # Rounding under tiers
//! A line for a slice of tier `t` covering cumulative positions `start..end` costs
//! `round(p × (end − from_t)) − round(p × (start − from_t))`: the tier's running charge is
//! rounded at the slice's ends, not the slice itself. For monthly cumulation (and whenever a
//! slice starts at its tier's bottom) this is exactly `round(quantity × unit price)`. Under
//! year-to-date tiers it makes the months of a year add up, fen for fen, to the year priced at
//! once, so splitting a year into monthly bills never gains or loses a fen; a single month's
//! line may then differ from `round(quantity × unit price)` by at most one fen.

use super::{Bi, Ctx, Piece};
use crate::error::QuoteError;
use rust_decimal::Decimal;

/// The period tier bounds are counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cumulation {
    /// Bounds restart every month.
    Month,
    /// Bounds count the calendar year to date.
    Year,
}

/// Usage in `(from, to]` is priced at `prices` (one price per component, summed to the
/// tier price). `to == None` is the open top tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub from: Decimal,
    pub to: Option<Decimal>,
    pub prices: Vec<Decimal>,
}

impl Tier {
    /// The tier price: the sum of its components.
    pub fn price(&self) -> Result<Decimal, QuoteError> {
        self.prices
            .iter()
            .try_fold(Decimal::ZERO, |acc, p| acc.checked_add(*p))
            .ok_or(QuoteError::Overflow)
    }
}

/// Tier bounds that replace the regular ones in some months (e.g. summer, months 5–10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Season {
    pub name: String,
    pub months: Vec<u32>,
    pub tiers: Vec<Tier>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiered {
    pub unit: String,
    pub cumulation: Cumulation,
    /// Names of the price components, in display order; empty means one unnamed price.
    pub components: Vec<String>,
    /// The tiers outside every season.
    pub tiers: Vec<Tier>,
    pub seasons: Vec<Season>,
}

/// The part of one period's usage that falls in one tier, as positions in the cumulation
/// period (so `end − start` is the quantity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub tier: usize,
    pub start: Decimal,
    pub end: Decimal,
}

/// Cuts usage `before..before + usage` at the tier bounds.
pub fn slices(tiers: &[Tier], before: Decimal, usage: Decimal) -> Result<Vec<Slice>, QuoteError> {
    let end = before.checked_add(usage).ok_or(QuoteError::Overflow)?;
    Ok(tiers
        .iter()
        .enumerate()
        .filter_map(|(tier, t)| {
            let start = before.max(t.from);
            let stop = t.to.map_or(end, |to| end.min(to));
            (stop > start).then_some(Slice {
                tier,
                start,
                end: stop,
            })
        })
        .collect())
}

impl Tiered {
    /// The tiers in force in `month` (1–12), and the season's name if one applies.
    pub fn tiers_for(&self, month: u32) -> (&[Tier], Option<&str>) {
        self.seasons
            .iter()
            .find(|s| s.months.contains(&month))
            .map_or((&self.tiers[..], None), |s| {
                (&s.tiers[..], Some(s.name.as_str()))
            })
    }

    /// One month's usage, `before` being the cumulative usage already counted in this
    /// cumulation period (always 0 for monthly cumulation).
    pub(crate) fn price(
        &self,
        ctx: Ctx<'_>,
        period: &str,
        month: u32,
        before: Decimal,
        usage: Decimal,
    ) -> Result<Vec<Piece>, QuoteError> {
        let (tiers, season) = self.tiers_for(month);
        let cut = slices(tiers, before, usage)?;
        if cut.is_empty() {
            let first_price = tiers.first().map_or(Ok(Decimal::ZERO), Tier::price)?;
            return Ok(vec![Piece::priced(
                ctx,
                period,
                Decimal::ZERO,
                Bi::new(self.unit.clone(), ctx.word(&self.unit)),
                first_price,
                Bi::new("meter read, no usage", "已抄表，本期无用量"),
            )?]);
        }
        let mut pieces = Vec::new();
        for slice in cut {
            let Some(tier) = tiers.get(slice.tier) else {
                continue;
            };
            for (i, price) in tier.prices.iter().enumerate() {
                pieces.push(self.slice_piece(ctx, period, season, slice, tier, i, *price)?);
            }
        }
        Ok(pieces)
    }

    #[allow(clippy::too_many_arguments)]
    fn slice_piece(
        &self,
        ctx: Ctx<'_>,
        period: &str,
        season: Option<&str>,
        slice: Slice,
        tier: &Tier,
        component: usize,
        price: Decimal,
    ) -> Result<Piece, QuoteError> {
        let running = |pos: Decimal| {
            pos.checked_sub(tier.from)
                .and_then(|q| q.checked_mul(price))
                .ok_or(QuoteError::Overflow)
                .and_then(|exact| ctx.rounding.to_fen(exact))
        };
        let amount = running(slice.end)?
            .checked_sub(running(slice.start)?)
            .map_err(|_| QuoteError::Overflow)?;
        let quantity = slice.end - slice.start;
        let n = slice.tier + 1;
        let unit = &self.unit;
        let unit_zh = ctx.word(unit);
        let component = self.components.get(component);
        let name = component.map(|c| format!("{c}, ")).unwrap_or_default();
        let name_zh = component
            .map(|c| format!("{}，", ctx.word(c)))
            .unwrap_or_default();
        let (bounds, bounds_zh) = match tier.to {
            Some(to) => (
                format!("{}–{to} {unit}", tier.from),
                format!("{}–{to} {unit_zh}", tier.from),
            ),
            None => (
                format!("above {} {unit}", tier.from),
                format!("{} {unit_zh} 以上", tier.from),
            ),
        };
        let (per, per_zh) = match self.cumulation {
            Cumulation::Month => ("a month", "每月"),
            Cumulation::Year => ("a year", "每年"),
        };
        let season_en = season.map(|s| format!(", {s}")).unwrap_or_default();
        let season_zh = season
            .map(|s| format!("，{}", ctx.word(s)))
            .unwrap_or_default();
        let (start, end) = (slice.start.normalize(), slice.end.normalize());
        let (ytd, ytd_zh) = match self.cumulation {
            Cumulation::Month => (String::new(), String::new()),
            Cumulation::Year => (
                format!(" (year to date {start} → {end})"),
                format!("（年累计 {start} → {end}）"),
            ),
        };
        Ok(Piece {
            period: period.to_string(),
            quantity,
            unit: Bi::new(unit.clone(), unit_zh),
            unit_price: price,
            amount,
            explanation: Bi::new(
                format!(
                    "{name}tier {n} ({bounds} {per}{season_en}): {quantity} {unit} × {price}{ytd}"
                ),
                format!(
                    "{name_zh}第 {n} 档（{per_zh} {bounds_zh}{season_zh}）：{quantity} {unit_zh} × {price}{ytd_zh}"
                ),
            ),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// Beijing residential tap water, per household per year: each tier price is the water
    /// fee + water-resource fee 1.57 + sewage-treatment fee 1.36.
    pub(crate) fn beijing_water() -> Tiered {
        let tier = |from, to, water| Tier {
            from,
            to,
            prices: vec![water, dec!(1.57), dec!(1.36)],
        };
        Tiered {
            unit: "m³".into(),
            cumulation: Cumulation::Year,
            components: vec![
                "water fee".into(),
                "water-resource fee".into(),
                "sewage-treatment fee".into(),
            ],
            tiers: vec![
                tier(dec!(0), Some(dec!(180)), dec!(2.07)),
                tier(dec!(180), Some(dec!(260)), dec!(4.07)),
                tier(dec!(260), None, dec!(6.07)),
            ],
            seasons: vec![],
        }
    }

    fn total(pieces: &[Piece]) -> Fen {
        Fen::sum(pieces.iter().map(|p| p.amount)).unwrap()
    }

    #[test]
    fn beijing_200_cubic_metres_in_a_year_cost_1040_yuan_in_six_component_lines() {
        // 180 × 5.00 + 20 × 7.00 = 900.00 + 140.00 = 1040.00 CNY, split by component:
        //   tier 1: 180 × 2.07 = 372.60, 180 × 1.57 = 282.60, 180 × 1.36 = 244.80 (= 900.00)
        //   tier 2:  20 × 4.07 =  81.40,  20 × 1.57 =  31.40,  20 × 1.36 =  27.20 (= 140.00)
        let pieces = beijing_water()
            .price(CTX, "2026", 1, dec!(0), dec!(200))
            .unwrap();
        let amounts: Vec<i64> = pieces.iter().map(|p| p.amount.get()).collect();
        assert_eq!(amounts, [37260, 28260, 24480, 8140, 3140, 2720]);
        assert_eq!(total(&pieces), Fen::new(104000));
        assert_eq!(pieces[3].quantity, dec!(20));
        assert_eq!(pieces[3].unit_price, dec!(4.07));
        assert!(pieces[3]
            .explanation
            .en
            .starts_with("water fee, tier 2 (180–260 m³ a year)"));
    }

    #[test]
    fn above_260_the_third_tier_costs_9_yuan() {
        // 300 m³: 180 × 5 + 80 × 7 + 40 × 9 = 900 + 560 + 360 = 1820.00 CNY.
        let pieces = beijing_water()
            .price(CTX, "2026", 1, dec!(0), dec!(300))
            .unwrap();
        assert_eq!(total(&pieces), Fen::new(182000));
    }

    #[test]
    fn a_month_is_priced_from_where_the_year_to_date_stands() {
        // 170 m³ already used this year; 30 m³ this month: 10 at 5.00 + 20 at 7.00 = 190.00.
        let pieces = beijing_water()
            .price(CTX, "2026-09", 9, dec!(170), dec!(30))
            .unwrap();
        assert_eq!(total(&pieces), Fen::new(19000));
        assert_eq!(pieces[0].quantity, dec!(10));
        assert_eq!(pieces[3].quantity, dec!(20));
    }

    #[test]
    fn ytd_lines_round_the_running_charge_so_months_add_up() {
        // Two months of 0.003 m³ in tier 1, water fee 2.07: the year's 0.006 m³ cost
        // 0.01242 → 0.01. Month 1: round(0.00621) − 0 = 0.01; month 2:
        // round(0.01242) − round(0.00621) = 0.01 − 0.01 = 0.00. Sum 0.01 = the year at once.
        let t = beijing_water();
        let m1 = t.price(CTX, "2026-01", 1, dec!(0), dec!(0.003)).unwrap();
        let m2 = t
            .price(CTX, "2026-02", 2, dec!(0.003), dec!(0.003))
            .unwrap();
        assert_eq!(m1[0].amount, Fen::new(1));
        assert_eq!(m2[0].amount, Fen::new(0));
        let year = t.price(CTX, "2026", 1, dec!(0), dec!(0.006)).unwrap();
        assert_eq!(year[0].amount, Fen::new(1));
    }

    #[test]
    fn slices_cut_usage_at_the_bounds() {
        let t = beijing_water();
        let s = slices(&t.tiers, dec!(150), dec!(200)).unwrap();
        assert_eq!(
            s,
            vec![
                Slice {
                    tier: 0,
                    start: dec!(150),
                    end: dec!(180)
                },
                Slice {
                    tier: 1,
                    start: dec!(180),
                    end: dec!(260)
                },
                Slice {
                    tier: 2,
                    start: dec!(260),
                    end: dec!(350)
                },
            ]
        );
    }

    #[test]
    fn seasonal_months_use_the_wider_summer_tiers() {
        // Monthly electricity: 0–180 kWh at 0.50, above at 0.60; summer (5–10): 0–260 at 0.50.
        // 250 kWh in July: 250 × 0.50 = 125.00. In March: 180 × 0.50 + 70 × 0.60 = 132.00.
        let tiers = |top| {
            vec![
                Tier {
                    from: dec!(0),
                    to: Some(top),
                    prices: vec![dec!(0.50)],
                },
                Tier {
                    from: top,
                    to: None,
                    prices: vec![dec!(0.60)],
                },
            ]
        };
        let t = Tiered {
            unit: "kWh".into(),
            cumulation: Cumulation::Month,
            components: vec![],
            tiers: tiers(dec!(180)),
            seasons: vec![Season {
                name: "summer".into(),
                months: vec![5, 6, 7, 8, 9, 10],
                tiers: tiers(dec!(260)),
            }],
        };
        assert_eq!(
            total(&t.price(CTX, "2026-07", 7, dec!(0), dec!(250)).unwrap()),
            Fen::new(12500)
        );
        assert_eq!(
            total(&t.price(CTX, "2026-03", 3, dec!(0), dec!(250)).unwrap()),
            Fen::new(13200)
        );
    }

    fn glossary(words: &[(&str, &str)]) -> Zh {
        Zh {
            name: None,
            words: words
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn year_to_date_lines_explain_component_tier_and_year_in_chinese() {
        // 170 m³ used this year, 30 m³ this month: 10 m³ fill tier 1 (170 → 180), 20 m³ go
        // to tier 2 (180 → 200). The water fee lines: 10 × 2.07 = 20.70, 20 × 4.07 = 81.40.
        let zh = glossary(&[("water fee", "水费"), ("water-resource fee", "水资源费")]);
        let ctx = Ctx { zh: &zh, ..CTX };
        let pieces = beijing_water()
            .price(ctx, "2026-09", 9, dec!(170), dec!(30))
            .unwrap();
        assert_eq!(pieces[0].amount, Fen::new(2070));
        assert_eq!(
            pieces[0].explanation.zh,
            "水费，第 1 档（每年 0–180 m³）：10 m³ × 2.07（年累计 170 → 180）"
        );
        assert_eq!(
            pieces[0].explanation.en,
            "water fee, tier 1 (0–180 m³ a year): 10 m³ × 2.07 (year to date 170 → 180)"
        );
        assert_eq!(pieces[3].amount, Fen::new(8140));
        assert_eq!(
            pieces[3].explanation.zh,
            "水费，第 2 档（每年 180–260 m³）：20 m³ × 4.07（年累计 180 → 200）"
        );
        assert_eq!(
            pieces[4].explanation.zh,
            "水资源费，第 2 档（每年 180–260 m³）：20 m³ × 1.57（年累计 180 → 200）"
        );
        // A component the glossary leaves out is shown as the file writes it.
        assert!(pieces[5]
            .explanation
            .zh
            .starts_with("sewage-treatment fee，第 2 档"));
        // Above the last bound: 300 m³ at once reach tier 3, "260 m³ 以上".
        let top = beijing_water()
            .price(ctx, "2026", 1, dec!(0), dec!(300))
            .unwrap();
        assert_eq!(
            top[6].explanation.zh,
            "水费，第 3 档（每年 260 m³ 以上）：40 m³ × 6.07（年累计 260 → 300）"
        );
    }

    #[test]
    fn monthly_seasonal_lines_name_the_season_and_the_unit_in_chinese() {
        // Summer July, 300 kWh: 260 × 0.50 = 130.00 and 40 × 0.60 = 24.00.
        let zh = glossary(&[("summer", "夏季"), ("kWh", "千瓦时")]);
        let ctx = Ctx { zh: &zh, ..CTX };
        let tier = |from, to, price| Tier {
            from,
            to,
            prices: vec![price],
        };
        let t = Tiered {
            unit: "kWh".into(),
            cumulation: Cumulation::Month,
            components: vec![],
            tiers: vec![tier(dec!(0), Some(dec!(180)), dec!(0.50))],
            seasons: vec![Season {
                name: "summer".into(),
                months: vec![7],
                tiers: vec![
                    tier(dec!(0), Some(dec!(260)), dec!(0.50)),
                    tier(dec!(260), None, dec!(0.60)),
                ],
            }],
        };
        let p = t.price(ctx, "2026-07", 7, dec!(0), dec!(300)).unwrap();
        assert_eq!(p[1].amount, Fen::new(2400));
        assert_eq!(p[0].unit, Bi::new("kWh", "千瓦时"));
        assert_eq!(
            p[0].explanation.zh,
            "第 1 档（每月 0–260 千瓦时，夏季）：260 千瓦时 × 0.50"
        );
        assert_eq!(
            p[1].explanation.zh,
            "第 2 档（每月 260 千瓦时 以上，夏季）：40 千瓦时 × 0.60"
        );
        assert_eq!(
            p[1].explanation.en,
            "tier 2 (above 260 kWh a month, summer): 40 kWh × 0.60"
        );
        let none = t.price(ctx, "2026-02", 2, dec!(0), dec!(0)).unwrap();
        assert_eq!(none[0].explanation.zh, "已抄表，本期无用量");
    }

    #[test]
    fn no_usage_is_one_zero_line() {
        let pieces = beijing_water()
            .price(CTX, "2026-02", 2, dec!(5), dec!(0))
            .unwrap();
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].amount, Fen::new(0));
    }
}
