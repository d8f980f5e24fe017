//! Ending a bill's payment window at the ledger, the one place that knows whether it was paid.
//!
//! Every way a payment at the kiosk ends without a receipt (cancel, expiry, decline, a
//! refused payment, no receipt in time) closes the bill: afterwards no phone can pay it, and
//! if a phone paid it first the ledger answers with that receipt, which the kiosk then prints.
//! If the ledger cannot be asked, the kiosk says the outcome is not known yet, never "failed".

use crate::bill::ShownBill;
use crate::Agent;
use posfee_client::{call_resending, CallError};
use posfee_schemas::ledger::{CloseOutcome, CloseReply, CloseRequest, Receipt};
use posfee_schemas::pairing::{CloseReason, PairingClosed};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::time::Duration;

/// How long one close request may take.
pub const CLOSE_CALL_TIMEOUT_MS: u64 = 3_000;
/// How long the kiosk keeps trying to close before it reports the outcome as not yet known.
pub const CLOSE_DEADLINE_MS: u64 = 15_000;
/// Pause between attempts while the ledger does not answer.
pub const CLOSE_RETRY_MS: u64 = 500;

/// What the ledger said about the bill. One per payment, so the receipt is kept inline.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Closed {
    /// Nobody paid it, and nobody can any more.
    Unpaid,
    /// It was paid before the close arrived.
    Paid(Receipt),
}

/// Closes `bill` for `reason` (with the error `code` that ended it, if any, for the
/// operator's `bill.closed`, and how its pairing ended, `told`), retrying while the ledger is
/// unreachable. A refusal (the bill
/// is not this kiosk's, a bad signature) is returned as it is; no answer in time becomes
/// `OUTCOME_UNKNOWN` naming the bill, so the kiosk can tell the payer where to look.
pub async fn close(
    agent: &Agent,
    bill: &ShownBill,
    (reason, code): (CloseReason, Option<ErrorCode>),
    told: Option<&PairingClosed>,
) -> crate::Result<Closed> {
    let req = CloseRequest {
        bill: bill.issued.clone(),
        reason,
        code: code.map(|c| c.name().to_string()),
        pairing: told.cloned(),
    };
    let subject = subjects::ledger_close(agent.terminal());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(CLOSE_DEADLINE_MS);
    loop {
        let answer: Result<CloseReply, CallError> = call_resending(
            &agent.client,
            subject.clone(),
            &req,
            Some(Duration::from_millis(CLOSE_CALL_TIMEOUT_MS)),
        )
        .await;
        let last = match answer {
            Ok(CloseReply {
                outcome: CloseOutcome::Paid,
                receipt: Some(r),
            }) => {
                // Printed only as the ledger signed it; anything else is not known yet.
                return match agent.believe(&r, bill.issued.bill_id).await {
                    Ok(r) => Ok(Closed::Paid(r)),
                    Err(e) => {
                        tracing::warn!(error = %e, bill = %bill.issued.bill_id, "the ledger's receipt was not believed");
                        Err(unknown(bill))
                    }
                };
            }
            Ok(CloseReply {
                outcome: CloseOutcome::Closed,
                ..
            }) => return Ok(Closed::Unpaid),
            Ok(_) => "the ledger said paid without a receipt".to_string(),
            Err(CallError::Remote(e)) if e.code.status() < 500 => return Err(e),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(bill = %bill.issued.bill_id, error = %last, "bill not closed");
            return Err(unknown(bill));
        }
        tokio::time::sleep(Duration::from_millis(CLOSE_RETRY_MS)).await;
    }
}

/// The kiosk cannot tell whether the phone's payment went through.
pub fn unknown(bill: &ShownBill) -> WireError {
    WireError::new(
        ErrorCode::OutcomeUnknown,
        format!(
            "the payment of bill {} is not confirmed yet; it will be settled or released on its own: \
             the phone's receipts, or the account's payments at any kiosk, will show it",
            bill.issued.bill_id
        ),
    )
}
