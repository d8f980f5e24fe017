//! `posfee.paygate.pay` with a basket: several bills ordered and signed on the phone at once,
//! held as one amount, settled by the ledger all together or not at all.
//!
//! The order names every bill (`bill_id`, then `more_bills`) and their total; each bill is
//! verified as a single payment's is, and all of them must be of one basket (the tag the
//! fee-engine signed into each, of this many bills) issued for the order's terminal. Each bill
//! becomes a payment of its own ([`PaymentId::part`]), all held in one journal entry. The
//! answer is every receipt ([`BasketPaid`]); a refusal names the bill that stopped it, and
//! nothing is charged. Idempotent by the basket's payment id, as a single payment is.

use super::pay::{authorized, ordered, reused_id, verified_bill};
use crate::app::App;
use crate::settle::{authorize_all, drive_basket, load};
use crate::store::{BasketOf, Payment};
use posfee_runtime::serve::{record, reply_ok, Field, Handled};
use posfee_schemas::basket::{BasketPaid, MAX_BILLS, MIN_BILLS};
use posfee_schemas::fee::{Bill, IssuedBill};
use posfee_schemas::ids::{DeviceId, PaymentId};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::paygate::{PayOrder, PayRequest};
use posfee_schemas::{ErrorCode, WireError};
use std::collections::HashSet;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, req: PayRequest, asker: Option<DeviceId>) -> Handled {
    record(Field::Bill, &req.bill.bill_id);
    record(Field::Caller, &req.order.key_id);
    let issued: Vec<&IssuedBill> = std::iter::once(&req.bill).chain(&req.more_bills).collect();
    // Counted before any signature is checked: a basket is 2 to 10 bills.
    if !(MIN_BILLS..=MAX_BILLS).contains(&issued.len()) {
        return Err(WireError::field(
            "more_bills",
            format!(
                "a basket has {MIN_BILLS} to {MAX_BILLS} bills, not {}",
                issued.len()
            ),
        ));
    }
    let (handle, payer, order) = ordered(&app, &req).await?;
    record(Field::Payment, &order.payment_id);
    let mut bills = Vec::with_capacity(issued.len());
    for b in &issued {
        let bill = verified_bill(&app, b)
            .await
            .map_err(|e| WireError::new(e.code, format!("bill {}: {}", b.bill_id, e.message)))?;
        bills.push(bill);
    }
    let total = order_pays_basket(&order, &bills)?;
    let basket = BasketOf {
        id: order.payment_id,
        parts: bills
            .iter()
            .map(|b| PaymentId::part(order.payment_id, b.bill_id))
            .collect(),
    };
    let lock = app.payment_lock(basket.id);
    let _guard = lock.lock().await;
    match load(&app, basket.parts[0]) {
        Ok(_) => {
            ours(&app, &basket, &req)?;
            if payer.device.is_some() && payer.device != asker {
                return Err(WireError::new(
                    ErrorCode::Forbidden,
                    format!(
                        "payment {} was made from another phone; its receipts are on that phone",
                        basket.id
                    ),
                ));
            }
        }
        Err(e) if e.code == ErrorCode::PaymentNotFound => {
            let now = app.clock.now();
            let payments = issued
                .iter()
                .zip(&bills)
                .map(|(issued, bill)| payment_of(&app, (&handle, &req, &basket), issued, bill, now))
                .collect::<Result<Vec<_>, _>>()?;
            let listed: Vec<&Bill> = bills.iter().collect();
            let joined = crate::settle::joined_event(req.pairing, &listed, now);
            authorize_all(&app, &basket, &payments, joined).await?;
            ours(&app, &basket, &req)?;
            tracing::info!(payment = %basket.id, bills = bills.len(), "basket authorized");
        }
        Err(e) => return Err(e),
    }
    let receipts = drive_basket(
        &app,
        &basket,
        crate::app::SETTLE_DEADLINE_MS,
        std::time::Duration::from_millis(crate::app::CAPTURE_WAIT_MS),
    )
    .await?;
    reply_ok(&BasketPaid {
        payment_id: basket.id,
        total: Money {
            fen: total,
            currency: bills[0].total.currency,
        },
        receipts,
    })
}

