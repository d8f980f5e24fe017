//! Everything a ledger operation needs.

use crate::store::Store;
use posfee_client::keydir::KeyDirectory;
use posfee_client::Clock;
use posfee_runtime::outbox::Outbox;
use posfee_store::GroupCommit;
use std::sync::Arc;

/// A settlement notice may arrive after the bill's expiry when paygate retries after a crash;
/// it is still honoured this long after expiry if the money was held before the expiry.
pub const SETTLE_GRACE_SECS: i64 = 10 * 60;
/// Largest page `posfee.ledger.settlements` returns: an item is about 110 bytes encoded, so
/// a full page stays well inside the 64 KiB payload limit.
pub const MAX_PAGE: u32 = 400;

pub struct App {
    pub store: Store,
    pub outbox: Outbox,
    pub commit: GroupCommit,
    pub clock: Arc<dyn Clock>,
    /// Paygate's settlement-notice keys.
    pub settlement_keys: KeyDirectory,
    /// The fee-engine's bill keys.
    pub bill_keys: KeyDirectory,
}

impl App {
    /// Where the ledger's writes happen exactly once.
    pub fn once(&self) -> posfee_runtime::once::Once<'_> {
        posfee_runtime::once::Once {
            commit: &self.commit,
            outbox: Some(&self.outbox),
        }
    }
}
