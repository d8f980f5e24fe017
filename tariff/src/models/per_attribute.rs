//! Model 2: a price per unit of an account attribute per month — the property fee,
//! `area m² × price per m² a month × months`, with the price chosen by another attribute
//! (the building, or a category such as `villa`).
//!
//! Rule file: `[rule.version.per_attribute]` with `attribute`, `unit`, and `price` or
//! `select_by` with a `prices` table (then `price` is the default). Periodic.

use super::{months_word, months_zh, Bi, Ctx, ModelTable, PeriodicPricing, Piece};
use crate::error::QuoteError;
use crate::parse::{Checked, Checker};
use crate::values::Dec;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerAttribute {
    /// The attribute measured, e.g. `area_m2`; its value must be a decimal string.
    pub attribute: String,
    /// Unit of the attribute, e.g. `m²`.
    pub unit: String,
    pub price: PriceBy,
}

/// Where the price per unit per month comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceBy {
    /// One price for every account.
    Flat(Decimal),
    /// The account's `attribute` value picks the price; `default` covers the values not listed.
    Selected {
        attribute: String,
        prices: BTreeMap<String, Decimal>,
        default: Option<Decimal>,
    },
}

impl PerAttribute {
    /// `months` consecutive months as one line: quantity is `attribute × months`
    /// (e.g. m²·month), the unit price is per unit per month.
    pub(crate) fn price(
        &self,
        ctx: Ctx<'_>,
        rule: &str,
        attributes: &BTreeMap<String, String>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError> {
        let measure = self.measure(rule, attributes)?;
        let (unit_price, chosen) = self.unit_price(rule, attributes)?;
        let quantity = measure
            .checked_mul(Decimal::from(months))
            .ok_or(QuoteError::Overflow)?;
        let unit_zh = ctx.word(&self.unit);
        let (chosen_en, chosen_zh) = match chosen {
            Chosen::Flat => (String::new(), String::new()),
            Chosen::Listed(a, v) => (
                format!(" ({a} {v})"),
                format!("（{} {}）", ctx.word(a), ctx.word(v)),
            ),
            Chosen::Default(a, v) => (
                format!(" ({a} {v}: default price)"),
                format!("（{} {}，默认单价）", ctx.word(a), ctx.word(v)),
            ),
        };
        Piece::priced(
            ctx,
            period,
            quantity,
            Bi::new(format!("{}·month", self.unit), format!("{unit_zh}·月")),
            unit_price,
            Bi::new(
                format!(
                    "{measure} {unit} × {unit_price} {cur}/{unit} a month × {m}{chosen_en}",
                    unit = self.unit,
                    cur = ctx.currency,
                    m = months_word(months),
                ),
                format!(
                    "{measure} {unit_zh} × 每月 {unit_price} {cur}/{unit_zh} × {m}{chosen_zh}",
                    cur = ctx.cur_zh(),
                    m = months_zh(months),
                ),
            ),
        )
    }

    /// The measured attribute: present and a non-negative decimal.
    fn measure(
        &self,
        rule: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<Decimal, QuoteError> {
        let raw = attributes
            .get(&self.attribute)
            .ok_or_else(|| QuoteError::MissingAttribute {
                attribute: self.attribute.clone(),
                rule: rule.to_string(),
            })?;
        Decimal::from_str_exact(raw.trim())
            .ok()
            .filter(|d| !d.is_sign_negative())
            .ok_or_else(|| QuoteError::BadAttribute {
                attribute: self.attribute.clone(),
                value: raw.clone(),
            })
    }

    /// The price per unit a month and, for the explanation, what chose it.
    fn unit_price<'s>(
        &'s self,
        rule: &str,
        attributes: &'s BTreeMap<String, String>,
    ) -> Result<(Decimal, Chosen<'s>), QuoteError> {
        match &self.price {
            PriceBy::Flat(p) => Ok((*p, Chosen::Flat)),
            PriceBy::Selected {
                attribute,
                prices,
                default,
            } => {
                let value =
                    attributes
                        .get(attribute)
                        .ok_or_else(|| QuoteError::MissingAttribute {
                            attribute: attribute.clone(),
                            rule: rule.to_string(),
                        })?;
                match (prices.get(value), default) {
                    (Some(p), _) => Ok((*p, Chosen::Listed(attribute, value))),
                    (None, Some(p)) => Ok((*p, Chosen::Default(attribute, value))),
                    (None, None) => Err(QuoteError::UnpricedAttribute {
                        rule: rule.to_string(),
                        attribute: attribute.clone(),
                        value: value.clone(),
                    }),
                }
            }
        }
    }
}

/// `[rule.version.per_attribute]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerAttributeFile {
    pub attribute: String,
    pub unit: String,
    #[serde(default)]
    pub price: Option<Spanned<Dec>>,
    #[serde(default)]
    pub select_by: Option<Spanned<String>>,
    #[serde(default)]
    pub prices: Option<Spanned<BTreeMap<String, Spanned<Dec>>>>,
}