/// Every bill's payment id holds this basket's payment of this order: a payment id (the
/// basket's, or one derived from it) that another payment took first is refused, never
/// driven as part of this basket.
fn ours(app: &App, basket: &BasketOf, req: &PayRequest) -> Result<(), WireError> {
    for part in &basket.parts {
        let theirs = match load(app, *part) {
            Ok(p) => p.basket.as_ref() != Some(basket) || p.order_body != req.order.body,
            Err(e) if e.code == ErrorCode::PaymentNotFound => true,
            Err(e) => return Err(e),
        };
        if theirs {
            return Err(reused_id(basket.id));
        }
    }
    Ok(())
}

/// One bill's payment within the basket, authorized now: refused if the bill expired.
fn payment_of(
    app: &App,
    (handle, req, basket): (&posfee_schemas::ids::PayerHandle, &PayRequest, &BasketOf),
    issued: &IssuedBill,
    bill: &Bill,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Payment, WireError> {
    if now > bill.expires_at {
        return Err(WireError::new(
            ErrorCode::BillExpired,
            format!(
                "{}, account {} (bill {}): expired at {}",
                bill.tenant_name, bill.account, bill.bill_id, bill.expires_at
            ),
        ));
    }
    Ok(authorized(
        app,
        (handle, &req.order.body),
        (issued, bill),
        now,
        Some(basket.clone()),
    ))
}

/// The order names exactly these bills in this order, pays their total in their currency, at
/// the terminal they were issued for; they are distinct bills of distinct accounts, all of one
/// basket of this many bills. The total.
fn order_pays_basket(order: &PayOrder, bills: &[Bill]) -> Result<Fen, WireError> {
    let named: Vec<_> = posfee_schemas::basket::bills_of(&order.bill_id, &order.more_bills)
        .copied()
        .collect();
    let carried: Vec<_> = bills.iter().map(|b| b.bill_id).collect();
    if named != carried {
        return Err(WireError::field(
            "order.more_bills",
            "does not name the signed bills, in their order",
        ));
    }
    let first = &bills[0];
    let mut accounts = HashSet::new();
    let mut total = Fen::ZERO;
    for bill in bills {
        let refuse = |field: &str, why: String| {
            WireError::field(
                field,
                format!(
                    "{}, account {} (bill {}): {why}",
                    bill.tenant_name, bill.account, bill.bill_id
                ),
            )
        };
        let of_basket = matches!(
            (bill.basket, first.basket),
            (Some(t), Some(f)) if t == f && usize::from(t.size) == bills.len()
        );
        if !of_basket {
            let n = bills.len();
            return Err(refuse(
                "more_bills",
                format!("not issued as one of this basket of {n} bills"),
            ));
        }
        if !accounts.insert((bill.tenant.clone(), bill.account.clone())) {
            return Err(refuse(
                "more_bills",
                "a basket pays one bill per account".into(),
            ));
        }
        if order.terminal != bill.terminal {
            return Err(refuse(
                "order.terminal",
                format!("issued for terminal {}", bill.terminal),
            ));
        }
        if bill.total.currency != order.amount.currency {
            return Err(refuse(
                "order.amount",
                format!(
                    "billed in {:?}, the order pays in {:?}",
                    bill.total.currency, order.amount.currency
                ),
            ));
        }
        total = total
            .checked_add(bill.total.fen)
            .map_err(|_| WireError::field("order.amount", "the basket's total overflows"))?;
    }
    if order.amount.fen != total {
        return Err(WireError::new(
            ErrorCode::AmountMismatch,
            format!(
                "order pays {} but the basket totals {}",
                order.amount.fen, total
            ),
        ));
    }
    Ok(total)
}
