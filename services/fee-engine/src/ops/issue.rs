//! `posfee.bill.issue`: price the account as of today, sign the result as a payable bill with
//! the tenant's key, and store it as one `bill.issued` event: the event is the record (it
//! carries the signed bill), stored on a majority of the stream's replicas before the kiosk
//! gets the bill, and every instance's view is built from it.
//!
//! Idempotent by the terminal and its key: the same key with the same request returns the
//! first bill, whichever instance issued it (the event's id is made from the key, so the
//! stream stores a twin issued concurrently elsewhere once, and both answer the bill it
//! kept); the same key with a different request is a 409 and changes nothing.

use crate::app::{App, BILL_TTL_SECS};
use crate::store::{idem_key, pays_through};
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{BillIssued, BillRecord, Event, EventBody};
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill};
use posfee_schemas::ids::{BillId, EventId};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{encode, ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: BillIssueRequest = decode_request(&msg.payload)?;
    asker_is_the_terminal(&msg.subject, &req)?;
    let fingerprint = request_hash(&req);
    if let Some(done) = replay(&app, &req, &fingerprint)? {
        return reply_ok(&done);
    }
    if !app.kiosk_bills.allow(req.terminal.as_str()) {
        return Err(WireError::new(
            ErrorCode::RateLimited,
            format!(
                "terminal {} is issuing bills faster than any kiosk serves payers; wait a few seconds",
                req.terminal
            ),
        ));
    }
    let event = decide(&app, &req, fingerprint.clone()).await?;
    let seq = app.append(&event).await?;
    app.view_reached(seq).await?;
    let issued = replay(&app, &req, &fingerprint)?
        .ok_or_else(|| super::internal(anyhow::anyhow!("a stored bill is not in the view")))?;
    tracing::info!(bill = %issued.bill_id, "bill issued");
    reply_ok(&issued)
}

/// The server lets only the terminal in the subject publish there; the body must agree, so a
/// terminal cannot have bills issued (and receipts sent) for another.
fn asker_is_the_terminal(subject: &str, req: &BillIssueRequest) -> Result<(), WireError> {
    match Subject::parse(subject) {
        Ok(Subject::BillIssue(asker)) if asker == req.terminal => {
            record(Field::Caller, &asker);
            Ok(())
        }
        Ok(Subject::BillIssue(asker)) => Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "terminal: terminal {asker} may issue bills only for itself, not {}",
                req.terminal
            ),
        )),
        _ => Err(WireError::field("subject", "not a bill issue subject")),
    }
}

/// What tells a retry from another request under the same key: a SHA-256 of the request.
fn request_hash(req: &BillIssueRequest) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(encode(req)).to_vec()
}

