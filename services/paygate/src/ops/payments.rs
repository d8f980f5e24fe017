//! `posfee.paygate.payments`: payments in payment-id order, a page at a time, for
//! reconciliation. No payer data in the answer.

use crate::app::{App, MAX_PAGE};
use crate::store::Payment;
use posfee_runtime::serve::{decode_request, reply_ok, Handled, PAGE_BYTES_BUDGET};
use posfee_schemas::decode;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::money::Money;
use posfee_schemas::paygate::{PaygatePayment, PaymentsList, PaymentsListQuery};
use std::ops::Bound;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: PaymentsListQuery = decode_request(&msg.payload)?;
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) as usize;
    let start = match q.after {
        Some(id) => Bound::Excluded(id.0.as_bytes().to_vec()),
        None => Bound::Unbounded,
    };
    let mut items = Vec::with_capacity(limit);
    let mut more = false;
    let mut used = 0;
    for item in app
        .store
        .payments
        .range::<Vec<u8>, _>((start, Bound::Unbounded))
    {
        let (k, raw) = item.map_err(super::internal)?;
        if items.len() == limit {
            more = true;
            break;
        }
        let p: Payment = decode(&raw).map_err(super::internal)?;
        let Ok(id) = uuid::Uuid::from_slice(&k) else {
            continue;
        };
        let item = PaygatePayment {
            payment_id: PaymentId(id),
            bill_id: p.bill_id,
            amount: p.amount,
            state: p.state,
            refunded: Money {
                fen: p.refunded,
                currency: p.amount.currency,
            },
            authorized_at: p.authorized_at,
        };
        // Bounded by bytes as well as by count: the answer must fit the payload limit.
        let size = posfee_schemas::encode(&item).len();
        if used + size > PAGE_BYTES_BUDGET {
            more = true;
            break;
        }
        used += size;
        items.push(item);
    }
    let next = if more {
        items.last().map(|i| i.payment_id)
    } else {
        None
    };
    let recovered_through = app.recovered_through.lock().ok().and_then(|t| *t);
    reply_ok(&PaymentsList {
        items,
        next,
        recovered_through,
    })
}
