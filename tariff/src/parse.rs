//! Rule file text → checked [`Tenant`], or every mistake with its line.
//!
//! TOML shape errors (syntax, unknown or missing fields, wrong types, floats) come from serde
//! with toml's span, and stop there: past a shape error the rest of the file cannot be read.
//! The checks here cover what a schema cannot say: tiers that leave gaps or overlap, negative
//! prices, rules naming undeclared kinds or classes, versions out of date order, two rules
//! claiming the same customers. A mistake skips only the part it is in (a kind, a rule, a
//! version, a tier, a rate), so one run reports every independent mistake of a file.

use crate::error::RuleFileError;
use crate::file::{
    CumulationFile, KindFile, LateFeeFile, PerAttributeFile, RateFile, RuleFile, TenantFile,
    TierFile, TieredFile, TimeOfUseFile, TopUpFile, VersionFile, ZhFile,
};
use crate::models::adjustments::{Discount, PrepayBonus};
use crate::models::fixed::Fixed;
use crate::models::late_fee::{LateFee, Rate};
use crate::models::per_attribute::{PerAttribute, PriceBy};
use crate::models::tiered::{Cumulation, Season, Tier, Tiered};
use crate::models::time_of_use::{Register, TimeOfUse};
use crate::models::top_up::{Denomination, TopUp};
use crate::tenant::{BillTerms, Charge, Family, KindDecl, Rule, Tenant, Version, Zh};
use crate::values::{Dec, Yuan};
use chrono_tz::Tz;
use posfee_schemas::ids::{FeeKind, TenantId};
use posfee_schemas::money::{Currency, Fen};
use rust_decimal::Decimal;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

/// The time zone of a tenant whose file names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Parses and checks one tenant's rule file; the first mistake if it has any (in file
/// order). `file_name` only labels errors.
pub fn parse_rule_file(file_name: &str, text: &str) -> Result<Tenant, RuleFileError> {
    check_rule_file(file_name, text).map_err(|mut all| all.swap_remove(0))
}

/// Parses and checks one tenant's rule file; every mistake, in file order, if it has any
/// (never an empty list).
pub fn check_rule_file(file_name: &str, text: &str) -> Result<Tenant, Vec<RuleFileError>> {
    let raw: TenantFile = toml::from_str(text).map_err(|e| {
        // A syntax error stops toml at the first; look for the others table by table.
        let syntax = RuleFileError::syntax_errors(file_name, text);
        if syntax.is_empty() {
            vec![RuleFileError::from_toml(file_name, text, &e)]
        } else {
            syntax
        }
    })?;
    let checker = Checker {
        file: file_name,
        text,
        mistakes: RefCell::new(Vec::new()),
    };
    let tenant = checker.tenant(raw);
    let mut mistakes = checker.mistakes.into_inner();
    mistakes.sort_by_key(|e| (e.line, e.column));
    match tenant {
        Some(t) if mistakes.is_empty() => Ok(t),
        _ if mistakes.is_empty() => Err(vec![RuleFileError::whole_file(
            file_name,
            "refused without a reason (a bug in the checker)",
        )]),
        _ => Err(mistakes),
    }
}

/// `None` when the mistake has been recorded in the checker; the caller skips that part.
type Checked<T> = Option<T>;

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    /// Every mistake found so far.
    mistakes: RefCell<Vec<RuleFileError>>,
}

