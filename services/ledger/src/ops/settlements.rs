//! `posfee.ledger.settlements`: settled payments in payment-id order, a page at a time
//! ([`posfee_runtime::page`]).

use crate::app::{App, MAX_PAGE};
use crate::store::Settlement;
use posfee_runtime::page::{self, Step};
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::decode;
use posfee_schemas::ledger::{SettlementItem, SettlementsPage, SettlementsQuery};
use posfee_schemas::money::Money;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: SettlementsQuery = decode_request(&msg.payload)?;
    let size = page::size(q.page_size, MAX_PAGE, MAX_PAGE)?;
    let start = page::start(&q.cursor, &[])?;
    let (items, next_cursor) = page::cut(&app.store.settlements, start, size, |_, raw| {
        let s: Settlement = decode(raw).map_err(super::internal)?;
        Ok(Step::Take(SettlementItem {
            payment_id: s.receipt.payment_id,
            bill_id: s.receipt.bill_id,
            tenant: s.receipt.tenant.clone(),
            amount: s.receipt.total,
            refunded: Money {
                fen: s.refunded,
                currency: s.receipt.total.currency,
            },
            settled_at: s.receipt.settled_at,
        }))
    })?;
    reply_ok(&SettlementsPage { items, next_cursor })
}
