//! `posfee.ledger.settle`: settle a bill exactly once, durably, before answering.
//!
//! The notice must be signed by paygate and carry a bill signed by the fee-engine; the amount
//! must be the bill's total, the bill must not have expired before the money was held, and
//! neither the bill nor any period it bills may have been settled by another payment. The
//! settlement, its double-entry postings, the `payment.settled` event and the terminal's
//! receipt are one sled transaction, flushed (group commit) before the answer. A retry with
//! the same payment id gets the first answer.

use crate::app::{App, SETTLE_GRACE_SECS};
use crate::store::{month_keys, tenant_account, Posting, Settlement, CLEARING_ACCOUNT};
use posfee_runtime::once::Abort;
use posfee_runtime::outbox::Outbox;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{Event, EventBody, PaymentSettled};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::EventId;
use posfee_schemas::ledger::{Receipt, SettleRequest, SettlementNotice};
use posfee_schemas::money::Fen;
use posfee_schemas::{decode, encode, subjects, ErrorCode, WireError};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: SettleRequest = decode_request(&msg.payload)?;
    // An answer given once is given again, before anything else is checked: the keys that
    // verified it may have been rotated out since, and a refusal now would make paygate void
    // money the ledger already settled.
    let claimed: SettlementNotice = req
        .notice
        .peek()
        .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("notice: {e}")))?;
    record(Field::Payment, &claimed.payment_id);
    record(Field::Bill, &claimed.bill.bill_id);
    let once = app.once();
    if let Some(done) = once
        .replayed(replay(&app, &claimed, &req.notice.body))
        .await?
    {
        return reply_ok(&done);
    }
    let notice: SettlementNotice = app
        .settlement_keys
        .verify(&req.notice)
        .await
        .map_err(|e| super::signature("settlement notice", e))?;
    let bill: Bill = app
        .bill_keys
        .verify_bill(&notice.bill.signed)
        .await
        .map_err(|e| super::signature("bill", e))?;

    check(&app, &notice, &bill)?;

    let now = app.clock.now();
    let receipt = Receipt {
        payment_id: notice.payment_id,
        bill_id: bill.bill_id,
        tenant: bill.tenant.clone(),
        tenant_name: bill.tenant_name.clone(),
        account: bill.account.clone(),
        terminal: bill.terminal.clone(),
        lines: bill.lines.clone(),
        total: bill.total,
        settled_at: now,
        tenant_name_zh: bill.tenant_name_zh.clone(),
    };
    let settlement = Settlement {
        receipt: receipt.clone(),
        payer: notice.payer.clone(),
        notice_body: req.notice.body.clone(),
        refunded: Fen::ZERO,
    };
    let event = Event::new(
        EventId::derived("payment.settled", notice.payment_id.0.as_bytes()),
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
        }),
    );
    let entry = notice.payment_id.to_string();
    let postings = [
        Posting {
            entry: entry.clone(),
            account: CLEARING_ACCOUNT.to_string(),
            fen: bill.total.fen.get(),
        },
        Posting {
            entry,
            account: tenant_account(&bill.tenant),
            fen: -bill.total.fen.get(),
        },
    ];
    let mut legs = Vec::with_capacity(postings.len());
    for leg in postings {
        let key = app.store.db.generate_id().map_err(super::internal)?;
        legs.push((key.to_be_bytes(), leg));
    }
    let event_key = app.outbox.next_key().map_err(super::internal)?;
    let receipt_key = app.outbox.next_key().map_err(super::internal)?;
    let payment_key = notice.payment_id.0.as_bytes().to_vec();
    let bill_key = bill.bill_id.0.as_bytes().to_vec();
    let mut periods: Vec<Vec<u8>> = bill
        .lines
        .iter()
        .filter(|l| l.amount != Fen::ZERO)
        .flat_map(|l| month_keys(&bill.tenant, &bill.account, l))
        .collect();
    periods.sort();
    periods.dedup();
    let settlement_bytes = encode(&settlement);
    let receipt_bytes = encode(&receipt);

    let s = &app.store;
    let result = (
        &s.settlements,
        &s.bills_paid,
        &s.bills_closed,
        &s.periods,
        &s.postings,
        &s.balances,
        app.outbox.tree(),
    )
        .transaction(
            |(settlements, bills_paid, bills_closed, periods_t, postings_t, balances, outbox)| {
                let refuse = |c| ConflictableTransactionError::Abort(Abort::Refused(c));
                if settlements.get(&payment_key)?.is_some() {
                    // A concurrent retry of this payment won the race; the caller replays it.
                    return Err(ConflictableTransactionError::Abort(Abort::Taken));
                }
                if let Some(other) = bills_paid.get(&bill_key)? {
                    return Err(refuse(Conflict::BillPaid(other.to_vec())));
                }
                if let Some(why) = bills_closed.get(&bill_key)? {
                    return Err(refuse(Conflict::Closed(
                        String::from_utf8_lossy(&why).to_string(),
                    )));
                }
                for p in &periods {
                    if let Some(other) = periods_t.get(p)? {
                        if other.as_ref() != bill_key.as_slice() {
                            return Err(refuse(Conflict::PeriodPaid(
                                String::from_utf8_lossy(p).replace('\0', " "),
                            )));
                        }
                    }
                }
                settlements.insert(payment_key.as_slice(), settlement_bytes.as_slice())?;
                bills_paid.insert(bill_key.as_slice(), payment_key.as_slice())?;
                for p in &periods {
                    periods_t.insert(p.as_slice(), bill_key.as_slice())?;
                }
                crate::store::post(postings_t, balances, &legs)?;
                Outbox::stage(outbox, event_key, &event)?;
                Outbox::stage_message(
                    outbox,
                    receipt_key,
                    subjects::receipt(&receipt.terminal),
                    receipt_bytes.clone(),
                )?;
                Ok(())
            },
        );
    let bill_id = bill.bill_id;
    let settled = once
        .finish(
            result.map(|()| receipt),
            &[event_key, receipt_key],
            || replay(&app, &notice, &req.notice.body),
            |conflict| refusal(bill_id, conflict),
        )
        .await?;
    tracing::info!(payment = %notice.payment_id, bill = %bill.bill_id, amount = %bill.total, "settled");
    reply_ok(&settled)
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
fn replay(app: &App, notice: &SettlementNotice, body: &[u8]) -> Result<Option<Receipt>, WireError> {
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
