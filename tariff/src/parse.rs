//! Rule file text → checked [`Tenant`], or every mistake with its line.
//!
//! TOML shape errors (syntax, unknown or missing fields, wrong types, floats) come from serde
//! with toml's span, and stop there: past a shape error the rest of the file cannot be read.
//! The checks here cover what a schema cannot say: tiers that leave gaps or overlap, negative
//! prices, rules naming undeclared kinds or classes, versions out of date order, two rules
//! claiming the same customers. A mistake skips only the part it is in (a kind, a rule, a
//! version, a tier, a rate), so one run reports every independent mistake of a file.
//!
//! This file checks the file as a whole; each charge model's own checks are in its file
//! (`models/<model>.rs`), reached through the version's table of models
//! ([`VersionFile::models`]). They share the [`Checker`], which records the mistakes.

use crate::error::RuleFileError;
use crate::file::{KindFile, RuleFile, TenantFile, VersionFile, WrittenTable, ZhFile};
use crate::models::adjustments::{Discount, DiscountFile, PrepayBonus, PrepayBonusFile};
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
pub(crate) type Checked<T> = Option<T>;

/// A version's terms as the file has them: prepay bonus, discount, minimum.
type TermsFile = (
    Option<Spanned<PrepayBonusFile>>,
    Option<Spanned<DiscountFile>>,
    Option<Spanned<Yuan>>,
);

/// The checks' shared context: the file being checked, and the mistakes found in it so far.
pub(crate) struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    /// Every mistake found so far.
    mistakes: RefCell<Vec<RuleFileError>>,
}