impl Checker<'_> {
    fn err(&self, span: &Range<usize>, reason: impl Into<String>) -> RuleFileError {
        RuleFileError::at_span(self.file, self.text, span, reason)
    }

    /// Records a mistake; `None` so the caller can skip the part it is in with `?`.
    fn fail<T>(&self, e: RuleFileError) -> Checked<T> {
        self.mistakes.borrow_mut().push(e);
        None
    }

    /// How many mistakes so far: a part is good when checking it added none.
    fn count(&self) -> usize {
        self.mistakes.borrow().len()
    }

    /// A price or rate: zero or more.
    fn non_negative(&self, d: &Spanned<Dec>, what: &str) -> Checked<Decimal> {
        let v = d.get_ref().0;
        if v.is_sign_negative() && !v.is_zero() {
            return self.fail(self.err(&d.span(), format!("{what} {v} is negative")));
        }
        Some(v)
    }

    fn non_negative_fen(&self, y: &Spanned<Yuan>, what: &str) -> Checked<Fen> {
        let v = y.get_ref().0;
        if v < Fen::ZERO {
            return self.fail(self.err(&y.span(), format!("{what} {v} is negative")));
        }
        Some(v)
    }

    /// An optional number: absent is fine, present must be zero or more.
    fn non_negative_opt(&self, d: &Option<Spanned<Dec>>, what: &str) -> Checked<Option<Decimal>> {
        match d {
            None => Some(None),
            Some(d) => self.non_negative(d, what).map(Some),
        }
    }

    fn non_negative_fen_opt(&self, y: &Option<Spanned<Yuan>>, what: &str) -> Checked<Option<Fen>> {
        match y {
            None => Some(None),
            Some(y) => self.non_negative_fen(y, what).map(Some),
        }
    }

    fn tenant(&self, raw: TenantFile) -> Checked<Tenant> {
        let id = TenantId::parse(raw.tenant.get_ref().as_str())
            .map_err(|e| self.fail::<()>(self.err(&raw.tenant.span(), e.to_string())))
            .ok();
        let time_zone = self.time_zone(&raw.time_zone);
        let currency = match &raw.currency {
            None => Some(Currency::CNY),
            Some(c) => Currency::parse(c.get_ref())
                .map_err(|e| self.fail::<()>(self.err(&c.span(), e.to_string())))
                .ok(),
        };
        let classes = self.classes(&raw.classes);
        let kinds = self.kinds(&raw.kinds);
        let zh = self.zh(&raw);
        let mut rules: Vec<(Rule, Range<usize>)> = Vec::new();
        for r in raw.rules {
            let span = r.span();
            let id_span = r.get_ref().id.span();
            let Some(rule) = self.rule(r, &kinds, classes.as_deref()) else {
                continue;
            };
            if rules.iter().any(|(seen, _)| seen.id == rule.id) {
                self.fail::<()>(self.err(&id_span, format!("rule id {:?} is used twice", rule.id)));
                continue;
            }
            rules.push((rule, span));
        }
        self.no_competing_rules(&rules);
        Some(Tenant {
            id: id?,
            name: raw.name,
            time_zone: time_zone?,
            currency: currency?,
            rounding: raw.rounding,
            classes: classes?,
            kinds,
            rules: rules.into_iter().map(|(r, _)| r).collect(),
            source: self.file.to_string(),
            zh: zh?,
        })
    }

    /// The `[zh]` table: a Chinese name that is not blank, and a glossary whose every word is
    /// one the file uses where a payer reads it, with a Chinese that is not blank. A word the
    /// file never uses is a misspelling or a leftover: its Chinese would never be shown.
    fn zh(&self, raw: &TenantFile) -> Checked<Zh> {
        let Some(zh) = &raw.zh else {
            return Some(Zh::default());
        };
        let ZhFile { name, words } = zh.get_ref();
        let before = self.count();
        let name = match name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.fail::<()>(self.err(&n.span(), "zh name is empty"));
                None
            }
            Some(n) => Some(n.get_ref().trim().to_string()),
            None => None,
        };
        let used = used_words(raw);
        let mut glossary = BTreeMap::new();
        for (word, chinese) in words {
            if chinese.get_ref().trim().is_empty() {
                self.fail::<()>(self.err(
                    &chinese.span(),
                    format!("the Chinese for {word:?} is empty: give it or leave the word out"),
                ));
            } else if !used.contains(word.as_str()) {
                self.fail::<()>(self.err(
                    &chinese.span(),
                    format!(
                        "zh word {word:?} is not a word this file uses; a [zh.words] entry \
                         translates a kind's label, a class, a component, a band, a season, a \
                         unit or a select_by attribute or value exactly as the file writes it"
                    ),
                ));
            } else {
                glossary.insert(word.clone(), chinese.get_ref().trim().to_string());
            }
        }
        (self.count() == before).then_some(Zh {
            name,
            words: glossary,
        })
    }

    fn time_zone(&self, raw: &Option<Spanned<String>>) -> Checked<Tz> {
        let Some(tz) = raw else {
            return DEFAULT_TIME_ZONE
                .parse::<Tz>()
                .map_err(|e| self.fail::<()>(self.err(&(0..0), e.to_string())))
                .ok();
        };
        tz.get_ref()
            .parse::<Tz>()
            .map_err(|_| {
                self.fail::<()>(self.err(
                    &tz.span(),
                    format!(
                        "unknown time zone {:?} (e.g. \"Asia/Shanghai\")",
                        tz.get_ref()
                    ),
                ))
            })
            .ok()
    }

    /// The customer classes the tenant serves: every account's class and every class a rule
    /// or a late-fee rate names must be one of them, so a misspelt class is refused here and
    /// at import rather than priced at the catch-all rate.
    fn classes(&self, raw: &Spanned<Vec<Spanned<String>>>) -> Checked<Vec<String>> {
        if raw.get_ref().is_empty() {
            return self.fail(self.err(
                &raw.span(),
                "classes is empty: list the customer classes the tenant serves, e.g. [\"residential\"]",
            ));
        }
        let before = self.count();
        let mut classes: Vec<String> = Vec::new();
        for c in raw.get_ref() {
            let name = c.get_ref().trim();
            if name.is_empty() {
                self.fail::<()>(self.err(&c.span(), "a class name is empty"));
            } else if classes.iter().any(|seen| seen == name) {
                self.fail::<()>(self.err(&c.span(), format!("class {name:?} is declared twice")));
            } else {
                classes.push(name.to_string());
            }
        }
        (self.count() == before).then_some(classes)
    }

    /// The declared fee kinds that are good (each bad one is recorded).
    fn kinds(&self, raw: &[Spanned<KindFile>]) -> Vec<KindDecl> {
        let mut kinds: Vec<KindDecl> = Vec::new();
        for k in raw {
            let id = k.get_ref().id.get_ref();
            let span = k.get_ref().id.span();
            let kind = match FeeKind::parse(id.as_str()) {
                Ok(kind) => kind,
                Err(e) => {
                    self.fail::<()>(self.err(&span, e.to_string()));
                    continue;
                }
            };
            if kinds.iter().any(|d| d.kind == kind) {
                self.fail::<()>(self.err(&span, format!("fee kind {kind} is declared twice")));
                continue;
            }
            kinds.push(KindDecl {
                kind,
                label: k.get_ref().label.clone(),
            });
        }
        if raw.is_empty() {
            self.fail::<()>(self.err(
                &(0..0),
                "the tenant declares no fee kinds: add [[kind]] tables",
            ));
        }
        kinds
    }

    /// Two charge rules (or two late-fee rules) of a kind may not claim the same class, and
    /// only one may leave classes out: otherwise which price applies would depend on order.
    fn no_competing_rules(&self, rules: &[(Rule, Range<usize>)]) {
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
                    self.fail::<()>(self.err(
                        span,
                        format!(
                            "rules {other:?} and {:?} are both the {} {what} rule for {whom}",
                            rule.id, rule.kind
                        ),
                    ));
                }
            }
        }
    }

    /// A rule's or a rate's `classes`: not empty, and each one the tenant declares. `declared`
    /// is `None` when the tenant's own list was refused (already reported).
    fn named_classes(
        &self,
        raw: &Spanned<Vec<String>>,
        declared: Option<&[String]>,
        empty_hint: &str,
    ) -> Checked<Vec<String>> {
        if raw.get_ref().is_empty() {
            return self.fail(self.err(&raw.span(), format!("classes is empty{empty_hint}")));
        }
        let before = self.count();
        for class in raw.get_ref() {
            if declared.is_some_and(|d| !d.contains(class)) {
                self.fail::<()>(self.err(
                    &raw.span(),
                    format!(
                        "class {class:?} is not one the tenant declares ({}): a misspelt class \
                         would leave its customers on the catch-all rate; fix the name or add \
                         it to `classes` at the top of the file",
                        declared.unwrap_or_default().join(", ")
                    ),
                ));
            }
        }
        (self.count() == before).then(|| raw.get_ref().clone())
    }

    fn rule(
        &self,
        raw: Spanned<RuleFile>,
        kinds: &[KindDecl],
        declared: Option<&[String]>,
    ) -> Checked<Rule> {
        let span = raw.span();
        let raw = raw.into_inner();
        let before = self.count();
        let id = raw.id.get_ref().trim().to_string();
        if id.is_empty() {
            self.fail::<()>(self.err(&raw.id.span(), "rule id is empty"));
        }
        let kind_span = raw.kind.span();
        let kind = FeeKind::parse(raw.kind.get_ref().as_str())
            .ok()
            .filter(|k| kinds.iter().any(|d| &d.kind == k));
        if kind.is_none() {
            let declared: Vec<&str> = kinds.iter().map(|d| d.kind.as_str()).collect();
            self.fail::<()>(self.err(
                &kind_span,
                format!(
                    "unknown fee kind {:?}: the tenant declares {}",
                    raw.kind.get_ref(),
                    declared.join(", ")
                ),
            ));
        }
        let classes = match &raw.classes {
            None => None,
            Some(c) => self.named_classes(
                c,
                declared,
                ": leave it out for a rule that applies to every class",
            ),
        };
        if raw.versions.is_empty() {
            self.fail::<()>(self.err(
                &span,
                format!("rule {id:?} has no version: add a [[rule.version]] table"),
            ));
        }
        let versions = self.versions(raw.versions, declared);
        if self.count() != before {
            return None;
        }
        Some(Rule {
            id,
            kind: kind?,
            classes,
            versions,
        })
    }

    /// Each version checked on its own; the order and model checks compare it with the
    /// versions before it that were good.
    fn versions(
        &self,
        raw: Vec<Spanned<VersionFile>>,
        declared: Option<&[String]>,
    ) -> Vec<Version> {
        let mut versions: Vec<Version> = Vec::new();
        for v in raw {
            let v_span = v.span();
            let date_span = v.get_ref().effective_from.span();
            let label_span = v.get_ref().version.span();
            let Some(version) = self.version(v, declared) else {
                continue;
            };
            if let Some(prev) = versions.last() {
                if version.effective_from == prev.effective_from {
                    self.fail::<()>(self.err(
                        &date_span,
                        format!(
                            "versions {:?} and {:?} both take effect on {}",
                            prev.version, version.version, version.effective_from
                        ),
                    ));
                } else if version.effective_from < prev.effective_from {
                    self.fail::<()>(self.err(
                        &date_span,
                        format!(
                            "versions must be in date order: {} is before {} of version {:?}",
                            version.effective_from, prev.effective_from, prev.version
                        ),
                    ));
                }
            }
            if versions.iter().any(|p| p.version == version.version) {
                self.fail::<()>(self.err(
                    &label_span,
                    format!("version {:?} is used twice", version.version),
                ));
            }
            if let Some(first) = versions.first() {
                if first.charge.model_name() != version.charge.model_name() {
                    self.fail::<()>(self.err(
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
        versions
    }

    fn version(&self, raw: Spanned<VersionFile>, declared: Option<&[String]>) -> Checked<Version> {
        let span = raw.span();
        let raw = raw.into_inner();
        let label = raw.version.get_ref().trim().to_string();
        if label.is_empty() {
            return self.fail(self.err(&raw.version.span(), "version is empty"));
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
                return self.fail(self.err(
                    &span,
                    format!(
                        "version {label:?} has no charge model: add one of fixed, per_attribute, \
                         tiered, time_of_use, top_up or late_fee"
                    ),
                ))
            }
            [_] => {}
            [(first, _), (second, s), ..] => {
                return self.fail(self.err(
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
            Charge::LateFee(self.late_fee(l, declared)?)
        } else {
            return self.fail(self.err(&span, "no charge model"));
        };

        let family = charge.family();
        let model = charge.model_name();
        let not_for = |what: &str, s: &Range<usize>| {
            self.err(s, format!("{what} does not apply to a {model} charge"))
        };
        let prepay_bonus = match raw.prepay_bonus {
            None => None,
            Some(b) if family != Family::Periodic => {
                return self.fail(not_for("prepay_bonus", &b.span()))
            }
            Some(b) => {
                let b = b.get_ref();
                for n in [&b.months, &b.free] {
                    if *n.get_ref() == 0 {
                        return self.fail(self.err(&n.span(), "must be at least 1"));
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
            Some(d) if !billable => return self.fail(not_for("discount", &d.span())),
            Some(d) => {
                let d = d.get_ref();
                let percent = self.non_negative(&d.percent, "percent")?;
                if percent > Decimal::ONE_HUNDRED {
                    return self.fail(
                        self.err(&d.percent.span(), format!("percent {percent} is above 100")),
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
            Some(m) if !billable => return self.fail(not_for("minimum", &m.span())),
            Some(m) => Some(self.non_negative_fen(&m, "minimum")?),
        };
        Some(Version {
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
            return self.fail(self.err(&span, "attribute is empty"));
        }
        let flat = self.non_negative_opt(&raw.price, "price")?;
        let price = match (raw.select_by, raw.prices) {
            (None, None) => match flat {
                Some(price) => PriceBy::Flat(price),
                None => {
                    return self.fail(self.err(
                        &span,
                        "per_attribute needs a price (or select_by with prices)",
                    ))
                }
            },
            (None, Some(p)) => {
                return self.fail(self.err(
                    &p.span(),
                    "prices needs select_by: the attribute that picks the price",
                ))
            }
            (Some(s), None) => {
                return self.fail(self.err(&s.span(), "select_by needs a prices table"))
            }
            (Some(select_by), Some(prices)) => {
                if prices.get_ref().is_empty() {
                    return self.fail(self.err(&prices.span(), "prices is empty"));
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
        Some(PerAttribute {
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
                    return self.fail(self.err(
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
                return self.fail(self.err(
                    &s_span,
                    "seasonal tier bounds need monthly cumulation: a year-to-date count cannot change bounds mid-year",
                ));
            }
            let s = s.into_inner();
            if seasons.iter().any(|seen| seen.name == s.name) {
                return self
                    .fail(self.err(&s_span, format!("season {:?} is defined twice", s.name)));
            }
            if s.months.get_ref().is_empty() {
                return self.fail(self.err(&s.months.span(), "a season needs at least one month"));
            }
            let mut months = Vec::new();
            for m in s.months.get_ref() {
                let month = *m.get_ref();
                if !(1..=12).contains(&month) {
                    return self.fail(self.err(&m.span(), format!("month {month} is not 1–12")));
                }
                if months.contains(&month)
                    || seasons.iter().any(|seen| seen.months.contains(&month))
                {
                    return self
                        .fail(self.err(&m.span(), format!("month {month} is in two seasons")));
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
        Some(Tiered {
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
            return self.fail(self.err(
                table,
                "no tiers: add tier entries with from, to and a price",
            ));
        }
        let before = self.count();
        let tiers: Vec<Tier> = (0..raw.len())
            .filter_map(|i| self.tier(raw, i, components))
            .collect();
        (self.count() == before).then_some(tiers)
    }

    /// Tier `i` of `raw`, checked against the bounds written on the tier before it (not
    /// against what was accepted of it), so one bad tier does not make its neighbours look bad.
    fn tier(&self, raw: &[Spanned<TierFile>], i: usize, components: &[String]) -> Checked<Tier> {
        let last = raw.len() - 1;
        let t_span = raw[i].span();
        let t = raw[i].get_ref();
        let from = self.non_negative(&t.from, "tier start")?;
        let to = match &t.to {
            Some(to) => {
                let v = to.get_ref().0;
                if v <= from {
                    return self.fail(self.err(
                        &to.span(),
                        format!("tier ends at {v}, which is not above its start {from}"),
                    ));
                }
                Some(v)
            }
            None if i != last => return self.fail(self.err(
                &t_span,
                "only the last tier may be open-ended (no `to`); this one is followed by another",
            )),
            None => None,
        };
        let prev_to = match i {
            0 => Some(Decimal::ZERO),
            _ => raw[i - 1].get_ref().to.as_ref().map(|p| p.get_ref().0),
        };
        match prev_to {
            Some(_) if i == 0 && !from.is_zero() => {
                return self.fail(self.err(
                    &t.from.span(),
                    format!("the first tier must start at 0, not {from}"),
                ))
            }
            Some(prev_to) if from > prev_to => {
                return self.fail(self.err(
                    &t.from.span(),
                    format!(
                        "gap between tiers: the previous tier ends at {prev_to} and this one starts at {from}; \
                         a tier covers (from, to], so start this one at {prev_to}"
                    ),
                ))
            }
            Some(prev_to) if from < prev_to => {
                return self.fail(self.err(
                    &t.from.span(),
                    format!(
                        "overlapping tiers: the previous tier ends at {prev_to} and this one starts at {from}"
                    ),
                ))
            }
            // The tier before is open-ended, which is reported there.
            _ => {}
        }
        if i == last && to.is_some() {
            return self.fail(self.err(
                &t_span,
                "the last tier must be open-ended (leave out `to`) so all usage has a price",
            ));
        }
        let prices = self.tier_prices(t, components, &t_span)?;
        Some(Tier { from, to, prices })
    }

    fn tier_prices(
        &self,
        t: &TierFile,
        components: &[String],
        span: &Range<usize>,
    ) -> Checked<Vec<Decimal>> {
        match (&t.price, &t.prices, components.is_empty()) {
            (Some(p), None, true) => Some(vec![self.non_negative(p, "price")?]),
            (None, Some(ps), false) => {
                if ps.get_ref().len() != components.len() {
                    return self.fail(self.err(
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
            (_, _, true) => self.fail(self.err(
                span,
                "a tier needs one `price` (no components are declared)",
            )),
            (_, _, false) => self.fail(self.err(
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
            return self.fail(self.err(&span, "time_of_use needs register entries (name, price)"));
        }
        let mut registers: Vec<Register> = Vec::new();
        for r in &raw.register {
            let r = r.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() || registers.iter().any(|seen| seen.name == name) {
                return self.fail(self.err(
                    &r.name.span(),
                    format!("register name {name:?} is empty or repeated"),
                ));
            }
            registers.push(Register {
                name,
                price: self.non_negative(&r.price, "price")?,
            });
        }
        Some(TimeOfUse {
            unit: raw.unit,
            registers,
        })
    }

    fn top_up(&self, raw: Spanned<TopUpFile>) -> Checked<TopUp> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.denomination.is_empty() {
            return self.fail(self.err(
                &span,
                "top_up needs denomination entries (amount, optional bonus)",
            ));
        }
        let mut denominations: Vec<Denomination> = Vec::new();
        for d in &raw.denomination {
            let d = d.get_ref();
            let amount = d.amount.get_ref().0;
            if amount <= Fen::ZERO {
                return self.fail(self.err(
                    &d.amount.span(),
                    format!("denomination {amount} is not above zero"),
                ));
            }
            if denominations.iter().any(|seen| seen.amount == amount) {
                return self.fail(self.err(
                    &d.amount.span(),
                    format!("denomination {amount} is listed twice"),
                ));
            }
            let bonus = self
                .non_negative_fen_opt(&d.bonus, "bonus")?
                .unwrap_or(Fen::ZERO);
            denominations.push(Denomination { amount, bonus });
        }
        Some(TopUp { denominations })
    }

    fn late_fee(&self, raw: Spanned<LateFeeFile>, declared: Option<&[String]>) -> Checked<LateFee> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.rate.is_empty() {
            return self.fail(self.err(
                &span,
                "late_fee needs rate entries (per_day, optional classes)",
            ));
        }
        let before = self.count();
        let mut rates: Vec<Rate> = Vec::new();
        for r in &raw.rate {
            if let Some(rate) = self.rate(r, &rates, declared) {
                rates.push(rate);
            }
        }
        let minimum = self.non_negative_fen_opt(&raw.minimum, "minimum");
        let max_ratio = self.non_negative_opt(&raw.max_ratio, "max_ratio");
        if self.count() != before {
            return None;
        }
        Some(LateFee {
            grace_days: raw.grace_days,
            minimum: minimum?,
            max_ratio: max_ratio?,
            rates,
        })
    }

    /// One late-fee rate, against the good rates before it: one catch-all at most, and no
    /// class with two rates.
    fn rate(
        &self,
        r: &Spanned<RateFile>,
        rates: &[Rate],
        declared: Option<&[String]>,
    ) -> Checked<Rate> {
        let r_span = r.span();
        let r = r.get_ref();
        let classes = match &r.classes {
            None if rates.iter().any(|seen| seen.classes.is_none()) => {
                return self.fail(self.err(
                    &r_span,
                    "two late-fee rates leave out classes; only one may be the catch-all",
                ))
            }
            None => None,
            Some(c) => {
                let named = self.named_classes(c, declared, "")?;
                for class in &named {
                    let taken = rates
                        .iter()
                        .any(|seen| seen.classes.as_ref().is_some_and(|cs| cs.contains(class)));
                    if taken {
                        return self.fail(
                            self.err(&c.span(), format!("class {class:?} has two late-fee rates")),
                        );
                    }
                }
                Some(named)
            }
        };
        let per_day = self.non_negative(&r.per_day, "per_day");
        let earlier = self.non_negative_opt(&r.earlier_years_per_day, "earlier_years_per_day");
        Some(Rate {
            classes,
            per_day: per_day?,
            earlier_years_per_day: earlier?,
        })
    }
}

/// Every text of the tenant's own that a payer can read on a bill: the kinds' labels, the
/// classes, and from each version its units, components, season names, band names, and the
/// `select_by` attribute with the values it lists.
fn used_words(raw: &TenantFile) -> BTreeSet<&str> {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    used.extend(raw.kinds.iter().map(|k| k.get_ref().label.as_str()));
    used.extend(raw.classes.get_ref().iter().map(|c| c.get_ref().trim()));
    for rule in &raw.rules {
        for v in &rule.get_ref().versions {
            let v = v.get_ref();
            if let Some(p) = &v.per_attribute {
                let p = p.get_ref();
                used.insert(p.unit.as_str());
                if let Some(s) = &p.select_by {
                    used.insert(s.get_ref().as_str());
                }
                if let Some(prices) = &p.prices {
                    used.extend(prices.get_ref().keys().map(String::as_str));
                }
            }
            if let Some(t) = &v.tiered {
                let t = t.get_ref();
                used.insert(t.unit.as_str());
                if let Some(c) = &t.components {
                    used.extend(c.get_ref().iter().map(String::as_str));
                }
                used.extend(t.season.iter().map(|s| s.get_ref().name.as_str()));
            }
            if let Some(t) = &v.time_of_use {
                let t = t.get_ref();
                used.insert(t.unit.as_str());
                used.extend(t.register.iter().map(|r| r.get_ref().name.get_ref().trim()));
            }
        }
    }
    used
}
