//! Sample reference data: accounts across the four example tenants and a year of monthly
//! meter readings, the same for the same seed. Small sets are shipped for the demo and the
//! tests (`tests/samples/`); large ones (100,000 accounts) are made for benchmarks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

/// The year of readings: the close of 2025-10 (so year-to-date water tiers have their 31
/// December reading) and every month-end through 2026-10.
pub const FIRST_READING: (i32, u32) = (2025, 10);
pub const LAST_READING: (i32, u32) = (2026, 10);

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"];

fn month_ends() -> Vec<chrono::NaiveDate> {
    let mut out = Vec::new();
    let (mut y, mut m) = FIRST_READING;
    loop {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        if let Some(first_next) = chrono::NaiveDate::from_ymd_opt(ny, nm, 1) {
            if let Some(end) = first_next.pred_opt() {
                out.push(end);
            }
        }
        if (y, m) == LAST_READING {
            return out;
        }
        (y, m) = (ny, nm);
    }
}

/// Writes `accounts` accounts and their readings as CSV.
pub fn write(
    accounts: usize,
    seed: u64,
    accounts_out: &mut dyn Write,
    readings_out: &mut dyn Write,
) -> anyhow::Result<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acc = csv::Writer::from_writer(accounts_out);
    let mut rd = csv::Writer::from_writer(readings_out);
    acc.write_record(super::csv_accounts::HEADER)?;
    rd.write_record(super::csv_readings::HEADER)?;
    let ends = month_ends();
    let mut readings = 0;
    for i in 0..accounts {
        let name = format!(
            "{}{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())]
        );
        match i % 4 {
            0 => {
                let building = ["A", "B", "villa"][rng.gen_range(0..3)];
                let area = format!("{}.{:02}", rng.gen_range(55..150), rng.gen_range(0..100));
                let paid = format!("2026-{:02}", rng.gen_range(6..=10));
                let parking = if i % 3 == 0 { ";parking=2026-09" } else { "" };
                let arrears = if i % 40 == 0 {
                    "property:2026-04:250.60:2026-04-30".to_string()
                } else {
                    String::new()
                };
                acc.write_record([
                    "acme-property",
                    &format!("{}-{}-{:04}", i % 9 + 1, i % 5 + 1, i),
                    "residential",
                    &name,
                    &format!("area_m2={area};building={building}"),
                    "",
                    &format!("property={paid}{parking}"),
                    &arrears,
                ])?;
            }
            1 => {
                let account = format!("W-{i:06}");
                acc.write_record([
                    "city-water",
                    &account,
                    "residential",
                    &name,
                    "",
                    &format!("water={account}"),
                    "water=2026-09",
                    "",
                ])?;
                let mut value = rng.gen_range(100..5000) as i64 * 10;
                for end in &ends {
                    rd.write_record([
                        "city-water",
                        &account,
                        &account,
                        "",
                        &end.to_string(),
                        &format!("{}.{}", value / 10, value % 10),
                    ])?;
                    readings += 1;
                    value += rng.gen_range(80..260);
                }
            }
            2 => {
                let account = format!("E-{i:06}");
                let meter = format!("M-{i:06}");
                let commercial = i % 10 == 2;
                let class = if commercial {
                    "commercial"
                } else {
                    "residential"
                };
                acc.write_record([
                    "city-power",
                    &account,
                    class,
                    &name,
                    "",
                    &format!("electricity={meter}"),
                    "electricity=2026-09",
                    "",
                ])?;
                let registers: &[&str] = if commercial {
                    &["peak", "flat", "valley"]
                } else {
                    &[""]
                };
                for register in registers {
                    let mut value: i64 = rng.gen_range(1000..20000);
                    for end in &ends {
                        rd.write_record([
                            "city-power",
                            &account,
                            &meter,
                            register,
                            &end.to_string(),
                            &value.to_string(),
                        ])?;
                        readings += 1;
                        value += rng.gen_range(120..420);
                    }
                }
            }
            _ => {
                let account = format!("13{:09}", 800_000_000 + i);
                let plan = if (i / 4) % 2 == 0 {
                    "broadband=2026-10"
                } else {
                    ""
                };
                acc.write_record([
                    "city-telecom",
                    &account,
                    "personal",
                    &name,
                    "",
                    "",
                    plan,
                    "",
                ])?;
            }
        }
    }
    acc.flush()?;
    rd.flush()?;
    Ok((accounts, readings))
}
