//! `posfee.ledger.settle`: settle a bill exactly once, durably, before answering.
//!
//! The notice must be signed by paygate and carry a bill signed by the fee-engine; the amount
//! must be the bill's total, the bill must not have expired before the money was held, and
//! neither the bill nor any period it bills may have been settled by another payment, nor the
//! bill closed. These are decided on the account's latest state and the settlement appended
//! to the journal only if nothing was appended to the account meanwhile; the answer waits
//! for the majority's acknowledgement and for this instance's view to have it. The view's
//! apply posts the double entry and, here, publishes `payment.settled` and the kiosk's
//! receipt. A retry with the same payment id gets the first answer, from any instance.

use crate::app::{App, SETTLE_GRACE_SECS};
use crate::journal::{self, Entry};
use crate::store::{month_keys, Settlement};
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{Event, EventBody, PaymentSettled};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::{BillId, EventId};
use posfee_schemas::ledger::{Receipt, SettleRequest, SettlementNotice};
use posfee_schemas::money::Fen;
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::Role;
use posfee_schemas::{decode, ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: SettleRequest = decode_request(&msg.payload)?;
    if !req.more.is_empty() {
        return Err(WireError::field(
            "more",
            "a basket is settled on posfee.ledger.settle_basket, all of it or none",
        ));
    }
    // An answer given once is given again, before anything else is checked: the keys that
    // verified it may have been rotated out since, and a refusal now would make paygate void
    // money the ledger already settled.
    let claimed: SettlementNotice = req
        .notice
        .peek()
        .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("notice: {e}")))?;
    record(Field::Payment, &claimed.payment_id);
    record(Field::Bill, &claimed.bill.bill_id);
    let claimed_bill: Bill = claimed
        .bill
        .signed
        .peek()
        .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("notice.bill: {e}")))?;
    let scope = journal::scope(&claimed_bill.tenant, &claimed_bill.account);
    if let Some(done) = replay(&app, &claimed, &req.notice.body)? {
        return reply_ok(&app.signed(&done));
    }
    if let Some(tag) = claimed_bill.basket {
        return Err(WireError::field(
            "notice.bill.basket",
            format!(
                "bill {} is one of a basket of {}: it is settled only with the basket's other bills",
                claimed_bill.bill_id, tag.size
            ),
        ));
    }
    let entry = match admissible(&app, &req.notice, &claimed_bill).await {
        Ok(entry) => entry,
        // Refused on this view: refused only if the account's latest state has not settled
        // it already (a view behind must never make paygate void settled money).
        Err(e) => {
            app.journal.settled_view(&scope).await?;
            return match replay(&app, &claimed, &req.notice.body)? {
                Some(done) => reply_ok(&app.signed(&done)),
                None => Err(e),
            };
        }
    };
    let Entry::Settled { settlement, .. } = &entry else {
        return Err(super::internal("a settlement entry that is not one"));
    };
    let bill_id = settlement.receipt.bill_id;
    app.journal
        .write(&scope, &journal::settle_id(claimed.payment_id), || {
            if replay(&app, &claimed, &req.notice.body)?.is_some() {
                return Ok(None);
            }
            conflicts(&app, bill_id, &entry)?;
            Ok(Some(entry.clone()))
        })
        .await?;
    let settled = replay(&app, &claimed, &req.notice.body)?
        .ok_or_else(|| super::internal("a settlement the journal took is not in the view"))?;
    tracing::info!(payment = %settled.payment_id, bill = %settled.bill_id, amount = %settled.total, "settled");
    reply_ok(&app.signed(&settled))
}

/// The notice verified (paygate's signature, the fee-engine's on the bill inside) and within
/// the rules that do not depend on the books: the entry that would settle it.
pub(super) async fn admissible(
    app: &App,
    signed: &Signed,
    claimed: &Bill,
) -> Result<Entry, WireError> {
    let notice: SettlementNotice = app
        .keys
        .verify_owned(Purpose::Settlement, signed, |_| Role::Paygate.as_str())
        .await
        .map_err(|e| super::signature("settlement notice", e))?;
    let bill: Bill = app
        .keys
        .verify_bill(&notice.bill.signed)
        .await
        .map_err(|e| super::signature("bill", e))?;
    if &bill != claimed {
        return Err(WireError::field("notice.bill", "does not read as signed"));
    }
    check(app, &notice, &bill)?;
    Ok(settled_entry(app, &notice, &bill, &signed.body))
}

