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
//!
//! # Rule file
//! `[rule.version.tiered]` with `unit`, `cumulation` (`month` or `year`), optional
//! `components`, `[[…tier]]` entries `{ from, to?, price }` (or `prices`, one per component)
//! and `[[…season]]` entries `{ name, months, tier }`. Metered, from the meter's one register.

use super::{Bi, Ctx, MeteredPricing, ModelTable, Piece};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::readings::MeterReads;
use crate::values::{Dec, YearMonth};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;
use toml::Spanned;

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

impl MeteredPricing for Tiered {
    /// The meter's one register.
    fn registers(&self) -> Vec<Option<String>> {
        vec![None]
    }

    /// The month's usage, counted from where the year to date stood under yearly cumulation.
    fn price_month(
        &self,
        ctx: Ctx<'_>,
        reads: &mut MeterReads<'_>,
        month: YearMonth,
    ) -> Result<Vec<Piece>, QuoteError> {
        let period = month.to_string();
        let reg = reads.register(None)?;
        let usage = reg.usage(month)?;
        let before = match self.cumulation {
            Cumulation::Month => Decimal::ZERO,
            Cumulation::Year => reg.year_to_date_before(month)?,
        };
        self.price(ctx, &period, month.month(), before, usage)
    }
}

/// `cumulation` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CumulationFile {
    Month,
    Year,
}

/// `[rule.version.tiered]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TieredFile {
    pub unit: String,
    pub cumulation: CumulationFile,
    #[serde(default)]
    pub components: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub tier: Vec<Spanned<TierFile>>,
    #[serde(default)]
    pub season: Vec<Spanned<SeasonFile>>,
}

/// A `[[…tier]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TierFile {
    pub from: Spanned<Dec>,
    #[serde(default)]
    pub to: Option<Spanned<Dec>>,
    #[serde(default)]
    pub price: Option<Spanned<Dec>>,
    #[serde(default)]
    pub prices: Option<Spanned<Vec<Spanned<Dec>>>>,
}

/// A `[[…season]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeasonFile {
    pub name: String,
    pub months: Spanned<Vec<Spanned<u32>>>,
    #[serde(default)]
    pub tier: Vec<Spanned<TierFile>>,
}

impl ModelTable for Tiered {
    const NAME: &'static str = "tiered";
    type File = TieredFile;

    /// Distinct components, tiers that start at 0 and meet without gap or overlap, and
    /// seasons (monthly cumulation only) that share no month.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<TieredFile>,
        _declared: Option<&[String]>,
    ) -> Checked<Tiered> {
        let span = file.span();
        let raw = file.get_ref();
        let components = match &raw.components {
            None => Vec::new(),
            Some(c) => {
                let list = c.get_ref();
                let unique: BTreeSet<&String> = list.iter().collect();
                if list.is_empty() || unique.len() != list.len() {
                    return cx.fail(cx.err(
                        &c.span(),
                        "components must be a non-empty list of distinct names",
                    ));
                }
                list.clone()
            }
        };
        let tiers = tiers(cx, &raw.tier, &components, &span)?;
        let cumulation = match raw.cumulation {
            CumulationFile::Month => Cumulation::Month,
            CumulationFile::Year => Cumulation::Year,
        };
        let seasons = seasons(cx, &raw.season, cumulation, &components)?;
        Some(Tiered {
            unit: raw.unit.clone(),
            cumulation,
            components,
            tiers,
            seasons,
        })
    }

    /// The unit, the components and the season names.
    fn words(file: &TieredFile) -> Vec<&str> {
        let mut words = vec![file.unit.as_str()];
        if let Some(c) = &file.components {
            words.extend(c.get_ref().iter().map(String::as_str));
        }
        words.extend(file.season.iter().map(|s| s.get_ref().name.as_str()));
        words
    }
}

/// The seasons in file order; the first mistake stops the check.
fn seasons(
    cx: &Checker<'_>,
    raw: &[Spanned<SeasonFile>],
    cumulation: Cumulation,
    components: &[String],
) -> Checked<Vec<Season>> {
    let mut seasons: Vec<Season> = Vec::new();
    for s in raw {
        let s_span = s.span();
        if cumulation == Cumulation::Year {
            return cx.fail(cx.err(
                &s_span,
                "seasonal tier bounds need monthly cumulation: a year-to-date count cannot change bounds mid-year",
            ));
        }
        let s = s.get_ref();
        if seasons.iter().any(|seen| seen.name == s.name) {
            return cx.fail(cx.err(&s_span, format!("season {:?} is defined twice", s.name)));
        }
        let months = season_months(cx, &s.months, &seasons)?;
        let tiers = tiers(cx, &s.tier, components, &s_span)?;
        seasons.push(Season {
            name: s.name.clone(),
            months,
            tiers,
        });
    }
    Some(seasons)
}

