//! Moving money: authorize (hold), then settle at the ledger, then capture — or void.
//!
//! The hold is durable before the ledger is asked, and the ledger's answer is durable before
//! the payer is told. A payment left authorized by a crash or a silent ledger is driven again
//! by the recovery loop with the same signed notice, which the ledger answers idempotently, so
//! it ends captured exactly once or voided, never both and never lost.

use crate::app::{App, SETTLE_CALL_TIMEOUT_MS, SETTLE_DEADLINE_MS, SETTLE_RETRY_MS};
use crate::store::{Payer, Payment, Refusal};
use posfee_client::{call, CallError};
use posfee_runtime::outbox::Outbox;
use posfee_schemas::events::{Event, EventBody, PaymentAuthorized, PaymentVoided};
use posfee_schemas::ids::{EventId, PaymentId};
use posfee_schemas::ledger::{Receipt, SettleRequest, SettlementNotice};
use posfee_schemas::money::MoneyError;
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, LedgerOp};
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::time::Duration;

/// The tree of payments still authorized, so recovery never scans settled history.
pub const PENDING_TREE: &str = "pending";

/// Holds the amount on the payer's balance and records the payment as authorized.
pub async fn authorize(app: &App, id: PaymentId, payment: &Payment) -> Result<(), WireError> {
    let pending = app
        .store
        .db
        .open_tree(PENDING_TREE)
        .map_err(super_internal)?;
    let payer_key = payment.payer.as_str().as_bytes().to_vec();
    let payment_key = id.0.as_bytes().to_vec();
    let payment_bytes = encode(payment);
    let event_key = app.outbox.next_key().map_err(super_internal)?;
    let event = Event::new(
        EventId::derived("payment.authorized", id.0.as_bytes()),
        payment.authorized_at,
        EventBody::PaymentAuthorized(PaymentAuthorized {
            payment_id: id,
            bill_id: payment.bill_id,
            payer: payment.payer.clone(),
            amount: payment.amount,
        }),
    );
    let amount = payment.amount.fen;
    let s = &app.store;
    let result = (&s.payers, &s.payments, &pending, app.outbox.tree()).transaction(
        |(payers, payments, pending, outbox)| {
            if payments.get(&payment_key)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Hold::Exists));
            }
            let raw = payers
                .get(&payer_key)?
                .ok_or(ConflictableTransactionError::Abort(Hold::NoPayer))?;
            let mut payer: Payer =
                decode(&raw).map_err(|_| ConflictableTransactionError::Abort(Hold::NoPayer))?;
            if payer.balance < amount {
                return Err(ConflictableTransactionError::Abort(Hold::Funds(
                    payer.balance,
                )));
            }
            // Checked: a balance that would overflow is refused, never wrapped.
            let overflow = |_| ConflictableTransactionError::Abort(Hold::Overflow);
            payer.balance = payer.balance.checked_sub(amount).map_err(overflow)?;
            payer.held = payer.held.checked_add(amount).map_err(overflow)?;
            payers.insert(payer_key.as_slice(), encode(&payer))?;
            payments.insert(payment_key.as_slice(), payment_bytes.as_slice())?;
            pending.insert(payment_key.as_slice(), &[])?;
            Outbox::stage(outbox, event_key, &event)?;
            Ok(())
        },
    );
    match result {
        Ok(()) | Err(TransactionError::Abort(Hold::Exists)) => {}
        Err(TransactionError::Abort(Hold::Overflow)) => {
            return Err(super_internal("the payer's balance would overflow"))
        }
        Err(TransactionError::Abort(Hold::NoPayer)) => {
            return Err(WireError::new(
                ErrorCode::PayerNotFound,
                "the payer is not registered",
            ))
        }
        Err(TransactionError::Abort(Hold::Funds(balance))) => {
            return Err(WireError::new(
                ErrorCode::InsufficientFunds,
                format!("balance {balance} is less than {}", payment.amount),
            ))
        }
        Err(TransactionError::Storage(e)) => return Err(super_internal(e)),
    }
    app.commit.commit().await.map_err(super_internal)?;
    app.outbox.committed(&[event_key]);
    Ok(())
}

enum Hold {
    Exists,
    NoPayer,
    Overflow,
    Funds(posfee_schemas::money::Fen),
}

