//! Paying a verified bill: a device-signed order to `posfee.paygate.pay`, answered with the
//! receipt once the ledger settled. The payment id is stored before the order leaves, and a
//! timed-out attempt is repeated with the same id, so the payer is charged once.

use crate::home::PendingPayment;
use crate::register::{device_key, registered};
use crate::verify::VerifiedBill;
use crate::Companion;
use posfee_runtime::{call, CallError};
use posfee_schemas::ids::{BillId, PaymentId};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, PaygateOp};
use posfee_schemas::{ErrorCode, WireError};
use std::time::Duration;

/// Paygate authorizes, the ledger settles durably, paygate captures: allow for all three.
pub const PAY_TIMEOUT_MS: u64 = 10_000;
pub const PAY_ATTEMPTS: usize = 3;

/// The payment id for `bill`: the one already chosen, or a new one, stored first.
pub async fn payment_id_for(c: &Companion, bill: BillId) -> crate::Result<PaymentId> {
    if let Some(p) = c.home.pending(bill)? {
        return Ok(p.payment_id);
    }
    let p = PendingPayment {
        payment_id: PaymentId::new_random(),
        bill_id: bill,
    };
    c.home.save_pending(&p).await?;
    Ok(p.payment_id)
}

pub async fn pay(c: &Companion, v: &VerifiedBill) -> crate::Result<Receipt> {
    let (profile, payer) = registered(c)?;
    let payment_id = payment_id_for(c, v.bill.bill_id).await?;
    let order = PayOrder {
        payment_id,
        payer,
        bill_id: v.bill.bill_id,
        amount: v.bill.total,
        terminal: v.bill.terminal.clone(),
    };
    let signed = Signed::sign(
        Purpose::DevicePay,
        &order,
        &profile.device_key_id,
        &device_key(&profile)?,
    );
    let req = PayRequest {
        order: signed,
        bill: v.issued.clone(),
    };
    let mut attempt = 0;
    let receipt: Receipt = loop {
        attempt += 1;
        match call(
            &c.client,
            subjects::paygate(PaygateOp::Pay),
            &req,
            Some(Duration::from_millis(PAY_TIMEOUT_MS)),
        )
        .await
        {
            Ok(r) => break r,
            Err(CallError::TimedOut(_)) if attempt < PAY_ATTEMPTS => {
                tracing::warn!(%payment_id, attempt, "payment timed out; retrying with the same payment id");
            }
            // A definitive refusal (insufficient funds, bill paid or expired): paygate did not
            // take the money under this id, so the next attempt starts a new payment.
            Err(CallError::Remote(e)) if e.code.status() < 500 => {
                c.home.forget_pending(v.bill.bill_id).await?;
                return Err(e);
            }
            // No answer, or a 5xx: the payment may have happened; keep the id so a retry
            // replays it.
            Err(e) => return Err(crate::from_call(e)),
        }
    };
    if receipt.payment_id != payment_id || receipt.bill_id != v.bill.bill_id {
        return Err(WireError::new(
            ErrorCode::Internal,
            format!(
                "the platform answered with a receipt for payment {} of bill {}",
                receipt.payment_id, receipt.bill_id
            ),
        ));
    }
    c.home.save_receipt(&receipt).await?;
    Ok(receipt)
}
