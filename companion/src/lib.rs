//! The payer's phone companion (`companion`).
//!
//! The payer registers identity and bank account once, here, with the payment platform; the
//! phone keeps them and its device key in its own store and nowhere else. At a kiosk the
//! phone joins the kiosk's pairing (mode A) or shows its own code (mode B), receives the
//! fee-engine-signed bill, verifies it and shows payee, lines and total from the signed bill
//! only, and pays with a device-signed order. Receipts stay on the phone.
//!
//! Everything is a library so tests drive it in-process; `main.rs` only parses arguments.

pub mod cmd;
pub mod confirm;
pub mod home;
pub mod join;
pub mod link;
pub mod pay;
pub mod receipts;
pub mod register;
pub mod render;
pub mod verify;
pub mod wallet;

use posfee_client::keydir::KeyDirectory;
use posfee_client::Clock;
use posfee_schemas::ids::DeviceId;
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::trust::TrustRoot;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

/// The companion's errors carry stable codes (`PAIRING_GONE`, `BAD_SIGNATURE`,
/// `INSUFFICIENT_FUNDS` …) whether they came from the bus or from the phone's own checks.
pub type Result<T> = std::result::Result<T, WireError>;

/// One phone: its bus identity and connection, its store, its clock.
pub struct Companion {
    pub client: async_nats::Client,
    /// Who this phone is on the bus: the fingerprint of its nkey. Its wallet codes live under
    /// this id, the only wallet subjects the server lets it hear.
    pub device: DeviceId,
    pub home: home::Home,
    pub clock: Arc<dyn Clock>,
    /// How long a payment is asked after before the phone says its outcome is not known yet.
    pub pay_deadline: std::time::Duration,
    /// The key directory (asked through `posfee.keys.get`: a phone has no JetStream rights),
    /// believed through the root this phone pinned.
    keys: KeyDirectory,
}

impl Companion {
    pub fn new(
        client: async_nats::Client,
        device: DeviceId,
        (home, root): (home::Home, TrustRoot),
        clock: Arc<dyn Clock>,
    ) -> Companion {
        let me = posfee_schemas::subjects::Identity::Device(device.clone());
        let keys = KeyDirectory::remote(&client, me, root);
        Companion {
            client,
            device,
            home,
            clock,
            pay_deadline: std::time::Duration::from_millis(pay::PAY_DEADLINE_MS),
            keys,
        }
    }

    /// The key directory: bill signers' keys and the ledger's authority.
    pub fn keys(&self) -> &KeyDirectory {
        &self.keys
    }

    /// The receipt inside `signed`, if the ledger signed it (through the pinned root): only
    /// such a receipt is kept or shown.
    pub async fn believe(&self, signed: &SignedReceipt) -> Result<Receipt> {
        self.keys
            .verify_receipt(&signed.0)
            .await
            .map_err(|e| e.into_wire("the receipt"))
    }
}

pub(crate) fn unavailable(doing: &str, e: impl std::fmt::Display) -> WireError {
    WireError::new(ErrorCode::Unavailable, format!("{doing}: {e}"))
}

pub(crate) fn internal(doing: &str, e: impl std::fmt::Display) -> WireError {
    WireError::new(ErrorCode::Internal, format!("{doing}: {e}"))
}

/// Maps a failed call to the error the phone reports.
pub(crate) fn from_call(e: posfee_client::CallError) -> WireError {
    posfee_client::ending::from_call(e)
}
