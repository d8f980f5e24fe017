//! The fee-rule engine: tenants' tariffs as rule files in, priced quotes out, to the fen.
//!
//! Pure: no clock (the payment date is `QuoteOptions::as_of`), no network, and no I/O
//! except reading rule files in [`RuleSet::load_dir`] / [`check_paths`]. No floats anywhere:
//! prices are exact [`rust_decimal::Decimal`] yuan, amounts are [`Fen`].
//!
//! # API
//! * [`parse_rule_file`]`(file_name, text) -> Result<Tenant, RuleFileError>` — one tenant, or
//!   its first mistake; [`check_rule_file`] gives every mistake.
//! * [`RuleSet::load_dir`]`(dir) -> Result<RuleSet, Vec<RuleFileError>>` — every `*.toml`;
//!   [`RuleSet::load_paths`] for files and directories.
//! * [`check_paths`]`(&[PathBuf]) -> Vec<FileCheck>` — per-file verdicts for `rules check`.
//! * [`quote()`]`(&Tenant, &AccountFacts, &QuoteOptions) -> Result<Quote, QuoteError>`.
//! * [`preview`]`(&RuleSet, input_file, input_text) -> Result<Quote, PreviewError>` and
//!   [`parse_input`] — offline pricing of an input file (format in [`input`]).
//! * [`render_quote`]`(&Quote) -> String` — the plain-text table.
//!
//! [`RuleFileError`] displays as `file:line:col: reason`; [`QuoteError::code`] gives each
//! quote failure a stable code.
//!
//! # Rule file format
//! The reference for tariff authors, with a checked example of every charge model and of the
//! quote input file, is `docs/tariffs.md` (`tests/doc_examples.rs` parses every example in
//! it). In short, one TOML file per tenant (examples in `services/fee-engine/rules/`):
//!
//! ```toml
//! tenant = "city-water"              # TenantId
//! name = "City Water Supply Co."     # payee name on quotes
//! time_zone = "Asia/Shanghai"        # optional, this is the default
//! currency = "CNY"                   # optional, this is the default
//! rounding = "half_up"               # half_up | half_even | down
//! classes = ["residential", "business"]  # the customer classes served; accounts and
//!                                    # rules may name only these
//!
//! [[kind]]                           # fee kinds the tenant bills, in quote order
//! id = "water"
//! label = "Tap water"
//!
//! [[rule]]
//! id = "water-residential"           # shown on every line as rule@version
//! kind = "water"                     # must be a declared kind
//! classes = ["residential"]          # optional, declared classes only; absent = every class
//!                                    # no other rule names
//!
//! [[rule.version]]                   # at least one; effective dates strictly increasing
//! version = "2014-05"
//! effective_from = 2014-05-01
//! [rule.version.tiered]              # exactly one charge model per version
//! # ...
//! ```
//!
//! Charge models (tables under `[rule.version]`; a rule keeps one model in all versions):
//! * `fixed = { price }` — a price per month ([`models::fixed`]).
//! * `per_attribute = { attribute, unit, price?, select_by?, prices? }` — attribute × price
//!   per unit a month; `select_by` names the attribute whose value picks from `prices`,
//!   `price` is then the default ([`models::per_attribute`]).
//! * `tiered = { unit, cumulation = "month"|"year", components?, tier = [...], season = [...] }`
//!   with tiers `{ from, to?, price }` or `{ from, to?, prices = [one per component] }`;
//!   tiers start at 0, meet without gap or overlap, the last is open ([`models::tiered`]).
//!   `[[...season]] { name, months, tier }` replaces the bounds in some months (monthly
//!   cumulation only).
//! * `time_of_use = { unit, register = [{ name, price }] }` ([`models::time_of_use`]).
//! * `top_up = { denomination = [{ amount, bonus? }] }` ([`models::top_up`]).
//! * `late_fee = { grace_days?, minimum?, max_ratio?, rate = [{ classes?, per_day,
//!   earlier_years_per_day? }] }` — a rule of its own, applied to the kind's arrears
//!   ([`models::late_fee`]).
//!
//! Each model is one file in [`models`] holding its table's shape, its checks and its pricing;
//! "Adding a charge model" in `docs/tariffs.md` says what else a new one touches (a line in
//! each of two tables).
//!
//! Bill-level terms beside the model ([`models::adjustments`]): `prepay_bonus = { months,
//! free }` (periodic models; prepay `months`, get `free` more months at no charge), `discount = { percent, min_prepay_months? }` and `minimum`
//! (periodic and metered).
//!
//! Chinese (optional, [`tenant::Zh`]): a `[zh]` table with `name` (the payee) and
//! `[zh.words]`, the file's own words (labels, classes, components, seasons, bands, units,
//! `select_by` attributes and values) → Chinese; a word the file never uses is refused. Every
//! line's explanation and unit come in English and Chinese (`explanation_zh`, `unit_zh`).
//!
//! Every number that prices something is a string (`"2.07"`) or an integer: TOML floats are
//! binary and are refused. Amounts (`minimum`, denominations) have at most two decimals.
//!
//! # Which version prices what
//! A month is priced by the version in force on its first day, so old periods keep old
//! prices. Bill-level terms (prepay bonus, discount, minimum), top-ups and late fees use the
//! version in force on `as_of`.
//!
//! # Rounding — once per line
//! Every [`posfee_schemas::fee::BillLine`] is rounded exactly once, with the tenant's mode,
//! from its exact amount: `round(quantity × unit_price)`. Nothing before that is rounded (unit
//! prices keep fractions of a fen), and the total is the sum of the rounded lines. The one
//! refinement is year-to-date tiers, whose line is the difference of the tier's rounded
//! running charge at the slice's two ends, so a year billed month by month costs exactly what
//! it costs billed at once (see [`models::tiered`]).

mod account_check;
pub mod error;
pub mod facts;
mod file;
pub mod input;
pub mod models;
mod parse;
pub mod quote;
pub mod readings;
pub mod render;
pub mod rounding;
pub mod ruleset;
pub mod tenant;
pub mod values;

pub use error::{QuoteError, RuleFileError};
pub use facts::{AccountFacts, Arrear, QuoteOptions, Reading};
pub use input::{parse_input, preview, PreviewError};
pub use parse::{check_rule_file, parse_rule_file, DEFAULT_TIME_ZONE};
pub use posfee_schemas::fee::{BillLine, Quote};
pub use posfee_schemas::money::Fen;
pub use quote::quote;
pub use render::render_quote;
pub use rounding::Rounding;
pub use ruleset::{check_paths, FileCheck, RuleSet};
pub use tenant::{Charge, Family, KindDecl, Rule, Tenant, Version, Zh};
pub use values::YearMonth;
