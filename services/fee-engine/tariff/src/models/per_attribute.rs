//! Model 2: a price per unit of an account attribute per month — the property fee,
//! `area m² × price per m² a month × months`, with the price chosen by another attribute
//! (the building, or a category such as `villa`).

use super::{months_word, Ctx, Piece};
use crate::error::QuoteError;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

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
        ctx: Ctx,
        rule: &str,
        attributes: &BTreeMap<String, String>,
        period: &str,
        months: u32,
    ) -> Result<Piece, QuoteError> {
        let measure = self.measure(rule, attributes)?;
        let (unit_price, chosen_by) = self.unit_price(rule, attributes)?;
        let quantity = measure
            .checked_mul(Decimal::from(months))
            .ok_or(QuoteError::Overflow)?;
        Piece::priced(
            ctx,
            period,
            quantity,
            &format!("{}·month", self.unit),
            unit_price,
            format!(
                "{measure} {unit} × {unit_price} {cur}/{unit} a month × {m}{chosen_by}",
                unit = self.unit,
                cur = ctx.currency,
                m = months_word(months),
            ),
        )
    }

    /// Whether an account's attributes can be priced by this model: what an import checks,
    /// with the very code a quote uses, so the two never disagree.
    pub(crate) fn check(
        &self,
        rule: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), QuoteError> {
        self.measure(rule, attributes)?;
        self.unit_price(rule, attributes).map(|_| ())
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
    fn unit_price(
        &self,
        rule: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(Decimal, String), QuoteError> {
        match &self.price {
            PriceBy::Flat(p) => Ok((*p, String::new())),
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
                    (Some(p), _) => Ok((*p, format!(" ({attribute} {value})"))),
                    (None, Some(p)) => Ok((*p, format!(" ({attribute} {value}: default price)"))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rounding::Rounding;
    use posfee_schemas::money::{Currency, Fen};
    use rust_decimal_macros::dec;

    const CTX: Ctx = Ctx {
        rounding: Rounding::HalfUp,
        currency: Currency::CNY,
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
        assert_eq!(p.amount, Fen(75180));
        assert_eq!(p.unit, "m²·month");
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
        assert_eq!(p.amount, Fen(17013));
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