/// Asks the ledger to settle an authorized payment until it answers or `deadline_ms` passes,
/// then captures or voids. Returns the receipt, the ledger's refusal, or 503 if the ledger
/// could not be reached in time (the payment stays authorized for the recovery loop).
pub async fn drive(app: &App, id: PaymentId, deadline_ms: u64) -> Result<Receipt, WireError> {
    let payment = load(app, id)?;
    match payment.state {
        PaymentState::Captured => {
            return payment
                .receipt
                .ok_or_else(|| super_internal("captured payment without receipt"))
        }
        PaymentState::Voided => return Err(refusal_error(payment.refusal.as_ref())),
        PaymentState::Authorized => {}
    }
    let notice = SettlementNotice {
        payment_id: id,
        payer: payment.payer.clone(),
        amount: payment.amount,
        bill: payment.bill.clone(),
        authorized_at: payment.authorized_at,
    };
    // Deterministic: the same payment always sends the same bytes and signature, so the
    // ledger can tell a retry from a different notice.
    let req = SettleRequest {
        notice: Signed::sign(Purpose::Settlement, &notice, &app.key_id, &app.key),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(deadline_ms);
    loop {
        let answer: Result<Receipt, CallError> = call(
            &app.client,
            subjects::ledger(LedgerOp::Settle),
            &req,
            Some(Duration::from_millis(SETTLE_CALL_TIMEOUT_MS)),
        )
        .await;
        match answer {
            Ok(receipt) => {
                capture(app, id, &receipt).await?;
                return Ok(receipt);
            }
            Err(CallError::Remote(e)) if refuses_for_good(e.code) => {
                void(app, id, &e).await?;
                return Err(e);
            }
            Err(e) => {
                if tokio::time::Instant::now() >= deadline {
                    tracing::warn!(payment = %id, error = %e, "ledger unreachable; payment stays authorized");
                    return Err(WireError::new(
                        ErrorCode::Unavailable,
                        format!(
                            "settlement of payment {id} is pending; retry with the same payment id"
                        ),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(SETTLE_RETRY_MS)).await;
            }
        }
    }
}

/// The ledger's answers that mean it will never settle this payment, so the hold is released
/// (`PAIRING_GONE`: the kiosk closed the bill before it was settled).
/// Anything else (a key it cannot find, a notice it cannot read, an idempotency conflict) may
/// hide a settlement it already made: the payment stays authorized, is retried, and shows in
/// `posfee reconcile` as stuck if it never resolves — never voided on a guess.
fn refuses_for_good(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::BillExpired
            | ErrorCode::BillAlreadyPaid
            | ErrorCode::AmountMismatch
            | ErrorCode::InvalidField
            | ErrorCode::RuleViolation
            | ErrorCode::PairingGone
    )
}

/// Drives the payment within the request's deadline.
pub async fn drive_for_request(app: &App, id: PaymentId) -> Result<Receipt, WireError> {
    drive(app, id, SETTLE_DEADLINE_MS).await
}

async fn capture(app: &App, id: PaymentId, receipt: &Receipt) -> Result<(), WireError> {
    finish(app, id, |payment, payer| {
        payment.state = PaymentState::Captured;
        payment.receipt = Some(receipt.clone());
        payer.held = payer.held.checked_sub(payment.amount.fen)?;
        Ok(None)
    })
    .await
}

async fn void(app: &App, id: PaymentId, why: &WireError) -> Result<(), WireError> {
    let event_key = app.outbox.next_key().map_err(super_internal)?;
    let now = app.clock.now();
    finish(app, id, move |payment, payer| {
        payment.state = PaymentState::Voided;
        payment.refusal = Some(Refusal::from(why));
        payer.held = payer.held.checked_sub(payment.amount.fen)?;
        payer.balance = payer.balance.checked_add(payment.amount.fen)?;
        Ok(Some((
            event_key,
            Event::new(
                EventId::derived("payment.voided", id.0.as_bytes()),
                now,
                EventBody::PaymentVoided(PaymentVoided {
                    payment_id: id,
                    bill_id: payment.bill_id,
                    reason: why.code.name().to_string(),
                }),
            ),
        )))
    })
    .await
}

/// Moves an authorized payment to its final state and releases or spends the hold, in one
/// transaction, flushed. A payment already final is left as it is.
async fn finish<F>(app: &App, id: PaymentId, change: F) -> Result<(), WireError>
where
    F: Fn(&mut Payment, &mut Payer) -> Result<Option<([u8; 8], Event)>, MoneyError>,
{
    let pending = app
        .store
        .db
        .open_tree(PENDING_TREE)
        .map_err(super_internal)?;
    let payment_key = id.0.as_bytes().to_vec();
    let s = &app.store;
    let result = (&s.payers, &s.payments, &pending, app.outbox.tree()).transaction(
        |(payers, payments, pending, outbox)| {
            let raw = payments
                .get(&payment_key)?
                .ok_or(ConflictableTransactionError::Abort(()))?;
            let mut payment: Payment =
                decode(&raw).map_err(|_| ConflictableTransactionError::Abort(()))?;
            if payment.state != PaymentState::Authorized {
                return Ok(());
            }
            let payer_key = payment.payer.as_str().as_bytes().to_vec();
            let raw = payers
                .get(&payer_key)?
                .ok_or(ConflictableTransactionError::Abort(()))?;
            let mut payer: Payer =
                decode(&raw).map_err(|_| ConflictableTransactionError::Abort(()))?;
            let staged = change(&mut payment, &mut payer)
                .map_err(|_| ConflictableTransactionError::Abort(()))?;
            if let Some((key, event)) = staged {
                Outbox::stage(outbox, key, &event)?;
            }
            payers.insert(payer_key.as_slice(), encode(&payer))?;
            payments.insert(payment_key.as_slice(), encode(&payment))?;
            pending.remove(payment_key.as_slice())?;
            Ok(())
        },
    );
    match result {
        Ok(()) => {}
        Err(TransactionError::Abort(())) => {
            return Err(super_internal(
                "payment record unreadable or its amounts would overflow",
            ))
        }
        Err(TransactionError::Storage(e)) => return Err(super_internal(e)),
    }
    app.commit.commit().await.map_err(super_internal)?;
    app.outbox.notify();
    Ok(())
}

pub fn load(app: &App, id: PaymentId) -> Result<Payment, WireError> {
    let raw = app
        .store
        .payments
        .get(id.0.as_bytes())
        .map_err(super_internal)?
        .ok_or_else(|| WireError::new(ErrorCode::PaymentNotFound, format!("no payment {id}")))?;
    decode(&raw).map_err(super_internal)
}

/// The error a voided payment answers with on every retry.
pub fn refusal_error(r: Option<&Refusal>) -> WireError {
    match r {
        Some(r) => WireError::new(
            ErrorCode::from_name(&r.code).unwrap_or(ErrorCode::RuleViolation),
            r.message.clone(),
        ),
        None => WireError::new(ErrorCode::PaymentStateConflict, "the payment was voided"),
    }
}

/// Finishes payments left authorized, until shutdown. The first pass runs at start, so holds
/// a stopped system left behind are finished (or reported stuck) at once, not an interval
/// after paygate came back.
pub async fn recover(app: std::sync::Arc<App>, shutdown: posfee_client::Shutdown) {
    let interval = Duration::from_millis(crate::app::RECOVERY_INTERVAL_MS);
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        let pass_started = app.clock.now();
        let Ok(pending) = app.store.db.open_tree(PENDING_TREE) else {
            continue;
        };
        let ids: Vec<PaymentId> = pending
            .iter()
            .keys()
            .filter_map(|k| k.ok())
            .filter_map(|k| uuid::Uuid::from_slice(&k).ok().map(PaymentId))
            .collect();
        for id in ids {
            let lock = app.payment_lock(id);
            // A payment a request is driving right now is not ours to drive.
            let Ok(_guard) = lock.try_lock() else {
                continue;
            };
            let span = tracing::info_span!("recover", payment = %id);
            let driven =
                tracing::Instrument::instrument(drive(&app, id, SETTLE_CALL_TIMEOUT_MS), span);
            match driven.await {
                Ok(_) => tracing::info!(payment = %id, "recovered: captured"),
                Err(e) if e.code == ErrorCode::Unavailable => {}
                Err(e) => tracing::info!(payment = %id, code = e.code.name(), "recovered: voided"),
            }
        }
        if let Ok(mut through) = app.recovered_through.lock() {
            *through = Some(pass_started);
        }
    }
}

fn super_internal(e: impl std::fmt::Display) -> WireError {
    crate::ops::internal(e)
}