/// A season's months: at least one, each 1–12 and in no other season (of `seasons`, the
/// ones before it) nor twice in this one.
fn season_months(
    cx: &Checker<'_>,
    raw: &Spanned<Vec<Spanned<u32>>>,
    seasons: &[Season],
) -> Checked<Vec<u32>> {
    if raw.get_ref().is_empty() {
        return cx.fail(cx.err(&raw.span(), "a season needs at least one month"));
    }
    let mut months = Vec::new();
    for m in raw.get_ref() {
        let month = *m.get_ref();
        if !(1..=12).contains(&month) {
            return cx.fail(cx.err(&m.span(), format!("month {month} is not 1–12")));
        }
        if months.contains(&month) || seasons.iter().any(|seen| seen.months.contains(&month)) {
            return cx.fail(cx.err(&m.span(), format!("month {month} is in two seasons")));
        }
        months.push(month);
    }
    Some(months)
}

/// Tiers must start at 0, meet end to start with no gap or overlap, and end open.
fn tiers(
    cx: &Checker<'_>,
    raw: &[Spanned<TierFile>],
    components: &[String],
    table: &Range<usize>,
) -> Checked<Vec<Tier>> {
    if raw.is_empty() {
        return cx.fail(cx.err(
            table,
            "no tiers: add tier entries with from, to and a price",
        ));
    }
    let before = cx.count();
    let tiers: Vec<Tier> = (0..raw.len())
        .filter_map(|i| tier(cx, raw, i, components))
        .collect();
    (cx.count() == before).then_some(tiers)
}

/// Tier `i` of `raw`, checked against the bounds written on the tier before it (not
/// against what was accepted of it), so one bad tier does not make its neighbours look bad.
fn tier(
    cx: &Checker<'_>,
    raw: &[Spanned<TierFile>],
    i: usize,
    components: &[String],
) -> Checked<Tier> {
    let last = raw.len() - 1;
    let t_span = raw[i].span();
    let t = raw[i].get_ref();
    let from = cx.non_negative(&t.from, "tier start")?;
    let to =
        match &t.to {
            Some(to) => {
                let v = to.get_ref().0;
                if v <= from {
                    return cx.fail(cx.err(
                        &to.span(),
                        format!("tier ends at {v}, which is not above its start {from}"),
                    ));
                }
                Some(v)
            }
            None if i != last => return cx.fail(cx.err(
                &t_span,
                "only the last tier may be open-ended (no `to`); this one is followed by another",
            )),
            None => None,
        };
    let prev_to = match i {
        0 => Some(Decimal::ZERO),
        _ => raw[i - 1].get_ref().to.as_ref().map(|p| p.get_ref().0),
    };
    tier_start(cx, t, i, from, prev_to)?;
    if i == last && to.is_some() {
        return cx.fail(cx.err(
            &t_span,
            "the last tier must be open-ended (leave out `to`) so all usage has a price",
        ));
    }
    let prices = tier_prices(cx, t, components, &t_span)?;
    Some(Tier { from, to, prices })
}

/// Tier `i` starts where the one before it ends (`prev_to`; the first at 0). `None` for
/// `prev_to` is an open tier before this one, which is reported there.
fn tier_start(
    cx: &Checker<'_>,
    t: &TierFile,
    i: usize,
    from: Decimal,
    prev_to: Option<Decimal>,
) -> Checked<()> {
    match prev_to {
        Some(_) if i == 0 && !from.is_zero() => cx.fail(cx.err(
            &t.from.span(),
            format!("the first tier must start at 0, not {from}"),
        )),
        Some(prev_to) if from > prev_to => cx.fail(cx.err(
            &t.from.span(),
            format!(
                "gap between tiers: the previous tier ends at {prev_to} and this one starts at {from}; \
                 a tier covers (from, to], so start this one at {prev_to}"
            ),
        )),
        Some(prev_to) if from < prev_to => cx.fail(cx.err(
            &t.from.span(),
            format!(
                "overlapping tiers: the previous tier ends at {prev_to} and this one starts at {from}"
            ),
        )),
        _ => Some(()),
    }
}

/// A tier's prices: one `price` without components, else `prices`, one per component.
fn tier_prices(
    cx: &Checker<'_>,
    t: &TierFile,
    components: &[String],
    span: &Range<usize>,
) -> Checked<Vec<Decimal>> {
    match (&t.price, &t.prices, components.is_empty()) {
        (Some(p), None, true) => Some(vec![cx.non_negative(p, "price")?]),
        (None, Some(ps), false) => {
            if ps.get_ref().len() != components.len() {
                return cx.fail(cx.err(
                    &ps.span(),
                    format!(
                        "{} prices for {} components ({})",
                        ps.get_ref().len(),
                        components.len(),
                        components.join(", ")
                    ),
                ));
            }
            ps.get_ref()
                .iter()
                .map(|p| cx.non_negative(p, "price"))
                .collect()
        }
        (_, _, true) => cx.fail(cx.err(
            span,
            "a tier needs one `price` (no components are declared)",
        )),
        (_, _, false) => cx.fail(cx.err(
            span,
            format!(
                "a tier needs `prices`, one per component ({})",
                components.join(", ")
            ),
        )),
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
