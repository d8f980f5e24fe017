//! `posfee.bill.issue`: price the account as of today, store the result as a payable bill
//! signed with the tenant's key, and report `bill.issued` through the outbox.
//!
//! Idempotent by key: the same key with the same request returns the stored bill; the same key
//! with a different request is a 409 and changes nothing.

use crate::app::{App, BILL_TTL_SECS};
use crate::store::{pays_through, StoredBill};
use posfee_runtime::once::Abort;
use posfee_runtime::outbox::Outbox;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{BillIssued, Event, EventBody};
use posfee_schemas::fee::{Bill, BillIssueRequest, IssuedBill};
use posfee_schemas::ids::{BillId, EventId};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use std::convert::Infallible;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: BillIssueRequest = decode_request(&msg.payload)?;
    // The server lets only the terminal in the subject publish there; the body must agree,
    // so a terminal cannot have bills issued (and receipts sent) for another.
    match Subject::parse(&msg.subject) {
        Ok(Subject::BillIssue(asker)) if asker == req.terminal => record(Field::Caller, &asker),
        Ok(Subject::BillIssue(asker)) => {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "terminal: terminal {asker} may issue bills only for itself, not {}",
                    req.terminal
                ),
            ))
        }
        _ => return Err(WireError::field("subject", "not a bill issue subject")),
    }
    // The fingerprint is the request minus nothing: any difference is a different request.
    let fingerprint = encode(&req);
    let once = app.once();
    if let Some(existing) = once.replayed(replay(&app, &req, &fingerprint)).await? {
        return reply_ok(&existing);
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
    let tenant = super::tenant(&app, &req.quote)?;
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
    let (quote, arrears) = super::price(&app, &req.quote, today).await?;
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
    };
    record(Field::Bill, &bill.bill_id);
    let issued = IssuedBill {
        bill_id: bill.bill_id,
        signed: Signed::sign(Purpose::Bill, &bill, &key.id, &key.key),
    };
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
    let stored = StoredBill {
        pays_through: pays_through(&bill.lines, &arrears),
        arrears: covered,
        bill: bill.clone(),
        issued: issued.clone(),
        fingerprint: fingerprint.clone(),
        paid: false,
    };
    let event = Event::new(
        EventId::keyed(&app.event_key, "bill.issued", bill.bill_id.0.as_bytes()),
        now,
        EventBody::BillIssued(BillIssued {
            bill_id: bill.bill_id,
            tenant: bill.tenant.clone(),
            account: bill.account.clone(),
            terminal: bill.terminal.clone(),
            total: bill.total,
            expires_at: bill.expires_at,
        }),
    );
    let outbox_key = app.outbox.next_key().map_err(super::internal)?;
    let idem_key = req.idempotency_key.as_str().as_bytes().to_vec();
    let bill_key = bill.bill_id.0.as_bytes().to_vec();
    let stored_bytes = encode(&stored);
    let expiry_key = crate::store::expiry_key(bill.expires_at.timestamp_millis(), &bill_key);
    // One transaction: the idempotency record, the bill and its event, or none of them. A
    // concurrent request with the same key loses the race here and replays the winner.
    let s = &app.store;
    let result = (&s.idem, &s.bills, &s.expiry, app.outbox.tree()).transaction(
        |(idem, bills, expiry, outbox)| {
            if idem.get(&idem_key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(
                    Abort::<Infallible>::Taken,
                ));
            }
            idem.insert(idem_key.as_slice(), bill_key.as_slice())?;
            bills.insert(bill_key.as_slice(), stored_bytes.as_slice())?;
            expiry.insert(expiry_key.as_slice(), idem_key.as_slice())?;
            Outbox::stage(outbox, outbox_key, &event)?;
            Ok(issued.clone())
        },
    );
    let issued = once
        .finish(
            result,
            &[outbox_key],
            || replay(&app, &req, &fingerprint),
            |never| match never {},
        )
        .await?;
    tracing::info!(bill = %bill.bill_id, tenant = %bill.tenant, total = %bill.total, "bill issued");
    reply_ok(&issued)
}

/// The bill already issued under this key, if any; a 409 if the key came with another request.
fn replay(
    app: &App,
    req: &BillIssueRequest,
    fingerprint: &[u8],
) -> Result<Option<IssuedBill>, WireError> {
    let idem = req.idempotency_key.as_str().as_bytes();
    let Some(bill_id) = app
        .store
        .idem
        .get(idem)
        .map_err(|e| super::internal(e.into()))?
    else {
        return Ok(None);
    };
    let Some(raw) = app
        .store
        .bills
        .get(&bill_id)
        .map_err(|e| super::internal(e.into()))?
    else {
        return Ok(None);
    };
    let stored: StoredBill = decode(&raw).map_err(|e| super::internal(e.into()))?;
    if stored.fingerprint != fingerprint {
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            // The other bill is not named: the key may be another terminal's.
            format!(
                "idempotency key {} was used for another request",
                req.idempotency_key
            ),
        ));
    }
    Ok(Some(stored.issued))
}
