//! `posfee.paygate.pay`: a payment ordered and signed on the payer's phone.
//!
//! The order must be signed by the device key registered for the payer it names, and pay
//! exactly the fee-engine-signed bill it carries. Idempotent by payment id: a retry waits for
//! the first attempt and gets its answer.

use crate::app::App;
use crate::settle::{authorize, drive_for_request, load, refusal_error};
use crate::store::{BasketOf, Payer, Payment};
use posfee_client::keydir::VerifyError;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::fee::{Bill, IssuedBill};
use posfee_schemas::ids::{DeviceId, PayerHandle, PaymentId};
use posfee_schemas::money::Fen;
use posfee_schemas::paygate::{PayOrder, PayRequest, PaymentState};
use posfee_schemas::signed::{public_key, verify_with, Purpose};
use posfee_schemas::subjects::{Identity, Subject};
use posfee_schemas::{decode, ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: PayRequest = decode_request(&msg.payload)?;
    let asker = match Subject::parse(&msg.subject) {
        Ok(Subject::Paygate(_, Identity::Device(d))) => Some(d),
        _ => None,
    };
    if let Some(shown) = &req.pairing {
        shown.check("pairing")?;
    }
    if !req.more_bills.is_empty() {
        return super::basket::handle(app, req, asker).await;
    }
    record(Field::Bill, &req.bill.bill_id);
    record(Field::Caller, &req.order.key_id);
    let checked = check(&app, &req).await?;
    record(Field::Payment, &checked.order.payment_id);
    let lock = app.payment_lock(checked.order.payment_id);
    let _guard = lock.lock().await;
    // A payment this view has is answered from it; one only another instance has recorded
    // yet is found by `authorize` (its append after the view's last entry fails, and it
    // decides again on the payer's latest state), and checked in `hold`.
    match load(&app, checked.order.payment_id) {
        Ok(existing) => return replay(&app, &req, &checked, existing, asker).await,
        Err(e) if e.code == ErrorCode::PaymentNotFound => {}
        Err(e) => return Err(e),
    }
    hold(&app, &req, checked).await
}

/// A pay request that passed every check: who pays, what the phone ordered, the bill it pays.
struct Checked {
    handle: PayerHandle,
    payer: Payer,
    order: PayOrder,
    bill: Bill,
}

/// The order is signed by the device key registered for the payer it names, and pays exactly
/// the signed bill it carries.
async fn check(app: &App, req: &PayRequest) -> Result<Checked, WireError> {
    let (handle, payer, order) = ordered(app, req).await?;
    let bill = verified_bill(app, &req.bill).await?;
    order_pays_bill(&order, &bill)?;
    Ok(Checked {
        handle,
        payer,
        order,
        bill,
    })
}

/// The order, signed by the device key registered for the payer it names.
pub(super) async fn ordered(
    app: &App,
    req: &PayRequest,
) -> Result<(PayerHandle, Payer, PayOrder), WireError> {
    let (handle, payer) = super::device_owner(app, &req.order.key_id)
        .await?
        .ok_or_else(|| {
            WireError::new(
                ErrorCode::BadSignature,
                format!("order: device key {} is not registered", req.order.key_id),
            )
        })?;
    let key = public_key(&payer.device_public_key)
        .ok_or_else(|| super::internal("a registered device key that is not one"))?;
    verify_with(
        &key,
        Purpose::DevicePay,
        &req.order.body,
        &req.order.signature,
    )
    .map_err(|_| WireError::new(ErrorCode::BadSignature, "order: signature does not verify"))?;
    let order: PayOrder = decode(&req.order.body)
        .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("order: {e}")))?;
    if order.payer != handle {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            "order: signed by a device of another payer",
        ));
    }
    Ok((handle, payer, order))
}

/// The bill the request carries, believed through the key directory.
pub(super) async fn verified_bill(app: &App, issued: &IssuedBill) -> Result<Bill, WireError> {
    let bill: Bill = app
        .keys
        .verify_bill(&issued.signed)
        .await
        .map_err(|e| match e {
            VerifyError::Sign(e) => WireError::new(ErrorCode::BadSignature, format!("bill: {e}")),
            VerifyError::Directory(e) => {
                WireError::new(ErrorCode::Unavailable, format!("bill: {e}"))
            }
        })?;
    if issued.bill_id != bill.bill_id {
        return Err(WireError::field(
            "bill.bill_id",
            "does not name the signed bill",
        ));
    }
    Ok(bill)
}

