//! `posfee.ledger.refund`: give back all or part of a settled payment, idempotently.
//!
//! Refunds of one payment never add up to more than it paid. The refund, its reversing
//! postings and the `payment.refunded` event are one transaction, flushed before the answer;
//! paygate follows `payment.refunded` and credits the payer.

use crate::app::App;
use crate::store::{tenant_account, Posting, RefundRecord, Settlement, CLEARING_ACCOUNT};
use posfee_runtime::once::Abort;
use posfee_runtime::outbox::Outbox;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{Event, EventBody, PaymentRefunded};
use posfee_schemas::ids::EventId;
use posfee_schemas::ledger::{RefundReply, RefundRequest};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use std::sync::Arc;

/// Longest refund reason kept, in bytes.
pub const MAX_REASON_BYTES: usize = 500;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RefundRequest = decode_request(&msg.payload)?;
    record(Field::Payment, &req.payment_id);
    let fingerprint = encode(&req);
    let once = app.once();
    if let Some(reply) = once.replayed(replay(&app, &req, &fingerprint)).await? {
        return reply_ok(&reply);
    }
    if req.amount.fen <= Fen::ZERO {
        return Err(WireError::field("amount", "must be above zero"));
    }
    if req.reason.trim().is_empty() || req.reason.len() > MAX_REASON_BYTES {
        return Err(WireError::field(
            "reason",
            format!("must be 1 to {MAX_REASON_BYTES} bytes"),
        ));
    }
    let payment_key = req.payment_id.0.as_bytes().to_vec();
    let Some(raw) = app
        .store
        .settlements
        .get(&payment_key)
        .map_err(super::internal)?
    else {
        return Err(WireError::new(
            ErrorCode::PaymentNotFound,
            format!("no settled payment {}", req.payment_id),
        ));
    };
    let settlement: Settlement = decode(&raw).map_err(super::internal)?;
    // Only the payment's own tenant's clerks may refund it: the subject names the tenant, and
    // only that tenant's clerks may publish on it.
    match Subject::parse(&msg.subject) {
        Ok(Subject::LedgerRefund(tenant)) if tenant == settlement.receipt.tenant => {
            record(Field::Caller, &format!("clerk of {tenant}"));
        }
        Ok(Subject::LedgerRefund(tenant)) => {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "payment {} was made to {}; a clerk of {tenant} cannot refund it",
                    req.payment_id, settlement.receipt.tenant
                ),
            ))
        }
        _ => return Err(WireError::field("subject", "not a refund subject")),
    }
    if req.amount.currency != settlement.receipt.total.currency {
        return Err(WireError::field(
            "amount.currency",
            format!("the payment was in {}", settlement.receipt.total.currency),
        ));
    }
    let now = app.clock.now();
    let tenant = settlement.receipt.tenant.clone();
    let currency = settlement.receipt.total.currency;
    let entry = format!("refund:{}", req.idempotency_key);
    let postings = [
        Posting {
            entry: entry.clone(),
            account: tenant_account(&tenant),
            fen: req.amount.fen.get(),
        },
        Posting {
            entry,
            account: CLEARING_ACCOUNT.to_string(),
            fen: -req.amount.fen.get(),
        },
    ];
    let mut legs = Vec::with_capacity(postings.len());
    for leg in postings {
        let key = app.store.db.generate_id().map_err(super::internal)?;
        legs.push((key.to_be_bytes(), leg));
    }
    let event_key = app.outbox.next_key().map_err(super::internal)?;
    let idem_key = req.idempotency_key.as_str().as_bytes().to_vec();
    let event_id = EventId::derived("payment.refunded", &idem_key);

    let s = &app.store;
    let result = (
        &s.settlements,
        &s.refunds,
        &s.postings,
        &s.balances,
        app.outbox.tree(),
    )
        .transaction(|(settlements, refunds, postings_t, balances, outbox)| {
            let refuse = |why: String| ConflictableTransactionError::Abort(Abort::Refused(why));
            if refunds.get(&idem_key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Abort::Taken));
            }
            let Some(raw) = settlements.get(&payment_key)? else {
                return Err(ConflictableTransactionError::Abort(Abort::Taken));
            };
            let mut current: Settlement = decode(&raw).map_err(|e| refuse(e.to_string()))?;
            let total = current
                .refunded
                .checked_add(req.amount.fen)
                .map_err(|e| refuse(e.to_string()))?;
            if total > current.receipt.total.fen {
                return Err(refuse(format!(
                    "refunding {} more would return {} of a {} payment",
                    req.amount.fen, total, current.receipt.total.fen
                )));
            }
            current.refunded = total;
            let reply = RefundReply {
                payment_id: req.payment_id,
                refunded: req.amount,
                total_refunded: Money {
                    fen: total,
                    currency,
                },
                refunded_at: now,
            };
            settlements.insert(payment_key.as_slice(), encode(&current))?;
            refunds.insert(
                idem_key.as_slice(),
                encode(&RefundRecord {
                    fingerprint: fingerprint.clone(),
                    reply: reply.clone(),
                }),
            )?;
            crate::store::post(postings_t, balances, &legs)?;
            let event = Event::new(
                event_id,
                now,
                EventBody::PaymentRefunded(PaymentRefunded {
                    payment_id: req.payment_id,
                    bill_id: current.receipt.bill_id,
                    amount: req.amount,
                    total_refunded: reply.total_refunded,
                }),
            );
            Outbox::stage(outbox, event_key, &event)?;
            Ok(reply)
        });
    let reply = once
        .finish(
            result,
            &[event_key],
            || replay(&app, &req, &fingerprint),
            |reason| WireError::new(ErrorCode::RefundExceedsPayment, reason),
        )
        .await?;
    tracing::info!(payment = %req.payment_id, amount = %req.amount, "refunded");
    reply_ok(&reply)
}

fn replay(
    app: &App,
    req: &RefundRequest,
    fingerprint: &[u8],
) -> Result<Option<RefundReply>, WireError> {
    let Some(raw) = app
        .store
        .refunds
        .get(req.idempotency_key.as_str().as_bytes())
        .map_err(super::internal)?
    else {
        return Ok(None);
    };
    let record: RefundRecord = decode(&raw).map_err(super::internal)?;
    if record.fingerprint != fingerprint {
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "idempotency key {} was used for another refund",
                req.idempotency_key
            ),
        ));
    }
    Ok(Some(record.reply))
}
