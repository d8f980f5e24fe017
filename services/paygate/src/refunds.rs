//! Refunds reach the payer: paygate follows `payment.refunded` and credits the difference
//! between the ledger's refunded total and what it has already credited. The total only
//! grows, so a replayed or repeated event credits nothing twice.

use crate::store::{Payer, Payment, Store};
use posfee_runtime::feed::Delivered;
use posfee_runtime::feed::FEED_SEQ_KEY;
use posfee_schemas::events::EventBody;
use posfee_schemas::money::Fen;
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::{decode, encode};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

pub fn apply(store: &Store, batch: Vec<Delivered>) -> anyhow::Result<u64> {
    let mut last = store.feed_seq()?;
    for d in batch {
        last = last.max(d.seq);
        let Some(EventBody::PaymentRefunded(r)) = d.event.map(|e| e.body) else {
            continue;
        };
        let key = r.payment_id.0.as_bytes().to_vec();
        let total = r.total_refunded.fen;
        // One transaction: the credit, the payment's credited total and the feed position.
        let credited = (&store.payers, &store.payments, &store.meta)
            .transaction(|(payers, payments, meta)| {
                meta.insert(FEED_SEQ_KEY, &last.to_be_bytes())?;
                let Some(raw) = payments.get(&key)? else {
                    return Ok(0);
                };
                let mut payment: Payment =
                    decode(&raw).map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                // Only money that was taken can be given back.
                if payment.state != PaymentState::Captured {
                    return Ok(0);
                }
                let overflow = |e: posfee_schemas::money::MoneyError| {
                    ConflictableTransactionError::Abort(e.to_string())
                };
                let due = total.checked_sub(payment.refunded).map_err(overflow)?;
                if due <= Fen::ZERO {
                    return Ok(0);
                }
                let payer_key = payment.payer.as_str().as_bytes().to_vec();
                let Some(raw) = payers.get(&payer_key)? else {
                    return Ok(0);
                };
                let mut payer: Payer =
                    decode(&raw).map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                payer.balance = payer.balance.checked_add(due).map_err(overflow)?;
                payment.refunded = total;
                payers.insert(payer_key, encode(&payer))?;
                payments.insert(key.as_slice(), encode(&payment))?;
                Ok(due.get())
            })
            .map_err(|e| anyhow::anyhow!("crediting refund: {e:?}"))?;
        if credited > 0 {
            tracing::info!(payment = %r.payment_id, fen = credited, "refund credited");
        }
    }
    store.meta.insert(FEED_SEQ_KEY, &last.to_be_bytes())?;
    // Credits move money: on disk before the feed moves past them.
    store.db.flush()?;
    Ok(last)
}
