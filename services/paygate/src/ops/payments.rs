//! `posfee.paygate.payments`: payments in payment-id order, a page at a time
//! ([`posfee_runtime::page`]), for reconciliation. No payer data in the answer.

use crate::app::{App, MAX_PAGE};
use crate::store::Payment;
use posfee_runtime::page::{self, Step};
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::decode;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::money::Money;
use posfee_schemas::paygate::{PaygatePayment, PaymentsList, PaymentsListQuery};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: PaymentsListQuery = decode_request(&msg.payload)?;
    let size = page::size(q.page_size, MAX_PAGE, MAX_PAGE)?;
    let start = page::start(&q.cursor, &[])?;
    let (items, next_cursor) = page::cut(&app.store.payments, start, size, |k, raw| {
        let p: Payment = decode(raw).map_err(super::internal)?;
        let Ok(id) = uuid::Uuid::from_slice(k) else {
            return Ok(Step::Skip);
        };
        Ok(Step::Take(PaygatePayment {
            payment_id: PaymentId(id),
            bill_id: p.bill_id,
            amount: p.amount,
            state: p.state,
            refunded: Money {
                fen: p.refunded,
                currency: p.amount.currency,
            },
            authorized_at: p.authorized_at,
        }))
    })?;
    let recovered_through = app.recovered_through.lock().ok().and_then(|t| *t);
    reply_ok(&PaymentsList {
        items,
        next_cursor,
        recovered_through,
    })
}
