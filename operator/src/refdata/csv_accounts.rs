//! `accounts.csv`: one account per row.
//!
//! ```text
//! tenant,account,class,holder_name,attributes,meters,paid_through,arrears
//! acme-property,3-1-1202,residential,张三,area_m2=89.50;building=A,,property=2026-09;parking=2026-10,
//! city-water,W-0042,residential,李四,,water=W-0042,water=2026-09,water:2026-08:86.40:2026-09-15
//! ```
//! UTF-8 with a header row. The holder's name is masked (`张三` → `张*`) before it is sent. `attributes`, `meters` and `paid_through` are `key=value` pairs
//! separated by `;`; `paid_through` months are `YYYY-MM`; `arrears` are
//! `kind:period:amount:due_on` separated by `;`, amounts in yuan with at most two decimals.

use super::{pairs, records, row_event, Parsed};
use chrono::NaiveDate;
use posfee_schemas::events::{AccountUpserted, ArrearRecord, EventBody};
use posfee_schemas::ids::{AccountNo, FeeKind, Month, TenantId};
use posfee_schemas::money::{Fen, Money};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

pub const HEADER: &[&str] = &[
    "tenant",
    "account",
    "class",
    "holder_name",
    "attributes",
    "meters",
    "paid_through",
    "arrears",
];
/// Longest customer class and holder name, in characters.
pub const MAX_TEXT_CHARS: usize = 64;

pub fn parse(path: &Path, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Parsed> {
    let mut parsed = Parsed::default();
    for (line, rec) in records(path, HEADER)? {
        match rec.and_then(|r| row(&r)) {
            Ok(body) => parsed.good(line, row_event(EventBody::AccountUpserted(body), at)),
            Err(reason) => parsed.bad(line, reason),
        }
    }
    Ok(parsed)
}

fn text(field: &str, what: &str) -> Result<String, String> {
    if field.chars().count() > MAX_TEXT_CHARS || field.chars().any(char::is_control) {
        return Err(format!(
            "{what}: at most {MAX_TEXT_CHARS} printable characters"
        ));
    }
    Ok(field.to_string())
}

fn row(r: &csv::StringRecord) -> Result<AccountUpserted, String> {
    let f = |i: usize| r.get(i).unwrap_or("");
    let tenant = TenantId::parse(f(0)).map_err(|e| format!("tenant: {e}"))?;
    let account = AccountNo::parse(f(1)).map_err(|e| format!("account: {e}"))?;
    let class = text(f(2), "class")?;
    if class.is_empty() {
        return Err("class: is empty".into());
    }
    // Only the masked form enters the event stream: nothing downstream needs the full name,
    // and the stream is kept for good and read by every view.
    let holder_name = posfee_schemas::query::mask_name(&text(f(3), "holder_name")?);
    let attributes = pairs(f(4), "attributes")?;
    let mut meters = BTreeMap::new();
    for (kind, meter) in pairs(f(5), "meters")? {
        let kind = FeeKind::parse(kind).map_err(|e| format!("meters: {e}"))?;
        meters.insert(kind, meter);
    }
    let mut paid_through = BTreeMap::new();
    for (kind, month) in pairs(f(6), "paid_through")? {
        let kind = FeeKind::parse(kind).map_err(|e| format!("paid_through: {e}"))?;
        let month = Month::parse(month.as_str())
            .map_err(|_| format!("paid_through: {kind}={month} is not a month YYYY-MM"))?;
        paid_through.insert(kind, month);
    }
    let mut arrears = Vec::new();
    for part in f(7).split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let bits: Vec<&str> = part.split(':').collect();
        let [kind, period, amount, due_on] = bits[..] else {
            return Err(format!(
                "arrears: {part:?} is not kind:period:amount:due_on"
            ));
        };
        let kind = FeeKind::parse(kind).map_err(|e| format!("arrears: {e}"))?;
        let amount = Fen::parse_yuan(amount).map_err(|e| format!("arrears: {e}"))?;
        if amount <= Fen::ZERO {
            return Err(format!("arrears: {part:?} amount must be above zero"));
        }
        let due_on = NaiveDate::from_str(due_on)
            .map_err(|_| format!("arrears: due date {due_on:?} is not YYYY-MM-DD"))?;
        arrears.push(ArrearRecord {
            kind,
            period: period.to_string(),
            amount: Money {
                fen: amount,
                currency: Default::default(),
            },
            due_on,
        });
    }
    Ok(AccountUpserted {
        tenant,
        account,
        class,
        holder_name,
        attributes,
        meters,
        paid_through,
        arrears,
    })
}
