//! Deciding and paying a verified bill: a device-signed order to `posfee.paygate.pay`,
//! answered with the receipt once the ledger settled. The payment id and the exact order are
//! stored before the order leaves, and the same order is sent again until the platform gives a
//! definite answer, so the payer is charged once and is never told "failed" for a payment
//! that went through: without a definite answer in time the phone says the outcome is not
//! known yet, and `companion receipts` asks again later.

use crate::confirm::Confirm;
use crate::home::PendingPayment;
use crate::link;
use crate::register::{device_key, registered};
use crate::verify::VerifiedBill;
use crate::Companion;
use posfee_client::{call_resending, CallError};
use posfee_schemas::basket::{bills_of, BasketPaid};
use posfee_schemas::ids::{BillId, PaymentId};
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::pairing::{KioskNotice, PayerStep};
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, PaygateOp};
use posfee_schemas::{ErrorCode, WireError};
use std::time::Duration;

/// Paygate authorizes, the ledger settles durably, paygate captures: allow for all three.
pub const PAY_TIMEOUT_MS: u64 = 10_000;
/// Pause between attempts while the platform gives no definite answer.
pub const PAY_RETRY_MS: u64 = 1_000;
/// The pause before asking again after `RATE_LIMITED` (the phone's budget refills meanwhile).
pub const PAY_RATE_LIMITED_PAUSE_MS: u64 = 2_000;
/// How long the phone keeps asking before it says the outcome is not known yet.
pub const PAY_DEADLINE_MS: u64 = 60_000;

/// What the payer decided, or that the kiosk ended the pairing first.
#[derive(Debug)]
pub enum Decision {
    Confirmed,
    Declined,
    Ended(KioskNotice),
}

/// Asks the payer while listening to the kiosk: a pairing the kiosk ended is said at once,
/// instead of after the payer confirmed a bill that can no longer be paid.
pub async fn decide(v: &VerifiedBill, confirm: &mut dyn Confirm) -> Decision {
    let Some(link) = &v.link else {
        return match confirm.confirm(v).await {
            true => Decision::Confirmed,
            false => Decision::Declined,
        };
    };
    tokio::select! {
        yes = confirm.confirm(v) => if yes { Decision::Confirmed } else { Decision::Declined },
        n = link.ended() => Decision::Ended(n),
    }
}

/// Mode A: tells the kiosk the payer declined, so it goes back to its start screen.
pub async fn decline(c: &Companion, v: &VerifiedBill) -> WireError {
    if let Some(link) = &v.link {
        link.report(c, v.bill.bill_id, PayerStep::Declined, None, None)
            .await;
    }
    declined()
}

pub fn declined() -> WireError {
    WireError::new(
        ErrorCode::PayerDeclined,
        "the payer declined; nothing was paid",
    )
}

/// The kiosk ended the pairing before the payer confirmed.
pub fn ended(n: &KioskNotice) -> WireError {
    link::ended_error(n)
}

/// An order this phone sent for the bill and never learnt the outcome of is sent again as it
/// was; an offer of the same first bill with other bills beside it is refused until that
/// outcome is known, rather than overwriting the order that may have been paid.
fn same_bills_as_before(c: &Companion, v: &VerifiedBill) -> crate::Result<()> {
    let Some(PendingPayment {
        request: Some(sent),
        payment_id,
        ..
    }) = c.home.pending(v.bill.bill_id)?
    else {
        return Ok(());
    };
    let before: Vec<BillId> = sent.more_bills.iter().map(|b| b.bill_id).collect();
    let now: Vec<BillId> = v.more.iter().map(|(b, _)| b.bill_id).collect();
    if before == now {
        return Ok(());
    }
    Err(unknown(payment_id))
}

/// The payment id for `bill`: the one already chosen, or a new one, stored first.
pub async fn payment_id_for(c: &Companion, bill: BillId) -> crate::Result<PaymentId> {
    if let Some(p) = c.home.pending(bill)? {
        return Ok(p.payment_id);
    }
    let p = PendingPayment {
        payment_id: PaymentId::new_random(),
        bill_id: bill,
        request: None,
    };
    c.home.save_pending(&p).await?;
    Ok(p.payment_id)
}

/// Pays the offered bill, or every bill of an offered basket in one order: the receipts, in
/// the offer's order.
pub async fn pay(c: &Companion, v: &VerifiedBill) -> crate::Result<Vec<Receipt>> {
    let (profile, payer) = registered(c)?;
    same_bills_as_before(c, v)?;
    let payment_id = payment_id_for(c, v.bill.bill_id).await?;
    let order = PayOrder {
        payment_id,
        payer,
        bill_id: v.bill.bill_id,
        amount: v.total(),
        terminal: v.bill.terminal.clone(),
        more_bills: v.more.iter().map(|(b, _)| b.bill_id).collect(),
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
        more_bills: v.more.iter().map(|(_, i)| i.clone()).collect(),
        pairing: v.pairing,
    };
    c.home
        .save_pending(&PendingPayment {
            payment_id,
            bill_id: v.bill.bill_id,
            request: Some(req.clone()),
        })
        .await?;
    let link = v.link.as_deref();
    if let Some(l) = link {
        l.report(c, v.bill.bill_id, PayerStep::Paying, Some(payment_id), None)
            .await;
    }
    match send(c, &req).await {
        Err(e) if e.code == ErrorCode::OutcomeUnknown => Err(e),
        Err(e) => {
            if let Some(l) = link {
                l.report(
                    c,
                    v.bill.bill_id,
                    PayerStep::NotPaid,
                    Some(payment_id),
                    Some(&e),
                )
                .await;
            }
            Err(e)
        }
        Ok(r) => Ok(r),
    }
}

