//! Everything a fee-engine operation needs, shared by all of them.

use crate::keys::TenantKeys;
use crate::store::Store;
use posfee_client::Clock;
use posfee_runtime::outbox::Outbox;
use posfee_store::GroupCommit;
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

pub struct App {
    pub rules: RuleSet,
    pub store: Store,
    pub keys: TenantKeys,
    pub clock: Arc<dyn Clock>,
    pub outbox: Outbox,
    pub commit: GroupCommit,
    pub client: async_nats::Client,
    /// The stream sequence the view has applied.
    pub applied: watch::Receiver<u64>,
    /// The key of this service's event ids (`EventId::keyed`).
    pub event_key: [u8; 32],
    /// New bills per kiosk.
    pub kiosk_bills: posfee_runtime::limit::Limiter,
}

impl App {
    /// Where this service's writes happen exactly once.
    pub fn once(&self) -> posfee_runtime::once::Once<'_> {
        posfee_runtime::once::Once {
            commit: &self.commit,
            outbox: Some(&self.outbox),
        }
    }

    /// Waits until the view has applied everything the stream holds now; whether it did.
    pub async fn catch_up(&self) -> bool {
        posfee_runtime::feed::caught_up(
            &self.client,
            &crate::followed(),
            &self.applied,
            Duration::from_millis(CATCH_UP_WAIT_MS),
        )
        .await
    }
}
