//! Quote assembly: which periods of which kinds are owed, which version prices each, and the
//! lines that result.
//!
//! For each kind (in the tenant's declared order) the quote holds the kind's charge lines,
//! then its bill-level lines (discount, minimum), then its arrears and their late fee.
//!
//! * Periodic kinds (fixed, per-attribute) bill the months after `paid_through` up to the
//!   month of `as_of`, or `prepay_months` months from the month after `paid_through`.
//!   Consecutive months priced by the same version share one line.
//! * Metered kinds (tiered, time-of-use) bill the months after `paid_through` (or after the
//!   first reading's month when nothing is paid yet) up to the last month with a reading on or
//!   before `as_of`; see [`crate::readings`] for how usage is read.
//! * A top-up kind bills the chosen denomination once.
//! * A period is priced by the rule version in force on its first day, so old periods keep
//!   old prices; bill-level terms and late fees use the version in force on `as_of`.
//!
//! This file assembles the quote as a whole, by family; each model's own pricing is in its
//! file (`models/<model>.rs`), reached through `Charge::pricing` (the table in `models/mod.rs`).

use crate::error::QuoteError;
use crate::facts::{AccountFacts, Arrear, QuoteOptions};
use crate::models::adjustments::{minimum, MinimumOf};
use crate::models::{bill_unit, Bi, Ctx, Piece, Pricing};
use crate::readings::{MeterReads, Register};
use crate::tenant::{Family, Rule, Tenant, Version};
use crate::values::{yuan, YearMonth};
use posfee_schemas::fee::{BillLine, Quote};
use posfee_schemas::ids::FeeKind;
use posfee_schemas::money::Fen;
use rust_decimal::Decimal;

/// Most months one quote bills for one kind (ten years): an account paid through 1990 is a
/// data problem to look at, not a bill to print.
pub const MAX_MONTHS_PER_QUOTE: u32 = 120;

/// The rule id on arrears lines: they were priced by an earlier bill, not by a rule now.
pub const ARREARS_RULE_ID: &str = "arrears";

/// Prices what `facts`' account owes `tenant` on `opts.as_of`.
///
/// With `opts.kinds` empty the quote covers every kind the account is enrolled in — periodic
/// kinds with a `paid_through` month, metered kinds with a meter, top-up kinds when a top-up
/// amount is chosen — plus all arrears. A kind named in `opts.kinds` that lacks those facts is
/// an error instead. A quote whose total is not above zero is [`QuoteError::NothingOwed`].
pub fn quote(
    tenant: &Tenant,
    facts: &AccountFacts,
    opts: &QuoteOptions,
) -> Result<Quote, QuoteError> {
    if facts.tenant != tenant.id {
        return Err(QuoteError::TenantMismatch {
            rules: tenant.id.clone(),
            facts: facts.tenant.clone(),
        });
    }
    let explicit = !opts.kinds.is_empty();
    let kinds = kinds_to_quote(tenant, facts, opts)?;
    let job = Job {
        tenant,
        facts,
        opts,
        ctx: Ctx {
            rounding: tenant.rounding,
            currency: tenant.currency,
            zh: &tenant.zh,
        },
        explicit,
    };
    let mut lines = Vec::new();
    for kind in kinds {
        let mut of_kind = job.charges(kind)?;
        of_kind.extend(job.arrears(kind)?);
        if let Some(decl) = tenant.kind(kind) {
            let label_zh = tenant.zh.word(&decl.label).unwrap_or_default();
            for l in &mut of_kind {
                l.label.clone_from(&decl.label);
                l.label_zh = label_zh.to_string();
            }
        }
        lines.extend(of_kind);
    }
    let total = Fen::sum(lines.iter().map(|l| l.amount)).map_err(|_| QuoteError::Overflow)?;
    if total <= Fen::ZERO {
        return Err(QuoteError::NothingOwed);
    }
    Ok(Quote {
        tenant: tenant.id.clone(),
        tenant_name: tenant.name.clone(),
        account: facts.account.clone(),
        as_of: opts.as_of,
        currency: tenant.currency,
        lines,
        total,
        tenant_name_zh: tenant.zh.name.clone().unwrap_or_default(),
        class: facts.class.clone(),
        class_zh: tenant.zh.word(&facts.class).unwrap_or_default().to_string(),
    })
}

