//! Properties that must hold for any facts, against the shipped rule files and every
//! rounding mode.

// Test helpers may unwrap: a panic there is a failed test, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use posfee_tariff::{
    parse_rule_file, quote, AccountFacts, Arrear, Fen, Quote, QuoteError, QuoteOptions, Reading,
    Tenant, YearMonth,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A shipped tenant with its rounding mode replaced.
fn tenant(file: &str, rounding: &str) -> Tenant {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../services/fee-engine/rules")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap().replace(
        "rounding = \"half_up\"",
        &format!("rounding = \"{rounding}\""),
    );
    parse_rule_file(file, &text).unwrap()
}

fn rounding() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("half_up"), Just("half_even"), Just("down")]
}

/// Usage with up to three decimals, 0 to `max` whole units.
fn usage(max: i64) -> impl Strategy<Value = Decimal> {
    (0..=max * 1000).prop_map(|n| Decimal::new(n, 3))
}

fn kind(s: &str) -> FeeKind {
    FeeKind::parse(s).unwrap()
}

fn ym(year: i32, month: u32) -> YearMonth {
    YearMonth::new(year, month).unwrap()
}

fn facts(tenant: &str, class: &str) -> AccountFacts {
    AccountFacts {
        tenant: TenantId::parse(tenant).unwrap(),
        account: AccountNo::parse("P-1").unwrap(),
        class: class.into(),
        attributes: BTreeMap::new(),
        meters: BTreeMap::new(),
        readings: vec![],
        paid_through: BTreeMap::new(),
        arrears: vec![],
    }
}

fn read(on: NaiveDate, value: Decimal) -> Reading {
    Reading {
        meter: "M".into(),
        register: None,
        read_on: on,
        value,
    }
}

/// `yuan` in fen, rounded to a whole fen the way the tariff's `rounding` names, worked out
/// here from the digits rather than with the engine's rounding.
fn fen_rounded(yuan: Decimal, rounding: &str) -> i64 {
    let fen = yuan * Decimal::ONE_HUNDRED;
    let whole = fen.trunc();
    let rest = (fen - whole).abs();
    let away = whole
        + if fen.is_sign_negative() {
            -Decimal::ONE
        } else {
            Decimal::ONE
        };
    let half = Decimal::new(5, 1);
    let rounded = match rounding {
        "down" => whole,
        "half_up" if rest >= half => away,
        "half_even" if rest > half || (rest == half && whole % Decimal::TWO != Decimal::ZERO) => {
            away
        }
        "half_up" | "half_even" => whole,
        other => panic!("no rounding {other}"),
    };
    i64::try_from(rounded).unwrap()
}

/// What a quote must add up to, recomputed from its lines: each line is its quantity times
/// its unit price rounded once in the tenant's mode (an arrear or a made-up minimum is one
/// `bill` at its amount, a free month is priced at zero), and the total is their sum.
fn check_lines_and_total(q: &Quote, rounding: &str) -> Result<(), TestCaseError> {
    let mut total = 0i64;
    for l in &q.lines {
        let expected = fen_rounded(l.quantity * l.unit_price, rounding);
        prop_assert_eq!(l.amount, Fen::new(expected), "line {:?}", l);
        total += expected;
    }
    prop_assert_eq!(q.total, Fen::new(total));
    prop_assert!(
        total > 0,
        "a quote of {} was not refused as nothing owed",
        total
    );
    Ok(())
}

/// A metered account of `kind` with a reading at the end of each month in `monthly`
/// (usage per month from January of `year`), starting from 0 on 31 December before.
fn metered(
    tenant_id: &str,
    class: &str,
    kind_id: &str,
    year: i32,
    monthly: &[Decimal],
) -> AccountFacts {
    let mut f = facts(tenant_id, class);
    f.meters.insert(kind(kind_id), "M".into());
    f.paid_through.insert(kind(kind_id), ym(year - 1, 12));
    let mut value = Decimal::ZERO;
    f.readings
        .push(read(ym(year - 1, 12).last_day().unwrap(), value));
    for (i, u) in monthly.iter().enumerate() {
        value += u;
        let month = ym(year, i as u32 + 1);
        f.readings.push(read(month.last_day().unwrap(), value));
    }
    f
}

