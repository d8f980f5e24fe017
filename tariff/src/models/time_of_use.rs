//! Model 4b: time-of-use prices. The meter keeps one cumulative register per time band
//! (peak / flat / valley); each register's monthly usage is priced at its band's price, one
//! line per band.
//!
//! Rule file: `[rule.version.time_of_use]` with `unit` and `[[…register]]` entries
//! `{ name, price }`. Metered, from one register per band.

use super::{Bi, Ctx, MeteredPricing, ModelTable, Piece};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::readings::MeterReads;
use crate::values::{Dec, YearMonth};
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The register name readings carry, e.g. `peak`.
    pub name: String,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOfUse {
    pub unit: String,
    pub registers: Vec<Register>,
}

impl TimeOfUse {
    /// One band's usage for one month.
    pub(crate) fn price(
        &self,
        ctx: Ctx<'_>,
        period: &str,
        register: &Register,
        usage: Decimal,
    ) -> Result<Piece, QuoteError> {
        let unit_zh = ctx.word(&self.unit);
        // `峰时段`; a band without Chinese keeps a space after its name: `valley 时段`.
        let band = ctx
            .zh
            .word(&register.name)
            .map_or_else(|| format!("{} ", register.name), str::to_string);
        Piece::priced(
            ctx,
            period,
            usage,
            Bi::new(self.unit.clone(), unit_zh),
            register.price,
            Bi::new(
                format!(
                    "{} band: {usage} {} × {}",
                    register.name, self.unit, register.price
                ),
                format!("{band}时段：{usage} {unit_zh} × {}", register.price),
            ),
        )
    }
}

impl MeteredPricing for TimeOfUse {
    /// One register per band.
    fn registers(&self) -> Vec<Option<String>> {
        self.registers
            .iter()
            .map(|r| Some(r.name.clone()))
            .collect()
    }

    /// Each band's usage in the month at its price, one line per band.
    fn price_month(
        &self,
        ctx: Ctx<'_>,
        reads: &mut MeterReads<'_>,
        month: YearMonth,
    ) -> Result<Vec<Piece>, QuoteError> {
        let period = month.to_string();
        let mut pieces = Vec::new();
        for band in &self.registers {
            let usage = reads.register(Some(&band.name))?.usage(month)?;
            pieces.push(self.price(ctx, &period, band, usage)?);
        }
        Ok(pieces)
    }
}

/// `[rule.version.time_of_use]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeOfUseFile {
    pub unit: String,
    #[serde(default)]
    pub register: Vec<Spanned<RegisterFile>>,
}

/// A `[[…register]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterFile {
    pub name: Spanned<String>,
    pub price: Spanned<Dec>,
}

impl ModelTable for TimeOfUse {
    const NAME: &'static str = "time_of_use";
    type File = TimeOfUseFile;

    /// At least one register; names not empty and not repeated; prices zero or more.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<TimeOfUseFile>,
        _declared: Option<&[String]>,
    ) -> Checked<TimeOfUse> {
        let raw = file.get_ref();
        if raw.register.is_empty() {
            return cx.fail(cx.err(
                &file.span(),
                "time_of_use needs register entries (name, price)",
            ));
        }
        let mut registers: Vec<Register> = Vec::new();
        for r in &raw.register {
            let r = r.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() || registers.iter().any(|seen| seen.name == name) {
                return cx.fail(cx.err(
                    &r.name.span(),
                    format!("register name {name:?} is empty or repeated"),
                ));
            }
            registers.push(Register {
                name,
                price: cx.non_negative(&r.price, "price")?,
            });
        }
        Some(TimeOfUse {
            unit: raw.unit.clone(),
            registers,
        })
    }

    /// The unit and the band names.
    fn words(file: &TimeOfUseFile) -> Vec<&str> {
        let mut words = vec![file.unit.as_str()];
        words.extend(
            file.register
                .iter()
                .map(|r| r.get_ref().name.get_ref().trim()),
        );
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::money::{Currency, Fen};
    use rust_decimal_macros::dec;

    #[test]
    fn each_band_is_priced_at_its_own_price() {
        // peak 120.5 kWh × 1.0250 = 123.5125 → 123.51; valley 80 kWh × 0.3050 = 24.40.
        let zh = Zh {
            name: None,
            words: [("peak", "峰"), ("kWh", "千瓦时")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let ctx = Ctx {
            rounding: Rounding::HalfUp,
            currency: Currency::CNY,
            zh: &zh,
        };
        let tou = TimeOfUse {
            unit: "kWh".into(),
            registers: vec![
                Register {
                    name: "peak".into(),
                    price: dec!(1.0250),
                },
                Register {
                    name: "valley".into(),
                    price: dec!(0.3050),
                },
            ],
        };
        let peak = tou
            .price(ctx, "2026-03", &tou.registers[0], dec!(120.5))
            .unwrap();
        let valley = tou
            .price(ctx, "2026-03", &tou.registers[1], dec!(80))
            .unwrap();
        assert_eq!(peak.amount, Fen::new(12351));
        assert_eq!(valley.amount, Fen::new(2440));
        assert_eq!(peak.explanation.en, "peak band: 120.5 kWh × 1.0250");
        // In Chinese with the file's words peak → 峰, kWh → 千瓦时; valley has no Chinese in
        // this glossary and is shown as written.
        assert_eq!(peak.explanation.zh, "峰时段：120.5 千瓦时 × 1.0250");
        assert_eq!(peak.unit, Bi::new("kWh", "千瓦时"));
        assert_eq!(valley.explanation.zh, "valley 时段：80 千瓦时 × 0.3050");
    }
}