impl ModelTable for PerAttribute {
    const NAME: &'static str = "per_attribute";
    type File = PerAttributeFile;

    /// An attribute that is named, and prices of zero or more: one `price`, or `select_by`
    /// with a `prices` table that is not empty.
    fn check(
        cx: &Checker<'_>,
        file: &Spanned<PerAttributeFile>,
        _declared: Option<&[String]>,
    ) -> Checked<PerAttribute> {
        let span = file.span();
        let raw = file.get_ref();
        if raw.attribute.trim().is_empty() {
            return cx.fail(cx.err(&span, "attribute is empty"));
        }
        Some(PerAttribute {
            attribute: raw.attribute.clone(),
            unit: raw.unit.clone(),
            price: price_by(cx, raw, &span)?,
        })
    }

    /// The unit, and the `select_by` attribute with the values it lists.
    fn words(file: &PerAttributeFile) -> Vec<&str> {
        let mut words = vec![file.unit.as_str()];
        if let Some(s) = &file.select_by {
            words.push(s.get_ref().as_str());
        }
        if let Some(prices) = &file.prices {
            words.extend(prices.get_ref().keys().map(String::as_str));
        }
        words
    }
}

/// Where the table's price comes from: `price` alone, or `select_by` with `prices` (and
/// `price` as the default).
fn price_by(cx: &Checker<'_>, raw: &PerAttributeFile, span: &Range<usize>) -> Checked<PriceBy> {
    let flat = cx.non_negative_opt(&raw.price, "price")?;
    match (&raw.select_by, &raw.prices) {
        (None, None) => match flat {
            Some(price) => Some(PriceBy::Flat(price)),
            None => cx.fail(cx.err(
                span,
                "per_attribute needs a price (or select_by with prices)",
            )),
        },
        (None, Some(p)) => cx.fail(cx.err(
            &p.span(),
            "prices needs select_by: the attribute that picks the price",
        )),
        (Some(s), None) => cx.fail(cx.err(&s.span(), "select_by needs a prices table")),
        (Some(select_by), Some(prices)) => {
            if prices.get_ref().is_empty() {
                return cx.fail(cx.err(&prices.span(), "prices is empty"));
            }
            let mut checked = BTreeMap::new();
            for (value, p) in prices.get_ref() {
                checked.insert(value.clone(), cx.non_negative(p, "price")?);
            }
            Some(PriceBy::Selected {
                attribute: select_by.get_ref().clone(),
                prices: checked,
                default: flat,
            })
        }
    }
}

impl PeriodicPricing for PerAttribute {
    fn price_months(
        &self,
        ctx: Ctx<'_>,
        rule: &str,
        attributes: &BTreeMap<String, String>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError> {
        self.price(ctx, rule, attributes, period, months)
    }

    /// Whether an account's attributes can be priced by this model: what an import checks,
    /// with the very code a quote uses, so the two never disagree.
    fn check_attributes(
        &self,
        rule: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), QuoteError> {
        self.measure(rule, attributes)?;
        self.unit_price(rule, attributes).map(|_| ())
    }
}

/// What chose a line's price: one flat price, or the `select_by` attribute's value, listed in
/// `prices` or not (the default price).
enum Chosen<'s> {
    Flat,
    Listed(&'s str, &'s str),
    Default(&'s str, &'s str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use crate::tenant::Zh;
    use posfee_schemas::money::{Currency, Fen};
    use rust_decimal_macros::dec;

    const CTX: Ctx<'static> = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
        zh: &Zh::EMPTY,
    };

