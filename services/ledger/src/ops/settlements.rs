//! `posfee.ledger.settlements`: settled payments in payment-id order, a page at a time.

use crate::app::{App, MAX_PAGE};
use crate::store::Settlement;
use posfee_runtime::serve::{decode_request, reply_ok, Handled, PAGE_BYTES_BUDGET};
use posfee_schemas::decode;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::ledger::{SettlementItem, SettlementsPage, SettlementsQuery};
use posfee_schemas::money::Money;
use std::ops::Bound;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: SettlementsQuery = decode_request(&msg.payload)?;
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
        .settlements
        .range::<Vec<u8>, _>((start, Bound::Unbounded))
    {
        let (_, raw) = item.map_err(super::internal)?;
        if items.len() == limit {
            more = true;
            break;
        }
        let s: Settlement = decode(&raw).map_err(super::internal)?;
        let item = SettlementItem {
            payment_id: s.receipt.payment_id,
            bill_id: s.receipt.bill_id,
            tenant: s.receipt.tenant.clone(),
            amount: s.receipt.total,
            refunded: Money {
                fen: s.refunded,
                currency: s.receipt.total.currency,
            },
            settled_at: s.receipt.settled_at,
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
    let next: Option<PaymentId> = if more {
        items.last().map(|i| i.payment_id)
    } else {
        None
    };
    reply_ok(&SettlementsPage { items, next })
}
