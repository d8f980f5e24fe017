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
    let mut out = Sheets {
        acc: csv::Writer::from_writer(accounts_out),
        rd: csv::Writer::from_writer(readings_out),
        ends: month_ends(),
        readings: 0,
    };
    out.acc.write_record(super::csv_accounts::HEADER)?;
    out.rd.write_record(super::csv_readings::HEADER)?;
    for i in 0..accounts {
        let name = person(&mut rng);
        match i % 4 {
            0 => property_account(&mut out, &mut rng, i, &name)?,
            1 => water_account(&mut out, &mut rng, i, &name)?,
            2 => power_account(&mut out, &mut rng, i, &name)?,
            _ => telecom_account(&mut out, i, &name)?,
        }
    }
    out.acc.flush()?;
    out.rd.flush()?;
    Ok((accounts, out.readings))
}

/// Where the rows go: the accounts and readings files, the month-ends every meter is read
/// at, and how many readings were written so far.
struct Sheets<'w> {
    acc: csv::Writer<&'w mut dyn Write>,
    rd: csv::Writer<&'w mut dyn Write>,
    ends: Vec<chrono::NaiveDate>,
    readings: usize,
}

/// A made-up holder's name: a surname and two given characters.
fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}{}",
        SURNAMES[rng.gen_range(0..SURNAMES.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())],
        GIVEN[rng.gen_range(0..GIVEN.len())]
    )
}

/// An acme-property flat or villa, paid up to a month of mid-2026, one in three with parking
/// and one in ten in arrears; it has no meter.
fn property_account(
    out: &mut Sheets<'_>,
    rng: &mut StdRng,
    i: usize,
    name: &str,
) -> anyhow::Result<()> {
    let building = ["A", "B", "villa"][rng.gen_range(0..3)];
    let area = format!("{}.{:02}", rng.gen_range(55..150), rng.gen_range(0..100));
    let paid = format!("2026-{:02}", rng.gen_range(6..=10));
    let parking = if i.is_multiple_of(3) {
        ";parking=2026-09"
    } else {
        ""
    };
    let arrears = if i.is_multiple_of(40) {
        "property:2026-04:250.60:2026-04-30".to_string()
    } else {
        String::new()
    };
    out.acc.write_record([
        "acme-property",
        &format!("{}-{}-{:04}", i % 9 + 1, i % 5 + 1, i),
        "residential",
        name,
        &format!("area_m2={area};building={building}"),
        "",
        &format!("property={paid}{parking}"),
        &arrears,
    ])?;
    Ok(())
}

/// A city-water household and its meter's month-end readings.
fn water_account(
    out: &mut Sheets<'_>,
    rng: &mut StdRng,
    i: usize,
    name: &str,
) -> anyhow::Result<()> {
    let account = format!("W-{i:06}");
    out.acc.write_record([
        "city-water",
        &account,
        "residential",
        name,
        "",
        &format!("water={account}"),
        "water=2026-09",
        "",
    ])?;
    let mut value = rng.gen_range(100..5000) as i64 * 10;
    for end in &out.ends {
        out.rd.write_record([
            "city-water",
            &account,
            &account,
            "",
            &end.to_string(),
            &format!("{}.{}", value / 10, value % 10),
        ])?;
        out.readings += 1;
        value += rng.gen_range(80..260);
    }
    Ok(())
}

/// A city-power account, one in five commercial (read on its peak, flat and valley
/// registers), and its meter's month-end readings.
fn power_account(
    out: &mut Sheets<'_>,
    rng: &mut StdRng,
    i: usize,
    name: &str,
) -> anyhow::Result<()> {
    let account = format!("E-{i:06}");
    let meter = format!("M-{i:06}");
    let commercial = i % 10 == 2;
    let class = if commercial {
        "commercial"
    } else {
        "residential"
    };
    out.acc.write_record([
        "city-power",
        &account,
        class,
        name,
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
        for end in &out.ends {
            out.rd.write_record([
                "city-power",
                &account,
                &meter,
                register,
                &end.to_string(),
                &value.to_string(),
            ])?;
            out.readings += 1;
            value += rng.gen_range(120..420);
        }
    }
    Ok(())
}

/// A city-telecom mobile number, every other one with a broadband plan; no meter, and no
/// randomness beyond the holder's name.
fn telecom_account(out: &mut Sheets<'_>, i: usize, name: &str) -> anyhow::Result<()> {
    let account = format!("13{:09}", 800_000_000 + i);
    let plan = if (i / 4).is_multiple_of(2) {
        "broadband=2026-10"
    } else {
        ""
    };
    out.acc
        .write_record(["city-telecom", &account, "personal", name, "", "", plan, ""])?;
    Ok(())
}
