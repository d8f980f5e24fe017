//! The two ways the engine says no: a rule file it refuses ([`RuleFileError`], located to a
//! line) and a quote it cannot price ([`QuoteError`], with a stable code per variant).

use chrono::NaiveDate;
use posfee_schemas::ids::{FeeKind, TenantId};
use posfee_schemas::money::Fen;
use std::ops::Range;

/// A mistake in a rule file (or a preview input file), shown as `file:line:col: reason` so an
/// editor can jump to it. Lines and columns count from 1; `0:0` means the file as a whole
/// (it could not be read, or two files clash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct RuleFileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl RuleFileError {
    /// An error at byte `offset` of `text`.
    pub(crate) fn at(file: &str, text: &str, offset: usize, reason: impl Into<String>) -> Self {
        let (line, column) = line_col(text, offset);
        RuleFileError {
            file: file.to_string(),
            line,
            column,
            reason: reason.into(),
        }
    }

    pub(crate) fn at_span(
        file: &str,
        text: &str,
        span: &Range<usize>,
        reason: impl Into<String>,
    ) -> Self {
        Self::at(file, text, span.start, reason)
    }

    pub(crate) fn whole_file(file: &str, reason: impl Into<String>) -> Self {
        RuleFileError {
            file: file.to_string(),
            line: 0,
            column: 0,
            reason: reason.into(),
        }
    }

    /// A TOML syntax or shape error (unknown field, missing field, wrong type …), located by
    /// the span toml reports.
    pub(crate) fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> Self {
        // toml's message can span several lines with a source excerpt; the first line is
        // the reason, and we supply the location ourselves.
        let reason = err
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim();
        // serde names a missing field only as `missing field `x``, and at the top of the
        // file: say what to add, and where (the table it is missing from, or the file).
        let reason = match reason
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            Some(field) => format!(
                "`{field}` is missing here: add a `{field} = …` line (docs/tariffs.md describes every field)"
            ),
            None => reason.to_string(),
        };
        match err.span() {
            Some(span) => Self::at(file, text, span.start, reason),
            None => Self::whole_file(file, reason),
        }
    }

    /// Every TOML syntax error of `text`, at most one per table: each table (from one `[…]`
    /// header to the next) is read on its own, so a file with mistakes in several places
    /// is told all of them in one run, not one per run.
    pub(crate) fn syntax_errors(file: &str, text: &str) -> Vec<Self> {
        let mut starts: Vec<usize> = text
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .filter(|&i| is_header(text[i..].lines().next().unwrap_or_default()))
            .collect();
        starts.insert(0, 0);
        starts.push(text.len());
        starts
            .windows(2)
            .filter_map(|w| {
                let part = &text[w[0]..w[1]];
                let e = part.parse::<toml::Table>().err()?;
                let offset = w[0] + e.span().map(|s| s.start).unwrap_or(0);
                let reason = e.message().lines().next().unwrap_or("invalid TOML").trim();
                Some(Self::at(file, text, offset, reason.to_string()))
            })
            .collect()
    }
}

