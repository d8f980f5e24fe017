//! Usage from cumulative meter readings.
//!
//! A month's usage is `closing(month) − closing(month before)`, where `closing(m)` is the last
//! reading dated in month `m` and the opening is the last reading dated on or before the end
//! of the previous month. A month with no reading of its own cannot be billed: usage is never
//! spread or guessed across months.

use crate::error::QuoteError;
use crate::facts::Reading;
use crate::values::YearMonth;
use chrono::NaiveDate;
use posfee_schemas::ids::FeeKind;
use rust_decimal::Decimal;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// A meter's registers as a quote reads them, each read from the account's readings once.
pub(crate) struct MeterReads<'r> {
    kind: &'r FeeKind,
    meter: &'r str,
    readings: &'r [Reading],
    as_of: NaiveDate,
    registers: BTreeMap<Option<String>, Register>,
}

impl<'r> MeterReads<'r> {
    /// `meter`, which measures `kind`, with none of its registers read yet.
    pub(crate) fn new(
        kind: &'r FeeKind,
        meter: &'r str,
        readings: &'r [Reading],
        as_of: NaiveDate,
    ) -> Self {
        MeterReads {
            kind,
            meter,
            readings,
            as_of,
            registers: BTreeMap::new(),
        }
    }

    /// The fee kind the meter measures.
    pub(crate) fn kind(&self) -> &'r FeeKind {
        self.kind
    }

    /// The register `name` (`None`: the meter's only one), read on first use.
    pub(crate) fn register(&mut self, name: Option<&str>) -> Result<&mut Register, QuoteError> {
        match self.registers.entry(name.map(str::to_string)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => Ok(e.insert(Register::new(
                self.kind,
                self.meter,
                name,
                self.readings,
                self.as_of,
            )?)),
        }
    }

    /// The register `name` if it has been read.
    pub(crate) fn read(&self, name: &Option<String>) -> Option<&Register> {
        self.registers.get(name)
    }
}

/// One register of one meter, in date order, checked to never run backwards.
#[derive(Debug)]
pub(crate) struct Register {
    kind: FeeKind,
    name: String,
    points: Vec<(NaiveDate, Decimal)>,
}

impl Register {
    /// The readings of `meter`'s `register` dated on or before `as_of`. Two readings on one
    /// day, or a later reading lower than an earlier one (a replaced meter), are refused.
    pub(crate) fn new(
        kind: &FeeKind,
        meter: &str,
        register: Option<&str>,
        readings: &[Reading],
        as_of: NaiveDate,
    ) -> Result<Register, QuoteError> {
        let name = match register {
            Some(r) => format!("{meter} ({r})"),
            None => meter.to_string(),
        };
        let mut points: Vec<(NaiveDate, Decimal)> = readings
            .iter()
            .filter(|r| r.meter == meter && r.register.as_deref() == register && r.read_on <= as_of)
            .map(|r| (r.read_on, r.value))
            .collect();
        points.sort();
        if let Some((d, v)) = points.iter().find(|(_, v)| v.is_sign_negative()) {
            return Err(QuoteError::BadReadings {
                meter: name,
                reason: format!("reading {v} on {d} is negative"),
            });
        }
        for pair in points.windows(2) {
            let [(d0, v0), (d1, v1)] = pair else { continue };
            let bad = |reason: String| QuoteError::BadReadings {
                meter: name.clone(),
                reason,
            };
            if d0 == d1 {
                return Err(bad(format!("two readings on {d1}")));
            }
            if v1 < v0 {
                return Err(bad(format!(
                    "reading {v1} on {d1} is below {v0} on {d0}; cumulative registers never fall"
                )));
            }
        }
        Ok(Register {
            kind: kind.clone(),
            name,
            points,
        })
    }

    fn missing(&self, reason: String) -> QuoteError {
        QuoteError::MissingReadings {
            kind: self.kind.clone(),
            reason: format!("meter {}: {reason}", self.name),
        }
    }

    pub(crate) fn first_month(&self) -> Option<YearMonth> {
        self.points.first().map(|(d, _)| YearMonth::of(*d))
    }

    pub(crate) fn last_month(&self) -> Option<YearMonth> {
        self.points.last().map(|(d, _)| YearMonth::of(*d))
    }

    /// The last reading on or before `day`.
    fn at_or_before(&self, day: NaiveDate) -> Option<Decimal> {
        self.points
            .iter()
            .rev()
            .find(|(d, _)| *d <= day)
            .map(|(_, v)| *v)
    }