/// The order names the bill, pays its total exactly, and at the terminal it was issued for.
fn order_pays_bill(order: &PayOrder, bill: &Bill) -> Result<(), WireError> {
    if order.bill_id != bill.bill_id {
        return Err(WireError::field(
            "order.bill_id",
            "does not name the signed bill",
        ));
    }
    if order.amount != bill.total {
        return Err(WireError::new(
            ErrorCode::AmountMismatch,
            format!(
                "order pays {} but the bill totals {}",
                order.amount, bill.total
            ),
        ));
    }
    if order.amount.fen <= Fen::ZERO {
        return Err(WireError::field("order.amount", "must be above zero"));
    }
    if order.terminal != bill.terminal {
        return Err(WireError::field(
            "order.terminal",
            format!("the bill was issued for terminal {}", bill.terminal),
        ));
    }
    if let Some(tag) = bill.basket {
        return Err(WireError::field(
            "order.more_bills",
            format!(
                "bill {} is one of a basket of {} bills: pay them all in one order",
                bill.bill_id, tag.size
            ),
        ));
    }
    Ok(())
}

/// A payment id this view knows: the same order sent again is answered with its outcome (to
/// the phone that made it), another order under the id is refused.
async fn replay(
    app: &App,
    req: &PayRequest,
    checked: &Checked,
    existing: Payment,
    asker: Option<DeviceId>,
) -> Handled {
    let id = checked.order.payment_id;
    if existing.order_body != req.order.body {
        return Err(reused_id(id));
    }
    // The receipt is the payer's: a copy of the order sent by another phone is not answered
    // with it.
    if checked.payer.device.is_some() && checked.payer.device != asker {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!("payment {id} was made from another phone; its receipt is on that phone"),
        ));
    }
    match existing.state {
        PaymentState::Captured => match existing.signed_receipt {
            Some(r) => reply_ok(&r),
            None => reply_ok(&drive_for_request(app, id).await?),
        },
        PaymentState::Voided => Err(refusal_error(existing.refusal.as_ref())),
        PaymentState::Authorized => reply_ok(&drive_for_request(app, id).await?),
    }
}

/// A new payment: the hold on the payer's balance, then the settlement it is driven to.
async fn hold(app: &App, req: &PayRequest, checked: Checked) -> Handled {
    let Checked {
        handle,
        order,
        bill,
        ..
    } = checked;
    let now = app.clock.now();
    if now > bill.expires_at {
        return Err(WireError::new(
            ErrorCode::BillExpired,
            format!("bill {} expired at {}", bill.bill_id, bill.expires_at),
        ));
    }
    let payment = authorized(
        app,
        (&handle, &req.order.body),
        (&req.bill, &bill),
        now,
        None,
    );
    let joined = crate::settle::joined_event(req.pairing, &[&bill], now);
    authorize(app, order.payment_id, &payment, joined).await?;
    if load(app, order.payment_id)?.order_body != req.order.body {
        return Err(reused_id(order.payment_id));
    }
    tracing::info!(payment = %order.payment_id, bill = %bill.bill_id, "authorized");
    reply_ok(&drive_for_request(app, order.payment_id).await?)
}

/// The payment of `bill` by the payer `handle` under the order `order_body`, authorized at
/// `now`, part of `basket` if it is one's.
pub(super) fn authorized(
    app: &App,
    (handle, order_body): (&PayerHandle, &[u8]),
    (issued, bill): (&IssuedBill, &Bill),
    now: chrono::DateTime<chrono::Utc>,
    basket: Option<BasketOf>,
) -> Payment {
    Payment {
        biller_payer: Some(crate::handles::at_biller(
            &app.handle_key,
            handle,
            &bill.tenant,
        )),
        payer: handle.clone(),
        bill_id: bill.bill_id,
        bill: issued.clone(),
        terminal: bill.terminal.clone(),
        amount: bill.total,
        order_body: order_body.to_vec(),
        state: PaymentState::Authorized,
        authorized_at: now,
        receipt: None,
        signed_receipt: None,
        refusal: None,
        refunded: Fen::ZERO,
        basket,
    }
}

pub(super) fn reused_id(id: PaymentId) -> WireError {
    WireError::new(
        ErrorCode::IdempotencyConflict,
        format!("payment id {id} was used for another order"),
    )
}
