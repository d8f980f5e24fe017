//! The temporary connection between a kiosk and a phone.
//!
//! Mode A: the terminal listens on `posfee.pair.<terminal>.<token>`; the companion's join is a
//! request there and its reply inbox is the other half of the connection, which receives the
//! [`BillOffer`]. Mode B: the companion listens on `posfee.wallet.<token>`; the terminal sends
//! the [`BillOffer`] there as a request and gets a [`WalletAnswer`].

use crate::fee::IssuedBill;
use crate::ids::{BillId, PairToken, PaymentId, TerminalId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which side shows the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairMode {
    /// The terminal presents, the phone scans (`posfee.pair.…`).
    TerminalPresents,
    /// The phone presents, the terminal scans (`posfee.wallet.…`).
    PhonePresents,
}

/// Mode A: the companion joins the pairing it scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairJoin {
    /// The terminal the companion believes it is talking to (from the code it scanned).
    pub terminal: TerminalId,
    /// The bill the code was shown for, when the code carried one.
    #[serde(default)]
    pub bill_id: Option<BillId>,
}

/// The signed bill sent over the temporary connection (mode A reply, mode B request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillOffer {
    pub terminal: TerminalId,
    pub bill: IssuedBill,
    /// When the pairing (not the bill) stops accepting.
    pub pairing_expires_at: DateTime<Utc>,
}

/// Mode B: the phone's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletAnswer {
    /// The payment the phone will make for this bill; the terminal watches for its receipt.
    pub payment_id: PaymentId,
    pub bill_id: BillId,
}

/// What a code (QR or typed) carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCode {
    pub mode: PairMode,
    #[serde(default)]
    pub terminal: Option<TerminalId>,
    pub token: PairToken,
    #[serde(default)]
    pub bill_id: Option<BillId>,
}
