//! Rule file text → checked [`Tenant`], or the first mistake with its line.
//!
//! TOML shape errors (syntax, unknown or missing fields, wrong types, floats) come from serde
//! with toml's span; the checks here cover what a schema cannot say: tiers that leave gaps or
//! overlap, negative prices, rules naming undeclared kinds, versions out of date order, two
//! rules claiming the same customers.

use crate::error::RuleFileError;
use crate::file::{
    CumulationFile, LateFeeFile, PerAttributeFile, RuleFile, TenantFile, TierFile, TieredFile,
    TimeOfUseFile, TopUpFile, VersionFile,
};
use crate::models::adjustments::{Discount, PrepayBonus};
use crate::models::fixed::Fixed;
use crate::models::late_fee::{LateFee, Rate};
use crate::models::per_attribute::{PerAttribute, PriceBy};
use crate::models::tiered::{Cumulation, Season, Tier, Tiered};
use crate::models::time_of_use::{Register, TimeOfUse};
use crate::models::top_up::{Denomination, TopUp};
use crate::tenant::{BillTerms, Charge, Family, KindDecl, Rule, Tenant, Version};
use crate::values::{Dec, Yuan};
use chrono_tz::Tz;
use posfee_schemas::ids::{FeeKind, TenantId};
use posfee_schemas::money::{Currency, Fen};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

/// The time zone of a tenant whose file names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Parses and checks one tenant's rule file. `file_name` only labels errors.
pub fn parse_rule_file(file_name: &str, text: &str) -> Result<Tenant, RuleFileError> {
    let raw: TenantFile =
        toml::from_str(text).map_err(|e| RuleFileError::from_toml(file_name, text, &e))?;
    Checker {
        file: file_name,
        text,
    }
    .tenant(raw)
}

