//! Everything a ledger operation needs.

use crate::store::Store;
use chrono_tz::Tz;
use posfee_client::keydir::KeyDirectory;
use posfee_client::Clock;
use posfee_runtime::journal::Journal;
use posfee_runtime::outbox::Outbox;
use posfee_schemas::ids::TenantId;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::signed::Purpose;
use posfee_schemas::trust::Signer;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A settlement notice may arrive after the bill's expiry when paygate retries after a crash;
/// it is still honoured this long after expiry if the money was held before the expiry.
pub const SETTLE_GRACE_SECS: i64 = 10 * 60;
/// Largest page `posfee.ledger.settlements` returns: an item is about 110 bytes encoded, so
/// a full page stays well inside the 64 KiB payload limit.
pub const MAX_PAGE: u32 = 400;

pub struct App {
    /// This instance's view of the journal.
    pub store: Store,
    pub outbox: Outbox,
    /// The books' system of record.
    pub journal: Journal,
    /// This instance's id: the entries it wrote, it publishes.
    pub me: u64,
    pub clock: Arc<dyn Clock>,
    /// The key directory: paygate's settlement-notice keys, the fee-engine's bill keys.
    pub keys: KeyDirectory,
    /// The ledger's authority: signs receipts, seals events.
    pub signer: Signer,
    /// The key of this service's event ids (`EventId::keyed`).
    pub event_key: [u8; 32],
    /// Each tenant's time zone, from its rule file: its statements' days are its days.
    pub time_zones: Arc<BTreeMap<TenantId, Tz>>,
    /// The statement file served last: a clerk fetches one in chunks, and an issued
    /// statement never changes, so the chunks after the first are cut from it.
    pub last_statement: std::sync::Mutex<Option<(StatementKey, Arc<Vec<u8>>)>>,
}

/// Which statement file: the tenant, the day and the format.
pub type StatementKey = (
    TenantId,
    chrono::NaiveDate,
    posfee_schemas::statement::StatementFormat,
);

/// The time zone of a tenant without a rule file here: the rule files' default
/// (`posfee_tariff::DEFAULT_TIME_ZONE`).
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

impl App {
    /// `tenant`'s time zone.
    pub fn time_zone(&self, tenant: &TenantId) -> Tz {
        self.time_zones
            .get(tenant)
            .copied()
            .unwrap_or(DEFAULT_TIME_ZONE)
    }

    /// `receipt` as the ledger signs it. The same receipt is signed to the same bytes every
    /// time (ed25519 is deterministic), so an answer given again is the same answer.
    pub fn signed(&self, receipt: &Receipt) -> SignedReceipt {
        sign_receipt(&self.signer, receipt)
    }
}

/// `receipt` signed by the ledger's authority.
pub fn sign_receipt(signer: &Signer, receipt: &Receipt) -> SignedReceipt {
    SignedReceipt(signer.sign(Purpose::Receipt, receipt))
}
