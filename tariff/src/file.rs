//! The rule file as written: serde structs that mirror the TOML one to one.
//!
//! Every table denies unknown fields, so a misspelt key is an error with its line rather than a
//! silently ignored price. Values that later checks may refuse carry their [`Spanned`]
//! position so the refusal can name the line. Nothing here is trusted: `parse` turns it into
//! the checked [`crate::Tenant`].
//!
//! This file has the file as a whole; each charge model's table is in the model's own file
//! (`models/<model>.rs`), and the bill-level terms' in `models/adjustments.rs`. A version
//! holds one field per model table, and [`VersionFile::models`] lists them for the checks.

use crate::models::adjustments::{DiscountFile, PrepayBonusFile};
use crate::models::fixed::{Fixed, FixedFile};
use crate::models::late_fee::{LateFee, LateFeeFile};
use crate::models::per_attribute::{PerAttribute, PerAttributeFile};
use crate::models::tiered::{Tiered, TieredFile};
use crate::models::time_of_use::{TimeOfUse, TimeOfUseFile};
use crate::models::top_up::{TopUp, TopUpFile};
use crate::models::{Charge, ModelTable};
use crate::parse::{Checked, Checker};
use crate::rounding::Rounding;
use crate::values::{Day, Yuan};
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantFile {
    pub tenant: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub time_zone: Option<Spanned<String>>,
    #[serde(default)]
    pub currency: Option<Spanned<String>>,
    pub rounding: Rounding,
    /// The customer classes the tenant serves.
    pub classes: Spanned<Vec<Spanned<String>>>,
    #[serde(default, rename = "kind")]
    pub kinds: Vec<Spanned<KindFile>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RuleFile>>,
    /// The tenant's texts in Chinese.
    #[serde(default)]
    pub zh: Option<Spanned<ZhFile>>,
}

/// `[zh]`: the payee name in Chinese and a glossary of the file's own words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZhFile {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The file's word as written → its Chinese.
    #[serde(default)]
    pub words: std::collections::BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KindFile {
    pub id: Spanned<String>,
    pub label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub id: Spanned<String>,
    pub kind: Spanned<String>,
    #[serde(default)]
    pub classes: Option<Spanned<Vec<String>>>,
    #[serde(default, rename = "version")]
    pub versions: Vec<Spanned<VersionFile>>,
}

/// `[[rule.version]]`: its label and date, one table per charge model (a version must write
/// exactly one), and the bill-level terms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionFile {
    pub version: Spanned<String>,
    pub effective_from: Spanned<Day>,
    #[serde(default)]
    pub fixed: Option<Spanned<FixedFile>>,
    #[serde(default)]
    pub per_attribute: Option<Spanned<PerAttributeFile>>,
    #[serde(default)]
    pub tiered: Option<Spanned<TieredFile>>,
    #[serde(default)]
    pub time_of_use: Option<Spanned<TimeOfUseFile>>,
    #[serde(default)]
    pub top_up: Option<Spanned<TopUpFile>>,
    #[serde(default)]
    pub late_fee: Option<Spanned<LateFeeFile>>,
    #[serde(default)]
    pub prepay_bonus: Option<Spanned<PrepayBonusFile>>,
    #[serde(default)]
    pub discount: Option<Spanned<DiscountFile>>,
    #[serde(default)]
    pub minimum: Option<Spanned<Yuan>>,
}

impl VersionFile {
    /// The rule file's table of charge models: one line per model table above, in the order
    /// of [`Charge`] (the order "add one of …" lists them in), each with the variant its
    /// checked model becomes.
    pub(crate) fn models(&self) -> Vec<ModelRow<'_>> {
        vec![
            ModelRow::of::<Fixed>(&self.fixed, Charge::Fixed),
            ModelRow::of::<PerAttribute>(&self.per_attribute, Charge::PerAttribute),
            ModelRow::of::<Tiered>(&self.tiered, Charge::Tiered),
            ModelRow::of::<TimeOfUse>(&self.time_of_use, Charge::TimeOfUse),
            ModelRow::of::<TopUp>(&self.top_up, Charge::TopUp),
            ModelRow::of::<LateFee>(&self.late_fee, Charge::LateFee),
        ]
    }
}

/// One charge model's row in a version's table of models: the model's table name, and the
/// table itself if the version writes it.
pub(crate) struct ModelRow<'a> {
    pub name: &'static str,
    pub written: Option<Box<dyn WrittenTable<'a> + 'a>>,
}

impl<'a> ModelRow<'a> {
    /// Model `M`'s row: its table as the version has it (`None`: not written), and `charge`,
    /// the [`Charge`] variant that holds it.
    fn of<M: ModelTable>(file: &'a Option<Spanned<M::File>>, charge: fn(M) -> Charge) -> Self {
        ModelRow {
            name: M::NAME,
            written: file.as_ref().map(|file| {
                Box::new(Table::<M> { file, charge }) as Box<dyn WrittenTable<'a> + 'a>
            }),
        }
    }
}

/// A charge model's table as a version writes it, whichever the model.
pub(crate) trait WrittenTable<'a> {
    /// Where the table is in the file.
    fn span(&self) -> Range<usize>;
    /// The table checked, as the version's charge (see [`ModelTable::check`]).
    fn check(&self, cx: &Checker<'_>, declared: Option<&[String]>) -> Checked<Charge>;
    /// The tenant's own words in the table (see [`ModelTable::words`]).
    fn words(&self) -> Vec<&'a str>;
}

/// Model `M`'s table as written, and the variant that holds the checked model.
struct Table<'a, M: ModelTable> {
    file: &'a Spanned<M::File>,
    charge: fn(M) -> Charge,
}

impl<'a, M: ModelTable> WrittenTable<'a> for Table<'a, M> {
    fn span(&self) -> Range<usize> {
        self.file.span()
    }

    fn check(&self, cx: &Checker<'_>, declared: Option<&[String]>) -> Checked<Charge> {
        M::check(cx, self.file, declared).map(self.charge)
    }

    fn words(&self) -> Vec<&'a str> {
        M::words(self.file.get_ref())
    }
}