type Checked<T> = Result<T, RuleFileError>;

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: &Range<usize>, reason: impl Into<String>) -> RuleFileError {
        RuleFileError::at_span(self.file, self.text, span, reason)
    }

    /// A price or rate: zero or more.
    fn non_negative(&self, d: &Spanned<Dec>, what: &str) -> Checked<Decimal> {
        let v = d.get_ref().0;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(self.err(&d.span(), format!("{what} {v} is negative")));
        }
        Ok(v)
    }

    fn non_negative_fen(&self, y: &Spanned<Yuan>, what: &str) -> Checked<Fen> {
        let v = y.get_ref().0;
        if v < Fen::ZERO {
            return Err(self.err(&y.span(), format!("{what} {v} is negative")));
        }
        Ok(v)
    }

    fn tenant(&self, raw: TenantFile) -> Checked<Tenant> {
        let id = TenantId::parse(raw.tenant.get_ref().as_str())
            .map_err(|e| self.err(&raw.tenant.span(), e.to_string()))?;
        let time_zone = match &raw.time_zone {
            None => DEFAULT_TIME_ZONE
                .parse::<Tz>()
                .map_err(|e| self.err(&(0..0), e.to_string()))?,
            Some(tz) => tz.get_ref().parse::<Tz>().map_err(|_| {
                self.err(
                    &tz.span(),
                    format!(
                        "unknown time zone {:?} (e.g. \"Asia/Shanghai\")",
                        tz.get_ref()
                    ),
                )
            })?,
        };
        let currency = match &raw.currency {
            None => Currency::CNY,
            Some(c) => {
                Currency::parse(c.get_ref()).map_err(|e| self.err(&c.span(), e.to_string()))?
            }
        };

        let mut kinds: Vec<KindDecl> = Vec::new();
        for k in &raw.kinds {
            let id = k.get_ref().id.get_ref();
            let span = k.get_ref().id.span();
            let kind = FeeKind::parse(id.as_str()).map_err(|e| self.err(&span, e.to_string()))?;
            if kinds.iter().any(|d| d.kind == kind) {
                return Err(self.err(&span, format!("fee kind {kind} is declared twice")));
            }
            kinds.push(KindDecl {
                kind,
                label: k.get_ref().label.clone(),
            });
        }
        if kinds.is_empty() {
            return Err(self.err(
                &(0..0),
                "the tenant declares no fee kinds: add [[kind]] tables",
            ));
        }

        let mut rules: Vec<(Rule, Range<usize>)> = Vec::new();
        for r in raw.rules {
            let span = r.span();
            let id_span = r.get_ref().id.span();
            let rule = self.rule(r, &kinds)?;
            if rules.iter().any(|(seen, _)| seen.id == rule.id) {
                return Err(self.err(&id_span, format!("rule id {:?} is used twice", rule.id)));
            }
            rules.push((rule, span));
        }
        self.no_competing_rules(&rules)?;

        Ok(Tenant {
            id,
            name: raw.name,
            time_zone,
            currency,
            rounding: raw.rounding,
            kinds,
            rules: rules.into_iter().map(|(r, _)| r).collect(),
            source: self.file.to_string(),
        })
    }

    /// Two charge rules (or two late-fee rules) of a kind may not claim the same class, and
    /// only one may leave classes out: otherwise which price applies would depend on order.
    fn no_competing_rules(&self, rules: &[(Rule, Range<usize>)]) -> Checked<()> {
        let mut claimed: BTreeMap<(FeeKind, bool, Option<String>), &str> = BTreeMap::new();
        for (rule, span) in rules {
            let late = rule.family() == Some(Family::LateFee);
            let classes: Vec<Option<String>> = match &rule.classes {
                None => vec![None],
                Some(cs) => cs.iter().cloned().map(Some).collect(),
            };
            for class in classes {
                let key = (rule.kind.clone(), late, class.clone());
                if let Some(other) = claimed.insert(key, &rule.id) {
                    let whom = class.map_or_else(
                        || "every class (neither lists classes)".to_string(),
                        |c| format!("class {c:?}"),
                    );
                    let what = if late { "late-fee" } else { "charge" };
                    return Err(self.err(
                        span,
                        format!(
                            "rules {other:?} and {:?} are both the {} {what} rule for {whom}",
                            rule.id, rule.kind
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn rule(&self, raw: Spanned<RuleFile>, kinds: &[KindDecl]) -> Checked<Rule> {
        let span = raw.span();
        let raw = raw.into_inner();
        let id = raw.id.get_ref().trim().to_string();
        if id.is_empty() {
            return Err(self.err(&raw.id.span(), "rule id is empty"));
        }
        let kind_span = raw.kind.span();
        let kind = FeeKind::parse(raw.kind.get_ref().as_str())
            .ok()
            .filter(|k| kinds.iter().any(|d| &d.kind == k))
            .ok_or_else(|| {
                let declared: Vec<&str> = kinds.iter().map(|d| d.kind.as_str()).collect();
                self.err(
                    &kind_span,
                    format!(
                        "unknown fee kind {:?}: the tenant declares {}",
                        raw.kind.get_ref(),
                        declared.join(", ")
                    ),
                )
            })?;
        let classes = match raw.classes {
            None => None,
            Some(c) if c.get_ref().is_empty() => {
                return Err(self.err(
                    &c.span(),
                    "classes is empty: leave it out for a rule that applies to every class",
                ))
            }
            Some(c) => Some(c.into_inner()),
        };
        if raw.versions.is_empty() {
            return Err(self.err(
                &span,
                format!("rule {id:?} has no version: add a [[rule.version]] table"),
            ));
        }
        let mut versions: Vec<Version> = Vec::new();
        for v in raw.versions {
            let v_span = v.span();
            let date_span = v.get_ref().effective_from.span();
            let label_span = v.get_ref().version.span();
            let version = self.version(v)?;
            if let Some(prev) = versions.last() {
                if version.effective_from == prev.effective_from {
                    return Err(self.err(
                        &date_span,
                        format!(
                            "versions {:?} and {:?} both take effect on {}",
                            prev.version, version.version, version.effective_from
                        ),
                    ));
                }
                if version.effective_from < prev.effective_from {
                    return Err(self.err(
                        &date_span,
                        format!(
                            "versions must be in date order: {} is before {} of version {:?}",
                            version.effective_from, prev.effective_from, prev.version
                        ),
                    ));
                }
            }
            if versions.iter().any(|p| p.version == version.version) {
                return Err(self.err(
                    &label_span,
                    format!("version {:?} is used twice", version.version),
                ));
            }
            if let Some(first) = versions.first() {
                if first.charge.model_name() != version.charge.model_name() {
                    return Err(self.err(
                        &v_span,
                        format!(
                            "version {:?} uses {} but the rule's first version uses {}: a rule keeps one model",
                            version.version,
                            version.charge.model_name(),
                            first.charge.model_name()
                        ),
                    ));
                }
            }
            versions.push(version);
        }
        Ok(Rule {
            id,
            kind,
            classes,
            versions,
        })
    }

    fn version(&self, raw: Spanned<VersionFile>) -> Checked<Version> {
        let span = raw.span();
        let raw = raw.into_inner();
        let label = raw.version.get_ref().trim().to_string();
        if label.is_empty() {
            return Err(self.err(&raw.version.span(), "version is empty"));
        }
        let present: Vec<(&str, Range<usize>)> = [
            ("fixed", raw.fixed.as_ref().map(Spanned::span)),
            (
                "per_attribute",
                raw.per_attribute.as_ref().map(Spanned::span),
            ),
            ("tiered", raw.tiered.as_ref().map(Spanned::span)),
            ("time_of_use", raw.time_of_use.as_ref().map(Spanned::span)),
            ("top_up", raw.top_up.as_ref().map(Spanned::span)),
            ("late_fee", raw.late_fee.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(name, s)| s.map(|s| (name, s)))
        .collect();
        // Report the model that comes second in the file.
        let mut present = present;
        present.sort_by_key(|(_, s)| s.start);
        match present.as_slice() {
            [] => {
                return Err(self.err(
                    &span,
                    format!(
                        "version {label:?} has no charge model: add one of fixed, per_attribute, \
                         tiered, time_of_use, top_up or late_fee"
                    ),
                ))
            }
            [_] => {}
            [(first, _), (second, s), ..] => {
                return Err(self.err(
                    s,
                    format!(
                    "version {label:?} has both {first} and {second}: one charge model per version"
                ),
                ))
            }
        }
        let charge = if let Some(f) = raw.fixed {
            Charge::Fixed(Fixed {
                price: self.non_negative(&f.get_ref().price, "price")?,
            })
        } else if let Some(p) = raw.per_attribute {
            Charge::PerAttribute(self.per_attribute(p)?)
        } else if let Some(t) = raw.tiered {
            Charge::Tiered(self.tiered(t)?)
        } else if let Some(t) = raw.time_of_use {
            Charge::TimeOfUse(self.time_of_use(t)?)
        } else if let Some(t) = raw.top_up {
            Charge::TopUp(self.top_up(t)?)
        } else if let Some(l) = raw.late_fee {
            Charge::LateFee(self.late_fee(l)?)
        } else {
            return Err(self.err(&span, "no charge model"));
        };

        let family = charge.family();
        let model = charge.model_name();
        let not_for = |what: &str, s: &Range<usize>| {
            self.err(s, format!("{what} does not apply to a {model} charge"))
        };
        let prepay_bonus = match raw.prepay_bonus {
            None => None,
            Some(b) if family != Family::Periodic => {
                return Err(not_for("prepay_bonus", &b.span()))
            }
            Some(b) => {
                let b = b.get_ref();
                for n in [&b.months, &b.free] {
                    if *n.get_ref() == 0 {
                        return Err(self.err(&n.span(), "must be at least 1"));
                    }
                }
                Some(PrepayBonus {
                    months: *b.months.get_ref(),
                    free: *b.free.get_ref(),
                })
            }
        };
        let billable = matches!(family, Family::Periodic | Family::Metered);
        let discount = match raw.discount {
            None => None,
            Some(d) if !billable => return Err(not_for("discount", &d.span())),
            Some(d) => {
                let d = d.get_ref();
                let percent = self.non_negative(&d.percent, "percent")?;
                if percent > Decimal::ONE_HUNDRED {
                    return Err(
                        self.err(&d.percent.span(), format!("percent {percent} is above 100"))
                    );
                }
                Some(Discount {
                    percent,
                    min_prepay_months: d.min_prepay_months,
                })
            }
        };
        let minimum = match raw.minimum {
            None => None,
            Some(m) if !billable => return Err(not_for("minimum", &m.span())),
            Some(m) => Some(self.non_negative_fen(&m, "minimum")?),
        };
        Ok(Version {
            version: label,
            effective_from: raw.effective_from.get_ref().0,
            charge,
            terms: BillTerms {
                prepay_bonus,
                discount,
                minimum,
            },
        })
    }

    fn per_attribute(&self, raw: Spanned<PerAttributeFile>) -> Checked<PerAttribute> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.attribute.trim().is_empty() {
            return Err(self.err(&span, "attribute is empty"));
        }
        let flat = raw
            .price
            .as_ref()
            .map(|p| self.non_negative(p, "price"))
            .transpose()?;
        let price = match (raw.select_by, raw.prices) {
            (None, None) => PriceBy::Flat(flat.ok_or_else(|| {
                self.err(
                    &span,
                    "per_attribute needs a price (or select_by with prices)",
                )
            })?),
            (None, Some(p)) => {
                return Err(self.err(
                    &p.span(),
                    "prices needs select_by: the attribute that picks the price",
                ))
            }
            (Some(s), None) => return Err(self.err(&s.span(), "select_by needs a prices table")),
            (Some(select_by), Some(prices)) => {
                if prices.get_ref().is_empty() {
                    return Err(self.err(&prices.span(), "prices is empty"));
                }
                let mut checked = BTreeMap::new();
                for (value, p) in prices.into_inner() {
                    checked.insert(value, self.non_negative(&p, "price")?);
                }
                PriceBy::Selected {
                    attribute: select_by.into_inner(),
                    prices: checked,
                    default: flat,
                }
            }
        };
        Ok(PerAttribute {
            attribute: raw.attribute,
            unit: raw.unit,
            price,
        })
    }

    fn tiered(&self, raw: Spanned<TieredFile>) -> Checked<Tiered> {
        let span = raw.span();
        let raw = raw.into_inner();
        let components = match &raw.components {
            None => Vec::new(),
            Some(c) => {
                let list = c.get_ref();
                let unique: BTreeSet<&String> = list.iter().collect();
                if list.is_empty() || unique.len() != list.len() {
                    return Err(self.err(
                        &c.span(),
                        "components must be a non-empty list of distinct names",
                    ));
                }
                list.clone()
            }
        };
        let tiers = self.tiers(&raw.tier, &components, &span)?;
        let cumulation = match raw.cumulation {
            CumulationFile::Month => Cumulation::Month,
            CumulationFile::Year => Cumulation::Year,
        };
        let mut seasons: Vec<Season> = Vec::new();
        for s in raw.season {
            let s_span = s.span();
            if cumulation == Cumulation::Year {
                return Err(self.err(
                    &s_span,
                    "seasonal tier bounds need monthly cumulation: a year-to-date count cannot change bounds mid-year",
                ));
            }
            let s = s.into_inner();
            if seasons.iter().any(|seen| seen.name == s.name) {
                return Err(self.err(&s_span, format!("season {:?} is defined twice", s.name)));
            }
            if s.months.get_ref().is_empty() {
                return Err(self.err(&s.months.span(), "a season needs at least one month"));
            }
            let mut months = Vec::new();
            for m in s.months.get_ref() {
                let month = *m.get_ref();
                if !(1..=12).contains(&month) {
                    return Err(self.err(&m.span(), format!("month {month} is not 1–12")));
                }
                if months.contains(&month)
                    || seasons.iter().any(|seen| seen.months.contains(&month))
                {
                    return Err(self.err(&m.span(), format!("month {month} is in two seasons")));
                }
                months.push(month);
            }
            let tiers = self.tiers(&s.tier, &components, &s_span)?;
            seasons.push(Season {
                name: s.name,
                months,
                tiers,
            });
        }
        Ok(Tiered {
            unit: raw.unit,
            cumulation,
            components,
            tiers,
            seasons,
        })
    }

    /// Tiers must start at 0, meet end to start with no gap or overlap, and end open.
    fn tiers(
        &self,
        raw: &[Spanned<TierFile>],
        components: &[String],
        table: &Range<usize>,
    ) -> Checked<Vec<Tier>> {
        if raw.is_empty() {
            return Err(self.err(
                table,
                "no tiers: add tier entries with from, to and a price",
            ));
        }
        let mut tiers: Vec<Tier> = Vec::new();
        let last = raw.len() - 1;
        for (i, t) in raw.iter().enumerate() {
            let t_span = t.span();
            let t = t.get_ref();
            let from = self.non_negative(&t.from, "tier start")?;
            let to = match &t.to {
                Some(to) => {
                    let v = to.get_ref().0;
                    if v <= from {
                        return Err(self.err(
                            &to.span(),
                            format!("tier ends at {v}, which is not above its start {from}"),
                        ));
                    }
                    Some(v)
                }
                None if i != last => {
                    return Err(self.err(
                        &t_span,
                        "only the last tier may be open-ended (no `to`); this one is followed by another",
                    ))
                }
                None => None,
            };
            match tiers.last() {
                None if !from.is_zero() => {
                    return Err(self.err(
                        &t.from.span(),
                        format!("the first tier must start at 0, not {from}"),
                    ))
                }
                Some(prev) => {
                    let prev_to = prev.to.unwrap_or(from);
                    if from > prev_to {
                        return Err(self.err(
                            &t.from.span(),
                            format!(
                                "gap between tiers: the previous tier ends at {prev_to} and this one starts at {from}; \
                                 a tier covers (from, to], so start this one at {prev_to}"
                            ),
                        ));
                    }
                    if from < prev_to {
                        return Err(self.err(
                            &t.from.span(),
                            format!(
                                "overlapping tiers: the previous tier ends at {prev_to} and this one starts at {from}"
                            ),
                        ));
                    }
                }
                None => {}
            }
            if i == last && to.is_some() {
                return Err(self.err(
                    &t_span,
                    "the last tier must be open-ended (leave out `to`) so all usage has a price",
                ));
            }
            let prices = self.tier_prices(t, components, &t_span)?;
            tiers.push(Tier { from, to, prices });
        }
        Ok(tiers)
    }

    fn tier_prices(
        &self,
        t: &TierFile,
        components: &[String],
        span: &Range<usize>,
    ) -> Checked<Vec<Decimal>> {
        match (&t.price, &t.prices, components.is_empty()) {
            (Some(p), None, true) => Ok(vec![self.non_negative(p, "price")?]),
            (None, Some(ps), false) => {
                if ps.get_ref().len() != components.len() {
                    return Err(self.err(
                        &ps.span(),
                        format!(
                            "{} prices for {} components ({})",
                            ps.get_ref().len(),
                            components.len(),
                            components.join(", ")
                        ),
                    ));
                }
                ps.get_ref()
                    .iter()
                    .map(|p| self.non_negative(p, "price"))
                    .collect()
            }
            (_, _, true) => Err(self.err(
                span,
                "a tier needs one `price` (no components are declared)",
            )),
            (_, _, false) => Err(self.err(
                span,
                format!(
                    "a tier needs `prices`, one per component ({})",
                    components.join(", ")
                ),
            )),
        }
    }

    fn time_of_use(&self, raw: Spanned<TimeOfUseFile>) -> Checked<TimeOfUse> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.register.is_empty() {
            return Err(self.err(&span, "time_of_use needs register entries (name, price)"));
        }
        let mut registers: Vec<Register> = Vec::new();
        for r in &raw.register {
            let r = r.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() || registers.iter().any(|seen| seen.name == name) {
                return Err(self.err(
                    &r.name.span(),
                    format!("register name {name:?} is empty or repeated"),
                ));
            }
            registers.push(Register {
                name,
                price: self.non_negative(&r.price, "price")?,
            });
        }
        Ok(TimeOfUse {
            unit: raw.unit,
            registers,
        })
    }

    fn top_up(&self, raw: Spanned<TopUpFile>) -> Checked<TopUp> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.denomination.is_empty() {
            return Err(self.err(
                &span,
                "top_up needs denomination entries (amount, optional bonus)",
            ));
        }
        let mut denominations: Vec<Denomination> = Vec::new();
        for d in &raw.denomination {
            let d = d.get_ref();
            let amount = d.amount.get_ref().0;
            if amount <= Fen::ZERO {
                return Err(self.err(
                    &d.amount.span(),
                    format!("denomination {amount} is not above zero"),
                ));
            }
            if denominations.iter().any(|seen| seen.amount == amount) {
                return Err(self.err(
                    &d.amount.span(),
                    format!("denomination {amount} is listed twice"),
                ));
            }
            let bonus = d
                .bonus
                .as_ref()
                .map(|b| self.non_negative_fen(b, "bonus"))
                .transpose()?
                .unwrap_or(Fen::ZERO);
            denominations.push(Denomination { amount, bonus });
        }
        Ok(TopUp { denominations })
    }

    fn late_fee(&self, raw: Spanned<LateFeeFile>) -> Checked<LateFee> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.rate.is_empty() {
            return Err(self.err(
                &span,
                "late_fee needs rate entries (per_day, optional classes)",
            ));
        }
        let mut rates: Vec<Rate> = Vec::new();
        for r in &raw.rate {
            let r_span = r.span();
            let r = r.get_ref();
            let classes = match &r.classes {
                None => {
                    if rates.iter().any(|seen| seen.classes.is_none()) {
                        return Err(self.err(
                            &r_span,
                            "two late-fee rates leave out classes; only one may be the catch-all",
                        ));
                    }
                    None
                }
                Some(c) => {
                    if c.get_ref().is_empty() {
                        return Err(self.err(&c.span(), "classes is empty"));
                    }
                    for class in c.get_ref() {
                        let taken = rates
                            .iter()
                            .any(|seen| seen.classes.as_ref().is_some_and(|cs| cs.contains(class)));
                        if taken {
                            return Err(self.err(
                                &c.span(),
                                format!("class {class:?} has two late-fee rates"),
                            ));
                        }
                    }
                    Some(c.get_ref().clone())
                }
            };
            rates.push(Rate {
                classes,
                per_day: self.non_negative(&r.per_day, "per_day")?,
                earlier_years_per_day: r
                    .earlier_years_per_day
                    .as_ref()
                    .map(|e| self.non_negative(e, "earlier_years_per_day"))
                    .transpose()?,
            });
        }
        Ok(LateFee {
            grace_days: raw.grace_days,
            minimum: raw
                .minimum
                .as_ref()
                .map(|m| self.non_negative_fen(m, "minimum"))
                .transpose()?,
            max_ratio: raw
                .max_ratio
                .as_ref()
                .map(|m| self.non_negative(m, "max_ratio"))
                .transpose()?,
            rates,
        })
    }
}
