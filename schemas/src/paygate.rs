//! The payment platform sandbox: registration once on the phone, then device-signed payments.

use crate::fee::IssuedBill;
use crate::ids::{BillId, IdempotencyKey, KeyId, PayerHandle, PaymentId, TerminalId};
use crate::money::Money;
use crate::signed::{sign_detached, verify_with, Purpose};
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// `posfee.paygate.register`: the only message that carries a payer's identity and bank
/// account, from the phone straight to the payment platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub name: String,
    pub national_id: String,
    pub bank_account: String,
    /// The phone's ed25519 public key; payments must be signed with its secret half.
    #[serde(with = "serde_bytes")]
    pub device_public_key: Vec<u8>,
    pub device_key_id: KeyId,
    pub idempotency_key: IdempotencyKey,
    /// The device key's signature over its key id and this registration's idempotency key
    /// ([`Purpose::DeviceRegister`]): only a phone holding the key can register it, so nobody
    /// can take another phone's public key first.
    #[serde(with = "serde_bytes")]
    pub device_proof: Vec<u8>,
}

impl RegisterRequest {
    /// A registration signed with `device_key`, as the phone makes it.
    pub fn signed(
        name: String,
        national_id: String,
        bank_account: String,
        device_key: &SigningKey,
        device_key_id: KeyId,
        idempotency_key: IdempotencyKey,
    ) -> RegisterRequest {
        let proof = sign_detached(
            device_key,
            Purpose::DeviceRegister,
            &proof_body(&device_key_id, &idempotency_key),
        );
        RegisterRequest {
            name,
            national_id,
            bank_account,
            device_public_key: device_key.verifying_key().to_bytes().to_vec(),
            device_key_id,
            idempotency_key,
            device_proof: proof,
        }
    }

    /// Whether `device_proof` was made by the secret half of `key`.
    pub fn proves_possession(&self, key: &VerifyingKey) -> bool {
        verify_with(
            key,
            Purpose::DeviceRegister,
            &proof_body(&self.device_key_id, &self.idempotency_key),
            &self.device_proof,
        )
        .is_ok()
    }
}

/// What the registration proof signs: the key id and the idempotency key, NUL-separated
/// (neither may contain NUL).
fn proof_body(key_id: &KeyId, idempotency_key: &IdempotencyKey) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(key_id.as_str().as_bytes());
    b.push(0);
    b.extend_from_slice(idempotency_key.as_str().as_bytes());
    b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReply {
    pub payer: PayerHandle,
    /// The sandbox balance the new payer starts with.
    pub balance: Money,
}

/// `posfee.paygate.amend`: a registered payer corrects their registration, signed by the device
/// key they registered (as every payment is): a misspelt name or a new bank card is
/// corrected; the national id is who the payer is and is never changed (a different person
/// registers on their own phone). Absent fields stay as they are; sending the same values
/// again changes nothing, so a retry needs no idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<String>,
    /// The registered device key's id: paygate finds the payer by it.
    pub device_key_id: KeyId,
    /// The device key's signature ([`Purpose::DeviceAmend`]) over [`AmendRequest::proof_body`].
    #[serde(with = "serde_bytes")]
    pub device_proof: Vec<u8>,
}

impl AmendRequest {
    /// A correction signed with `device_key`, as the phone makes it.
    pub fn signed(
        name: Option<String>,
        bank_account: Option<String>,
        device_key: &SigningKey,
        device_key_id: KeyId,
    ) -> AmendRequest {
        let mut req = AmendRequest {
            name,
            bank_account,
            device_key_id,
            device_proof: Vec::new(),
        };
        req.device_proof = sign_detached(device_key, Purpose::DeviceAmend, &req.proof_body());
        req
    }

    /// What the proof signs: the key id, the name and the bank account, NUL-separated, an
    /// absent field as empty (neither may be empty or hold a NUL when sent).
    pub fn proof_body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(self.device_key_id.as_str().as_bytes());
        for field in [&self.name, &self.bank_account] {
            b.push(0);
            b.extend_from_slice(field.as_deref().unwrap_or_default().as_bytes());
        }
        b
    }

    /// Whether `device_proof` was made by the secret half of `key`.
    pub fn proves_possession(&self, key: &VerifyingKey) -> bool {
        verify_with(
            key,
            Purpose::DeviceAmend,
            &self.proof_body(),
            &self.device_proof,
        )
        .is_ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendReply {
    pub payer: PayerHandle,
    /// The fields that changed (`name`, `bank_account`); empty when nothing differed.
    pub changed: Vec<String>,
}

/// What the device signs for `posfee.paygate.pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayOrder {
    /// A bill's payment id, or a basket's (each bill's is then [`PaymentId::part`]).
    pub payment_id: PaymentId,
    pub payer: PayerHandle,
    /// The bill paid, or a basket's first bill.
    pub bill_id: BillId,
    /// The amount paid: the bill's total, or the sum of the basket's totals.
    pub amount: Money,
    pub terminal: TerminalId,
    /// A basket's other bills, in the offer's order; empty for one bill. Since 0.4.0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_bills: Vec<BillId>,
}

/// `posfee.paygate.pay`: the device-signed order plus the fee-engine-signed bill it pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayRequest {
    /// A [`PayOrder`], encoded and signed by the device key.
    pub order: crate::signed::Signed,
    pub bill: IssuedBill,
    /// A basket's other bills, as the order names them. The answer is then a
    /// [`crate::basket::BasketPaid`] instead of one receipt. Since 0.4.0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_bills: Vec<IssuedBill>,
    /// The kiosk's pairing, as its offer said ([`crate::pairing::BillOffer::pairing`]): the
    /// hold carries it as `pairing.joined`. Not signed (it is the kiosk's word, which the
    /// phone passes on); absent when the offer had none. Since 0.5.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<crate::pairing::PairingShown>,
}

/// Where a payment stands at the payment platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// The amount is held; the ledger has not answered yet.
    Authorized,
    /// The ledger settled the bill and the money moved.
    Captured,
    /// The ledger refused (or the hold was released); no money moved.
    Voided,
}

/// `posfee.paygate.erase.operator`: the operator erases a payer at their request: paygate
/// deletes the key their identity is sealed under (every copy of it is unreadable from then
/// on) and refuses their payments; balances, payments and refunds stay in the books under
/// the payer's handle. Idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseRequest {
    pub payer: PayerHandle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseReply {
    pub payer: PayerHandle,
    /// When the erasure was first recorded (the same on a repeated request).
    pub erased_at: DateTime<Utc>,
}

/// `posfee.paygate.payments`: paygate's payments, paged by payment id, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentsListQuery {
    /// Payments in a page, 1 to 400 (400 when absent).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaygatePayment {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub amount: Money,
    pub state: PaymentState,
    /// Refunds credited back to the payer so far.
    pub refunded: Money,
    pub authorized_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentsList {
    pub items: Vec<PaygatePayment>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// When paygate's last completed recovery pass started: a payment authorized before then
    /// and still authorized was tried and could not be finished. Absent until the first pass
    /// after a start, when every hold is still being recovered.
    #[serde(default)]
    pub recovered_through: Option<DateTime<Utc>>,
}
