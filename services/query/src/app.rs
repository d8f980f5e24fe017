//! Everything a query operation needs.

use crate::view::View;
use posfee_client::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a query for something the view has not seen waits for the view to catch up.
pub const CATCH_UP_WAIT_MS: u64 = 1_000;
/// How long the live amount from the fee-engine may take.
pub const QUOTE_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_PAGE: u32 = 50;
/// Pages are also cut by bytes (`PAGE_BYTES_BUDGET`), so a full page always fits.
pub const MAX_PAGE: u32 = 500;

pub struct App {
    pub view: View,
    pub client: async_nats::Client,
    pub clock: Arc<dyn Clock>,
    pub applied: watch::Receiver<u64>,
    /// How far the view has applied the events the ledger's journal carries.
    pub ledger_applied: watch::Receiver<u64>,
    /// The kiosks' presence bucket, opened on first use.
    pub terminals: tokio::sync::OnceCell<async_nats::jetstream::kv::Store>,
    /// The query service's authority: seals the kiosks' events it writes.
    pub signer: posfee_schemas::trust::Signer,
    /// The key of this service's event ids (`EventId::keyed`).
    pub event_key: [u8; 32],
    /// Reads per kiosk.
    pub kiosk_reads: posfee_runtime::limit::Limiter,
}

impl App {
    /// Refuses a read once the kiosk that asks has read too much just now (the operator and
    /// the services are not limited).
    pub fn within_kiosk_reads(&self, subject: &str) -> Result<(), posfee_schemas::WireError> {
        use posfee_schemas::subjects::{Identity, Subject};
        let Ok(Subject::Query(_, Identity::Terminal(asker))) = Subject::parse(subject) else {
            return Ok(());
        };
        if self.kiosk_reads.allow(asker.as_str()) {
            return Ok(());
        }
        Err(posfee_schemas::WireError::new(
            posfee_schemas::ErrorCode::RateLimited,
            format!("terminal {asker} is reading faster than any kiosk serves payers; wait a few seconds"),
        ))
    }

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
}
