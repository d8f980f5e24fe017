//! Moving money: authorize (hold), then settle at the ledger, then capture — or void.
//!
//! The hold is in the payer's replicated journal (on a majority of the cluster) before the
//! ledger is asked. The ledger's settlement is in its own journal before it answers, and is
//! the record of the capture: every instance's view captures the payment from the ledger's
//! `payment.settled` event ([`crate::feed`]), and the request answers once its own view has
//! (or, if the event is slow to come or the feed has gone silent, once it journaled the
//! capture itself). A refusal is journaled as a void before the payer is told. A payment left
//! authorized by a crash or a silent ledger is driven again by the recovery loop with the same
//! signed notice, which the ledger answers idempotently, so it ends captured exactly once or
//! voided, never both and never lost.

use crate::app::{
    App, CAPTURE_QUIET_MS, CAPTURE_WAIT_MS, SETTLE_CALL_TIMEOUT_MS, SETTLE_DEADLINE_MS,
    SETTLE_RETRY_MS,
};
use crate::journal::{self, Entry};
use crate::store::{BasketOf, Payer, Payment, Refusal};
use posfee_client::{call_resending, CallError};
use posfee_schemas::events::{Event, EventBody, PairingEnded, PaymentAuthorized, PaymentVoided};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::{EventId, PayerHandle, PaymentId};
use posfee_schemas::ledger::{Receipt, SettleRequest, SettlementNotice, SignedReceipt};
use posfee_schemas::money::Fen;
use posfee_schemas::pairing::PairingShown;
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::signed::{Purpose, Signed};
use posfee_schemas::subjects::{self, LedgerOp};
use posfee_schemas::{decode, ErrorCode, WireError};
use std::time::Duration;

/// A hold younger than this is left to the request driving it; the recovery loop takes the
/// older ones (left by a crash, a timeout, or an instance that went away).
pub const RECOVERY_MIN_AGE_MS: i64 = 3_000;

/// Holds the amount on the payer's balance and records the payment as authorized, in the
/// payer's journal scope: the balance is checked on the payer's latest state, whichever
/// instance holds money for them. A payment already recorded (a concurrent twin) is left to
/// the caller, which drives it.
pub async fn authorize(
    app: &App,
    id: PaymentId,
    payment: &Payment,
    pairing: Option<Event>,
) -> Result<(), WireError> {
    let entry = Entry::Authorized {
        id,
        payment: Box::new(payment.clone()),
        writer: app.me,
        event: authorized_event(app, id, payment),
        pairing,
    };
    let scope = journal::payer_scope(&payment.payer);
    app.journal
        .write(&scope, &format!("authorize:{id}"), || {
            if app
                .store
                .payments
                .contains_key(id.0.as_bytes())
                .map_err(super_internal)?
            {
                return Ok(None);
            }
            can_hold(app, &payment.payer, payment.amount.fen)?;
            Ok(Some(entry.clone()))
        })
        .await?;
    Ok(())
}