/// The journal entry that settles `bill` with `notice`: the receipt, the months it pays, the
/// event it publishes.
fn settled_entry(app: &App, notice: &SettlementNotice, bill: &Bill, body: &[u8]) -> Entry {
    let now = app.clock.now();
    let receipt = Receipt::of_bill(notice.payment_id, bill, now);
    let event = Event::new(
        EventId::keyed(
            &app.event_key,
            "payment.settled",
            notice.payment_id.0.as_bytes(),
        ),
        now,
        EventBody::PaymentSettled(PaymentSettled {
            payment_id: notice.payment_id,
            bill_id: bill.bill_id,
            tenant: bill.tenant.clone(),
            account: bill.account.clone(),
            terminal: bill.terminal.clone(),
            payer: notice.payer.clone(),
            amount: bill.total,
            settled_at: now,
            receipt: Some(Box::new(app.signed(&receipt))),
        }),
    );
    let mut periods: Vec<Vec<u8>> = bill
        .lines
        .iter()
        .filter(|l| l.amount != Fen::ZERO)
        .flat_map(|l| month_keys(&bill.tenant, &bill.account, l))
        .collect();
    periods.sort();
    periods.dedup();
    Entry::Settled {
        settlement: Settlement {
            receipt,
            payer: notice.payer.clone(),
            notice_body: body.to_vec(),
            refunded: Fen::ZERO,
        },
        periods: periods
            .into_iter()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
        writer: app.me,
        event,
    }
}

/// Whether the account's books, as the view has them, let this bill be settled.
pub(super) fn conflicts(app: &App, bill: BillId, entry: &Entry) -> Result<(), WireError> {
    let Entry::Settled { periods, .. } = entry else {
        return Ok(());
    };
    let s = &app.store;
    let bill_key = bill.0.as_bytes();
    let refuse = |c| Err(refusal(bill, c));
    if let Some(other) = s.bills_paid.get(bill_key).map_err(super::internal)? {
        return refuse(Conflict::BillPaid(other.to_vec()));
    }
    if let Some(why) = s.bills_closed.get(bill_key).map_err(super::internal)? {
        return refuse(Conflict::Closed(String::from_utf8_lossy(&why).to_string()));
    }
    for p in periods {
        if let Some(other) = s.periods.get(p).map_err(super::internal)? {
            if other.as_ref() != bill_key {
                return refuse(Conflict::PeriodPaid(
                    String::from_utf8_lossy(p).replace('\0', " "),
                ));
            }
        }
    }
    Ok(())
}

/// Why the bill cannot be settled by this payment.
enum Conflict {
    BillPaid(Vec<u8>),
    Closed(String),
    PeriodPaid(String),
}

fn refusal(bill: posfee_schemas::ids::BillId, conflict: Conflict) -> WireError {
    match conflict {
        Conflict::BillPaid(other) => WireError::new(
            ErrorCode::BillAlreadyPaid,
            format!(
                "bill {bill} was already settled by payment {}",
                uuid_text(&other)
            ),
        ),
        Conflict::Closed(why) => WireError::new(
            ErrorCode::PairingGone,
            format!("bill {bill} was closed at the kiosk ({why}); nothing was paid"),
        ),
        Conflict::PeriodPaid(what) => WireError::new(
            ErrorCode::BillAlreadyPaid,
            format!("{what} was already paid by another bill"),
        ),
    }
}

fn uuid_text(bytes: &[u8]) -> String {
    uuid::Uuid::from_slice(bytes)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The first answer for this payment id, if it was settled; a 409 if the id came back with a
/// different notice.
pub(super) fn replay(
    app: &App,
    notice: &SettlementNotice,
    body: &[u8],
) -> Result<Option<Receipt>, WireError> {
    let Some(raw) = app
        .store
        .settlements
        .get(notice.payment_id.0.as_bytes())
        .map_err(super::internal)?
    else {
        return Ok(None);
    };
    let done: Settlement = decode(&raw).map_err(super::internal)?;
    if done.notice_body != body {
        return Err(WireError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "payment {} was settled with another notice",
                notice.payment_id
            ),
        ));
    }
    Ok(Some(done.receipt))
}

/// What must hold before money may be settled against the bill.
fn check(app: &App, notice: &SettlementNotice, bill: &Bill) -> Result<(), WireError> {
    if notice.bill.bill_id != bill.bill_id {
        return Err(WireError::field(
            "notice.bill.bill_id",
            "does not match the signed bill",
        ));
    }
    if notice.amount != bill.total {
        return Err(WireError::new(
            ErrorCode::AmountMismatch,
            format!(
                "notice carries {} but bill {} totals {}",
                notice.amount, bill.bill_id, bill.total
            ),
        ));
    }
    if notice.amount.fen <= Fen::ZERO {
        return Err(WireError::field("amount", "must be above zero"));
    }
    let now = app.clock.now();
    if notice.authorized_at > bill.expires_at
        || now > bill.expires_at + chrono::Duration::seconds(SETTLE_GRACE_SECS)
    {
        return Err(WireError::new(
            ErrorCode::BillExpired,
            format!("bill {} expired at {}", bill.bill_id, bill.expires_at),
        ));
    }
    Ok(())
}
