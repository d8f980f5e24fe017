//! `posfee.ledger.refund`: give back all or part of a settled payment, idempotently.
//!
//! Refunds of one payment never add up to more than it paid: each is decided on the account's
//! latest state and appended to its journal only if nothing came first, acknowledged by a
//! majority of the cluster before the answer. The view posts the reversing entries and
//! publishes `payment.refunded`; paygate follows it and credits the payer.

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::{RefundRecord, Settlement};
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{Event, EventBody, PaymentRefunded};
use posfee_schemas::ids::{EventId, TenantId};
use posfee_schemas::ledger::{RefundReply, RefundRequest};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use std::sync::Arc;

/// Longest refund reason kept, in bytes.
pub const MAX_REASON_BYTES: usize = 500;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RefundRequest = decode_request(&msg.payload)?;
    record(Field::Payment, &req.payment_id);
    let fingerprint = encode(&req);
    let settlement = find(&app, &req).await?;
    // Only the payment's own tenant's clerks may refund it, or even learn of its refunds: the
    // subject names the tenant, and only that tenant's clerks may publish on it.
    let tenant = &settlement.receipt.tenant;
    match Subject::parse(&msg.subject) {
        Ok(Subject::LedgerRefund(asker)) if &asker == tenant => {
            record(Field::Caller, &format!("clerk of {asker}"));
        }
        Ok(Subject::LedgerRefund(asker)) => {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "payment {} was made to {tenant}; a clerk of {asker} cannot refund it",
                    req.payment_id
                ),
            ))
        }
        _ => return Err(WireError::field("subject", "not a refund subject")),
    }
    let scope = journal::scope(tenant, &settlement.receipt.account);
    let key = refund_key(tenant, &req);
    if let Some(reply) = replay(&app, &key, &req, &fingerprint)? {
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
    if req.amount.currency != settlement.receipt.total.currency {
        return Err(WireError::field(
            "amount.currency",
            format!("the payment was in {}", settlement.receipt.total.currency),
        ));
    }
    app.journal
        .write(&scope, &format!("refund:{key}"), || {
            if replay(&app, &key, &req, &fingerprint)?.is_some() {
                return Ok(None);
            }
            refunded_entry(&app, &key, &req, &fingerprint).map(Some)
        })
        .await?;
    let reply = replay(&app, &key, &req, &fingerprint)?
        .ok_or_else(|| super::internal("a refund the journal took is not in the view"))?;
    tracing::info!(payment = %req.payment_id, amount = %req.amount, "refunded");
    reply_ok(&reply)
}

/// The settled payment to refund, from this instance's view; if the view does not have it,
/// once the view has caught up with the whole journal.
async fn find(app: &App, req: &RefundRequest) -> Result<Settlement, WireError> {
    let key = req.payment_id.0.as_bytes();
    if app
        .store
        .settlements
        .get(key)
        .map_err(super::internal)?
        .is_none()
    {
        app.journal.caught_up_with_all().await?;
    }
    let Some(raw) = app.store.settlements.get(key).map_err(super::internal)? else {
        return Err(WireError::new(
            ErrorCode::PaymentNotFound,
            format!("no settled payment {}", req.payment_id),
        ));
    };
    decode(&raw).map_err(super::internal)
}

/// Where a refund is kept: its idempotency key within its tenant's, so one biller's clerks can
/// never use up, or learn of, another's keys.
fn refund_key(tenant: &TenantId, req: &RefundRequest) -> String {
    format!("{tenant}/{}", req.idempotency_key)
}

/// The journal entry that refunds `req` (kept under `key`), if the payment (as the view has it
/// now) has that much left to give back.
fn refunded_entry(
    app: &App,
    key: &str,
    req: &RefundRequest,
    fingerprint: &[u8],
) -> Result<Entry, WireError> {
    let raw = app
        .store
        .settlements
        .get(req.payment_id.0.as_bytes())
        .map_err(super::internal)?
        .ok_or_else(|| super::internal("a settled payment left the view"))?;
    let current: Settlement = decode(&raw).map_err(super::internal)?;
    let exceeds = |why: String| WireError::new(ErrorCode::RefundExceedsPayment, why);
    let total = current
        .refunded
        .checked_add(req.amount.fen)
        .map_err(|e| exceeds(e.to_string()))?;
    if total > current.receipt.total.fen {
        return Err(exceeds(format!(
            "refunding {} more would return {} of a {} payment",
            req.amount.fen, total, current.receipt.total.fen
        )));
    }
    let now = app.clock.now();
    let reply = RefundReply {
        payment_id: req.payment_id,
        refunded: req.amount,
        total_refunded: Money {
            fen: total,
            currency: current.receipt.total.currency,
        },
        refunded_at: now,
    };
    let event = Event::new(
        EventId::keyed(&app.event_key, "payment.refunded", key.as_bytes()),
        now,
        EventBody::PaymentRefunded(PaymentRefunded {
            payment_id: req.payment_id,
            bill_id: current.receipt.bill_id,
            amount: req.amount,
            total_refunded: reply.total_refunded,
        }),
    );
    Ok(Entry::Refunded {
        payment: req.payment_id,
        key: key.to_string(),
        record: RefundRecord {
            fingerprint: fingerprint.to_vec(),
            reply,
        },
        amount: req.amount.fen,
        tenant: current.receipt.tenant.clone(),
        writer: app.me,
        event,
    })
}

fn replay(
    app: &App,
    key: &str,
    req: &RefundRequest,
    fingerprint: &[u8],
) -> Result<Option<RefundReply>, WireError> {
    let Some(raw) = app
        .store
        .refunds
        .get(key.as_bytes())
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
