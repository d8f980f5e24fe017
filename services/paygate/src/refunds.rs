//! Refunds reach the payer: paygate follows `payment.refunded` and credits the difference
//! between the ledger's refunded total and what it has already credited. The feed only notes
//! what is due, with its position ([`crate::feed`]); a task credits it in the payer's
//! journal scope, where the total already credited is read on the payer's latest state, so a
//! replayed or repeated event, or two instances following the same events, credit nothing
//! twice.

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::Payment;
use posfee_client::Shutdown;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::money::Fen;
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::{decode, WireError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the credit task looks again when a credit could not be made.
pub const CREDIT_RETRY_MS: u64 = 500;

/// A credit still failing is logged as a warning on its first failure and then once every
/// this many retries (about every 10 s), not on every retry: a view a little behind the
/// ledger's settlement is normal and passes on its own.
const WARN_EVERY_RETRIES: u32 = 20;

/// Credits what is due until shutdown.
pub async fn credit_loop(app: Arc<App>, wake: Arc<Notify>, shutdown: Shutdown) {
    let mut failures: HashMap<PaymentId, u32> = HashMap::new();
    loop {
        // Only payments still failing keep their count.
        let before = std::mem::take(&mut failures);
        let mut failed = false;
        for (key, total) in app.store.credits_due.iter().flatten() {
            let (Ok(id), Some(total)) = (
                uuid::Uuid::from_slice(&key).map(PaymentId),
                crate::store::due_total(&total),
            ) else {
                let _ = app.store.credits_due.remove(&key);
                continue;
            };
            match credit(&app, id, Fen::new(total)).await {
                Ok(()) => {
                    // Leave it if a larger total was noted meanwhile.
                    let _ = app.store.credits_due.compare_and_swap(
                        &key,
                        Some(total.to_be_bytes().as_slice()),
                        None::<&[u8]>,
                    );
                }
                Err(e) => {
                    let n = before.get(&id).copied().unwrap_or(0);
                    if n % WARN_EVERY_RETRIES == 0 {
                        tracing::warn!(payment = %id, error = %e, retries = n, "refund not credited yet; will retry");
                    } else {
                        tracing::debug!(payment = %id, error = %e, retries = n, "refund not credited yet; will retry");
                    }
                    failures.insert(id, n + 1);
                    failed = true;
                }
            }
        }
        let pause = tokio::time::sleep(Duration::from_millis(if failed {
            CREDIT_RETRY_MS
        } else {
            60_000
        }));
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = wake.notified() => {}
            _ = pause => {}
        }
    }
}

/// Credits the payer up to the ledger's refunded `total` for payment `id`.
async fn credit(app: &App, id: PaymentId, total: Fen) -> Result<(), WireError> {
    let Some(payment) = known(app, id).await? else {
        // Not a payment this platform took: nothing to give back.
        return Ok(());
    };
    let scope = journal::payer_scope(&payment.payer);
    let credited = app
        .journal
        .write(&scope, &format!("credit:{id}:{}", total.get()), || {
            let current = crate::settle::load(app, id)?;
            match current.state {
                PaymentState::Captured => {
                    Ok((current.refunded < total).then_some(Entry::Credited { id, total }))
                }
                // Voided: nothing was taken, nothing to give back.
                PaymentState::Voided => Ok(None),
                // Settled by the ledger but not yet captured here (or this view is behind):
                // asked again on the latest state, then again later.
                PaymentState::Authorized => Err(WireError::new(
                    posfee_schemas::ErrorCode::Unavailable,
                    format!("payment {id} is not captured yet"),
                )),
            }
        })
        .await?;
    if credited {
        tracing::info!(payment = %id, total = %total, "refund credited");
    }
    Ok(())
}

/// The payment, from this instance's view; if the view does not have it, once the view has
/// caught up with the whole journal.
async fn known(app: &App, id: PaymentId) -> Result<Option<Payment>, WireError> {
    let read = |app: &App| -> Result<Option<Payment>, WireError> {
        match app.store.payments.get(id.0.as_bytes()) {
            Ok(Some(raw)) => decode(&raw).map(Some).map_err(crate::ops::internal),
            Ok(None) => Ok(None),
            Err(e) => Err(crate::ops::internal(e)),
        }
    };
    if let Some(p) = read(app)? {
        return Ok(Some(p));
    }
    app.journal.caught_up_with_all().await?;
    read(app)
}
