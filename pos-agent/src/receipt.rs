//! Receipts for this terminal (`posfee.receipt.<terminal>`), sent by the ledger once a payment
//! settled. The kiosk subscribes before it opens a pairing, so a fast payment cannot settle
//! before the kiosk listens. A receipt counts only if the ledger signed it
//! ([`Agent::believe`]): one published by anyone else is never printed.

use crate::Agent;
use futures::StreamExt;
use posfee_schemas::ids::BillId;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
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
    /// finishing late), anything undecodable and anything the ledger did not sign. Safe to
    /// drop and call again.
    pub async fn next_for(&mut self, agent: &Agent, bill: BillId) -> crate::Result<Receipt> {
        self.next_of(agent, &[bill]).await
    }

    /// The next receipt of any of `bills` (a basket's receipts come in any order), as
    /// [`ReceiptWatch::next_for`].
    pub async fn next_of(&mut self, agent: &Agent, bills: &[BillId]) -> crate::Result<Receipt> {
        loop {
            let Some(msg) = self.sub.next().await else {
                return Err(crate::unavailable(
                    "waiting for the receipt",
                    "connection closed",
                ));
            };
            let signed = match posfee_schemas::decode::<SignedReceipt>(&msg.payload) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable receipt ignored");
                    continue;
                }
            };
            let bill = match signed.peek() {
                Ok(r) if bills.contains(&r.bill_id) => r.bill_id,
                Ok(r) => {
                    tracing::debug!(bill = %r.bill_id, "receipt of another bill");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable receipt ignored");
                    continue;
                }
            };
            match agent.believe(&signed, bill).await {
                Ok(r) => return Ok(r),
                Err(e) if e.code == posfee_schemas::ErrorCode::BadSignature => {
                    tracing::warn!(error = %e, "forged receipt ignored");
                }
                Err(e) => return Err(e),
            }
        }
    }
}
