//! The kiosk client (`pos-agent`).
//!
//! A terminal asks the fee-engine what an account owes, issues the bill, opens a short-lived
//! pairing with the payer's phone (mode A: the kiosk shows a code; mode B: the kiosk sends the
//! bill to the code the phone shows) and prints the receipt the ledger sends once the payment
//! settled. It holds its own id and credentials and nothing about payers.
//!
//! Everything is a library so tests drive it in-process; `main.rs` only parses arguments.

pub mod bill;
pub mod close;
pub mod cmd;
pub mod config;
pub mod console;
pub mod events;
pub mod flow;
pub mod i18n;
pub mod link;
pub mod pairing;
pub mod presence;
pub mod receipt;
pub mod render;
pub mod wallet;

/// Cancels a pairing or a wait for the receipt (re-exported for callers and tests).
pub use tokio_util::sync::CancellationToken;

use posfee_client::keydir::KeyDirectory;
use posfee_client::Clock;
use posfee_schemas::ids::{BillId, TerminalId};
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;

/// The version a terminal reports in its presence record and events.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the library needs to know about the terminal it runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub terminal: TerminalId,
    /// How long a pairing (either mode) stays open without a join.
    pub pairing_ttl: Duration,
    /// How long the kiosk waits for the receipt once the phone has the bill.
    pub receipt_wait: Duration,
    /// Time between presence heartbeats.
    pub heartbeat: Duration,
    /// The root the ledger's receipts are believed through.
    pub root: posfee_schemas::trust::TrustRoot,
}

/// One terminal's connection to the bus.
#[derive(Clone)]
pub struct Agent {
    pub client: async_nats::Client,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    /// The key directory, asked through the query service, believed through the root.
    pub keys: Arc<KeyDirectory>,
    /// Events on their way to the operators, sent without holding up a payment.
    pub reports: events::Reports,
}

impl Agent {
    pub fn new(client: async_nats::Client, settings: Settings, clock: Arc<dyn Clock>) -> Agent {
        let me = posfee_schemas::subjects::Identity::Terminal(settings.terminal.clone());
        let keys = Arc::new(KeyDirectory::remote(&client, me, settings.root.clone()));
        Agent {
            client,
            settings,
            clock,
            keys,
            reports: events::Reports::default(),
        }
    }

    /// The receipt inside `signed`, if the ledger signed it (through the root this kiosk
    /// pins) for `bill` of this kiosk: only such a receipt is ever printed. A forgery is
    /// `BAD_SIGNATURE`; a directory that cannot be asked is `UNAVAILABLE` (the kiosk then
    /// asks the ledger, and at worst says the outcome is not known yet).
    pub async fn believe(&self, signed: &SignedReceipt, bill: BillId) -> Result<Receipt> {
        let receipt = self
            .keys
            .verify_receipt(&signed.0)
            .await
            .map_err(|e| e.into_wire("the receipt"))?;
        if receipt.bill_id != bill || &receipt.terminal != self.terminal() {
            return Err(WireError::new(
                ErrorCode::BadSignature,
                format!(
                    "the receipt is for bill {} at {}, not this kiosk's bill {bill}",
                    receipt.bill_id, receipt.terminal
                ),
            ));
        }
        Ok(receipt)
    }

    pub fn terminal(&self) -> &TerminalId {
        &self.settings.terminal
    }
}

/// The kiosk's errors are wire errors: every failure has a stable code (`PAIRING_GONE`,
/// `ACCOUNT_NOT_FOUND`, `UNAVAILABLE` …) that scripts and the screen can branch on.
pub type Result<T> = std::result::Result<T, WireError>;

/// A failure to reach the bus or JetStream, reported with what we were doing.
pub(crate) fn unavailable(doing: &str, e: impl std::fmt::Display) -> WireError {
    WireError::new(ErrorCode::Unavailable, format!("{doing}: {e}"))
}

/// Maps a failed call to the error the kiosk reports.
pub(crate) fn from_call(e: posfee_client::CallError) -> WireError {
    posfee_client::ending::from_call(e)
}