/// The kinds a quote covers, in order: those `opts.kinds` names, else every kind the tenant
/// declares (with at most one top-up kind when a top-up amount is chosen). Refused when a
/// named kind or an arrear's kind is not the tenant's.
fn kinds_to_quote<'t>(
    tenant: &'t Tenant,
    facts: &AccountFacts,
    opts: &QuoteOptions,
) -> Result<Vec<&'t FeeKind>, QuoteError> {
    let unknown = |kind: &FeeKind| QuoteError::UnknownFeeKind {
        tenant: tenant.id.clone(),
        kind: kind.clone(),
    };
    let mut kinds: Vec<&FeeKind> = Vec::new();
    if !opts.kinds.is_empty() {
        for k in &opts.kinds {
            let declared = tenant.kind(k).ok_or_else(|| unknown(k))?;
            if !kinds.contains(&&declared.kind) {
                kinds.push(&declared.kind);
            }
        }
    } else {
        kinds = tenant.kinds.iter().map(|d| &d.kind).collect();
        let top_up_kinds = kinds
            .iter()
            .filter(|k| {
                tenant
                    .charge_rule(k, &facts.class)
                    .is_some_and(|r| r.family() == Some(Family::TopUp))
            })
            .count();
        if opts.top_up.is_some() && top_up_kinds > 1 {
            return Err(QuoteError::AmbiguousTopUp {
                tenant: tenant.id.clone(),
            });
        }
    }
    if let Some(a) = facts
        .arrears
        .iter()
        .find(|a| tenant.kind(&a.kind).is_none())
    {
        return Err(unknown(&a.kind));
    }
    Ok(kinds)
}

/// One quote being priced: the tenant, the account and the options, with what every line
/// needs to be priced and explained.
struct Job<'a> {
    tenant: &'a Tenant,
    facts: &'a AccountFacts,
    opts: &'a QuoteOptions,
    ctx: Ctx<'a>,
    explicit: bool,
}

/// A line of `kind` (its label is filled in by [`quote`]).
fn line(kind: &FeeKind, rule_id: &str, version: &str, p: Piece) -> BillLine {
    BillLine {
        kind: kind.clone(),
        period: p.period,
        quantity: p.quantity,
        unit: p.unit.en,
        unit_price: p.unit_price,
        amount: p.amount,
        rule_id: rule_id.to_string(),
        rule_version: version.to_string(),
        explanation: p.explanation.en,
        label: String::new(),
        label_zh: String::new(),
        unit_zh: p.unit.zh,
        explanation_zh: p.explanation.zh,
    }
}

fn period_label(from: YearMonth, to: YearMonth) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}..{to}")
    }
}

fn sum(lines: &[BillLine]) -> Result<Fen, QuoteError> {
    Fen::sum(lines.iter().map(|l| l.amount)).map_err(|_| QuoteError::Overflow)
}

/// `count` consecutive months from `first`.
fn months_from(first: YearMonth, count: u32) -> Result<Vec<YearMonth>, QuoteError> {
    let mut months = Vec::new();
    let mut m = first;
    for i in 0..count {
        if i > 0 {
            m = m.next().ok_or(QuoteError::Overflow)?;
        }
        months.push(m);
    }
    Ok(months)
}

