//! Values read from TOML: exact decimals, whole-fen amounts, calendar dates and billing months.
//!
//! TOML floats are parsed to binary `f64` before serde sees them, so `2.07` would arrive as
//! `2.0699999…`. Every number that feeds a price is therefore written as a string (`"2.07"`) or
//! an integer, and a float is refused with a message that says how to write it.

use chrono::{Datelike, Months, NaiveDate};
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::fmt;

const FLOAT_REFUSED: &str =
    "write decimals as strings, e.g. \"2.07\": TOML floats are binary and not exact";

/// An exact decimal from a file: `"2.07"` or `300`, never a TOML float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Decimal::from_str_exact(s.trim())
                .map(Dec)
                .map_err(|_| D::Error::custom(format!("{s:?} is not a decimal number"))),
            toml::Value::Integer(i) => Ok(Dec(Decimal::from(i))),
            toml::Value::Float(_) => Err(D::Error::custom(FLOAT_REFUSED)),
            other => Err(D::Error::custom(format!(
                "expected a decimal number written as a string, found a {}",
                other.type_str()
            ))),
        }
    }
}

/// A money amount in whole fen from a file: `"200.00"`, `"0.5"` or `30` (yuan).
/// More than two fraction digits is refused: a denomination or an arrear is a payable amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Yuan(pub Fen);

impl<'de> Deserialize<'de> for Yuan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Fen::parse_yuan(s.trim())
                .map(Yuan)
                .map_err(|e| D::Error::custom(e.to_string())),
            toml::Value::Integer(i) => i
                .checked_mul(100)
                .map(|f| Yuan(Fen::new(f)))
                .ok_or_else(|| D::Error::custom("amount overflows")),
            toml::Value::Float(_) => Err(D::Error::custom(FLOAT_REFUSED)),
            other => Err(D::Error::custom(format!(
                "expected an amount in yuan written as a string, found a {}",
                other.type_str()
            ))),
        }
    }
}

/// A calendar date: a TOML local date (`2026-03-31`) or the same as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Day(pub NaiveDate);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = |what: &str| D::Error::custom(format!("{what} is not a date like 2026-03-31"));
        match toml::Value::deserialize(d)? {
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(date), None, None) => NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
                .map(Day)
                .ok_or_else(|| bad(&dt.to_string())),
                _ => Err(bad(&dt.to_string())),
            },
            toml::Value::String(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(Day)
                .map_err(|_| bad(&format!("{s:?}"))),
            other => Err(bad(&format!("a {}", other.type_str()))),
        }
    }
}

/// A billing month, `2026-03`. Every periodic and metered charge is priced month by month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    /// Always the first day of the month, so ordering and arithmetic come from chrono.
    first: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month like 2026-03")]
pub struct YearMonthError(pub String);

impl YearMonth {
    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> YearMonth {
        YearMonth {
            first: date - chrono::Days::new(u64::from(date.day0())),
        }
    }

    pub fn new(year: i32, month: u32) -> Option<YearMonth> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| YearMonth { first })
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<YearMonth, YearMonthError> {
        let bad = || YearMonthError(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }

    pub fn year(self) -> i32 {
        self.first.year()
    }

    /// 1 = January … 12 = December.
    pub fn month(self) -> u32 {
        self.first.month()
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// `None` only at the end of chrono's calendar.
    pub fn last_day(self) -> Option<NaiveDate> {
        self.next().and_then(|n| n.first.pred_opt())
    }

    pub fn next(self) -> Option<YearMonth> {
        self.first
            .checked_add_months(Months::new(1))
            .map(|first| YearMonth { first })
    }

    pub fn prev(self) -> Option<YearMonth> {
        self.first
            .checked_sub_months(Months::new(1))
            .map(|first| YearMonth { first })
    }

    /// How many months from `self` to `later`, counting both; 0 if `later` is earlier.
    pub fn months_through(self, later: YearMonth) -> u32 {
        let diff = (i64::from(later.year()) - i64::from(self.year())) * 12
            + i64::from(later.month())
            - i64::from(self.month());
        u32::try_from(diff + 1).unwrap_or(0)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        YearMonth::parse(&s).map_err(D::Error::custom)
    }
}

/// Fen as exact yuan: `Fen::new(12345)` is `123.45`.
pub(crate) fn yuan(fen: Fen) -> Decimal {
    Decimal::new(fen.get(), 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_month_parses_strictly_and_steps_across_years() {
        let dec = YearMonth::parse("2025-12").unwrap();
        assert_eq!(dec.next().unwrap().to_string(), "2026-01");
        assert_eq!(dec.prev().unwrap().to_string(), "2025-11");
        assert_eq!(
            dec.last_day().unwrap(),
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        for bad in ["2025-13", "2025-1", "25-01", "2025/01", "", "2025-00"] {
            assert!(YearMonth::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn months_through_counts_both_ends() {
        let a = YearMonth::parse("2025-11").unwrap();
        let b = YearMonth::parse("2026-02").unwrap();
        assert_eq!(a.months_through(b), 4);
        assert_eq!(a.months_through(a), 1);
        assert_eq!(b.months_through(a), 0);
    }

    #[test]
    fn february_of_a_leap_year_ends_on_the_29th() {
        let feb = YearMonth::of(NaiveDate::from_ymd_opt(2028, 2, 10).unwrap());
        assert_eq!(
            feb.last_day().unwrap(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
    }
}
