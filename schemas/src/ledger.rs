//! Settlement and refunds, and the receipt the payer and the terminal keep.

use crate::fee::{Bill, BillLine, IssuedBill};
use crate::ids::{AccountNo, BillId, IdempotencyKey, PayerHandle, PaymentId, TenantId, TerminalId};
use crate::money::Money;
use crate::pairing::CloseReason;
use crate::signed::Signed;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What paygate signs and sends to `posfee.ledger.settle` once it holds the money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementNotice {
    pub payment_id: PaymentId,
    pub payer: PayerHandle,
    pub amount: Money,
    pub bill: IssuedBill,
    pub authorized_at: DateTime<Utc>,
    /// The basket payment this bill's payment is part of (`payment_id` is then
    /// [`PaymentId::part`] of it): settled only with the basket's other notices. Since 0.4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basket: Option<PaymentId>,
}

/// `posfee.ledger.settle`: a [`SettlementNotice`] signed with paygate's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleRequest {
    pub notice: Signed,
    /// On `posfee.ledger.settle_basket` only: a basket's other bills' notices; all of them
    /// settle, in one atomic append, or none, and the answer is every receipt in order
    /// (`Vec<SignedReceipt>`). Since 0.4.0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<Signed>,
}

/// The receipt: what the terminal prints and the phone keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub account: AccountNo,
    pub terminal: TerminalId,
    pub lines: Vec<BillLine>,
    pub total: Money,
    pub settled_at: DateTime<Utc>,
    /// The bill's `tenant_name_zh`; empty when the tenant gives none or from older ledgers.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub tenant_name_zh: String,
}

impl Receipt {
    /// The receipt of `bill` settled by payment `payment_id` at `settled_at`: what the ledger
    /// answers, and what paygate keeps when it learns the settlement from `payment.settled`,
    /// so both give the payer the same receipt.
    pub fn of_bill(payment_id: PaymentId, bill: &Bill, settled_at: DateTime<Utc>) -> Receipt {
        Receipt {
            payment_id,
            bill_id: bill.bill_id,
            tenant: bill.tenant.clone(),
            tenant_name: bill.tenant_name.clone(),
            account: bill.account.clone(),
            terminal: bill.terminal.clone(),
            lines: bill.lines.clone(),
            total: bill.total,
            settled_at,
            tenant_name_zh: bill.tenant_name_zh.clone(),
        }
    }
}

/// A receipt as the ledger signs it: a [`Signed`] envelope (purpose `receipt`, key id
/// `ledger`, the ledger's authority) around a [`Receipt`]. On the wire it is the envelope
/// itself. A kiosk prints it and a phone keeps it only once the signature verifies against
/// the root (`docs/contract.md` section 6), so a receipt nobody paid for is never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignedReceipt(pub Signed);

impl SignedReceipt {
    /// The receipt inside, unchecked: for showing or matching what arrived before the
    /// verdict, never for acting on it.
    pub fn peek(&self) -> Result<Receipt, crate::DecodeError> {
        self.0.peek()
    }
}

/// `posfee.ledger.refund`: give back all or part of a settled payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    pub amount: Money,
    pub reason: String,
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReply {
    pub payment_id: PaymentId,
    pub refunded: Money,
    /// All refunds of this payment so far, this one included.
    pub total_refunded: Money,
    pub refunded_at: DateTime<Utc>,
}

/// `posfee.ledger.settlements`: the ledger's settled payments, paged by payment id, for
/// reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementsQuery {
    /// Settlements in a page, 1 to 400 (400 when absent).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementItem {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub amount: Money,
    pub refunded: Money,
    pub settled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementsPage {
    pub items: Vec<SettlementItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `posfee.ledger.close.<terminal>`: the kiosk that issued a bill ends its payment window.
/// Like closing a pre-created order: afterwards the bill can no longer be settled, and if it
/// was settled first the answer says so with its receipt. Idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseRequest {
    /// The fee-engine-signed bill; its terminal must be the one in the subject.
    pub bill: IssuedBill,
    pub reason: CloseReason,
    /// The error code that ended the payment, when there was one (`PAYER_DECLINED`,
    /// `INSUFFICIENT_FUNDS` …): one of the contract's codes, carried into `bill.closed`.
    /// Since 0.3.1; absent from older kiosks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// How the bill's pairing ended, when no hold told it (the close's entry carries the
    /// `pairing.*` event). Since 0.5.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<crate::pairing::PairingClosed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseReply {
    pub outcome: CloseOutcome,
    /// `paid`: the receipt of the payment that settled the bill, signed by the ledger.
    #[serde(default)]
    pub receipt: Option<SignedReceipt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseOutcome {
    /// Closed unpaid: no settlement of this bill will ever be accepted.
    Closed,
    /// Already settled: the payment stands.
    Paid,
}
