//! The rule file as written: serde structs that mirror the TOML one to one.
//!
//! Every table denies unknown fields, so a misspelt key is an error with its line rather than a
//! silently ignored price. Values that later checks may refuse carry their [`Spanned`]
//! position so the refusal can name the line. Nothing here is trusted: `parse` turns it into
//! the checked [`crate::Tenant`].

use crate::rounding::Rounding;
use crate::values::{Day, Dec, Yuan};
use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixedFile {
    pub price: Spanned<Dec>,
}

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
    pub prices: Option<Spanned<std::collections::BTreeMap<String, Spanned<Dec>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CumulationFile {
    Month,
    Year,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TieredFile {
    pub unit: String,
    pub cumulation: CumulationFile,
    #[serde(default)]
    pub components: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub tier: Vec<Spanned<TierFile>>,
    #[serde(default)]
    pub season: Vec<Spanned<SeasonFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TierFile {
    pub from: Spanned<Dec>,
    #[serde(default)]
    pub to: Option<Spanned<Dec>>,
    #[serde(default)]
    pub price: Option<Spanned<Dec>>,
    #[serde(default)]
    pub prices: Option<Spanned<Vec<Spanned<Dec>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeasonFile {
    pub name: String,
    pub months: Spanned<Vec<Spanned<u32>>>,
    #[serde(default)]
    pub tier: Vec<Spanned<TierFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeOfUseFile {
    pub unit: String,
    #[serde(default)]
    pub register: Vec<Spanned<RegisterFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterFile {
    pub name: Spanned<String>,
    pub price: Spanned<Dec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopUpFile {
    #[serde(default)]
    pub denomination: Vec<Spanned<DenominationFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenominationFile {
    pub amount: Spanned<Yuan>,
    #[serde(default)]
    pub bonus: Option<Spanned<Yuan>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LateFeeFile {
    #[serde(default)]
    pub grace_days: u32,
    #[serde(default)]
    pub minimum: Option<Spanned<Yuan>>,
    #[serde(default)]
    pub max_ratio: Option<Spanned<Dec>>,
    #[serde(default)]
    pub rate: Vec<Spanned<RateFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateFile {
    #[serde(default)]
    pub classes: Option<Spanned<Vec<String>>>,
    pub per_day: Spanned<Dec>,
    #[serde(default)]
    pub earlier_years_per_day: Option<Spanned<Dec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrepayBonusFile {
    pub months: Spanned<u32>,
    pub free: Spanned<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscountFile {
    pub percent: Spanned<Dec>,
    #[serde(default)]
    pub min_prepay_months: Option<u32>,
}
