//! One file per request the fee-engine answers.

pub mod issue;
pub mod payees;
pub mod quote;

use crate::app::App;
use posfee_schemas::fee::{Quote, QuoteRequest};
use posfee_schemas::{ErrorCode, WireError};
use posfee_tariff::{QuoteError, QuoteOptions, Tenant};

/// Prices an account: shared by quote and issue. `as_of` is already decided by the caller.
pub(crate) async fn price(
    app: &App,
    req: &QuoteRequest,
    as_of: chrono::NaiveDate,
) -> Result<(Quote, Vec<posfee_tariff::Arrear>), WireError> {
    let tenant = tenant(app, req)?;
    let opts = QuoteOptions {
        kinds: req.kinds.clone(),
        as_of,
        prepay_months: req.prepay_months,
        top_up: req.top_up,
    };
    let mut caught_up = false;
    loop {
        let priced = match app
            .store
            .facts(&req.tenant, &req.account)
            .map_err(internal)?
        {
            None => Err(WireError::new(
                ErrorCode::AccountNotFound,
                format!("no account {} at tenant {}", req.account, req.tenant),
            )),
            Some(facts) => {
                if let Some(0) = req.prepay_months {
                    return Err(WireError::field("prepay_months", "must be at least 1"));
                }
                posfee_tariff::quote(tenant, &facts, &opts)
                    .map(|quote| (quote, facts.arrears))
                    .map_err(quote_error)
            }
        };
        match priced {
            // Imported a moment ago (the account, or readings that make it owe)? Unknown and
            // nothing owed are said only once the view has caught up with the stream.
            Err(e)
                if !caught_up
                    && matches!(e.code, ErrorCode::AccountNotFound | ErrorCode::NothingOwed) =>
            {
                if !app.catch_up().await {
                    return Err(posfee_runtime::feed::behind());
                }
                caught_up = true;
            }
            done => return done,
        }
    }
}

pub(crate) fn tenant<'a>(app: &'a App, req: &QuoteRequest) -> Result<&'a Tenant, WireError> {
    app.rules.tenant(&req.tenant).ok_or_else(|| {
        WireError::new(
            ErrorCode::TenantNotFound,
            format!("no tenant {} (no rule file declares it)", req.tenant),
        )
    })
}

pub(crate) use posfee_runtime::serve::internal;

/// Maps the tariff's errors to stable wire codes: the request's own fields are 400, the
/// account's data or the rules not allowing it are 422.
fn quote_error(e: QuoteError) -> WireError {
    let msg = e.to_string();
    match e {
        QuoteError::UnknownFeeKind { .. } => WireError::field("kinds", msg),
        QuoteError::BadTopUp { .. } | QuoteError::AmbiguousTopUp { .. } => {
            WireError::field("top_up", msg)
        }
        QuoteError::PrepayTooShort { .. } => WireError::field("prepay_months", msg),
        QuoteError::NothingOwed => WireError::new(ErrorCode::NothingOwed, msg),
        _ => WireError::new(ErrorCode::RuleViolation, format!("{}: {msg}", e.code())),
    }
}
