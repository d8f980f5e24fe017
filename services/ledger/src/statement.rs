//! Daily statements (T+1), per tenant: what the books say was paid and refunded on one day of
//! the tenant's time zone, issued once the day has ended and never changed afterwards.
//!
//! A statement is decided by one journal entry, [`Entry::StatementIssued`]: the tenant, the
//! day, the journal sequence it covers (`through`), when it was issued, and the SHA-256 of
//! its CSV and JSON files. Its rows follow from the journal alone: every payment and refund of
//! the tenant at or before `through` whose day is the statement's or earlier, less those on an
//! earlier statement (day at or before that statement's, at or before its `through`).
//! So a settlement that reaches the books after its day's statement was issued (a clock
//! behind, an entry in flight at midnight) is on the next statement, marked late, and an
//! issued statement is the same bytes on every instance, every time it is fetched; the hashes
//! in the entry prove it. Statements are issued in date order: asking for one issues any
//! earlier ones the tenant is missing first.

use crate::app::App;
use crate::journal::Entry;
use crate::store::{IssuedStatement, Row, Store};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use posfee_schemas::ids::TenantId;
use posfee_schemas::money::Fen;
use posfee_schemas::statement::{
    RowKind, Statement, StatementFormat, StatementRow, StatementTotals,
};
use posfee_schemas::{ErrorCode, WireError};
use sha2::{Digest, Sha256};

/// How long after a day ends its statement is issued: payments in flight at midnight reach
/// the books first.
pub const ISSUE_AFTER_SECS: i64 = 10 * 60;
/// How often each instance looks for statements due.
pub const SCHEDULE_SECS: u64 = 60;
/// At most this many statements are issued for one tenant in one request or round (a tenant
/// idle for years catches up over several rounds).
pub const MAX_CATCH_UP_DAYS: usize = 400;

/// When the statement of `date` in `tz` may be issued.
pub fn ready_at(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    let midnight = next
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    midnight + Duration::seconds(ISSUE_AFTER_SECS)
}

