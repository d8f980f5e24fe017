//! Receipts for this terminal (`posfee.receipt.<terminal>`), sent by the ledger once a payment
//! settled. The kiosk subscribes before it opens a pairing, so a fast payment cannot settle
//! before the kiosk listens.

use crate::Agent;
use futures::StreamExt;
use posfee_schemas::ids::BillId;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::{subjects, ErrorCode, WireError};
use tokio_util::sync::CancellationToken;

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

    /// Waits for the receipt of `bill`, skipping receipts of other bills (another payment at
    /// this kiosk finishing late) and anything undecodable.
    pub async fn wait_for(
        &mut self,
        bill: BillId,
        timeout: std::time::Duration,
        cancel: &CancellationToken,
    ) -> crate::Result<Receipt> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => return Err(WireError::new(
                    ErrorCode::PairingGone,
                    "cancelled while waiting for the payment",
                )),
                _ = &mut deadline => return Err(WireError::new(
                    ErrorCode::Unavailable,
                    format!("no receipt for bill {bill} within {} s; the payment may still settle, check the phone", timeout.as_secs()),
                )),
                m = self.sub.next() => match m {
                    Some(m) => m,
                    None => return Err(crate::unavailable("waiting for the receipt", "connection closed")),
                },
            };
            match posfee_schemas::decode::<Receipt>(&msg.payload) {
                Ok(r) if r.bill_id == bill => return Ok(r),
                Ok(r) => tracing::debug!(bill = %r.bill_id, "receipt of another bill"),
                Err(e) => tracing::warn!(error = %e, "undecodable receipt ignored"),
            }
        }
    }
}