/// The bill this request makes, as the event that records it.
async fn decide(
    app: &App,
    req: &BillIssueRequest,
    request_hash: Vec<u8>,
) -> Result<Event, WireError> {
    let tenant = super::tenant(app, &req.quote)?;
    let now = app.clock.now();
    let today = tenant.today(now);
    // A bill is priced as of today: a terminal must not pick the day late fees are counted to.
    if let Some(day) = req.quote.as_of {
        if day != today {
            return Err(WireError::field(
                "quote.as_of",
                format!("bills are priced as of today ({today}), not {day}"),
            ));
        }
    }
    if let Some(tag) = &req.basket {
        if !tag.size_ok() {
            return Err(WireError::field(
                "basket.size",
                format!(
                    "a basket has {} to {} bills, not {}",
                    posfee_schemas::basket::MIN_BILLS,
                    posfee_schemas::basket::MAX_BILLS,
                    tag.size
                ),
            ));
        }
    }
    let (quote, arrears) = super::price(app, &req.quote, today).await?;
    if quote.total <= Fen::ZERO {
        return Err(WireError::new(
            ErrorCode::NothingOwed,
            format!("account {} owes nothing", req.quote.account),
        ));
    }
    let key = app
        .keys
        .active(&req.quote.tenant)
        .ok_or_else(|| WireError::new(ErrorCode::Internal, "no signing key for this tenant"))?;
    let bill = Bill {
        bill_id: BillId::new_random(),
        tenant: quote.tenant.clone(),
        tenant_name: quote.tenant_name.clone(),
        account: quote.account.clone(),
        terminal: req.terminal.clone(),
        as_of: quote.as_of,
        lines: quote.lines.clone(),
        total: Money {
            fen: quote.total,
            currency: quote.currency,
        },
        issued_at: now,
        expires_at: now + chrono::Duration::seconds(BILL_TTL_SECS),
        holder_masked: app.store.holder_masked(&quote.tenant, &quote.account),
        tenant_name_zh: quote.tenant_name_zh.clone(),
        class: quote.class.clone(),
        class_zh: quote.class_zh.clone(),
        basket: req.basket,
    };
    record(Field::Bill, &bill.bill_id);
    let covered: Vec<(String, String)> = arrears
        .iter()
        .filter(|a| {
            quote
                .lines
                .iter()
                .any(|l| l.kind == a.kind && l.period == a.period)
        })
        .map(|a| (a.kind.to_string(), a.period.clone()))
        .collect();
    let issued = IssuedBill {
        bill_id: bill.bill_id,
        signed: Signed::sign(Purpose::Bill, &bill, &key.id, &key.key),
    };
    let record = BillRecord {
        pays_through: pays_through(&bill.lines, &arrears),
        arrears: covered,
        issued,
        idempotency_key: req.idempotency_key.clone(),
        request_hash,
    };
    // The id, and so the stream's de-duplication, is the terminal's key: a twin of this
    // request decided at the same time by another instance is stored once.
    let id = EventId::keyed(
        &app.event_key,
        "bill.issued",
        &idem_key(&req.terminal, &req.idempotency_key),
    );
    Ok(Event::new(
        id,
        now,
        EventBody::BillIssued(BillIssued {
            bill_id: bill.bill_id,
            tenant: bill.tenant,
            account: bill.account,
            terminal: bill.terminal,
            total: bill.total,
            expires_at: bill.expires_at,
            record: Some(Box::new(record)),
        }),
    ))
}

/// The bill already issued under this key, if any; a 409 if the key came with another request.
fn replay(
    app: &App,
    req: &BillIssueRequest,
    fingerprint: &[u8],
) -> Result<Option<IssuedBill>, WireError> {
    let key = idem_key(&req.terminal, &req.idempotency_key);
    let Some(bill_id) = app.store.idem.get(key).map_err(super::internal)? else {
        return Ok(None);
    };
    let Some(stored) = app
        .store
        .bill(&BillId(
            uuid::Uuid::from_slice(&bill_id).map_err(super::internal)?,
        ))
        .map_err(super::internal)?
    else {
        return Ok(None);
    };
    if stored.fingerprint != fingerprint {
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "idempotency key {} was used for another request",
                req.idempotency_key
            ),
        ));
    }
    Ok(Some(stored.issued))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_retry_has_the_same_hash_and_any_change_another() {
        let req: BillIssueRequest = posfee_schemas::decode(&encode(&BillIssueRequest {
            basket: None,
            terminal: posfee_schemas::ids::TerminalId::parse("kiosk-01").unwrap(),
            idempotency_key: posfee_schemas::ids::IdempotencyKey::parse("k-1").unwrap(),
            quote: posfee_schemas::fee::QuoteRequest {
                tenant: posfee_schemas::ids::TenantId::parse("city-water").unwrap(),
                account: posfee_schemas::ids::AccountNo::parse("W-1").unwrap(),
                kinds: vec![],
                as_of: None,
                prepay_months: None,
                top_up: None,
            },
        }))
        .unwrap();
        let mut other = req.clone();
        other.quote.prepay_months = Some(1);
        assert_eq!(request_hash(&req), request_hash(&req.clone()));
        assert_ne!(request_hash(&req), request_hash(&other));
    }
}