impl Checker<'_> {
    /// A mistake at `span` of the file.
    pub(crate) fn err(&self, span: &Range<usize>, reason: impl Into<String>) -> RuleFileError {
        RuleFileError::at_span(self.file, self.text, span, reason)
    }

    /// Records a mistake; `None` so the caller can skip the part it is in with `?`.
    pub(crate) fn fail<T>(&self, e: RuleFileError) -> Checked<T> {
        self.mistakes.borrow_mut().push(e);
        None
    }

    /// How many mistakes so far: a part is good when checking it added none.
    pub(crate) fn count(&self) -> usize {
        self.mistakes.borrow().len()
    }

    /// A price or rate: zero or more.
    pub(crate) fn non_negative(&self, d: &Spanned<Dec>, what: &str) -> Checked<Decimal> {
        let v = d.get_ref().0;
        if v.is_sign_negative() && !v.is_zero() {
            return self.fail(self.err(&d.span(), format!("{what} {v} is negative")));
        }
        Some(v)
    }

    /// An amount: zero or more.
    pub(crate) fn non_negative_fen(&self, y: &Spanned<Yuan>, what: &str) -> Checked<Fen> {
        let v = y.get_ref().0;
        if v < Fen::ZERO {
            return self.fail(self.err(&y.span(), format!("{what} {v} is negative")));
        }
        Some(v)
    }

    /// An optional number: absent is fine, present must be zero or more.
    pub(crate) fn non_negative_opt(
        &self,
        d: &Option<Spanned<Dec>>,
        what: &str,
    ) -> Checked<Option<Decimal>> {
        match d {
            None => Some(None),
            Some(d) => self.non_negative(d, what).map(Some),
        }
    }

    /// An optional amount: absent is fine, present must be zero or more.
    pub(crate) fn non_negative_fen_opt(
        &self,
        y: &Option<Spanned<Yuan>>,
        what: &str,
    ) -> Checked<Option<Fen>> {
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
    pub(crate) fn named_classes(
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

    /// One version: a label, one charge model checked by its model file, and the terms that
    /// apply to that model.
    fn version(&self, raw: Spanned<VersionFile>, declared: Option<&[String]>) -> Checked<Version> {
        let span = raw.span();
        let raw = raw.into_inner();
        let label = raw.version.get_ref().trim().to_string();
        if label.is_empty() {
            return self.fail(self.err(&raw.version.span(), "version is empty"));
        }
        let charge = self.charge(&span, &label, &raw, declared)?;
        let terms = self.terms(&charge, (raw.prepay_bonus, raw.discount, raw.minimum))?;
        Some(Version {
            version: label,
            effective_from: raw.effective_from.get_ref().0,
            charge,
            terms,
        })
    }

    /// The version's charge: it names exactly one charge model (of two, the one that comes
    /// second in the file is reported), checked by that model.
    fn charge(
        &self,
        span: &Range<usize>,
        label: &str,
        raw: &VersionFile,
        declared: Option<&[String]>,
    ) -> Checked<Charge> {
        let models = raw.models();
        let names: Vec<&str> = models.iter().map(|m| m.name).collect();
        let mut written: Vec<(&str, &dyn WrittenTable<'_>)> = models
            .iter()
            .filter_map(|m| m.written.as_deref().map(|w| (m.name, w)))
            .collect();
        written.sort_by_key(|(_, w)| w.span().start);
        match written.as_slice() {
            [] => self.fail(self.err(
                span,
                format!(
                    "version {label:?} has no charge model: add one of {}",
                    one_of(&names)
                ),
            )),
            [(_, model)] => model.check(self, declared),
            [(first, _), (second, model), ..] => self.fail(self.err(
                &model.span(),
                format!(
                    "version {label:?} has both {first} and {second}: one charge model per version"
                ),
            )),
        }
    }

    /// The terms around the charge (a prepay bonus for periodic charges; a discount and a
    /// minimum for charges that make a bill), each refused where it does not apply.
    fn terms(
        &self,
        charge: &Charge,
        (prepay_bonus, discount, minimum): TermsFile,
    ) -> Checked<BillTerms> {
        let family = charge.family();
        let model = charge.model_name();
        let not_for = |what: &str, s: &Range<usize>| {
            self.err(s, format!("{what} does not apply to a {model} charge"))
        };
        let prepay_bonus = match prepay_bonus {
            None => None,
            Some(b) if family != Family::Periodic => {
                return self.fail(not_for("prepay_bonus", &b.span()))
            }
            Some(b) => Some(PrepayBonus::check(self, b.get_ref())?),
        };
        let billable = matches!(family, Family::Periodic | Family::Metered);
        let discount = match discount {
            None => None,
            Some(d) if !billable => return self.fail(not_for("discount", &d.span())),
            Some(d) => Some(Discount::check(self, d.get_ref())?),
        };
        let minimum = match minimum {
            None => None,
            Some(m) if !billable => return self.fail(not_for("minimum", &m.span())),
            Some(m) => Some(self.non_negative_fen(&m, "minimum")?),
        };
        Some(BillTerms {
            prepay_bonus,
            discount,
            minimum,
        })
    }
}

/// Every text of the tenant's own that a payer can read on a bill: the kinds' labels, the
/// classes, and from each version the words of its charge model (units, components, season
/// names, band names, the `select_by` attribute with the values it lists).
fn used_words(raw: &TenantFile) -> BTreeSet<&str> {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    used.extend(raw.kinds.iter().map(|k| k.get_ref().label.as_str()));
    used.extend(raw.classes.get_ref().iter().map(|c| c.get_ref().trim()));
    for rule in &raw.rules {
        for v in &rule.get_ref().versions {
            for model in v.get_ref().models() {
                if let Some(written) = model.written {
                    used.extend(written.words());
                }
            }
        }
    }
    used
}

/// `a, b or c`: a list as a sentence gives it.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant with one rule whose one version writes `model` (nothing when empty).
    fn with_model(model: &str) -> String {
        format!(
            "tenant = \"t-1\"\nname = \"Test\"\nrounding = \"half_up\"\n\
             classes = [\"household\"]\n[[kind]]\nid = \"water\"\nlabel = \"Water\"\n\
             [[rule]]\nid = \"r\"\nkind = \"water\"\n[[rule.version]]\nversion = \"v1\"\n\
             effective_from = 2024-01-01\n{model}\n"
        )
    }

    #[test]
    fn a_version_without_a_model_is_told_every_model_it_may_name() {
        let err = parse_rule_file("t.toml", &with_model("")).unwrap_err();
        assert_eq!(
            err.reason,
            "version \"v1\" has no charge model: add one of fixed, per_attribute, tiered, \
             time_of_use, top_up or late_fee"
        );
    }

    #[test]
    fn each_models_table_becomes_the_charge_of_that_name() {
        // The table of models in `VersionFile::models` lines each table up with its `Charge`
        // variant; the model named in the file is the model checked and priced.
        let tables = [
            ("fixed", "price = \"1.00\""),
            (
                "per_attribute",
                "attribute = \"area_m2\", unit = \"m²\", price = \"2.00\"",
            ),
            (
                "tiered",
                "unit = \"m³\", cumulation = \"month\", tier = [{ from = \"0\", price = \"2\" }]",
            ),
            (
                "time_of_use",
                "unit = \"kWh\", register = [{ name = \"peak\", price = \"1\" }]",
            ),
            ("top_up", "denomination = [{ amount = \"30.00\" }]"),
            ("late_fee", "rate = [{ per_day = \"0.001\" }]"),
        ];
        for (name, body) in tables {
            let text = with_model(&format!("{name} = {{ {body} }}"));
            let tenant = parse_rule_file("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(tenant.rules[0].versions[0].charge.model_name(), name);
        }
    }

    #[test]
    fn lists_read_as_a_sentence() {
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b"]), "a or b");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }
}