impl<'a> Job<'a> {
    fn version_for(&self, rule: &'a Rule, month: YearMonth) -> Result<&'a Version, QuoteError> {
        rule.version_on(month.first_day())
            .ok_or_else(|| QuoteError::NoVersionInForce {
                rule: rule.id.clone(),
                on: month.first_day(),
            })
    }

    fn charges(&self, kind: &FeeKind) -> Result<Vec<BillLine>, QuoteError> {
        let Some(rule) = self.tenant.charge_rule(kind, &self.facts.class) else {
            let has_arrears = self.facts.arrears.iter().any(|a| &a.kind == kind);
            if self.explicit && !has_arrears {
                return Err(QuoteError::NoRuleForClass {
                    tenant: self.tenant.id.clone(),
                    kind: kind.clone(),
                    class: self.facts.class.clone(),
                });
            }
            return Ok(Vec::new());
        };
        match rule.family() {
            Some(Family::Periodic) => self.periodic(kind, rule),
            Some(Family::Metered) => self.metered(kind, rule),
            Some(Family::TopUp) => self.top_up(kind, rule),
            Some(Family::LateFee) | None => Ok(Vec::new()),
        }
    }

    fn too_many(&self, kind: &FeeKind, months: u32) -> Result<(), QuoteError> {
        if months > MAX_MONTHS_PER_QUOTE {
            return Err(QuoteError::TooManyPeriods {
                kind: kind.clone(),
                months,
                max: MAX_MONTHS_PER_QUOTE,
            });
        }
        Ok(())
    }

    fn periodic(&self, kind: &FeeKind, rule: &'a Rule) -> Result<Vec<BillLine>, QuoteError> {
        let Some(paid) = self.facts.paid_through.get(kind) else {
            if self.explicit {
                return Err(QuoteError::MissingPaidThrough { kind: kind.clone() });
            }
            return Ok(Vec::new());
        };
        let first = paid.next().ok_or(QuoteError::Overflow)?;
        let owed = first.months_through(YearMonth::of(self.opts.as_of));
        let paying = match self.opts.prepay_months {
            None => owed,
            Some(chosen) if chosen < owed => {
                return Err(QuoteError::PrepayTooShort {
                    kind: kind.clone(),
                    chosen,
                    owed,
                })
            }
            Some(chosen) => chosen,
        };
        self.too_many(kind, paying)?;
        if paying == 0 {
            return Ok(Vec::new());
        }
        let terms_version = rule.version_on(self.opts.as_of);
        let bonus = terms_version.and_then(|v| v.terms.prepay_bonus);
        let free = match (self.opts.prepay_months, bonus) {
            (Some(n), Some(b)) => b.free_months(n),
            _ => 0,
        };
        let all = paying.checked_add(free).ok_or(QuoteError::Overflow)?;
        self.too_many(kind, all)?;
        let months = months_from(first, all)?;
        let (paid_months, free_months) = months.split_at(paying as usize);

        let mut lines = Vec::new();
        for (version, from, to, n) in self.runs(rule, paid_months)? {
            let p = self.periodic_piece(rule, version, from, to, n)?;
            lines.push(line(kind, &rule.id, &version.version, p));
        }
        let charged = sum(&lines)?;
        for (version, from, to, n) in self.runs(rule, free_months)? {
            let p = self.periodic_piece(rule, version, from, to, n)?;
            let (why, why_zh) = bonus.map_or_else(Default::default, |b| {
                (
                    format!(" ({} free per {} prepaid)", b.free, b.months),
                    format!("（每预缴 {} 个月赠 {} 个月）", b.months, b.free),
                )
            });
            let explanation = Bi::new(
                format!("free{why}; would be {}: {}", p.amount, p.explanation.en),
                format!(
                    "赠送{why_zh}；原价 {} {}：{}",
                    p.amount,
                    self.ctx.cur_zh(),
                    p.explanation.zh
                ),
            );
            let free_line = Piece {
                unit_price: Decimal::ZERO,
                amount: Fen::ZERO,
                explanation,
                ..p
            };
            lines.push(line(kind, &rule.id, &version.version, free_line));
        }
        let span = period_label(first, *months.last().unwrap_or(&first));
        self.bill_terms(kind, rule, terms_version, &span, charged, &mut lines)?;
        Ok(lines)
    }

    /// Consecutive months priced by the same version: (version, first, last, count).
    fn runs(
        &self,
        rule: &'a Rule,
        months: &[YearMonth],
    ) -> Result<Vec<(&'a Version, YearMonth, YearMonth, u32)>, QuoteError> {
        let mut runs: Vec<(&'a Version, YearMonth, YearMonth, u32)> = Vec::new();
        for &m in months {
            let v = self.version_for(rule, m)?;
            match runs.last_mut() {
                Some((rv, _, to, n)) if std::ptr::eq(*rv, v) => {
                    *to = m;
                    *n += 1;
                }
                _ => runs.push((v, m, m, 1)),
            }
        }
        Ok(runs)
    }

    fn periodic_piece(
        &self,
        rule: &Rule,
        version: &Version,
        from: YearMonth,
        to: YearMonth,
        n: u32,
    ) -> Result<Piece, QuoteError> {
        let period = period_label(from, to);
        match version.charge.pricing() {
            Pricing::Periodic(m) => {
                m.price_months(self.ctx, &rule.id, &self.facts.attributes, &period, n)
            }
            // A rule keeps one model across versions (checked at load).
            _ => Err(QuoteError::NoVersionInForce {
                rule: rule.id.clone(),
                on: from.first_day(),
            }),
        }
    }

    /// Discount and minimum charge from the version in force on `as_of`.
    fn bill_terms(
        &self,
        kind: &FeeKind,
        rule: &Rule,
        terms_version: Option<&Version>,
        period: &str,
        charged: Fen,
        lines: &mut Vec<BillLine>,
    ) -> Result<(), QuoteError> {
        let Some(v) = terms_version else {
            return Ok(());
        };
        let mut after = charged;
        if let Some(d) = v.terms.discount {
            if d.applies(self.opts.prepay_months) && charged > Fen::ZERO {
                let p = d.price(self.ctx, period, charged)?;
                after = after
                    .checked_add(p.amount)
                    .map_err(|_| QuoteError::Overflow)?;
                lines.push(line(kind, &rule.id, &v.version, p));
            }
        }
        if let Some(min) = v.terms.minimum {
            if let Some(p) = minimum(self.ctx, after, min, period, MinimumOf::Charge) {
                lines.push(line(kind, &rule.id, &v.version, p));
            }
        }
        Ok(())
    }

    fn metered(&self, kind: &FeeKind, rule: &'a Rule) -> Result<Vec<BillLine>, QuoteError> {
        let Some(meter) = self.facts.meters.get(kind) else {
            if self.explicit {
                return Err(QuoteError::MissingReadings {
                    kind: kind.clone(),
                    reason: "the account has no meter for it".to_string(),
                });
            }
            return Ok(Vec::new());
        };
        let as_of = self.opts.as_of;
        let mut reads = MeterReads::new(kind, meter, &self.facts.readings, as_of);
        let Some((first, last)) = self.billed_months(&mut reads, rule)? else {
            if self.explicit {
                return Err(QuoteError::MissingReadings {
                    kind: kind.clone(),
                    reason: format!("meter {meter} has no readings on or before {as_of}"),
                });
            }
            return Ok(Vec::new());
        };
        let count = first.months_through(last);
        self.too_many(kind, count)?;
        let mut lines = Vec::new();
        for month in months_from(first, count)? {
            let version = self.version_for(rule, month)?;
            let pieces = self.metered_month(&mut reads, version, month)?;
            lines.extend(
                pieces
                    .into_iter()
                    .map(|p| line(kind, &rule.id, &version.version, p)),
            );
        }
        if lines.is_empty() {
            return Ok(lines);
        }
        let charged = sum(&lines)?;
        let span = period_label(first, last);
        self.bill_terms(
            kind,
            rule,
            rule.version_on(as_of),
            &span,
            charged,
            &mut lines,
        )?;
        Ok(lines)
    }

    /// The months a metered charge bills: from the month after the one paid through (or after
    /// the first reading) to the last month every register the current tariff reads has
    /// reached; `None` without readings to bill.
    fn billed_months(
        &self,
        reads: &mut MeterReads<'_>,
        rule: &Rule,
    ) -> Result<Option<(YearMonth, YearMonth)>, QuoteError> {
        let as_of = self.opts.as_of;
        let current = rule
            .version_on(as_of)
            .or_else(|| rule.versions.first())
            .ok_or_else(|| QuoteError::NoVersionInForce {
                rule: rule.id.clone(),
                on: as_of,
            })?;
        let names: Vec<Option<String>> = match current.charge.pricing() {
            Pricing::Metered(m) => m.registers(),
            _ => vec![None],
        };
        for n in &names {
            reads.register(n.as_deref())?;
        }
        let reached: Vec<&Register> = names.iter().filter_map(|n| reads.read(n)).collect();
        let last = reached.iter().map(|r| r.last_month()).min().flatten();
        let first = match self.facts.paid_through.get(reads.kind()) {
            Some(paid) => paid.next(),
            None => reached
                .iter()
                .map(|r| r.first_month())
                .min()
                .flatten()
                .and_then(YearMonth::next),
        };
        Ok(first.zip(last))
    }

    /// One month of a metered charge under `version`: its usage priced, per register.
    fn metered_month(
        &self,
        reads: &mut MeterReads<'_>,
        version: &Version,
        month: YearMonth,
    ) -> Result<Vec<Piece>, QuoteError> {
        match version.charge.pricing() {
            Pricing::Metered(m) => m.price_month(self.ctx, reads, month),
            _ => Ok(Vec::new()),
        }
    }

    fn top_up(&self, kind: &FeeKind, rule: &Rule) -> Result<Vec<BillLine>, QuoteError> {
        if self.opts.top_up.is_none() && !self.explicit {
            return Ok(Vec::new());
        }
        let as_of = self.opts.as_of;
        let version = rule
            .version_on(as_of)
            .ok_or_else(|| QuoteError::NoVersionInForce {
                rule: rule.id.clone(),
                on: as_of,
            })?;
        let Pricing::TopUp(t) = version.charge.pricing() else {
            return Ok(Vec::new());
        };
        let pieces = t.price_top_up(self.ctx, kind, &as_of.to_string(), self.opts.top_up)?;
        Ok(pieces
            .into_iter()
            .map(|p| line(kind, &rule.id, &version.version, p))
            .collect())
    }

    /// The kind's arrears in full, then their late fee (with its minimum).
    fn arrears(&self, kind: &FeeKind) -> Result<Vec<BillLine>, QuoteError> {
        let arrears: Vec<&Arrear> = self
            .facts
            .arrears
            .iter()
            .filter(|a| &a.kind == kind)
            .collect();
        let mut lines = Vec::new();
        for a in &arrears {
            if a.amount <= Fen::ZERO {
                return Err(QuoteError::BadArrear {
                    kind: kind.clone(),
                    period: a.period.clone(),
                });
            }
            let owed = Piece {
                period: a.period.clone(),
                quantity: Decimal::ONE,
                unit: bill_unit(),
                unit_price: yuan(a.amount),
                amount: a.amount,
                explanation: Bi::new(
                    format!("unpaid bill for {}, due {}", a.period, a.due_on),
                    format!("{} 未缴账单，{} 到期", a.period, a.due_on),
                ),
            };
            lines.push(line(kind, ARREARS_RULE_ID, "-", owed));
        }
        let as_of = self.opts.as_of;
        let Some(rule) = self.tenant.late_fee_rule(kind, &self.facts.class) else {
            return Ok(lines);
        };
        let Some(version) = rule.version_on(as_of) else {
            return Ok(lines);
        };
        let Pricing::LateFee(fee) = version.charge.pricing() else {
            return Ok(lines);
        };
        let mut penalties = Vec::new();
        for a in &arrears {
            if let Some(p) = fee.price_arrear(self.ctx, &self.facts.class, a, as_of)? {
                penalties.push(line(kind, &rule.id, &version.version, p));
            }
        }
        let levied = sum(&penalties)?;
        if let Some(min) = fee.minimum() {
            if levied > Fen::ZERO {
                let day = as_of.to_string();
                if let Some(p) = minimum(self.ctx, levied, min, &day, MinimumOf::LateFee) {
                    penalties.push(line(kind, &rule.id, &version.version, p));
                }
            }
        }
        lines.extend(penalties);
        Ok(lines)
    }
}
