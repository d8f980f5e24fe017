//! `readings.csv`: one meter reading per row.
//!
//! ```text
//! tenant,account,meter,register,read_on,value
//! city-water,W-0042,W-0042,,2026-10-31,1200.5
//! city-power,E-7,M-7,peak,2026-10-31,3120
//! ```
//! UTF-8 with a header row. `register` is the time-of-use band (`peak`, `flat`, `valley`) or
//! empty for a single-register meter; `value` is the cumulative register reading, an exact
//! non-negative decimal.

use super::{records, row_event, Parsed};
use chrono::NaiveDate;
use posfee_schemas::events::{EventBody, ReadingRecorded};
use posfee_schemas::ids::{AccountNo, TenantId};
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;

pub const HEADER: &[&str] = &["tenant", "account", "meter", "register", "read_on", "value"];
/// Longest meter id or register name, in bytes.
pub const MAX_METER_BYTES: usize = 64;

pub fn parse(path: &Path, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Parsed> {
    let mut parsed = Parsed::default();
    for (line, rec) in records(path, HEADER)? {
        match rec.and_then(|r| row(&r)) {
            Ok(body) => parsed.good(line, row_event(EventBody::ReadingRecorded(body), at)),
            Err(reason) => parsed.bad(line, reason),
        }
    }
    Ok(parsed)
}

fn row(r: &csv::StringRecord) -> Result<ReadingRecorded, String> {
    let f = |i: usize| r.get(i).unwrap_or("");
    let tenant = TenantId::parse(f(0)).map_err(|e| format!("tenant: {e}"))?;
    let account = AccountNo::parse(f(1)).map_err(|e| format!("account: {e}"))?;
    let meter = f(2);
    if meter.is_empty() || meter.len() > MAX_METER_BYTES || meter.contains(['\0', ' ']) {
        return Err(format!(
            "meter: {meter:?} must be 1 to {MAX_METER_BYTES} bytes without spaces"
        ));
    }
    let register = f(3);
    if register.len() > MAX_METER_BYTES || register.contains('\0') {
        return Err(format!("register: {register:?} is too long"));
    }
    let read_on = NaiveDate::from_str(f(4))
        .map_err(|_| format!("read_on: {:?} is not a date YYYY-MM-DD", f(4)))?;
    let value = Decimal::from_str(f(5))
        .map_err(|_| format!("value: {:?} is not a decimal number", f(5)))?;
    if value.is_sign_negative() {
        return Err(format!("value: {value} is negative"));
    }
    Ok(ReadingRecorded {
        tenant,
        account,
        meter: meter.to_string(),
        register: (!register.is_empty()).then(|| register.to_string()),
        read_on,
        value,
    })
}
