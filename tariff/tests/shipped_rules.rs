//! Quotes against the example rule files shipped in `services/fee-engine/rules/`.
//! Every expected amount is worked by hand in the comment above it.

// Test helpers may unwrap: a panic there is a failed test, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use posfee_schemas::ids::{AccountNo, FeeKind, TenantId};
use posfee_tariff::{
    check_paths, preview, quote, render_quote, AccountFacts, Arrear, Fen, Quote, QuoteError,
    QuoteOptions, Reading, RuleSet, Tenant, YearMonth,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/fee-engine/rules")
}

fn rules() -> RuleSet {
    RuleSet::load_dir(rules_dir()).unwrap()
}

fn tenant(id: &str) -> Tenant {
    rules()
        .tenant(&TenantId::parse(id).unwrap())
        .unwrap()
        .clone()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn kind(s: &str) -> FeeKind {
    FeeKind::parse(s).unwrap()
}

fn ym(s: &str) -> YearMonth {
    YearMonth::parse(s).unwrap()
}

fn facts(tenant: &str, class: &str) -> AccountFacts {
    AccountFacts {
        tenant: TenantId::parse(tenant).unwrap(),
        account: AccountNo::parse("A-1").unwrap(),
        class: class.into(),
        attributes: BTreeMap::new(),
        meters: BTreeMap::new(),
        readings: vec![],
        paid_through: BTreeMap::new(),
        arrears: vec![],
    }
}

fn reading(meter: &str, register: Option<&str>, on: &str, value: Decimal) -> Reading {
    Reading {
        meter: meter.into(),
        register: register.map(str::to_string),
        read_on: date(on),
        value,
    }
}

fn amounts(q: &Quote) -> Vec<i64> {
    q.lines.iter().map(|l| l.amount.get()).collect()
}

fn sum_where(q: &Quote, f: impl Fn(&posfee_tariff::BillLine) -> bool) -> Fen {
    Fen::sum(q.lines.iter().filter(|l| f(l)).map(|l| l.amount)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Loading and checking

#[test]
fn the_four_shipped_tenants_load() {
    let set = rules();
    let ids: Vec<&str> = set.tenants.keys().map(TenantId::as_str).collect();
    assert_eq!(
        ids,
        ["acme-property", "city-power", "city-telecom", "city-water"]
    );
    let water = &set.tenants[&TenantId::parse("city-water").unwrap()];
    assert_eq!(water.time_zone, chrono_tz::Asia::Shanghai);
}

#[test]
fn rules_check_gives_one_ok_verdict_per_file() {
    let checks = check_paths(&[rules_dir()]);
    assert_eq!(checks.len(), 4);
    for c in &checks {
        assert!(c.result.is_ok(), "{}: {:?}", c.file, c.result);
    }
}

#[test]
fn every_shipped_preview_input_prices() {
    let set = rules();
    for name in ["acme-property", "city-water", "city-power", "city-telecom"] {
        let path = rules_dir().join("preview").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let q = preview(&set, &path.display().to_string(), &text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(q.tenant.as_str(), name);
        assert_eq!(Fen::sum(q.lines.iter().map(|l| l.amount)).unwrap(), q.total);
    }
}

#[test]
fn tenant_today_is_the_shanghai_date() {
    // 2026-03-04T17:30Z is 2026-03-05 01:30 in Shanghai (UTC+8).
    let now = "2026-03-04T17:30:00Z".parse().unwrap();
    assert_eq!(tenant("city-water").today(now), date("2026-03-05"));
}

// ---------------------------------------------------------------------------------------------
// 1. Fixed per period

#[test]
fn parking_owed_for_february_and_march_is_600() {
    // Paid through January; as of 5 March, February and March are owed: 2 × 300.00 = 600.00.
    let mut f = facts("acme-property", "residential");
    f.paid_through.insert(kind("parking"), ym("2026-01"));
    let q = quote(
        &tenant("acme-property"),
        &f,
        &QuoteOptions::owed_on(date("2026-03-05")),
    )
    .unwrap();
    assert_eq!(q.lines.len(), 1);
    let l = &q.lines[0];
    assert_eq!(l.period, "2026-02..2026-03");
    assert_eq!(l.quantity, dec!(2));
    assert_eq!(l.amount, Fen::new(60000));
    assert_eq!(
        (l.rule_id.as_str(), l.rule_version.as_str()),
        ("parking-monthly", "2023")
    );
    assert_eq!(q.total, Fen::new(60000));
}

#[test]
fn a_paid_up_account_owes_nothing() {
    let mut f = facts("acme-property", "residential");
    f.paid_through.insert(kind("parking"), ym("2026-03"));
    let err = quote(
        &tenant("acme-property"),
        &f,
        &QuoteOptions::owed_on(date("2026-03-05")),
    )
    .unwrap_err();
    assert_eq!(err, QuoteError::NothingOwed);
}

// ---------------------------------------------------------------------------------------------
// 2. Per unit of an attribute, 7. prepay bonus and discount

fn flat_a() -> AccountFacts {
    let mut f = facts("acme-property", "residential");
    f.attributes.insert("area_m2".into(), "89.50".into());
    f.attributes.insert("building".into(), "A".into());
    f.paid_through.insert(kind("property"), ym("2025-12"));
    f
}

fn property_only(as_of: &str, prepay: Option<u32>) -> QuoteOptions {
    QuoteOptions {
        kinds: vec![kind("property")],
        as_of: date(as_of),
        prepay_months: prepay,
        top_up: None,
    }
}

#[test]
fn property_fee_for_three_owed_months_is_area_times_price_times_months() {
    // Building A under the 2026 version: 89.50 m² × 2.90 × 3 = 268.50 × 2.90 = 778.65.
    let q = quote(
        &tenant("acme-property"),
        &flat_a(),
        &property_only("2026-03-05", None),
    )
    .unwrap();
    assert_eq!(amounts(&q), [77865]);
    assert_eq!(q.lines[0].quantity, dec!(268.50));
    assert_eq!(q.lines[0].unit_price, dec!(2.90));
    assert_eq!(q.lines[0].rule_version, "2026");
}

#[test]
fn another_building_class_has_its_own_price_and_unlisted_ones_the_default() {
    // Building B: 268.50 × 2.30 = 617.55. Building "C" (not listed): 268.50 × 2.60 = 698.10.
    let t = tenant("acme-property");
    let mut f = flat_a();
    f.attributes.insert("building".into(), "B".into());
    assert_eq!(
        quote(&t, &f, &property_only("2026-03-05", None))
            .unwrap()
            .total,
        Fen::new(61755)
    );
    f.attributes.insert("building".into(), "C".into());
    assert_eq!(
        quote(&t, &f, &property_only("2026-03-05", None))
            .unwrap()
            .total,
        Fen::new(69810)
    );
}

#[test]
fn prepaying_twelve_months_gets_a_thirteenth_free() {
    // 12 months Jan–Dec 2026: 89.50 × 12 = 1074.00 m²·month × 2.90 = 3114.60;
    // Jan 2027 is free (would be 89.50 × 2.90 = 259.55). Total 3114.60.
    let q = quote(
        &tenant("acme-property"),
        &flat_a(),
        &property_only("2026-03-05", Some(12)),
    )
    .unwrap();
    assert_eq!(amounts(&q), [311460, 0]);
    assert_eq!(q.lines[1].period, "2027-01");
    assert!(q.lines[1]
        .explanation
        .starts_with("free (1 free per 12 prepaid); would be 259.55"));
    assert_eq!(q.total, Fen::new(311460));
}

#[test]
fn prepaid_months_spanning_a_price_change_keep_each_versions_price() {
    // Paid through Oct 2025, prepay 12 on 20 Nov 2025:
    // Nov–Dec 2025 at 2.80: 179.00 × 2.80 = 501.20; Jan–Oct 2026 at 2.90: 895.00 × 2.90
    // = 2595.50; Nov 2026 free. Total 3096.70.
    let mut f = flat_a();
    f.paid_through.insert(kind("property"), ym("2025-10"));
    let q = quote(
        &tenant("acme-property"),
        &f,
        &property_only("2025-11-20", Some(12)),
    )
    .unwrap();
    assert_eq!(amounts(&q), [50120, 259550, 0]);
    assert_eq!(q.lines[0].rule_version, "2023");
    assert_eq!(q.lines[1].rule_version, "2026");
    assert_eq!(q.total, Fen::new(309670));
}

#[test]
fn prepaying_twenty_four_months_also_takes_three_percent_off() {
    // 24 months at 2.90: 89.50 × 24 = 2148.00 × 2.90 = 6229.20; 2 months free;
    // 3 % of 6229.20 = 186.876 → −186.88. Total 6042.32.
    let q = quote(
        &tenant("acme-property"),
        &flat_a(),
        &property_only("2026-03-05", Some(24)),
    )
    .unwrap();
    assert_eq!(amounts(&q), [622920, 0, -18688]);
    assert_eq!(q.lines[1].period, "2028-01..2028-02");
    assert_eq!(q.total, Fen::new(604232));
}

#[test]
fn a_prepayment_shorter_than_what_is_owed_is_refused() {
    let mut f = flat_a();
    f.paid_through.insert(kind("property"), ym("2025-10"));
    let err = quote(
        &tenant("acme-property"),
        &f,
        &property_only("2026-03-05", Some(3)),
    )
    .unwrap_err();
    assert_eq!(
        err,
        QuoteError::PrepayTooShort {
            kind: kind("property"),
            chosen: 3,
            owed: 5
        }
    );
}

#[test]
fn a_missing_area_is_an_error_naming_the_attribute() {
    let mut f = flat_a();
    f.attributes.remove("area_m2");
    let err = quote(
        &tenant("acme-property"),
        &f,
        &property_only("2026-03-05", None),
    )
    .unwrap_err();
    assert_eq!(err.code(), "missing_attribute");
    assert!(err.to_string().contains("area_m2"), "{err}");
}

#[test]
fn an_unknown_fee_kind_is_refused() {
    let mut opts = property_only("2026-03-05", None);
    opts.kinds = vec![kind("gas")];
    let err = quote(&tenant("acme-property"), &flat_a(), &opts).unwrap_err();
    assert_eq!(err.code(), "unknown_fee_kind");
}

#[test]
fn an_account_of_another_tenant_is_refused() {
    let err = quote(
        &tenant("city-water"),
        &flat_a(),
        &property_only("2026-03-05", None),
    )
    .unwrap_err();
    assert_eq!(err.code(), "tenant_mismatch");
}

#[test]
fn property_late_fee_starts_after_the_grace_days() {
    // 250.60 due 2025-11-30, 15 days' grace: accrues from 2025-12-16 to 2026-03-05 =
    // 16 + 31 + 28 + 5 = 80 days × 0.5‰ = 0.04; 250.60 × 0.04 = 10.024 → 10.02.
    let mut f = flat_a();
    f.paid_through.insert(kind("property"), ym("2026-03"));
    f.arrears.push(Arrear {
        kind: kind("property"),
        period: "2025-11".into(),
        amount: Fen::new(25060),
        due_on: date("2025-11-30"),
    });
    let q = quote(
        &tenant("acme-property"),
        &f,
        &QuoteOptions::owed_on(date("2026-03-05")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [25060, 1002]);
    assert_eq!(q.lines[0].rule_id, "arrears");
    assert_eq!(q.lines[1].rule_id, "property-late-fee");
    assert_eq!(q.lines[1].unit_price, dec!(0.04));
}

// ---------------------------------------------------------------------------------------------
// 3. Tiered, year to date: the Beijing water worked example

/// Monthly usages for 2026 that add up to 200 m³; November crosses 180 m³.
const BEIJING_MONTHS: [u32; 12] = [20, 18, 15, 14, 16, 17, 19, 21, 20, 15, 13, 12];

fn beijing_household(months: &[Decimal]) -> AccountFacts {
    let mut f = facts("city-water", "residential");
    f.meters.insert(kind("water"), "W1".into());
    f.paid_through.insert(kind("water"), ym("2025-12"));
    let mut value = dec!(1000);
    f.readings.push(reading("W1", None, "2025-12-31", value));
    let mut month = ym("2026-01");
    for usage in months {
        value += usage;
        f.readings.push(reading(
            "W1",
            None,
            &month.last_day().unwrap().to_string(),
            value,
        ));
        month = month.next().unwrap();
    }
    f
}

#[test]
fn beijing_water_200_cubic_metres_in_a_year_cost_1040_yuan() {
    // 180 × 5.00 + 20 × 7.00 = 900.00 + 140.00 = 1040.00 CNY. By component:
    //   water fee            180 × 2.07 + 20 × 4.07 = 372.60 + 81.40 = 454.00
    //   water-resource fee   200 × 1.57                              = 314.00
    //   sewage-treatment fee 200 × 1.36                              = 272.00
    let usages: Vec<Decimal> = BEIJING_MONTHS.iter().map(|&m| Decimal::from(m)).collect();
    let q = quote(
        &tenant("city-water"),
        &beijing_household(&usages),
        &QuoteOptions::owed_on(date("2027-01-05")),
    )
    .unwrap();
    assert_eq!(q.total, Fen::new(104000));
    let component = |name: &str| sum_where(&q, |l| l.explanation.starts_with(name));
    assert_eq!(component("water fee,"), Fen::new(45400));
    assert_eq!(component("water-resource fee"), Fen::new(31400));
    assert_eq!(component("sewage-treatment fee"), Fen::new(27200));
}

#[test]
fn the_month_crossing_180_is_split_between_tiers() {
    // After October the year stands at 175 m³; November's 13 m³ = 5 in tier 1 + 8 in tier 2:
    // 5 × 5.00 + 8 × 7.00 = 25.00 + 56.00 = 81.00, as six component lines.
    let usages: Vec<Decimal> = BEIJING_MONTHS.iter().map(|&m| Decimal::from(m)).collect();
    let q = quote(
        &tenant("city-water"),
        &beijing_household(&usages),
        &QuoteOptions::owed_on(date("2027-01-05")),
    )
    .unwrap();
    let nov: Vec<_> = q.lines.iter().filter(|l| l.period == "2026-11").collect();
    let amounts: Vec<i64> = nov.iter().map(|l| l.amount.get()).collect();
    // 5 × 2.07, 5 × 1.57, 5 × 1.36, 8 × 4.07, 8 × 1.57, 8 × 1.36
    assert_eq!(amounts, [1035, 785, 680, 3256, 1256, 1088]);
    assert_eq!(
        Fen::sum(nov.iter().map(|l| l.amount)).unwrap(),
        Fen::new(8100)
    );
}

#[test]
fn only_months_after_paid_through_are_billed_but_earlier_ones_set_the_year_to_date() {
    // Paid through October (175 m³ used). November + December: 13 + 12 = 25 m³ from 175:
    // 5 × 5.00 + 20 × 7.00 = 165.00.
    let usages: Vec<Decimal> = BEIJING_MONTHS.iter().map(|&m| Decimal::from(m)).collect();
    let mut f = beijing_household(&usages);
    f.paid_through.insert(kind("water"), ym("2026-10"));
    let q = quote(
        &tenant("city-water"),
        &f,
        &QuoteOptions::owed_on(date("2027-01-05")),
    )
    .unwrap();
    assert_eq!(q.total, Fen::new(16500));
}

#[test]
fn businesses_pay_the_flat_monthly_price() {
    // Class "business" has no rule of its own, so the catch-all: 20 m³ × 9.50 = 190.00.
    let mut f = beijing_household(&[dec!(20)]);
    f.class = "business".into();
    let q = quote(
        &tenant("city-water"),
        &f,
        &QuoteOptions::owed_on(date("2026-02-05")),
    )
    .unwrap();
    assert_eq!(q.total, Fen::new(19000));
    assert_eq!(q.lines[0].rule_id, "water-business");
}

#[test]
fn a_month_without_a_reading_is_missing_readings() {
    let mut f = beijing_household(&[dec!(20), dec!(18), dec!(15)]);
    f.readings.retain(|r| r.read_on != date("2026-02-28"));
    let err = quote(
        &tenant("city-water"),
        &f,
        &QuoteOptions::owed_on(date("2026-04-05")),
    )
    .unwrap_err();
    assert_eq!(err.code(), "missing_readings");
    assert!(err.to_string().contains("2026-02"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 4. Seasonal tiers, versions, time of use

fn household_power(readings: &[(&str, Decimal)], paid_through: &str) -> AccountFacts {
    let mut f = facts("city-power", "residential");
    f.meters.insert(kind("electricity"), "M1".into());
    f.paid_through.insert(kind("electricity"), ym(paid_through));
    f.readings = readings
        .iter()
        .map(|(on, v)| reading("M1", None, on, *v))
        .collect();
    f
}

#[test]
fn old_months_keep_old_prices_after_a_tariff_change() {
    // December 2025 (version 2023): 200 × 0.4883 + 100 × 0.5383 = 97.66 + 53.83 = 151.49.
    // January 2026 (version 2026): 200 × 0.4983 + 100 × 0.5483 = 99.66 + 54.83 = 154.49.
    let f = household_power(
        &[
            ("2025-11-30", dec!(5000)),
            ("2025-12-31", dec!(5300)),
            ("2026-01-31", dec!(5600)),
        ],
        "2025-11",
    );
    let q = quote(
        &tenant("city-power"),
        &f,
        &QuoteOptions::owed_on(date("2026-02-10")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [9766, 5383, 9966, 5483]);
    let versions: Vec<&str> = q.lines.iter().map(|l| l.rule_version.as_str()).collect();
    assert_eq!(versions, ["2023", "2023", "2026", "2026"]);
    assert_eq!(q.total, Fen::new(30598));
}

#[test]
fn summer_months_have_wider_tiers() {
    // 300 kWh in July 2026 (summer, 0–260 first tier): 260 × 0.4983 = 129.558 → 129.56,
    // 40 × 0.5483 = 21.932 → 21.93; total 151.49. The same 300 kWh in March:
    // 200 × 0.4983 = 99.66 + 100 × 0.5483 = 54.83 → 154.49.
    let july = household_power(
        &[("2026-06-30", dec!(100)), ("2026-07-31", dec!(400))],
        "2026-06",
    );
    let q = quote(
        &tenant("city-power"),
        &july,
        &QuoteOptions::owed_on(date("2026-08-03")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [12956, 2193]);
    assert!(
        q.lines[0].explanation.contains("summer"),
        "{}",
        q.lines[0].explanation
    );
    let march = household_power(
        &[("2026-02-28", dec!(100)), ("2026-03-31", dec!(400))],
        "2026-02",
    );
    let q = quote(
        &tenant("city-power"),
        &march,
        &QuoteOptions::owed_on(date("2026-04-03")),
    )
    .unwrap();
    assert_eq!(q.total, Fen::new(15449));
}

fn shop(bands: &[(&str, Decimal, Decimal)]) -> AccountFacts {
    let mut f = facts("city-power", "commercial");
    f.meters.insert(kind("electricity"), "M9".into());
    f.paid_through.insert(kind("electricity"), ym("2026-01"));
    for (band, jan, feb) in bands {
        f.readings
            .push(reading("M9", Some(band), "2026-01-31", *jan));
        f.readings
            .push(reading("M9", Some(band), "2026-02-28", *feb));
    }
    f
}

#[test]
fn time_of_use_prices_each_band() {
    // peak 100 × 1.1236 = 112.36; flat 150 × 0.7212 = 108.18; valley 200 × 0.3188 = 63.76.
    // Total 284.30.
    let f = shop(&[
        ("peak", dec!(1000), dec!(1100)),
        ("flat", dec!(2000), dec!(2150)),
        ("valley", dec!(500), dec!(700)),
    ]);
    let q = quote(
        &tenant("city-power"),
        &f,
        &QuoteOptions::owed_on(date("2026-03-03")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [11236, 10818, 6376]);
    assert_eq!(q.total, Fen::new(28430));
}

#[test]
fn a_small_time_of_use_bill_is_raised_to_the_minimum_charge() {
    // peak 5 × 1.1236 = 5.618 → 5.62; flat and valley 0. Minimum 20.00: a 14.38 line.
    let f = shop(&[
        ("peak", dec!(1000), dec!(1005)),
        ("flat", dec!(2000), dec!(2000)),
        ("valley", dec!(500), dec!(500)),
    ]);
    let q = quote(
        &tenant("city-power"),
        &f,
        &QuoteOptions::owed_on(date("2026-03-03")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [562, 0, 0, 1438]);
    assert_eq!(q.total, Fen::new(2000));
}

// ---------------------------------------------------------------------------------------------
// 6. The electricity late-fee worked example

fn power_arrears(class: &str, arrears: &[(i64, &str)]) -> AccountFacts {
    let mut f = facts("city-power", class);
    f.arrears = arrears
        .iter()
        .map(|(amount, due)| Arrear {
            kind: kind("electricity"),
            period: "bill".into(),
            amount: Fen::new(*amount),
            due_on: date(due),
        })
        .collect();
    f
}

#[test]
fn electricity_late_fee_residential_one_per_mille_a_day() {
    // 120.00 due 2026-02-15, paid 2026-03-02: 15 days × 1‰ × 120.00 = 1.80.
    let q = quote(
        &tenant("city-power"),
        &power_arrears("residential", &[(12000, "2026-02-15")]),
        &QuoteOptions::owed_on(date("2026-03-02")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [12000, 180]);
    assert_eq!(q.total, Fen::new(12180));
}

#[test]
fn electricity_late_fee_others_two_per_mille_this_year_three_for_earlier_years() {
    // Commercial, paid 2026-01-10:
    //   300.00 due 2026-01-05: 5 days × 2‰ = 0.010 → 3.00.
    //   500.00 due 2025-12-20: 11 days × 2‰ (2025) + 10 days × 3‰ (2026) = 0.052 → 26.00.
    let q = quote(
        &tenant("city-power"),
        &power_arrears(
            "commercial",
            &[(30000, "2026-01-05"), (50000, "2025-12-20")],
        ),
        &QuoteOptions::owed_on(date("2026-01-10")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [30000, 50000, 300, 2600]);
    assert!(q.lines[3]
        .explanation
        .contains("10 days × 3‰ (earlier-year arrears)"));
}

#[test]
fn electricity_late_fee_below_one_yuan_is_charged_one_yuan() {
    // Residential 50.00 due 2026-03-01, paid 2026-03-05: 4 × 1‰ × 50.00 = 0.20 → 1.00
    // (0.20 line + 0.80 minimum line).
    let q = quote(
        &tenant("city-power"),
        &power_arrears("residential", &[(5000, "2026-03-01")]),
        &QuoteOptions::owed_on(date("2026-03-05")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [5000, 20, 80]);
    assert_eq!(
        sum_where(&q, |l| l.rule_id == "power-late-fee"),
        Fen::new(100)
    );
}

#[test]
fn no_late_fee_is_levied_on_the_due_date() {
    let q = quote(
        &tenant("city-power"),
        &power_arrears("residential", &[(5000, "2026-03-05")]),
        &QuoteOptions::owed_on(date("2026-03-05")),
    )
    .unwrap();
    assert_eq!(amounts(&q), [5000]);
}

// ---------------------------------------------------------------------------------------------
// 5. Top-ups

fn top_up(amount: Option<i64>) -> QuoteOptions {
    QuoteOptions {
        kinds: vec![kind("mobile")],
        as_of: date("2026-03-05"),
        prepay_months: None,
        top_up: amount.map(Fen::new),
    }
}

#[test]
fn a_200_top_up_pays_200_and_shows_the_10_bonus_at_zero() {
    let f = facts("city-telecom", "personal");
    let q = quote(&tenant("city-telecom"), &f, &top_up(Some(20000))).unwrap();
    assert_eq!(amounts(&q), [20000, 0]);
    assert_eq!(q.lines[1].unit, "bonus credit");
    assert_eq!(q.lines[1].quantity, dec!(10.00));
    assert_eq!(q.total, Fen::new(20000));
}

#[test]
fn a_top_up_not_on_offer_or_not_chosen_is_bad_top_up() {
    let f = facts("city-telecom", "personal");
    let t = tenant("city-telecom");
    assert_eq!(
        quote(&t, &f, &top_up(Some(4000))).unwrap_err().code(),
        "bad_top_up"
    );
    assert_eq!(
        quote(&t, &f, &top_up(None)).unwrap_err().code(),
        "bad_top_up"
    );
}

#[test]
fn everything_owed_includes_the_plan_and_the_chosen_top_up() {
    // Broadband paid through January: Feb + Mar × 128.00 = 256.00; plus a 50.00 top-up.
    let mut f = facts("city-telecom", "personal");
    f.paid_through.insert(kind("broadband"), ym("2026-01"));
    let opts = QuoteOptions {
        top_up: Some(Fen::new(5000)),
        ..QuoteOptions::owed_on(date("2026-03-05"))
    };
    let q = quote(&tenant("city-telecom"), &f, &opts).unwrap();
    assert_eq!(amounts(&q), [5000, 25600]);
    assert_eq!(q.total, Fen::new(30600));
}

// ---------------------------------------------------------------------------------------------
// Render

#[test]
fn the_rendered_table_has_a_header_every_line_and_the_total() {
    let set = rules();
    let path = rules_dir().join("preview/acme-property.toml");
    let q = preview(
        &set,
        "acme-property.toml",
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap();
    let text = render_quote(&q);
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("Acme Property Management (acme-property) · account 3-1-1202"));
    assert!(rows[1].starts_with("KIND"));
    assert!(rows[1].contains("RULE@VERSION"));
    assert_eq!(rows.len(), 2 + q.lines.len() + 1);
    assert!(rows.iter().any(|r| r.contains("property-fee@2026")));
    let total = rows.last().unwrap();
    assert!(total.starts_with("TOTAL"));
    assert!(total.ends_with(&q.total.to_string()));
    // The total sits under the amounts column.
    let amount_end = rows[1].find("AMOUNT").unwrap() + "AMOUNT".len();
    assert_eq!(total.chars().count(), rows[1][..amount_end].chars().count());
}
