//! Everything a fee-engine operation needs, shared by all of them.

use crate::keys::TenantKeys;
use crate::store::Store;
use async_nats::jetstream;
use posfee_client::Clock;
use posfee_schemas::events::Event;
use posfee_schemas::trust::Signer;
use posfee_schemas::{ErrorCode, WireError};
use posfee_tariff::RuleSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a bill stays payable.
pub const BILL_TTL_SECS: i64 = 15 * 60;
/// How long an expired bill is kept: a retried issue within a day gets the same bill, and
/// settlements (which arrive within minutes of expiry at most) still find it. Older bills
/// are forgotten, so the store holds about a day of bills however long it runs.
pub const BILL_RETENTION_SECS: i64 = 24 * 60 * 60;
/// How often expired bills are looked for, and how many are forgotten per pass at most.
pub const PRUNE_EVERY_SECS: u64 = 10 * 60;
pub const PRUNE_BATCH: usize = 10_000;
/// A quote for an account the view has not seen yet waits this long for the view to catch up
/// with the stream, so an account imported a moment ago is found.
pub const CATCH_UP_WAIT_MS: u64 = 1_000;
/// How long a bill's event may take to be stored on a majority of the stream's replicas,
/// and then to reach this instance's view, before the kiosk is told to ask again.
pub const APPEND_WAIT_MS: u64 = 5_000;

pub struct App {
    pub rules: RuleSet,
    pub store: Store,
    pub keys: TenantKeys,
    pub clock: Arc<dyn Clock>,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    /// Seals the bills' events: readers believe them only with the fee-engine's seal.
    pub signer: Signer,
    /// The stream sequence the view has applied.
    pub applied: watch::Receiver<u64>,
    /// How far the view has applied the settlements the ledger's journal carries.
    pub ledger_applied: watch::Receiver<u64>,
    /// The key of this service's event ids (`EventId::keyed`), the same in every instance.
    pub event_key: [u8; 32],
    /// New bills per kiosk.
    pub kiosk_bills: posfee_runtime::limit::Limiter,
}

impl App {
    /// Waits until the view has applied everything the event stream and the ledger's journal
    /// hold now; whether it did.
    pub async fn catch_up(&self) -> bool {
        posfee_runtime::feed::caught_up_with_journal(
            &self.client,
            (&crate::followed(), &self.applied),
            (
                posfee_schemas::subjects::LEDGER_JOURNAL,
                &self.ledger_applied,
            ),
            Duration::from_millis(CATCH_UP_WAIT_MS),
        )
        .await
    }

    /// Stores `event`, sealed, and returns its stream sequence once a majority of the
    /// stream's replicas have it: the sequence of the first copy if a twin with its id (the
    /// same terminal and key) was stored first.
    pub async fn append(&self, event: &Event) -> Result<u64, WireError> {
        let (subject, msg) = posfee_client::sealed::message(event, &self.signer);
        // Sent again while no ack comes (the stream's leader may have died with its node):
        // the event's id stores it once.
        let stored = posfee_runtime::journal::publish_resending(&self.js, subject, msg);
        match tokio::time::timeout(Duration::from_millis(APPEND_WAIT_MS), stored).await {
            Ok(Ok(ack)) => Ok(ack.sequence),
            Ok(Err(e)) => Err(unavailable(format!("storing the bill: {e}"))),
            Err(_) => Err(unavailable("the bill was not stored in time")),
        }
    }

    /// Waits until this instance's view has applied stream sequence `seq`.
    pub async fn view_reached(&self, seq: u64) -> Result<(), WireError> {
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(
            Duration::from_millis(APPEND_WAIT_MS),
            applied.wait_for(|s| *s >= seq),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if reached {
            return Ok(());
        }
        Err(unavailable(format!(
            "this instance's view has not reached event {seq} yet"
        )))
    }
}

/// The bill may or may not be stored: the kiosk asks again with the same key, and gets the
/// bill if it was.
fn unavailable(why: impl std::fmt::Display) -> WireError {
    tracing::warn!(%why, "bill not confirmed");
    WireError::new(
        ErrorCode::Unavailable,
        "the bill could not be confirmed just now; ask again with the same idempotency key",
    )
}
