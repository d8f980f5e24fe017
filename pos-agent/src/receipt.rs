//! Receipts for this terminal (`posfee.receipt.<terminal>`), sent by the ledger once a payment
//! settled. The kiosk subscribes before it opens a pairing, so a fast payment cannot settle
//! before the kiosk listens.

use crate::Agent;
use futures::StreamExt;
use posfee_schemas::ids::BillId;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::subjects;

pub struct ReceiptWatch {
    sub: async_nats::Subscriber,
}

impl ReceiptWatch {
    pub async fn subscribe(agent: &Agent) -> crate::Result<ReceiptWatch> {
        let sub = agent
            .client
            .subscribe(subjects::receipt(agent.terminal()))
            .await
            .map_err(|e| crate::unavailable("subscribing to receipts", e))?;
        Ok(ReceiptWatch { sub })
    }

    /// The receipt of `bill`, skipping receipts of other bills (another payment at this kiosk
    /// finishing late) and anything undecodable. Safe to drop and call again.
    pub async fn next_for(&mut self, bill: BillId) -> crate::Result<Receipt> {
        loop {
            let Some(msg) = self.sub.next().await else {
                return Err(crate::unavailable(
                    "waiting for the receipt",
                    "connection closed",
                ));
            };
            match posfee_schemas::decode::<Receipt>(&msg.payload) {
                Ok(r) if r.bill_id == bill => return Ok(r),
                Ok(r) => tracing::debug!(bill = %r.bill_id, "receipt of another bill"),
                Err(e) => tracing::warn!(error = %e, "undecodable receipt ignored"),
            }
        }
    }
}
