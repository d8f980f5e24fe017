//! `posfee.ledger.close.<terminal>`: the kiosk that issued a bill ends its payment window.
//!
//! The ledger is where a bill is settled, so it is also where the question "was it paid?"
//! gets one answer: closing and settling a bill are appended to the same account's journal,
//! one after the other. A bill settled first answers `paid` with its receipt; otherwise it is
//! recorded closed (on a majority of the cluster before the answer) and every
//! later settlement of it is refused with `PAIRING_GONE`, which makes paygate release the
//! hold. Closing twice answers the same. The reason is kept for the refusal's message.

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::Settlement;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{BillClosed, Event, EventBody, PairingEnded};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::EventId;
use posfee_schemas::ledger::{CloseOutcome, CloseReply, CloseRequest};
use posfee_schemas::pairing::{CloseReason, PairingClosed, PairingEnd};
use posfee_schemas::subjects::Subject;
use posfee_schemas::{decode, ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: CloseRequest = decode_request(&msg.payload)?;
    record(Field::Bill, &req.bill.bill_id);
    let bill: Bill = app
        .keys
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
    let code = match req.code.as_deref().map(|c| (c, ErrorCode::from_name(c))) {
        None => None,
        Some((_, Some(code))) => Some(code),
        Some((c, None)) => {
            return Err(WireError::field(
                "code",
                format!("{c:?} is not one of the contract's error codes; send the code that ended the payment, or none"),
            ))
        }
    };
    if let Some(told) = &req.pairing {
        told.shown.check("pairing.shown")?;
    }
    let scope = journal::scope(&bill.tenant, &bill.account);
    let entry = Entry::Closed {
        bill: bill.bill_id,
        why: req.reason.as_str().to_string(),
        writer: app.me,
        event: Some(closed_event(&app, &bill, req.reason, code)),
        pairing: req.pairing.as_ref().map(|t| pairing_event(&app, &bill, t)),
    };
    let closed = app
        .journal
        .write(&scope, &format!("close:{}", bill.bill_id), || {
            // Paid or closed is for good: a view behind cannot wrongly see either.
            Ok(decided(&app, &bill)?.is_none().then(|| entry.clone()))
        })
        .await?;
    if closed {
        tracing::info!(bill = %bill.bill_id, reason = req.reason.as_str(), "closed unpaid");
    }
    let reply = decided(&app, &bill)?
        .ok_or_else(|| super::internal("a close the journal took is not in the view"))?;
    reply_ok(&reply)
}

/// What the operator sees of a bill closed unpaid.
fn closed_event(app: &App, bill: &Bill, reason: CloseReason, code: Option<ErrorCode>) -> Event {
    let now = app.clock.now();
    Event::new(
        EventId::keyed(&app.event_key, "bill.closed", bill.bill_id.0.as_bytes()),
        now,
        EventBody::BillClosed(BillClosed {
            bill_id: bill.bill_id,
            tenant: bill.tenant.clone(),
            account: bill.account.clone(),
            terminal: bill.terminal.clone(),
            total: bill.total,
            reason,
            code: code.map(|c| c.name().to_string()),
            closed_at: now,
        }),
    )
}

/// How the bill's pairing ended, as the kiosk told it in the close (since contract 0.5.0).
/// Its id is derived from the bill, as a hold's `pairing.joined` is, so a pairing told twice
/// (a phone that paid after the kiosk closed) is one event to a reader.
fn pairing_event(app: &App, bill: &Bill, told: &PairingClosed) -> Event {
    let ended = PairingEnded {
        terminal: bill.terminal.clone(),
        bill_id: bill.bill_id,
        mode: told.shown.mode,
        opened_at: told.shown.opened_at,
        expires_at: told.shown.expires_at,
        more_bills: told.more_bills.clone(),
    };
    Event::new(
        EventId::derived("pairing", bill.bill_id.0.as_bytes()),
        app.clock.now(),
        match told.end {
            PairingEnd::Joined => EventBody::PairingJoined(ended),
            PairingEnd::Expired => EventBody::PairingExpired(ended),
            PairingEnd::Cancelled => EventBody::PairingCancelled(ended),
        },
    )
}

/// The bill's outcome if the account's books already have one: paid (with its receipt) or
/// closed.
fn decided(app: &App, bill: &Bill) -> Result<Option<CloseReply>, WireError> {
    let s = &app.store;
    let key = bill.bill_id.0.as_bytes();
    if let Some(payment) = s.bills_paid.get(key).map_err(super::internal)? {
        let raw = s
            .settlements
            .get(&payment)
            .map_err(super::internal)?
            .ok_or_else(|| super::internal("bill paid by a payment without settlement"))?;
        let settled: Settlement = decode(&raw).map_err(super::internal)?;
        return Ok(Some(CloseReply {
            outcome: CloseOutcome::Paid,
            receipt: Some(app.signed(&settled.receipt)),
        }));
    }
    if s.bills_closed.get(key).map_err(super::internal)?.is_some() {
        return Ok(Some(CloseReply {
            outcome: CloseOutcome::Closed,
            receipt: None,
        }));
    }
    Ok(None)
}