/// The `pairing.joined` a hold carries (since contract 0.5.0): the kiosk's pairing of `bills`
/// as its offer told the phone, which handed it on (`PayRequest.pairing`). Its id is derived
/// from the first bill, the same wherever the pairing is told (a close too).
pub fn joined_event(
    shown: Option<PairingShown>,
    bills: &[&Bill],
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Event> {
    let (shown, first) = (shown?, bills.first()?);
    Some(Event::new(
        EventId::derived("pairing", first.bill_id.0.as_bytes()),
        at,
        EventBody::PairingJoined(PairingEnded {
            terminal: first.terminal.clone(),
            bill_id: first.bill_id,
            mode: shown.mode,
            opened_at: shown.opened_at,
            expires_at: shown.expires_at,
            more_bills: bills[1..].iter().map(|b| b.bill_id).collect(),
        }),
    ))
}

fn authorized_event(app: &App, id: PaymentId, payment: &Payment) -> Event {
    Event::new(
        EventId::keyed(&app.event_key, "payment.authorized", id.0.as_bytes()),
        payment.authorized_at,
        EventBody::PaymentAuthorized(PaymentAuthorized {
            payment_id: id,
            bill_id: payment.bill_id,
            payer: payment.payer_at_biller().clone(),
            amount: payment.amount,
        }),
    )
}

/// Whether the payer's balance, as this view has it, can hold `amount` more.
fn can_hold(app: &App, handle: &PayerHandle, amount: Fen) -> Result<(), WireError> {
    let payer: Payer = match app
        .store
        .payers
        .get(handle.as_str().as_bytes())
        .map_err(super_internal)?
    {
        Some(raw) => decode(&raw).map_err(super_internal)?,
        None => {
            return Err(WireError::new(
                ErrorCode::PayerNotFound,
                "the payer is not registered",
            ))
        }
    };
    if payer.balance < amount {
        return Err(WireError::new(
            ErrorCode::InsufficientFunds,
            format!("balance {} is less than {}", payer.balance, amount),
        ));
    }
    if payer.held.checked_add(amount).is_err() {
        return Err(super_internal("the payer's balance would overflow"));
    }
    Ok(())
}

/// [`authorize`] for a basket: every bill's payment held in one journal entry, the balance
/// checked against their total. A basket already recorded is left to the caller.
pub async fn authorize_all(
    app: &App,
    basket: &BasketOf,
    payments: &[Payment],
    pairing: Option<Event>,
) -> Result<(), WireError> {
    let parts: Vec<(PaymentId, Payment)> = basket
        .parts
        .iter()
        .copied()
        .zip(payments.iter().cloned())
        .collect();
    let events = parts
        .iter()
        .map(|(id, p)| authorized_event(app, *id, p))
        .collect();
    let entry = Entry::AuthorizedAll {
        payments: parts,
        writer: app.me,
        events,
        pairing,
    };
    let total = payments
        .iter()
        .try_fold(Fen::ZERO, |t, p| t.checked_add(p.amount.fen))
        .map_err(super_internal)?;
    let payer = &payments[0].payer;
    app.journal
        .write(
            &journal::payer_scope(payer),
            &format!("authorize-basket:{}", basket.id),
            || {
                // Any bill's payment id taken already (by this basket, or by another payment
                // that took the id first): nothing to write; the caller sees whose it is.
                for part in &basket.parts {
                    if app
                        .store
                        .payments
                        .contains_key(part.0.as_bytes())
                        .map_err(super_internal)?
                    {
                        return Ok(None);
                    }
                }
                can_hold(app, payer, total)?;
                Ok(Some(entry.clone()))
            },
        )
        .await?;
    Ok(())
}

/// Asks the ledger to settle an authorized payment until it answers or `deadline_ms` passes,
/// then captures (waiting up to `capture_wait` for the view to capture it from the ledger's
/// event) or voids. Returns the receipt, the ledger's refusal, or 503 if the ledger could not
/// be reached in time (the payment stays authorized for the recovery loop). A bill of a basket
/// is driven with its whole basket, never alone.
pub async fn drive(
    app: &App,
    id: PaymentId,
    deadline_ms: u64,
    capture_wait: Duration,
) -> Result<SignedReceipt, WireError> {
    let payment = load(app, id)?;
    if let Some(basket) = &payment.basket {
        let receipts = drive_basket(app, basket, deadline_ms, capture_wait).await?;
        let index = basket.parts.iter().position(|p| *p == id);
        return index
            .and_then(|i| receipts.into_iter().nth(i))
            .ok_or_else(|| super_internal(format!("payment {id} is not a part of its basket")));
    }
    match payment.state {
        // Captured before the ledger signed receipts: asked again below, for its signature.
        PaymentState::Captured => {
            if let Some(r) = payment.signed_receipt {
                return Ok(r);
            }
        }
        PaymentState::Voided => return Err(refusal_error(payment.refusal.as_ref())),
        PaymentState::Authorized => {}
    }
    let req = SettleRequest {
        notice: notice(app, id, &payment, None),
        more: Vec::new(),
    };
    let subject = subjects::ledger(LedgerOp::Settle);
    match ask_ledger::<SignedReceipt>(app, (subject, &req), id, deadline_ms).await? {
        Ok(receipt) => {
            if !captured_by_feed(app, id, capture_wait).await? {
                capture(app, id, &receipt).await?;
            }
            Ok(receipt)
        }
        Err(e) => {
            void(app, id, &e).await?;
            Err(e)
        }
    }
}

/// [`drive`] for a basket: one request settles every bill or none; then each bill is
/// captured, or every hold released at once. The receipts come in the basket's order.
pub async fn drive_basket(
    app: &App,
    basket: &BasketOf,
    deadline_ms: u64,
    capture_wait: Duration,
) -> Result<Vec<SignedReceipt>, WireError> {
    let parts = basket
        .parts
        .iter()
        .map(|id| load(app, *id))
        .collect::<Result<Vec<_>, _>>()?;
    if parts.iter().any(|p| p.basket.as_ref() != Some(basket)) {
        return Err(super_internal(format!(
            "basket {}: a bill's payment id holds another payment",
            basket.id
        )));
    }
    if let Some(voided) = parts.iter().find(|p| p.state == PaymentState::Voided) {
        return Err(refusal_error(voided.refusal.as_ref()));
    }
    let kept: Option<Vec<SignedReceipt>> = parts.iter().map(|p| p.signed_receipt.clone()).collect();
    if let Some(receipts) = kept {
        return Ok(receipts);
    }
    let mut notices = basket
        .parts
        .iter()
        .zip(&parts)
        .map(|(id, p)| notice(app, *id, p, Some(basket.id)));
    let req = SettleRequest {
        notice: notices
            .next()
            .ok_or_else(|| super_internal("a basket without bills"))?,
        more: notices.collect(),
    };
    let subject = subjects::ledger(LedgerOp::SettleBasket);
    match ask_ledger::<Vec<SignedReceipt>>(app, (subject, &req), basket.id, deadline_ms).await? {
        Ok(receipts) if receipts.len() == basket.parts.len() => {
            for (id, receipt) in basket.parts.iter().zip(&receipts) {
                if !captured_by_feed(app, *id, capture_wait).await? {
                    capture(app, *id, receipt).await?;
                }
            }
            Ok(receipts)
        }
        Ok(receipts) => Err(super_internal(format!(
            "the ledger answered a basket of {} bills with {} receipts",
            basket.parts.len(),
            receipts.len()
        ))),
        Err(e) => {
            void_all(app, basket, &e).await?;
            Err(e)
        }
    }
}

/// The settlement notice of one payment, signed. Deterministic: the same payment always sends
/// the same bytes and signature, so the ledger can tell a retry from a different notice.
fn notice(app: &App, id: PaymentId, payment: &Payment, basket: Option<PaymentId>) -> Signed {
    let notice = SettlementNotice {
        payment_id: id,
        payer: payment.payer_at_biller().clone(),
        amount: payment.amount,
        bill: payment.bill.clone(),
        authorized_at: payment.authorized_at,
        basket,
    };
    Signed::sign(Purpose::Settlement, &notice, &app.key_id, &app.key)
}

/// Asks the ledger to settle until it answers or `deadline_ms` passes: `Ok(Ok(answer))`
/// settled, `Ok(Err(refusal))` refused for good (release the hold), `Err` 503 when the ledger
/// could not be reached in time (the hold stays for the recovery loop).
async fn ask_ledger<T: serde::de::DeserializeOwned>(
    app: &App,
    (subject, req): (String, &SettleRequest),
    id: PaymentId,
    deadline_ms: u64,
) -> Result<Result<T, WireError>, WireError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(deadline_ms);
    loop {
        let answer: Result<T, CallError> = call_resending(
            &app.client,
            subject.clone(),
            req,
            Some(Duration::from_millis(SETTLE_CALL_TIMEOUT_MS)),
        )
        .await;
        match answer {
            Ok(answer) => return Ok(Ok(answer)),
            Err(CallError::Remote(e)) if refuses_for_good(e.code) => return Ok(Err(e)),
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
pub async fn drive_for_request(app: &App, id: PaymentId) -> Result<SignedReceipt, WireError> {
    let wait = Duration::from_millis(CAPTURE_WAIT_MS);
    drive(app, id, SETTLE_DEADLINE_MS, wait).await
}

/// Waits up to `wait` for this instance's view to have the payment final: captured from the
/// ledger's `payment.settled` ([`crate::feed`]). Whether it is.
async fn captured_by_feed(app: &App, id: PaymentId, wait: Duration) -> Result<bool, WireError> {
    let captured = app.captures.waiter(id);
    let quiet = Duration::from_millis(CAPTURE_QUIET_MS);
    let fed = app.feed_applied.clone();
    let done = wait_while_fed(&captured, fed, (wait, quiet), || {
        load(app, id).map(|p| p.state != PaymentState::Authorized)
    })
    .await;
    app.captures.forget(id);
    done
}

/// Waits for `is_final` to hold, looking again each time `captured` is notified, for up to
/// `wait`, but only while the feed moves: a feed that applied nothing for `quiet` (its
/// consumer died with a node and is being made again, which takes an election) is not
/// bringing the capture soon, and the request journals it itself rather than keep the payer
/// waiting. A feed that moves but is behind (a busy moment) is waited for. Whether it holds.
async fn wait_while_fed(
    captured: &tokio::sync::Notify,
    mut fed: tokio::sync::watch::Receiver<u64>,
    (wait, quiet): (Duration, Duration),
    is_final: impl Fn() -> Result<bool, WireError>,
) -> Result<bool, WireError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut silent_at = tokio::time::Instant::now() + quiet;
    fed.mark_unchanged();
    loop {
        let woken = captured.notified();
        if is_final()? {
            return Ok(true);
        }
        tokio::select! {
            _ = woken => {}
            moved = fed.changed() => match moved {
                Ok(()) => silent_at = tokio::time::Instant::now() + quiet,
                // The feed stopped (shutdown): nothing more will come from it.
                Err(_) => break,
            },
            _ = tokio::time::sleep_until(deadline.min(silent_at)) => break,
        }
    }
    // A capture the journal brought (another instance's) wakes nobody: look once more.
    is_final()
}

/// Journals the capture: only when the ledger's event has not reached this view in time.
async fn capture(app: &App, id: PaymentId, signed: &SignedReceipt) -> Result<(), WireError> {
    let receipt: Receipt = signed
        .peek()
        .map_err(|e| super_internal(format!("the ledger's receipt does not read: {e}")))?;
    if receipt.payment_id != id {
        return Err(super_internal(format!(
            "the ledger answered payment {id} with the receipt of {}",
            receipt.payment_id
        )));
    }
    tracing::info!(payment = %id, "capture journaled here: the ledger's event had not reached this view");
    finish(app, id, "capture", || Entry::Captured {
        id,
        receipt: receipt.clone(),
        signed: Some(signed.clone()),
    })
    .await
}

async fn void(app: &App, id: PaymentId, why: &WireError) -> Result<(), WireError> {
    let payment = load(app, id)?;
    let event = voided_event(app, id, &payment, why, app.clock.now());
    finish(app, id, "void", || Entry::Voided {
        id,
        refusal: Refusal::from(why),
        writer: app.me,
        event: event.clone(),
    })
    .await
}

/// Releases every hold of a basket the ledger refused, in one journal entry.
async fn void_all(app: &App, basket: &BasketOf, why: &WireError) -> Result<(), WireError> {
    let payer = load(app, basket.parts[0])?.payer;
    let now = app.clock.now();
    app.journal
        .write(
            &journal::payer_scope(&payer),
            &format!("void-basket:{}", basket.id),
            || {
                let mut ids = Vec::new();
                let mut events = Vec::new();
                for id in &basket.parts {
                    let p = load(app, *id)?;
                    if p.state == PaymentState::Authorized && p.basket.as_ref() == Some(basket) {
                        ids.push(*id);
                        events.push(voided_event(app, *id, &p, why, now));
                    }
                }
                Ok((!ids.is_empty()).then(|| Entry::VoidedAll {
                    ids,
                    refusal: Refusal::from(why),
                    writer: app.me,
                    events,
                }))
            },
        )
        .await?;
    Ok(())
}

fn voided_event(
    app: &App,
    id: PaymentId,
    payment: &Payment,
    why: &WireError,
    at: chrono::DateTime<chrono::Utc>,
) -> Event {
    Event::new(
        EventId::keyed(&app.event_key, "payment.voided", id.0.as_bytes()),
        at,
        EventBody::PaymentVoided(PaymentVoided {
            payment_id: id,
            bill_id: payment.bill_id,
            reason: why.code.name().to_string(),
        }),
    )
}

/// Moves an authorized payment to its final state (the hold spent or released) in the payer's
/// journal scope. A payment already final (another instance finished it) is left as it is.
async fn finish(
    app: &App,
    id: PaymentId,
    what: &str,
    entry: impl Fn() -> Entry,
) -> Result<(), WireError> {
    let payer = load(app, id)?.payer;
    app.journal
        .write(
            &journal::payer_scope(&payer),
            &format!("{what}:{id}"),
            || {
                let current = load(app, id)?;
                Ok((current.state == PaymentState::Authorized).then(&entry))
            },
        )
        .await?;
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
        if !feed_ready(&app).await {
            continue;
        }
        // A hold younger than this is being driven by the request that made it (here or on
        // another instance); older ones are the loop's.
        let pass_started = app.clock.now() - chrono::Duration::milliseconds(RECOVERY_MIN_AGE_MS);
        let ids: Vec<PaymentId> = app
            .store
            .pending
            .iter()
            .keys()
            .filter_map(|k| k.ok())
            .filter_map(|k| uuid::Uuid::from_slice(&k).ok().map(PaymentId))
            .collect();
        // A basket is driven once a pass, whichever of its bills is found first.
        let mut driven = std::collections::HashSet::new();
        for id in ids {
            // A basket's bill is driven with its basket, under the basket's lock.
            let lock_id = match load(&app, id) {
                Ok(p) if p.authorized_at <= pass_started => p.basket.map_or(id, |b| b.id),
                _ => continue,
            };
            if !driven.insert(lock_id) {
                continue;
            }
            let lock = app.payment_lock(lock_id);
            // A payment a request is driving right now is not ours to drive.
            let Ok(_guard) = lock.try_lock() else {
                continue;
            };
            let span = tracing::info_span!("recover", payment = %id);
            // A hold this old is the exception: its capture is journaled, not waited for.
            let driving = drive(&app, id, SETTLE_CALL_TIMEOUT_MS, Duration::ZERO);
            let driven = tracing::Instrument::instrument(driving, span);
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

/// Whether a recovery pass may drive holds now: the ledger feed has applied every settlement
/// the stream holds, or it is stuck (it did not move while waited for). A feed still reading
/// a backlog (a view rebuilt, a restart) will capture those holds itself: the pass waits for
/// the next interval rather than asking the ledger about each of them.
async fn feed_ready(app: &App) -> bool {
    let before = *app.feed_applied.borrow();
    let wait = Duration::from_millis(crate::app::RECOVERY_FEED_WAIT_MS);
    let ledger = posfee_schemas::subjects::LEDGER_JOURNAL;
    if posfee_runtime::feed::caught_up_with_stream(&app.client, ledger, &app.feed_applied, wait)
        .await
    {
        return true;
    }
    *app.feed_applied.borrow() == before
}

fn super_internal(e: impl std::fmt::Display) -> WireError {
    crate::ops::internal(e)
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::sync::{watch, Notify};
    use tokio::time::Instant;

    const WAIT: Duration = Duration::from_secs(5);
    const QUIET: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_capture_ends_the_wait_as_soon_as_it_is_noted() {
        let (captured, final_) = (Arc::new(Notify::new()), Arc::new(AtomicBool::new(false)));
        let (feed, fed) = watch::channel(0u64);
        let (c, f) = (captured.clone(), final_.clone());
        let feeder = tokio::spawn(async move {
            // The feed moves (so silence is not what ends the wait), then captures.
            for seq in 1..=3 {
                feed.send(seq).unwrap();
                tokio::task::yield_now().await;
            }
            f.store(true, Ordering::SeqCst);
            c.notify_one();
            feed
        });
        let started = Instant::now();
        let done = wait_while_fed(&captured, fed, (WAIT, WAIT), || {
            Ok(final_.load(Ordering::SeqCst))
        })
        .await;
        assert!(done.unwrap());
        assert!(started.elapsed() < WAIT / 2, "{:?}", started.elapsed());
        drop(feeder.await.unwrap());
    }

    #[tokio::test]
    async fn a_silent_feed_is_waited_for_only_as_long_as_quiet() {
        let captured = Notify::new();
        let (_feed, fed) = watch::channel(0u64);
        let started = Instant::now();
        let done = wait_while_fed(&captured, fed, (WAIT, QUIET), || Ok(false)).await;
        assert!(!done.unwrap());
        let took = started.elapsed();
        assert!(took >= QUIET && took < WAIT / 2, "{took:?}");
    }

    #[tokio::test]
    async fn a_feed_that_moves_is_waited_for_up_to_the_whole_wait() {
        let captured = Notify::new();
        let (feed, fed) = watch::channel(0u64);
        let wait = QUIET * 4;
        let feeder = tokio::spawn(async move {
            // Moves more often than QUIET, for longer than the wait.
            for seq in 1.. {
                if feed.send(seq).is_err() {
                    return;
                }
                tokio::time::sleep(QUIET / 4).await;
            }
        });
        let started = Instant::now();
        let done = wait_while_fed(&captured, fed, (wait, QUIET), || Ok(false)).await;
        assert!(!done.unwrap());
        // Not given up after QUIET: the feed kept moving, so the whole wait was spent.
        assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
        feeder.abort();
    }

    #[tokio::test]
    async fn a_stopped_feed_ends_the_wait_and_a_view_error_is_the_answer() {
        let captured = Notify::new();
        let (feed, fed) = watch::channel(0u64);
        drop(feed);
        let started = Instant::now();
        let done = wait_while_fed(&captured, fed, (WAIT, WAIT), || Ok(false)).await;
        assert!(!done.unwrap());
        assert!(started.elapsed() < WAIT / 2);
        let (_feed, fed) = watch::channel(0u64);
        let failed = wait_while_fed(&captured, fed, (WAIT, QUIET), || {
            Err(WireError::new(
                ErrorCode::Internal,
                "the view does not read",
            ))
        })
        .await;
        assert_eq!(failed.unwrap_err().code, ErrorCode::Internal);
    }
}