    /// The register at the end of `month`: its last reading dated on or before the month's
    /// last day. With `own == true` the reading must be dated inside the month.
    fn closing(&self, month: YearMonth, own: bool) -> Result<Decimal, QuoteError> {
        let last = month.last_day().ok_or(QuoteError::Overflow)?;
        self.points
            .iter()
            .rev()
            .find(|(d, _)| *d <= last && (!own || *d >= month.first_day()))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                if own {
                    self.missing(format!("no reading in {month}"))
                } else {
                    self.missing(format!(
                        "no reading on or before {last} to start {}",
                        month.next().map_or(String::new(), |m| m.to_string())
                    ))
                }
            })
    }

    /// The usage in `month`.
    pub(crate) fn usage(&self, month: YearMonth) -> Result<Decimal, QuoteError> {
        let before = month.prev().ok_or(QuoteError::Overflow)?;
        let close = self.closing(month, true)?;
        let open = self.closing(before, false)?;
        close.checked_sub(open).ok_or(QuoteError::Overflow)
    }

    /// The usage in `month`'s calendar year before `month` began — where a year-to-date tier
    /// count stands. Needs a reading on or before the previous 31 December.
    pub(crate) fn year_to_date_before(&self, month: YearMonth) -> Result<Decimal, QuoteError> {
        if month.month() == 1 {
            return Ok(Decimal::ZERO);
        }
        let before = month.prev().ok_or(QuoteError::Overflow)?;
        let year_start = YearMonth::new(month.year(), 1)
            .and_then(YearMonth::prev)
            .ok_or(QuoteError::Overflow)?;
        let open = self.closing(before, false)?;
        let last_dec = year_start.last_day().ok_or(QuoteError::Overflow)?;
        let anchor = self.at_or_before(last_dec).ok_or_else(|| {
            self.missing(format!(
                "no reading on or before {last_dec}, so the year-to-date usage of {} is unknown",
                month.year()
            ))
        })?;
        open.checked_sub(anchor).ok_or(QuoteError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn reading(on: &str, value: Decimal) -> Reading {
        Reading {
            meter: "W1".into(),
            register: None,
            read_on: on.parse().unwrap(),
            value,
        }
    }

    fn kind() -> FeeKind {
        FeeKind::parse("water").unwrap()
    }

    fn ym(s: &str) -> YearMonth {
        YearMonth::parse(s).unwrap()
    }

    fn as_of() -> NaiveDate {
        "2026-12-31".parse().unwrap()
    }

    #[test]
    fn usage_is_closing_minus_the_previous_months_closing() {
        let r = [
            reading("2025-12-30", dec!(1000)),
            reading("2026-01-31", dec!(1012.5)),
            reading("2026-02-27", dec!(1030)),
        ];
        let reg = Register::new(&kind(), "W1", None, &r, as_of()).unwrap();
        assert_eq!(reg.usage(ym("2026-01")).unwrap(), dec!(12.5));
        assert_eq!(reg.usage(ym("2026-02")).unwrap(), dec!(17.5));
        assert_eq!(reg.year_to_date_before(ym("2026-02")).unwrap(), dec!(12.5));
    }

    #[test]
    fn a_month_without_its_own_reading_is_missing() {
        let r = [
            reading("2025-12-30", dec!(1000)),
            reading("2026-03-01", dec!(1030)),
        ];
        let reg = Register::new(&kind(), "W1", None, &r, as_of()).unwrap();
        let err = reg.usage(ym("2026-02")).unwrap_err();
        assert_eq!(err.code(), "missing_readings");
        assert!(err.to_string().contains("no reading in 2026-02"), "{err}");
    }

    #[test]
    fn a_falling_register_is_refused() {
        let r = [
            reading("2026-01-31", dec!(1000)),
            reading("2026-02-28", dec!(990)),
        ];
        let err = Register::new(&kind(), "W1", None, &r, as_of()).unwrap_err();
        assert_eq!(err.code(), "bad_readings");
    }

    #[test]
    fn year_to_date_needs_the_reading_closing_last_year() {
        let r = [
            reading("2026-01-31", dec!(1000)),
            reading("2026-02-28", dec!(1010)),
        ];
        let reg = Register::new(&kind(), "W1", None, &r, as_of()).unwrap();
        let err = reg.year_to_date_before(ym("2026-03")).unwrap_err();
        assert!(err.to_string().contains("2025-12-31"), "{err}");
    }
}