/// Sends the stored order until the platform answers for good: the receipts (kept; one, or
/// a basket's in order), a refusal (the pending payment is forgotten, so a new attempt is a
/// new payment), or, after [`PAY_DEADLINE_MS`] of silence, unavailability or restarts,
/// `OUTCOME_UNKNOWN`.
pub async fn send(c: &Companion, req: &PayRequest) -> crate::Result<Vec<Receipt>> {
    let order: PayOrder = req
        .order
        .peek()
        .map_err(|e| crate::internal("reading the stored order", e))?;
    let signed: Vec<SignedReceipt> = if req.more_bills.is_empty() {
        vec![ask::<SignedReceipt>(c, req, &order).await?]
    } else {
        ask::<BasketPaid>(c, req, &order).await?.receipts
    };
    let bills: Vec<BillId> = bills_of(&order.bill_id, &order.more_bills)
        .copied()
        .collect();
    if signed.len() != bills.len() {
        return Err(crate::internal(
            "reading the platform's answer",
            format!("{} receipts for {} bills", signed.len(), bills.len()),
        ));
    }
    let mut receipts = Vec::with_capacity(signed.len());
    for (signed, bill) in signed.iter().zip(bills) {
        let expected = if req.more_bills.is_empty() {
            order.payment_id
        } else {
            PaymentId::part(order.payment_id, bill)
        };
        receipts.push(kept(c, signed, expected, bill, order.payment_id).await?);
    }
    for r in &receipts {
        c.home.save_receipt(r).await?;
    }
    Ok(receipts)
}

/// Asks the platform until it answers for good (see [`send`]).
async fn ask<T: serde::de::DeserializeOwned>(
    c: &Companion,
    req: &PayRequest,
    order: &PayOrder,
) -> crate::Result<T> {
    let deadline = tokio::time::Instant::now() + c.pay_deadline;
    loop {
        let answer = call_resending(
            &c.client,
            subjects::paygate(
                PaygateOp::Pay,
                &subjects::Identity::Device(c.device.clone()),
            ),
            req,
            Some(Duration::from_millis(PAY_TIMEOUT_MS)),
        )
        .await;
        match answer {
            Ok(r) => return Ok(r),
            // A definitive refusal (insufficient funds, bill paid, expired or closed): paygate
            // did not take the money under this id.
            // The payment exists but is not this key's to see (the phone made a new key
            // since it sent the order): it may have been taken, so it is not forgotten.
            Err(CallError::Remote(e)) if e.code == ErrorCode::Forbidden => {
                tracing::warn!(payment = %order.payment_id, error = %e, "payment held by another key");
                return Err(unknown(order.payment_id));
            }
            // Too many requests: the order never reached the platform; ask again after a pause.
            // An earlier attempt may have gone through, so at the deadline it stays open.
            Err(CallError::Remote(e)) if e.code == ErrorCode::RateLimited => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(unknown(order.payment_id));
                }
                tracing::info!(payment = %order.payment_id, "rate limited; asking again");
                tokio::time::sleep(Duration::from_millis(PAY_RATE_LIMITED_PAUSE_MS)).await;
            }
            Err(CallError::Remote(e)) if e.code.status() < 500 => {
                c.home.forget_pending(order.bill_id).await?;
                return Err(e);
            }
            // No answer, nobody serving for a moment, or a 5xx: the payment may be under way.
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(payment = %order.payment_id, error = %e, "payment not confirmed yet; asking again");
                tokio::time::sleep(Duration::from_millis(PAY_RETRY_MS)).await;
            }
            Err(e) => {
                tracing::warn!(payment = %order.payment_id, error = %e, "payment still not confirmed");
                return Err(unknown(order.payment_id));
            }
        }
    }
}

/// A receipt kept only as the ledger signed it, and only the one expected. A receipt that does
/// not verify is not a payment this phone can show; the directory not answering leaves the
/// outcome open, to ask again.
async fn kept(
    c: &Companion,
    signed: &SignedReceipt,
    payment: PaymentId,
    bill: BillId,
    ordered: PaymentId,
) -> crate::Result<Receipt> {
    let receipt = match c.believe(signed).await {
        Ok(r) => r,
        Err(e) if e.code == ErrorCode::BadSignature => return Err(e),
        Err(e) => {
            tracing::warn!(payment = %ordered, error = %e, "receipt not checked yet");
            return Err(unknown(ordered));
        }
    };
    if receipt.payment_id != payment || receipt.bill_id != bill {
        return Err(WireError::new(
            ErrorCode::Internal,
            format!(
                "the platform answered with a receipt for payment {} of bill {}",
                receipt.payment_id, receipt.bill_id
            ),
        ));
    }
    Ok(receipt)
}

fn unknown(payment_id: PaymentId) -> WireError {
    WireError::new(
        ErrorCode::OutcomeUnknown,
        format!(
            "payment {payment_id} is not confirmed yet; it will be completed or released on its \
             own, and `companion receipts` will show which"
        ),
    )
}

/// Asks again about every payment whose outcome this phone has not learnt. Returns how many
/// are still not known.
pub async fn resolve_pending(c: &Companion) -> crate::Result<usize> {
    let mut open = 0;
    for p in c.home.pending_all()? {
        let Some(req) = p.request else {
            // Chosen but never sent: nothing to ask about.
            c.home.forget_pending(p.bill_id).await?;
            continue;
        };
        match send(c, &req).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::OutcomeUnknown => open += 1,
            Err(e) => tracing::info!(payment = %p.payment_id, code = e.code.name(), "not paid"),
        }
    }
    Ok(open)
}
