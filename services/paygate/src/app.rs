//! Everything a paygate operation needs.

use crate::feed::Captures;
use crate::store::Store;
use ed25519_dalek::SigningKey;
use posfee_client::keydir::KeyDirectory;
use posfee_client::Clock;
use posfee_runtime::journal::Journal;
use posfee_runtime::outbox::Outbox;
use posfee_schemas::ids::{KeyId, PaymentId};
use posfee_store::GroupCommit;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a sandbox payer can spend after registering: 10,000.00 CNY.
pub const SANDBOX_OPENING_BALANCE_FEN: i64 = 1_000_000;
/// How long one settle request to the ledger may take.
pub const SETTLE_CALL_TIMEOUT_MS: u64 = 5_000;
/// How long a pay request keeps retrying the ledger before it answers 503; the payment stays
/// authorized and the recovery loop finishes it.
pub const SETTLE_DEADLINE_MS: u64 = 20_000;
/// How long a request whose payment the ledger settled waits for this instance's view to
/// capture it from `payment.settled` before it writes the capture to the journal itself (the
/// ledger's outbox or this feed is behind).
pub const CAPTURE_WAIT_MS: u64 = 2_000;
/// How long that wait goes on while the ledger feed applies nothing at all: a feed that moves
/// is worth waiting for, a silent one (its consumer died with a node, and making it again
/// waits for an election) is not, and the request journals the capture itself.
pub const CAPTURE_QUIET_MS: u64 = 500;
/// Pause between settle retries.
pub const SETTLE_RETRY_MS: u64 = 200;
/// How long a recovery pass waits for the ledger feed to apply what the stream holds, so it
/// does not drive holds whose settlement is on its way.
pub const RECOVERY_FEED_WAIT_MS: u64 = 1_000;
/// How often the recovery loop looks for authorizations left behind (a crash, a timeout).
pub const RECOVERY_INTERVAL_MS: u64 = 2_000;
/// Largest page `posfee.paygate.payments` returns: an item is about 120 bytes encoded, so a
/// full page stays well inside the 64 KiB payload limit.
pub const MAX_PAGE: u32 = 400;

pub struct App {
    /// The view of paygate's journal, and the payers' identities this instance registered.
    pub store: Store,
    pub outbox: Outbox,
    /// The system of record: payers and payments, replicated.
    pub journal: Journal,
    /// This instance's id: the entries it wrote, it publishes.
    pub me: u64,
    /// Requests waiting for their payment's capture by the ledger's events.
    pub captures: Arc<Captures>,
    /// How far the ledger feed has applied the event stream.
    pub feed_applied: tokio::sync::watch::Receiver<u64>,
    pub commit: GroupCommit,
    pub clock: Arc<dyn Clock>,
    pub client: async_nats::Client,
    /// The key directory (the fee-engine's bill keys), believed through the root.
    pub keys: KeyDirectory,
    /// The key of this service's event ids (`EventId::keyed`).
    pub event_key: [u8; 32],
    /// The key of payers' handles at each biller ([`crate::handles`]).
    pub handle_key: [u8; 32],
    pub key_id: KeyId,
    pub key: SigningKey,
    /// Who payers are, sealed.
    pub vault: Arc<crate::vault::Vault>,
    /// One driver per payment at a time: a retried pay request waits for the first.
    locks: Mutex<HashMap<PaymentId, Arc<tokio::sync::Mutex<()>>>>,
    /// When the last completed recovery pass started: every hold older than that was tried.
    /// Unknown after a restart until the first pass completes.
    pub recovered_through: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        outbox: Outbox,
        (journal, me): (Journal, u64),
        (captures, feed_applied): (Arc<Captures>, tokio::sync::watch::Receiver<u64>),
        commit: GroupCommit,
        clock: Arc<dyn Clock>,
        client: async_nats::Client,
        (keys, event_key, handle_key): (KeyDirectory, [u8; 32], [u8; 32]),
        key_id: KeyId,
        key: SigningKey,
        vault: Arc<crate::vault::Vault>,
    ) -> App {
        App {
            store,
            outbox,
            journal,
            me,
            captures,
            feed_applied,
            commit,
            clock,
            client,
            keys,
            event_key,
            handle_key,
            key_id,
            key,
            vault,
            locks: Mutex::new(HashMap::new()),
            recovered_through: Mutex::new(None),
        }
    }

    /// The lock that serializes work on one payment.
    pub fn payment_lock(&self, id: PaymentId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        // Drop locks nobody holds, so the map stays as small as the payments in flight.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id).or_default().clone()
    }
}
