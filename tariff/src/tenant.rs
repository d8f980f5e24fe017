//! A tenant's checked tariff: the fee kinds it bills and its versioned rules.
//!
//! Built only by [`crate::parse_rule_file`], so a `Tenant` that exists has passed every check
//! (tiers without gaps, versions in date order, known kinds, non-negative prices …).

use crate::models::adjustments::{Discount, PrepayBonus};
use crate::rounding::Rounding;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use posfee_schemas::ids::{FeeKind, TenantId};
use posfee_schemas::money::{Currency, Fen};
use std::collections::BTreeMap;

// A version's charge model and the families of models live with the models (`models/mod.rs`).
pub use crate::models::{Charge, Family};

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    /// The payee as payers see it, e.g. `Acme Property Management`.
    pub name: String,
    /// Where `as_of` dates are reckoned (default Asia/Shanghai).
    pub time_zone: Tz,
    pub currency: Currency,
    pub rounding: Rounding,
    /// The customer classes the tenant serves, as declared; every account's class and every
    /// class a rule names is one of them.
    pub classes: Vec<String>,
    /// In the file's order, which is the order of a quote's lines.
    pub kinds: Vec<KindDecl>,
    pub rules: Vec<Rule>,
    /// The file the tenant was read from.
    pub source: String,
    /// The tenant's names and words in Chinese (the file's `[zh]` table).
    pub zh: Zh,
}

/// A tenant's own texts in Chinese: the payee name, and a glossary from each word the file
/// uses (a kind's label, a class, a component, a band, a season, a unit, a `select_by`
/// attribute or value) to its Chinese. Every entry is optional; a word without one is shown
/// as written. Checked at load: every glossary word is one the file uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zh {
    /// The payee in Chinese, e.g. `市自来水公司`.
    pub name: Option<String>,
    pub words: BTreeMap<String, String>,
}

impl Zh {
    /// No Chinese at all.
    pub const EMPTY: Zh = Zh {
        name: None,
        words: BTreeMap::new(),
    };

    /// The Chinese for one of the file's words, if the file gives it.
    pub fn word(&self, word: &str) -> Option<&str> {
        self.words.get(word).map(String::as_str)
    }

    /// The Chinese for `word`, or `word` itself when the file gives none.
    pub fn or<'w>(&'w self, word: &'w str) -> &'w str {
        self.word(word).unwrap_or(word)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDecl {
    pub kind: FeeKind,
    pub label: String,
}

/// One rule: how one fee kind is charged (or its late fee levied) for some customer classes,
/// over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub kind: FeeKind,
    /// The customer classes the rule is for; `None` = every class no other rule names.
    pub classes: Option<Vec<String>>,
    /// Oldest first, effective dates strictly increasing; never empty; one model throughout.
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub version: String,
    pub effective_from: NaiveDate,
    pub charge: Charge,
    pub terms: BillTerms,
}

/// Bill-level terms of a version: offers and minimums (see [`crate::models::adjustments`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillTerms {
    pub prepay_bonus: Option<PrepayBonus>,
    pub discount: Option<Discount>,
    pub minimum: Option<Fen>,
}

impl Rule {
    /// The version in force on `day`: the latest whose `effective_from` is on or before it.
    pub fn version_on(&self, day: NaiveDate) -> Option<&Version> {
        self.versions.iter().rev().find(|v| v.effective_from <= day)
    }

    pub fn family(&self) -> Option<Family> {
        self.versions.first().map(|v| v.charge.family())
    }

    fn names(&self, class: &str) -> bool {
        self.classes
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c == class))
    }
}

impl Tenant {
    pub fn kind(&self, kind: &FeeKind) -> Option<&KindDecl> {
        self.kinds.iter().find(|k| &k.kind == kind)
    }

    /// The rule that charges `kind` to `class`: the rule naming the class, else the rule
    /// without classes. Checked at load: at most one of each.
    pub fn charge_rule(&self, kind: &FeeKind, class: &str) -> Option<&Rule> {
        self.rule_for(kind, class, |f| f != Family::LateFee)
    }

    /// The late-fee rule for `kind`'s arrears of `class`, chosen the same way.
    pub fn late_fee_rule(&self, kind: &FeeKind, class: &str) -> Option<&Rule> {
        self.rule_for(kind, class, |f| f == Family::LateFee)
    }

    fn rule_for(
        &self,
        kind: &FeeKind,
        class: &str,
        role: impl Fn(Family) -> bool,
    ) -> Option<&Rule> {
        let all: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| &r.kind == kind && r.family().is_some_and(&role))
            .collect();
        all.iter()
            .find(|r| r.names(class))
            .or_else(|| all.iter().find(|r| r.classes.is_none()))
            .copied()
    }

    /// Today's date in the tenant's time zone: the `as_of` of a quote made at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }
}