/// Whether a line is a table header (`[zh.words]`, `[[rule]]`), not a line of a multi-line
/// array that happens to start with `[`.
fn is_header(line: &str) -> bool {
    let l = line.split('#').next().unwrap_or_default().trim();
    l.starts_with('[') && l.ends_with(']') && !l.contains([',', '=', '{'])
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Why a quote could not be priced. Each variant has a stable [`QuoteError::code`] a service
/// maps onto its wire error codes; the Display text is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("the account belongs to tenant {facts}, not to {rules}")]
    TenantMismatch { rules: TenantId, facts: TenantId },
    #[error("tenant {tenant} does not bill fee kind {kind}")]
    UnknownFeeKind { tenant: TenantId, kind: FeeKind },
    #[error("tenant {tenant} has no {kind} rule for customer class {class:?}")]
    NoRuleForClass {
        tenant: TenantId,
        kind: FeeKind,
        class: String,
    },
    #[error("rule {rule} has no version in force on {on}")]
    NoVersionInForce { rule: String, on: NaiveDate },
    #[error("account attribute {attribute:?} is missing (rule {rule} needs it)")]
    MissingAttribute { attribute: String, rule: String },
    #[error("account attribute {attribute:?} = {value:?} is not a non-negative decimal number")]
    BadAttribute { attribute: String, value: String },
    #[error("rule {rule} has no price for {attribute} = {value:?}")]
    UnpricedAttribute {
        rule: String,
        attribute: String,
        value: String,
    },
    #[error("{kind}: the account has no paid-through month, so the owed months are unknown")]
    MissingPaidThrough { kind: FeeKind },
    #[error("{kind}: missing readings: {reason}")]
    MissingReadings { kind: FeeKind, reason: String },
    #[error("meter {meter}: {reason}")]
    BadReadings { meter: String, reason: String },
    #[error("{kind}: top-up of {} is not offered; choose one of {}", show_offered(.offered), show_fens(.allowed))]
    BadTopUp {
        kind: FeeKind,
        offered: Option<Fen>,
        allowed: Vec<Fen>,
    },
    #[error("a top-up amount must name its fee kind: tenant {tenant} has several top-up kinds")]
    AmbiguousTopUp { tenant: TenantId },
    #[error("{kind}: prepaying {chosen} months does not cover the {owed} months already owed")]
    PrepayTooShort {
        kind: FeeKind,
        chosen: u32,
        owed: u32,
    },
    #[error("{kind}: {months} months to bill is more than the {max} one quote may hold")]
    TooManyPeriods {
        kind: FeeKind,
        months: u32,
        max: u32,
    },
    #[error("{kind}: the arrear for {period} is not above zero")]
    BadArrear { kind: FeeKind, period: String },
    #[error("nothing is owed")]
    NothingOwed,
    #[error("an amount or date overflows")]
    Overflow,
}

impl QuoteError {
    /// A stable symbolic code, one per variant, for the service's wire error.
    pub fn code(&self) -> &'static str {
        match self {
            QuoteError::TenantMismatch { .. } => "tenant_mismatch",
            QuoteError::UnknownFeeKind { .. } => "unknown_fee_kind",
            QuoteError::NoRuleForClass { .. } => "no_rule_for_class",
            QuoteError::NoVersionInForce { .. } => "no_version_in_force",
            QuoteError::MissingAttribute { .. } => "missing_attribute",
            QuoteError::BadAttribute { .. } => "bad_attribute",
            QuoteError::UnpricedAttribute { .. } => "unpriced_attribute",
            QuoteError::MissingPaidThrough { .. } => "missing_paid_through",
            QuoteError::MissingReadings { .. } => "missing_readings",
            QuoteError::BadReadings { .. } => "bad_readings",
            QuoteError::BadTopUp { .. } => "bad_top_up",
            QuoteError::AmbiguousTopUp { .. } => "ambiguous_top_up",
            QuoteError::PrepayTooShort { .. } => "prepay_too_short",
            QuoteError::TooManyPeriods { .. } => "too_many_periods",
            QuoteError::BadArrear { .. } => "bad_arrear",
            QuoteError::NothingOwed => "nothing_owed",
            QuoteError::Overflow => "overflow",
        }
    }
}

fn show_offered(offered: &Option<Fen>) -> String {
    offered.map_or_else(|| "(none chosen)".to_string(), |f| f.to_string())
}

fn show_fens(fens: &[Fen]) -> String {
    fens.iter()
        .map(Fen::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_reason() {
        let text = "a = 1\nbé = 2\n";
        let e = RuleFileError::at("x.toml", text, text.find('=').unwrap(), "first");
        assert_eq!(e.to_string(), "x.toml:1:3: first");
        let second = text.rfind('=').unwrap();
        assert_eq!(RuleFileError::at("x.toml", text, second, "r").column, 4);
        assert_eq!(RuleFileError::at("x.toml", text, second, "r").line, 2);
    }
}
