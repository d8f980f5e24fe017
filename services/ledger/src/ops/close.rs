//! `posfee.ledger.close.<terminal>`: the kiosk that issued a bill ends its payment window.
//!
//! The ledger is where a bill is settled, so it is also where the question "was it paid?"
//! gets one answer: closing and settling a bill are serialized by the same sled trees. A bill
//! settled first answers `paid` with its receipt; otherwise it is recorded closed and every
//! later settlement of it is refused with `PAIRING_GONE`, which makes paygate release the
//! hold. Closing twice answers the same. The reason is kept for the refusal's message.

use crate::app::App;
use crate::store::Settlement;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::fee::Bill;
use posfee_schemas::ledger::{CloseOutcome, CloseReply, CloseRequest};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{decode, ErrorCode, WireError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: CloseRequest = decode_request(&msg.payload)?;
    record(Field::Bill, &req.bill.bill_id);
    let bill: Bill = app
        .bill_keys
        .verify_bill(&req.bill.signed)
        .await
        .map_err(|e| super::signature("bill", e))?;
    match Subject::parse(&msg.subject) {
        Ok(Subject::LedgerClose(asker)) if asker == bill.terminal => record(Field::Caller, &asker),
        _ => {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "bill {} was issued for terminal {}; only that terminal may close it",
                    bill.bill_id, bill.terminal
                ),
            ))
        }
    }
    let bill_key = bill.bill_id.0.as_bytes().to_vec();
    let why = req.reason.as_str().as_bytes().to_vec();
    let s = &app.store;
    let paid_by = (&s.bills_paid, &s.bills_closed).transaction(|(paid, closed)| {
        if let Some(payment) = paid.get(&bill_key)? {
            return Ok(Some(payment.to_vec()));
        }
        if closed.get(&bill_key)?.is_none() {
            closed.insert(bill_key.as_slice(), why.as_slice())?;
        }
        Ok::<_, ConflictableTransactionError<()>>(None)
    });
    let paid_by = match paid_by {
        Ok(p) => p,
        Err(TransactionError::Abort(())) => return Err(super::internal("close aborted")),
        Err(TransactionError::Storage(e)) => return Err(super::internal(e)),
    };
    // Durable before the kiosk tells anyone the bill is closed (and a settlement it raced
    // with is on disk before we quote it).
    app.commit.commit().await.map_err(super::internal)?;
    let Some(payment) = paid_by else {
        tracing::info!(bill = %bill.bill_id, reason = req.reason.as_str(), "closed unpaid");
        return reply_ok(&CloseReply {
            outcome: CloseOutcome::Closed,
            receipt: None,
        });
    };
    let raw = s
        .settlements
        .get(&payment)
        .map_err(super::internal)?
        .ok_or_else(|| super::internal("bill paid by a payment without settlement"))?;
    let settled: Settlement = decode(&raw).map_err(super::internal)?;
    reply_ok(&CloseReply {
        outcome: CloseOutcome::Paid,
        receipt: Some(settled.receipt),
    })
}
