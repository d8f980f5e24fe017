//! Paygate's own store: the payment platform's records.
//!
//! * the view of paygate's journal ([`crate::journal`]), rebuilt from it if lost:
//!   `identities`: payer handle → [`PayerIdentity`] sealed under the payer's data key
//!   ([`crate::vault`]; in plain only on the payer's phone);
//!   `payers`: payer handle → [`Payer`] (device key, balance, holds);
//!   `devices`: device key id → payer handle; `device_keys`: public key → key id;
//!   `registrations`: idempotency key → [`Registration`]; `payments`: payment id →
//!   [`Payment`]; `pending`: payments still authorized; `settled_early`: the ledger's
//!   `payment.settled` events whose hold this view has not applied yet (a view fed by the
//!   journal and the event stream sees the two in either order)
//! * `credits_due`: refunds the ledger made that are still to be credited: payment id →
//!   the refunded total in fen, 8 bytes big-endian ([`due_total`])
//! * `meta`: the positions of the event feed and of the journal, this instance's id

use chrono::{DateTime, Utc};
use posfee_schemas::fee::IssuedBill;
use posfee_schemas::ids::{BillId, DeviceId, KeyId, PayerHandle, PaymentId, TerminalId};
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::money::{Fen, Money};
use posfee_schemas::paygate::{PaymentState, RegisterReply};
use posfee_schemas::WireError;
use serde::{Deserialize, Serialize};

/// Who a payer is: journaled only sealed under the payer's own data key ([`crate::vault`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerIdentity {
    pub name: String,
    pub national_id: String,
    pub bank_account: String,
}

/// A payer as every instance knows them: no personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payer {
    pub device_key_id: KeyId,
    #[serde(with = "serde_bytes")]
    pub device_public_key: Vec<u8>,
    /// What the payer can spend now.
    pub balance: Fen,
    /// Held by authorizations waiting for the ledger.
    pub held: Fen,
    pub registered_at: DateTime<Utc>,
    /// The phone (bus identity) that registered: receipts of this payer's payments are
    /// answered to it only. Absent for payers registered before it was kept.
    #[serde(default)]
    pub device: Option<DeviceId>,
    /// When the payer was erased ([`crate::vault`]): who they are can no longer be read, and
    /// they pay no more.
    #[serde(default)]
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    #[serde(with = "serde_bytes")]
    pub fingerprint: Vec<u8>,
    pub reply: RegisterReply,
}

/// The ledger's refusal, kept so a retried payment gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl From<&WireError> for Refusal {
    fn from(e: &WireError) -> Self {
        Refusal {
            code: e.code.name().to_string(),
            message: e.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    /// Who pays, as paygate knows them.
    pub payer: PayerHandle,
    /// Who pays, as the bill's biller sees them ([`crate::handles`]); absent for payments
    /// authorized before billers had handles of their own (they saw `payer`).
    #[serde(default)]
    pub biller_payer: Option<PayerHandle>,
    pub bill_id: BillId,
    pub bill: IssuedBill,
    pub terminal: TerminalId,
    pub amount: Money,
    /// The device-signed order exactly as received, to tell a retry from a different order
    /// reusing the payment id.
    #[serde(with = "serde_bytes")]
    pub order_body: Vec<u8>,
    pub state: PaymentState,
    pub authorized_at: DateTime<Utc>,
    #[serde(default)]
    pub receipt: Option<Receipt>,
    /// The receipt as the ledger signed it, what the phone is given; absent for payments
    /// captured before contract 0.2 (the ledger is asked for it again).
    #[serde(default)]
    pub signed_receipt: Option<SignedReceipt>,
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// Refunds credited back to the payer.
    #[serde(default)]
    pub refunded: Fen,
    /// The basket this payment is one bill of: held, settled and voided with the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basket: Option<BasketOf>,
}

/// A basket payment: its id (the phone's) and its bills' payments, in the order's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketOf {
    pub id: PaymentId,
    pub parts: Vec<PaymentId>,
}

impl Payment {
    /// The handle the biller sees: on the ledger's settlement, events and receipts.
    pub fn payer_at_biller(&self) -> &PayerHandle {
        self.biller_payer.as_ref().unwrap_or(&self.payer)
    }
}

#[derive(Clone)]
pub struct Store {
    pub db: posfee_store::Db,
    pub payers: posfee_store::Tree,
    pub devices: posfee_store::Tree,
    /// Device public key (32 bytes) → its key id: one key, one registration.
    pub device_keys: posfee_store::Tree,
    pub registrations: posfee_store::Tree,
    pub payments: posfee_store::Tree,
    pub pending: posfee_store::Tree,
    pub settled_early: posfee_store::Tree,
    pub identities: posfee_store::Tree,
    pub credits_due: posfee_store::Tree,
    pub meta: posfee_store::Tree,
}

impl Store {
    pub fn open(db: posfee_store::Db) -> anyhow::Result<Store> {
        Ok(Store {
            payers: db.open_tree("payers")?,
            devices: db.open_tree("devices")?,
            device_keys: db.open_tree("device_keys")?,
            registrations: db.open_tree("registrations")?,
            payments: db.open_tree("payments")?,
            pending: db.open_tree("pending")?,
            settled_early: db.open_tree("settled_early")?,
            identities: db.open_tree("identities")?,
            credits_due: db.open_tree("credits_due")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    pub fn feed_seq(&self) -> anyhow::Result<u64> {
        posfee_runtime::feed::recorded_seq(&self.meta)
    }
}

/// The refunded total a `credits_due` value holds, if it is one.
pub fn due_total(raw: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(raw).ok().map(i64::from_be_bytes)
}