/// The total, or zero when nothing is owed (zero usage).
fn total(t: &Tenant, f: &AccountFacts, as_of: NaiveDate) -> Fen {
    match quote(t, f, &QuoteOptions::owed_on(as_of)) {
        Ok(q) => q.total,
        Err(QuoteError::NothingOwed) => Fen::ZERO,
        Err(e) => panic!("{e}"),
    }
}

/// Totals per tier and price component ("water fee, tier 2 (180–260 m³ a year)").
fn by_component(q: &Quote) -> BTreeMap<String, Fen> {
    let mut m: BTreeMap<String, Fen> = BTreeMap::new();
    for l in &q.lines {
        let name = l.explanation.split(':').next().unwrap().to_string();
        let e = m.entry(name).or_default();
        *e = e.checked_add(l.amount).unwrap();
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Property fee, parking, prepayment, arrears and late fees: every line is its quantity
    /// times its unit price rounded once in the tenant's mode, the total is the sum of those,
    /// and a quote either prices or says why — it never panics.
    #[test]
    fn lines_are_rounded_once_and_add_up_for_property_accounts(
        rounding in rounding(),
        area in 1i64..=100_000,
        building in prop_oneof![Just("A"), Just("B"), Just("C"), Just("villa")],
        property_behind in 0u32..30,
        parking_behind in 0u32..30,
        prepay in proptest::option::of(0u32..40),
        arrears in proptest::collection::vec((1i64..1_000_000, 0u64..900), 0..4),
    ) {
        let t = tenant("acme-property.toml", rounding);
        let as_of: NaiveDate = "2026-03-05".parse().unwrap();
        let mut f = facts("acme-property", "residential");
        f.attributes.insert("area_m2".into(), Decimal::new(area, 2).to_string());
        f.attributes.insert("building".into(), building.into());
        let behind = |n: u32| (0..n).fold(ym(2026, 3), |m, _| m.prev().unwrap());
        f.paid_through.insert(kind("property"), behind(property_behind));
        f.paid_through.insert(kind("parking"), behind(parking_behind));
        f.arrears = arrears
            .iter()
            .map(|(amount, days)| Arrear {
                kind: kind("property"),
                period: "old".into(),
                amount: Fen::new(*amount),
                due_on: as_of - chrono::Days::new(*days),
            })
            .collect();
        let opts = QuoteOptions { prepay_months: prepay, ..QuoteOptions::owed_on(as_of) };
        match quote(&t, &f, &opts) {
            Ok(q) => check_lines_and_total(&q, rounding)?,
            Err(QuoteError::NothingOwed | QuoteError::PrepayTooShort { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// Electricity with seasonal tiers, a tariff change and arrears of both ages: the same.
    #[test]
    fn lines_are_rounded_once_and_add_up_for_power_accounts(
        rounding in rounding(),
        commercial_arrears in any::<bool>(),
        monthly in proptest::collection::vec(usage(900), 1..12),
        arrears in proptest::collection::vec((1i64..1_000_000, 0u64..900), 0..4),
    ) {
        let t = tenant("city-power.toml", rounding);
        let as_of: NaiveDate = "2026-12-31".parse().unwrap();
        let mut f = metered("city-power", "residential", "electricity", 2026, &monthly);
        if commercial_arrears {
            f.class = "industrial".into();
            f.meters.clear();
        }
        f.arrears = arrears
            .iter()
            .map(|(amount, days)| Arrear {
                kind: kind("electricity"),
                period: "old".into(),
                amount: Fen::new(*amount),
                due_on: as_of - chrono::Days::new(*days),
            })
            .collect();
        match quote(&t, &f, &QuoteOptions::owed_on(as_of)) {
            Ok(q) => check_lines_and_total(&q, rounding)?,
            Err(QuoteError::NothingOwed) => {}
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// More water in a month never costs less, wherever the year to date stands.
    #[test]
    fn water_charge_never_falls_when_usage_rises(
        rounding in rounding(),
        month in 2u32..=12,
        before in usage(400),
        used in usage(150),
        more in usage(150),
    ) {
        let t = tenant("city-water.toml", rounding);
        let bill = |u: Decimal| {
            let mut monthly = vec![Decimal::ZERO; month as usize];
            monthly[month as usize - 2] = before;
            monthly[month as usize - 1] = u;
            let mut f = metered("city-water", "residential", "water", 2026, &monthly);
            f.paid_through.insert(kind("water"), ym(2026, month - 1));
            total(&t, &f, "2027-01-05".parse().unwrap())
        };
        let higher = used + more;
        let (at_used, at_higher) = (bill(used), bill(higher));
        prop_assert!(at_higher >= at_used, "{} at {} but {} at {}", at_used, used, at_higher, higher);
    }

    /// More electricity in a month never costs less, in or out of summer.
    #[test]
    fn electricity_charge_never_falls_when_usage_rises(
        rounding in rounding(),
        month in 1u32..=12,
        used in usage(1500),
        more in usage(500),
    ) {
        let t = tenant("city-power.toml", rounding);
        let bill = |u: Decimal| {
            let mut monthly = vec![Decimal::ZERO; month as usize];
            monthly[month as usize - 1] = u;
            let mut f = metered("city-power", "residential", "electricity", 2026, &monthly);
            f.paid_through.insert(kind("electricity"), ym(2026, month).prev().unwrap());
            total(&t, &f, "2027-01-05".parse().unwrap())
        };
        prop_assert!(bill(used + more) >= bill(used));
    }

    /// Under year-to-date tiers, a year billed month by month (twelve quotes, each as the
    /// month's reading arrives) costs exactly what the year's usage costs billed at once —
    /// in total and per price component, in every rounding mode. Rounding each monthly
    /// line on its own would break this by a fen here and there.
    #[test]
    fn water_billed_month_by_month_costs_the_year_billed_at_once(
        rounding in rounding(),
        monthly in proptest::collection::vec(usage(40), 12),
    ) {
        let t = tenant("city-water.toml", rounding);
        let year_usage: Decimal = monthly.iter().sum();

        // The whole year's usage read in one month, priced from zero.
        let at_once_facts = metered("city-water", "residential", "water", 2026, &[year_usage]);
        let at_once = quote(&t, &at_once_facts, &QuoteOptions::owed_on("2026-02-05".parse().unwrap()));

        let all = metered("city-water", "residential", "water", 2026, &monthly);
        let mut month_by_month = Fen::ZERO;
        let mut components: BTreeMap<String, Fen> = BTreeMap::new();
        for m in 1..=12u32 {
            let mut f = all.clone();
            f.paid_through.insert(kind("water"), ym(2026, m).prev().unwrap());
            let as_of = ym(2026, m).last_day().unwrap();
            match quote(&t, &f, &QuoteOptions::owed_on(as_of)) {
                Ok(q) => {
                    prop_assert!(q.lines.iter().all(|l| l.period == ym(2026, m).to_string()));
                    month_by_month = month_by_month.checked_add(q.total).unwrap();
                    for (name, amount) in by_component(&q) {
                        let e = components.entry(name).or_default();
                        *e = e.checked_add(amount).unwrap();
                    }
                }
                Err(QuoteError::NothingOwed) => {}
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
        match at_once {
            Ok(q) => {
                prop_assert_eq!(month_by_month, q.total);
                let mut expected = by_component(&q);
                expected.retain(|_, v| *v != Fen::ZERO);
                components.retain(|_, v| *v != Fen::ZERO);
                prop_assert_eq!(components, expected);
            }
            Err(QuoteError::NothingOwed) => prop_assert_eq!(month_by_month, Fen::ZERO),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}