/// The day `at` falls on in `tz`.
pub fn day_of(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rows of `tenant`'s statement of `date`, covering the journal through `through`, after
/// the previous statement (its day and `through`), oldest first.
pub fn rows(
    store: &Store,
    (tenant, date, tz): (&TenantId, NaiveDate, Tz),
    through: u64,
    previous: Option<(NaiveDate, u64)>,
) -> anyhow::Result<Vec<StatementRow>> {
    let mut out = Vec::new();
    for item in store.rows.scan_prefix(crate::store::row_prefix(tenant)) {
        let (key, value) = item?;
        let seq = crate::store::row_seq(&key);
        let row: Row = posfee_schemas::decode(&value)?;
        let day = day_of(row.at, tz);
        if seq > through || day > date {
            continue;
        }
        if previous.is_some_and(|(d, t)| seq <= t && day <= d) {
            continue;
        }
        out.push((row.at, seq, statement_row(&row, tz, day < date)));
    }
    out.sort_by_key(|(at, seq, _)| (*at, *seq));
    Ok(out.into_iter().map(|(_, _, r)| r).collect())
}

fn statement_row(row: &Row, tz: Tz, late: bool) -> StatementRow {
    let (amount, refund) = match row.kind {
        RowKind::Payment => (row.amount, Fen::ZERO),
        RowKind::Refund => (Fen::ZERO, row.amount),
    };
    StatementRow {
        at: row
            .at
            .with_timezone(&tz)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        kind: row.kind,
        payment_id: row.payment_id,
        bill_id: row.bill_id,
        account: row.account.clone(),
        fees: row.fees.clone(),
        amount,
        refund,
        net: Fen::new(amount.get() - refund.get()),
        terminal: row.terminal.clone(),
        payer: row.payer.clone(),
        late,
    }
}

/// The statement with its totals.
pub fn document(
    (tenant, date, tz): (&TenantId, NaiveDate, Tz),
    issued_at: DateTime<Utc>,
    rows: Vec<StatementRow>,
) -> Statement {
    let mut totals = StatementTotals::default();
    for r in &rows {
        match r.kind {
            RowKind::Payment => totals.payments += 1,
            RowKind::Refund => totals.refunds += 1,
        }
        totals.amount = Fen::new(totals.amount.get() + r.amount.get());
        totals.refunded = Fen::new(totals.refunded.get() + r.refund.get());
    }
    totals.net = Fen::new(totals.amount.get() - totals.refunded.get());
    Statement {
        tenant: tenant.clone(),
        date,
        time_zone: tz.name().to_string(),
        issued_at,
        rows,
        totals,
    }
}

/// Fen as yuan with two decimals, as billers' statements show amounts.
fn yuan(f: Fen) -> String {
    let v = f.get();
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
}

/// The statement as the file of `format`.
pub fn render(s: &Statement, format: StatementFormat) -> anyhow::Result<Vec<u8>> {
    match format {
        StatementFormat::Json => {
            let mut out = serde_json::to_vec_pretty(s)?;
            out.push(b'\n');
            Ok(out)
        }
        StatementFormat::Csv => csv(s),
    }
}

fn csv(s: &Statement) -> anyhow::Result<Vec<u8>> {
    let mut out = format!(
        "# posfee daily statement\n# tenant,{}\n# date,{}\n# time_zone,{}\n# issued_at,{}\n",
        s.tenant,
        s.date,
        s.time_zone,
        s.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
    .into_bytes();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record([
            "time",
            "kind",
            "payment_id",
            "bill_id",
            "account",
            "fees",
            "amount",
            "refund",
            "net",
            "terminal",
            "payer",
            "late",
        ])?;
        for r in &s.rows {
            let kind = match r.kind {
                RowKind::Payment => "payment",
                RowKind::Refund => "refund",
            };
            w.write_record([
                r.at.as_str(),
                kind,
                &r.payment_id.to_string(),
                &r.bill_id.to_string(),
                r.account.as_str(),
                r.fees.as_str(),
                &yuan(r.amount),
                &yuan(r.refund),
                &yuan(r.net),
                r.terminal.as_str(),
                r.payer.as_str(),
                if r.late { "late" } else { "" },
            ])?;
        }
        w.flush()?;
    }
    let t = &s.totals;
    out.extend(
        format!(
            "# totals,payments,{},refunds,{},amount,{},refunded,{},net,{}\n",
            t.payments,
            t.refunds,
            yuan(t.amount),
            yuan(t.refunded),
            yuan(t.net)
        )
        .into_bytes(),
    );
    Ok(out)
}

/// SHA-256 of a file, as 64 hex digits.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The statement of `date` as issued, rebuilt from the view and checked against the hash its
/// entry recorded; `None` if it has not been issued.
pub fn file(
    app: &App,
    tenant: &TenantId,
    date: NaiveDate,
    format: StatementFormat,
) -> Result<Option<(IssuedStatement, Vec<u8>)>, WireError> {
    let Some(issued) = app.store.statement(tenant, date).map_err(internal)? else {
        return Ok(None);
    };
    let tz = app.time_zone(tenant);
    let previous = previous(app, tenant, date)?;
    let rows = rows(&app.store, (tenant, date, tz), issued.through, previous).map_err(internal)?;
    let bytes = render(
        &document((tenant, date, tz), issued.issued_at, rows),
        format,
    )
    .map_err(internal)?;
    let recorded = match format {
        StatementFormat::Csv => &issued.csv_sha256,
        StatementFormat::Json => &issued.json_sha256,
    };
    if &sha256(&bytes) != recorded {
        return Err(internal(format!(
            "the {} statement of {tenant} for {date} no longer reads as issued",
            format.as_str()
        )));
    }
    Ok(Some((issued, bytes)))
}

/// The day before `date` and what its statement covers, if it was issued: what the
/// statement of `date` starts after.
fn previous(
    app: &App,
    tenant: &TenantId,
    date: NaiveDate,
) -> Result<Option<(NaiveDate, u64)>, WireError> {
    let Some(day) = date.pred_opt() else {
        return Ok(None);
    };
    let issued = app.store.statement(tenant, day).map_err(internal)?;
    Ok(issued.map(|p| (day, p.through)))
}

fn internal(e: impl std::fmt::Display) -> WireError {
    posfee_runtime::serve::internal(e)
}

/// Issues `tenant`'s statements up to and including `date`, earlier ones first, and returns
/// that of `date`: refused if the day has not ended (and the grace passed) in the tenant's
/// time zone, or if the tenant had no payment by then.
pub async fn issue(
    app: &App,
    tenant: &TenantId,
    date: NaiveDate,
) -> Result<IssuedStatement, WireError> {
    let tz = app.time_zone(tenant);
    let ready = ready_at(date, tz);
    if app.clock.now() < ready {
        return Err(WireError::field(
            "date",
            format!(
                "{date} has not ended in {} or its statement is not issued yet; it is issued at {}, ask then",
                tz.name(),
                ready.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        ));
    }
    if let Some(done) = app.store.statement(tenant, date).map_err(internal)? {
        return Ok(done);
    }
    let first = match app.store.first_row_at(tenant).map_err(internal)? {
        Some(at) => day_of(at, tz),
        None => {
            return Err(WireError::new(
                ErrorCode::PaymentNotFound,
                format!("no payment of {tenant} has been settled yet, so it has no statement"),
            ))
        }
    };
    // Statements begin with the first issued (a late payment older than the tenant's first
    // known one does not open days before it: it is on the next statement).
    let begins = app
        .store
        .first_statement(tenant)
        .map_err(internal)?
        .unwrap_or(first);
    if date < begins {
        return Err(WireError::field(
            "date",
            format!("{tenant}'s statements begin on {begins}, the day of its first payment"),
        ));
    }
    let mut day = match app.store.last_statement(tenant).map_err(internal)? {
        Some(last) if last >= first => last.succ_opt().unwrap_or(last),
        _ => first,
    };
    let mut issued = 0;
    while day <= date {
        if issued == MAX_CATCH_UP_DAYS {
            return Err(posfee_runtime::serve::unavailable(
                "issuing earlier statements first",
                format!("{issued} issued, up to {day}"),
            ));
        }
        issue_one(app, (tenant, day, tz)).await?;
        issued += 1;
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    app.store
        .statement(tenant, date)
        .map_err(internal)?
        .ok_or_else(|| internal("a statement the journal took is not in the view"))
}

/// Issues one statement, the day before it already issued (or none before the first).
async fn issue_one(
    app: &App,
    (tenant, date, tz): (&TenantId, NaiveDate, Tz),
) -> Result<(), WireError> {
    if app
        .store
        .statement(tenant, date)
        .map_err(internal)?
        .is_some()
    {
        return Ok(());
    }
    // Everything the journal holds now is considered; what comes later is for the next.
    let through = app.journal.last_of_all().await?;
    app.journal.caught_up(through).await?;
    let previous = previous(app, tenant, date)?;
    let issued_at = app.clock.now();
    let rows = rows(&app.store, (tenant, date, tz), through, previous).map_err(internal)?;
    let doc = document((tenant, date, tz), issued_at, rows);
    let hash = |f| render(&doc, f).map(|b| sha256(&b)).map_err(internal);
    let entry = Entry::StatementIssued {
        tenant: tenant.clone(),
        date,
        statement: IssuedStatement {
            through,
            issued_at,
            csv_sha256: hash(StatementFormat::Csv)?,
            json_sha256: hash(StatementFormat::Json)?,
        },
    };
    let scope = crate::journal::statement_scope(tenant);
    app.journal
        .write(&scope, &format!("statement:{tenant}:{date}"), || {
            let done = app.store.statement(tenant, date).map_err(internal)?;
            Ok(done.is_none().then(|| entry.clone()))
        })
        .await?;
    tracing::info!(%tenant, %date, through, "statement issued");
    Ok(())
}

/// Issues every statement due, for every tenant with payments, until `shutdown`.
pub async fn schedule(app: std::sync::Arc<App>, shutdown: posfee_client::Shutdown) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(SCHEDULE_SECS));
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let tenants = match app.store.statement_tenants() {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot list tenants for statements");
                continue;
            }
        };
        for (tenant, first) in tenants {
            let tz = app.time_zone(&tenant);
            let now = app.clock.now();
            let Some(due) = day_of(now, tz).pred_opt() else {
                continue;
            };
            let due = if now >= ready_at(due, tz) {
                Some(due)
            } else {
                due.pred_opt()
            };
            let Some(due) = due.filter(|d| *d >= day_of(first, tz)) else {
                continue;
            };
            match app.store.statement(&tenant, due) {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), %tenant, "cannot read statements");
                    continue;
                }
            }
            if let Err(e) = issue(&app, &tenant, due).await {
                tracing::warn!(%tenant, date = %due, error = %e, "statement not issued yet");
            }
        }
    }
}
