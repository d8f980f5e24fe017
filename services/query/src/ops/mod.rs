//! One file per query.

pub mod account;
pub mod bills;
pub mod edge;
pub mod payments;
pub mod readings;
pub mod report;

use crate::app::{App, QUOTE_TIMEOUT_MS};
use crate::view::{account_prefix, AccountView};
use posfee_client::{call, CallError};
use posfee_schemas::fee::{Quote, QuoteRequest};
use posfee_schemas::ids::{AccountNo, TenantId};
use posfee_schemas::money::Money;
use posfee_schemas::{decode, subjects, ErrorCode, WireError};
use std::time::Duration;

pub(crate) use posfee_runtime::serve::internal;

/// The account, or a 404 that says whether the tenant or the account is unknown. An account
/// not yet in the view gets a moment for the view to catch up first.
pub(crate) async fn find_account(
    app: &App,
    tenant: &TenantId,
    account: &AccountNo,
) -> Result<AccountView, WireError> {
    let mut key = account_prefix(tenant.as_str(), account.as_str());
    key.pop();
    for attempt in 0..2 {
        if let Some(raw) = app.view.accounts.get(&key).map_err(internal)? {
            return decode(&raw).map_err(internal);
        }
        if attempt == 0 && !app.catch_up().await {
            return Err(posfee_runtime::feed::behind());
        }
    }
    if !app
        .view
        .tenants
        .contains_key(tenant.as_str().as_bytes())
        .map_err(internal)?
    {
        return Err(WireError::new(
            ErrorCode::TenantNotFound,
            format!("no tenant {tenant}"),
        ));
    }
    Err(WireError::new(
        ErrorCode::AccountNotFound,
        format!("no account {account} at tenant {tenant}"),
    ))
}

/// What the account owes right now, from the fee-engine; `Ok(None)`-like errors are passed
/// back as text so a summary can still be shown.
pub(crate) async fn live_total(
    app: &App,
    tenant: &TenantId,
    account: &AccountNo,
) -> Result<Money, WireError> {
    let req = QuoteRequest {
        tenant: tenant.clone(),
        account: account.clone(),
        kinds: vec![],
        as_of: None,
        prepay_months: None,
        top_up: None,
    };
    let quote: Result<Quote, CallError> = call(
        &app.client,
        subjects::fee_quote(&subjects::Identity::Role(subjects::Role::Query)),
        &req,
        Some(Duration::from_millis(QUOTE_TIMEOUT_MS)),
    )
    .await;
    match quote {
        Ok(q) => Ok(Money {
            fen: q.total,
            currency: q.currency,
        }),
        Err(CallError::Remote(e)) if e.code == ErrorCode::NothingOwed => Ok(Money::cny(0)),
        Err(CallError::Remote(e)) => Err(e),
        Err(e) => Err(WireError::new(
            ErrorCode::Unavailable,
            format!("the fee-engine did not answer: {e}"),
        )),
    }
}
