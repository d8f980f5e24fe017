//! The account (`posfee.query.account`), what is owed (`posfee.fee.quote`) and the payable
//! bill (`posfee.bill.issue`).

use crate::Agent;
use posfee_client::{call, call_resending, CallError};
use posfee_schemas::basket::{BasketTag, MAX_BILLS, MIN_BILLS};
use posfee_schemas::fee::{
    Bill, BillIssueRequest, IssuedBill, Payee, Payees, PayeesRequest, Quote, QuoteRequest,
};
use posfee_schemas::ids::{BasketId, IdempotencyKey};
use posfee_schemas::pairing::CloseReason;
use posfee_schemas::query::{AccountRef, AccountSummary};
use posfee_schemas::{ErrorCode, WireError};
use std::time::Duration;

/// How long the kiosk waits for the fee-engine per attempt.
pub const FEE_ENGINE_TIMEOUT_MS: u64 = 5_000;
/// Attempts to issue one bill. A timed-out attempt is repeated with the same idempotency key,
/// so the fee-engine issues the bill once however many attempts reach it.
pub const ISSUE_ATTEMPTS: usize = 3;

/// This kiosk as the subjects it asks on name it.
fn me(agent: &Agent) -> posfee_schemas::subjects::Identity {
    posfee_schemas::subjects::Identity::Terminal(agent.terminal().clone())
}

/// The account as the query service knows it: holder (masked), class, attributes.
pub async fn account(agent: &Agent, req: &QuoteRequest) -> crate::Result<AccountSummary> {
    call(
        &agent.client,
        posfee_schemas::subjects::query(posfee_schemas::subjects::QueryKind::Account, &me(agent)),
        &AccountRef {
            tenant: req.tenant.clone(),
            account: req.account.clone(),
        },
        Some(Duration::from_millis(FEE_ENGINE_TIMEOUT_MS)),
    )
    .await
    .map_err(crate::from_call)
}

/// The payees the system collects for, as the fee-engine names them.
pub async fn payees(agent: &Agent) -> crate::Result<Vec<Payee>> {
    let list: Payees = call(
        &agent.client,
        posfee_schemas::subjects::fee_payees(&me(agent)),
        &PayeesRequest {},
        Some(Duration::from_millis(FEE_ENGINE_TIMEOUT_MS)),
    )
    .await
    .map_err(crate::from_call)?;
    Ok(list.payees)
}

pub async fn quote(agent: &Agent, req: &QuoteRequest) -> crate::Result<Quote> {
    call(
        &agent.client,
        posfee_schemas::subjects::fee_quote(&me(agent)),
        req,
        Some(Duration::from_millis(FEE_ENGINE_TIMEOUT_MS)),
    )
    .await
    .map_err(crate::from_call)
}

/// A bill as the kiosk shows it: the signed envelope it passes on, and its content read from
/// its own trusted connection to the fee-engine (the phone verifies the signature itself).
#[derive(Debug, Clone)]
pub struct ShownBill {
    pub issued: IssuedBill,
    pub bill: Bill,
}

pub async fn issue(agent: &Agent, quote: QuoteRequest) -> crate::Result<ShownBill> {
    issue_in(agent, quote, None).await
}

/// The bills the payer asked for: one, or a basket of 2 to 10 (one per account), each
/// issued with the basket's tag so that they are paid together or not at all. If a bill of a
/// basket cannot be issued (nothing owed, no such account), the ones issued before it are
/// closed and the error names the account.
pub async fn issue_all(agent: &Agent, quotes: Vec<QuoteRequest>) -> crate::Result<Vec<ShownBill>> {
    let mut quotes = quotes;
    if quotes.len() == 1 {
        return Ok(vec![issue_in(agent, quotes.remove(0), None).await?]);
    }
    let size = u8::try_from(quotes.len()).unwrap_or(u8::MAX);
    let tag = BasketTag {
        id: BasketId::new_random(),
        size,
    };
    if !tag.size_ok() {
        return Err(WireError::field(
            "bills",
            format!(
                "a basket has {MIN_BILLS} to {MAX_BILLS} bills, not {}",
                quotes.len()
            ),
        ));
    }
    for (i, q) in quotes.iter().enumerate() {
        if quotes[..i]
            .iter()
            .any(|o| o.tenant == q.tenant && o.account == q.account)
        {
            return Err(WireError::field(
                "bills",
                format!(
                    "{} {}: a basket pays one bill per account",
                    q.tenant, q.account
                ),
            ));
        }
    }
    let mut shown = Vec::with_capacity(quotes.len());
    for quote in quotes {
        let (tenant, account) = (quote.tenant.clone(), quote.account.clone());
        match issue_in(agent, quote, Some(tag)).await {
            Ok(b) => shown.push(b),
            Err(e) => {
                for b in &shown {
                    let why = (CloseReason::Cancelled, Some(e.code));
                    if let Err(e) = crate::close::close(agent, b, why, None).await {
                        tracing::warn!(error = %e, bill = %b.issued.bill_id, "basket bill not closed");
                    }
                }
                return Err(WireError::new(
                    e.code,
                    format!("{tenant} {account}: {}", e.message),
                ));
            }
        }
    }
    Ok(shown)
}

async fn issue_in(
    agent: &Agent,
    quote: QuoteRequest,
    basket: Option<BasketTag>,
) -> crate::Result<ShownBill> {
    // One fresh key per attempt to pay; the terminal id keeps keys of kiosks apart.
    let key = IdempotencyKey::parse(format!("{}-{}", agent.terminal(), uuid_like()))
        .map_err(|e| WireError::new(ErrorCode::Internal, e.to_string()))?;
    let req = BillIssueRequest {
        quote,
        terminal: agent.terminal().clone(),
        idempotency_key: key,
        basket,
    };
    let mut attempt = 0;
    let issued: IssuedBill = loop {
        attempt += 1;
        match call_resending(
            &agent.client,
            posfee_schemas::subjects::bill_issue(agent.terminal()),
            &req,
            Some(Duration::from_millis(FEE_ENGINE_TIMEOUT_MS)),
        )
        .await
        {
            Ok(b) => break b,
            Err(CallError::TimedOut(s)) if attempt < ISSUE_ATTEMPTS => {
                tracing::warn!(subject = %s, attempt, "bill issue timed out; retrying with the same key");
            }
            Err(e) => return Err(crate::from_call(e)),
        }
    };
    let bill: Bill = issued
        .signed
        .peek()
        .map_err(|e| WireError::new(ErrorCode::Internal, format!("the fee-engine's bill: {e}")))?;
    if bill.bill_id != issued.bill_id || &bill.terminal != agent.terminal() {
        return Err(WireError::new(
            ErrorCode::Internal,
            "the fee-engine answered with a bill for another id or terminal",
        ));
    }
    Ok(ShownBill { issued, bill })
}

/// A random id for idempotency keys (a bill id is random too; reuse its generator).
fn uuid_like() -> String {
    posfee_schemas::ids::BillId::new_random().to_string()
}