    fn by_building() -> PerAttribute {
        PerAttribute {
            attribute: "area_m2".into(),
            unit: "m²".into(),
            price: PriceBy::Selected {
                attribute: "building".into(),
                prices: [("A".to_string(), dec!(2.80)), ("B".to_string(), dec!(2.20))]
                    .into_iter()
                    .collect(),
                default: None,
            },
        }
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn property_fee_is_area_times_building_price_times_months() {
        // Building A: 89.50 m² × 2.80 × 3 months = 268.50 m²·month × 2.80 = 751.80 CNY.
        let p = by_building()
            .price(
                CTX,
                "property-fee",
                &attrs(&[("area_m2", "89.50"), ("building", "A")]),
                "2026-01..2026-03",
                3,
            )
            .unwrap();
        assert_eq!(p.quantity, dec!(268.50));
        assert_eq!(p.amount, Fen::new(75180));
        assert_eq!(p.unit, Bi::new("m²·month", "m²·月"));
        assert_eq!(
            p.explanation.en,
            "89.50 m² × 2.80 CNY/m² a month × 3 months (building A)"
        );
    }

    #[test]
    fn the_chinese_explanation_uses_the_files_words_for_the_attribute_and_its_value() {
        // With the glossary building → 楼栋, villa → 别墅: 120 m² × 每月 4.50 元/m² × 2 个月
        // = 240 m²·月 × 4.50 = 1080.00 元; a building not listed takes the default price.
        let zh = Zh {
            name: None,
            words: [("building", "楼栋"), ("villa", "别墅")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let ctx = Ctx { zh: &zh, ..CTX };
        let mut pa = by_building();
        if let PriceBy::Selected {
            prices, default, ..
        } = &mut pa.price
        {
            prices.insert("villa".into(), dec!(4.50));
            *default = Some(dec!(2.50));
        }
        let p = pa
            .price(
                ctx,
                "property-fee",
                &attrs(&[("area_m2", "120"), ("building", "villa")]),
                "2026-01..2026-02",
                2,
            )
            .unwrap();
        assert_eq!(p.amount, Fen::new(108000));
        assert_eq!(
            p.explanation.zh,
            "120 m² × 每月 4.50 元/m² × 2 个月（楼栋 别墅）"
        );
        let d = pa
            .price(
                ctx,
                "property-fee",
                &attrs(&[("area_m2", "80"), ("building", "C")]),
                "2026-01",
                1,
            )
            .unwrap();
        assert_eq!(
            d.explanation.zh,
            "80 m² × 每月 2.50 元/m² × 1 个月（楼栋 C，默认单价）"
        );
        assert_eq!(
            d.explanation.en,
            "80 m² × 2.50 CNY/m² a month × 1 month (building C: default price)"
        );
    }

    #[test]
    fn fractions_of_a_fen_are_rounded_once_on_the_line() {
        // Building B: 77.33 m² × 2.20 × 1 = 170.126 CNY → 170.13 (half up).
        let p = by_building()
            .price(
                CTX,
                "property-fee",
                &attrs(&[("area_m2", "77.33"), ("building", "B")]),
                "2026-01",
                1,
            )
            .unwrap();
        assert_eq!(p.amount, Fen::new(17013));
    }

    #[test]
    fn missing_area_names_the_attribute() {
        let err = by_building()
            .price(
                CTX,
                "property-fee",
                &attrs(&[("building", "A")]),
                "2026-01",
                1,
            )
            .unwrap_err();
        assert_eq!(
            err,
            QuoteError::MissingAttribute {
                attribute: "area_m2".into(),
                rule: "property-fee".into()
            }
        );
    }

    #[test]
    fn a_building_without_a_price_is_refused_not_guessed() {
        let err = by_building()
            .price(
                CTX,
                "property-fee",
                &attrs(&[("area_m2", "50"), ("building", "Z")]),
                "2026-01",
                1,
            )
            .unwrap_err();
        assert_eq!(err.code(), "unpriced_attribute");
    }

    #[test]
    fn a_non_numeric_or_negative_area_is_refused() {
        for bad in ["ninety", "-3", "1e3"] {
            let err = by_building()
                .price(
                    CTX,
                    "property-fee",
                    &attrs(&[("area_m2", bad), ("building", "A")]),
                    "2026-01",
                    1,
                )
                .unwrap_err();
            assert_eq!(err.code(), "bad_attribute", "{bad}");
        }
    }
}
