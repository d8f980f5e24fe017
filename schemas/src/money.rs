//! Money: integer fen (1/100 CNY) and an ISO 4217 code. Never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in the currency's minor unit (fen for CNY). Arithmetic is checked: an amount that
/// would overflow is an error, never a wrapped number.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflows")]
    Overflow,
    #[error("amount must be positive, got {0}")]
    NotPositive(Fen),
    #[error("currency {0:?} is not supported (supported: CNY, HKD, USD)")]
    UnknownCurrency(String),
    #[error("amount {0:?} is not a decimal with at most two fraction digits")]
    BadAmount(String),
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// An amount of `fen` minor units.
    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    /// The number of minor units.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Fen)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Fen)
            .ok_or(MoneyError::Overflow)
    }

    /// The sum of many amounts, or `Overflow`.
    pub fn sum<I: IntoIterator<Item = Fen>>(items: I) -> Result<Fen, MoneyError> {
        items.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }

    /// This amount if it is above zero; payments and refunds must be.
    pub fn positive(self) -> Result<Fen, MoneyError> {
        if self.0 > 0 {
            Ok(self)
        } else {
            Err(MoneyError::NotPositive(self))
        }
    }

    /// Parses `"123.45"`, `"-0.5"`, `"7"` into fen, exactly (no float on the way).
    pub fn parse_yuan(s: &str) -> Result<Fen, MoneyError> {
        let bad = || MoneyError::BadAmount(s.to_string());
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        let fen = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or(MoneyError::Overflow)?;
        Ok(Fen(if neg { -fen } else { fen }))
    }
}

impl fmt::Display for Fen {
    /// `12345` fen shows as `123.45`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// ISO 4217 codes posfee settles in. An unknown code is refused at decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[default]
    CNY,
    HKD,
    USD,
}

impl Currency {
    pub fn parse(s: &str) -> Result<Currency, MoneyError> {
        match s {
            "CNY" => Ok(Currency::CNY),
            "HKD" => Ok(Currency::HKD),
            "USD" => Ok(Currency::USD),
            other => Err(MoneyError::UnknownCurrency(other.to_string())),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::CNY => "CNY",
            Currency::HKD => "HKD",
            Currency::USD => "USD",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount with its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub fen: Fen,
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub currency: Currency,
}

impl Money {
    pub fn cny(fen: i64) -> Money {
        Money {
            fen: Fen(fen),
            currency: Currency::CNY,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.fen, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fen_displays_as_yuan_with_two_digits() {
        assert_eq!(Fen(12345).to_string(), "123.45");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(-150).to_string(), "-1.50");
        assert_eq!(Fen(i64::MIN).to_string(), "-92233720368547758.08");
    }

    #[test]
    fn parse_yuan_is_exact_and_strict() {
        assert_eq!(Fen::parse_yuan("300.00").unwrap(), Fen(30000));
        assert_eq!(Fen::parse_yuan("5.1").unwrap(), Fen(510));
        assert_eq!(Fen::parse_yuan("-0.05").unwrap(), Fen(-5));
        for bad in [
            "",
            "1.234",
            "1e3",
            "abc",
            ".5",
            "1,00",
            "99999999999999999999",
        ] {
            assert!(Fen::parse_yuan(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), Err(MoneyError::Overflow));
        assert!(Fen::sum([Fen(i64::MAX), Fen(1)]).is_err());
        assert_eq!(Fen::sum([Fen(1), Fen(2)]).unwrap(), Fen(3));
    }

    #[test]
    fn unknown_currency_is_refused_at_decode() {
        let bytes = rmp_serde::to_vec_named(&("XXX",)).unwrap();
        assert!(rmp_serde::from_slice::<(Currency,)>(&bytes).is_err());
        assert!(Currency::parse("EUR").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(n in any::<i64>().prop_filter("min has no positive twin", |n| *n != i64::MIN)) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(n).to_string()).unwrap(), Fen(n));
        }
    }
}
