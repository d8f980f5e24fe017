//! Stable error codes on the wire.
//!
//! Errors travel in the NATS micro headers: `Nats-Service-Error-Code` carries the HTTP-like
//! status and `Nats-Service-Error` a text that begins with the symbolic code
//! (`ACCOUNT_NOT_FOUND: no account 3-1-1202 at tenant acme-property`). Callers match on the
//! symbolic code, never on the free text after it. Codes are never renamed or reused.

use std::fmt;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($name:literal, $status:literal),)*) => {
        /// Every error a posfee endpoint can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable symbolic name, e.g. `ACCOUNT_NOT_FOUND`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// The HTTP-like status sent as `Nats-Service-Error-Code`.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name { $($name => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The payload could not be decoded (garbage, truncated, wrong types).
    BadRequest = ("BAD_REQUEST", 400),
    /// A field decoded but its value is not acceptable; the message names the field.
    InvalidField = ("INVALID_FIELD", 400),
    /// A request that needs an answer came without a reply subject.
    NoReplySubject = ("NO_REPLY_SUBJECT", 400),
    /// A signature did not verify, or was made with an unknown key.
    BadSignature = ("BAD_SIGNATURE", 401),
    /// The caller may not do this.
    Forbidden = ("FORBIDDEN", 403),
    /// The payer declined the bill on the phone; nothing was paid.
    PayerDeclined = ("PAYER_DECLINED", 403),
    TenantNotFound = ("TENANT_NOT_FOUND", 404),
    AccountNotFound = ("ACCOUNT_NOT_FOUND", 404),
    BillNotFound = ("BILL_NOT_FOUND", 404),
    PaymentNotFound = ("PAYMENT_NOT_FOUND", 404),
    PayerNotFound = ("PAYER_NOT_FOUND", 404),
    PairingNotFound = ("PAIRING_NOT_FOUND", 404),
    /// No key is issued to this kiosk, phone or clerk.
    KeyNotFound = ("KEY_NOT_FOUND", 404),
    /// The key is issued to someone else, or the holder has one already.
    KeyConflict = ("KEY_CONFLICT", 409),
    /// The same idempotency key came back with a different request.
    IdempotencyConflict = ("IDEMPOTENCY_CONFLICT", 409),
    BillAlreadyPaid = ("BILL_ALREADY_PAID", 409),
    /// The pairing was already joined, or names another terminal or bill.
    PairingConflict = ("PAIRING_CONFLICT", 409),
    /// The payment is in a state that does not allow this step.
    PaymentStateConflict = ("PAYMENT_STATE_CONFLICT", 409),
    BillExpired = ("BILL_EXPIRED", 410),
    /// The pairing expired or was cancelled.
    PairingGone = ("PAIRING_GONE", 410),
    PayloadTooLarge = ("PAYLOAD_TOO_LARGE", 413),
    /// A tariff or business rule forbids the request.
    RuleViolation = ("RULE_VIOLATION", 422),
    AmountMismatch = ("AMOUNT_MISMATCH", 422),
    InsufficientFunds = ("INSUFFICIENT_FUNDS", 422),
    RefundExceedsPayment = ("REFUND_EXCEEDS_PAYMENT", 422),
    NothingOwed = ("NOTHING_OWED", 422),
    /// Too many requests of this kind just now; try again after a short wait.
    RateLimited = ("RATE_LIMITED", 429),
    /// A new key's stamp has fewer leading zero bits than enrolling needs just now; the
    /// message says how many (`needs at least N`).
    StampTooWeak = ("STAMP_TOO_WEAK", 429),
    /// A bug or a storage failure; the message is safe to show, details are in the log.
    Internal = ("INTERNAL", 500),
    /// A dependency did not answer; the request may be retried with the same key.
    Unavailable = ("UNAVAILABLE", 503),
    /// Whether money moved is not known yet: the payment will be settled or released by the
    /// system on its own; ask again with the same payment id (or read the receipts) later.
    OutcomeUnknown = ("OUTCOME_UNKNOWN", 504),
}

impl ErrorCode {
    /// An ordinary answer a payer or kiosk expects to see now and then (nothing owed, the
    /// payer declined, the code expired, not enough money): shown as a result, not as an error.
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            ErrorCode::NothingOwed
                | ErrorCode::PayerDeclined
                | ErrorCode::PairingGone
                | ErrorCode::BillAlreadyPaid
                | ErrorCode::BillExpired
                | ErrorCode::InsufficientFunds
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error as it crosses the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A field that decoded but is not acceptable; the message starts with the field name.
    pub fn field(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidField, format!("{field}: {reason}"))
    }

    /// The text for the `Nats-Service-Error` header.
    pub fn header_text(&self) -> String {
        self.to_string()
    }

    /// Reads back the `Nats-Service-Error` header. An unknown symbolic code (a newer server)
    /// maps to the nearest code by status so callers still branch correctly.
    pub fn from_header(status: u16, text: &str) -> WireError {
        let (name, message) = text.split_once(": ").unwrap_or((text, ""));
        let code = ErrorCode::from_name(name).unwrap_or(match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::BadSignature,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::BillNotFound,
            409 => ErrorCode::PaymentStateConflict,
            410 => ErrorCode::PairingGone,
            413 => ErrorCode::PayloadTooLarge,
            422 => ErrorCode::RuleViolation,
            503 => ErrorCode::Unavailable,
            504 => ErrorCode::OutcomeUnknown,
            _ => ErrorCode::Internal,
        });
        let message = if ErrorCode::from_name(name).is_some() {
            message.to_string()
        } else {
            text.to_string()
        };
        WireError { code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_upper_snake_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.name()), "duplicate {}", code.name());
            assert!(code
                .name()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_'));
            assert_eq!(ErrorCode::from_name(code.name()), Some(*code));
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn header_text_round_trips() {
        let e = WireError::new(ErrorCode::AccountNotFound, "no account 3-1-1202: try again");
        let back = WireError::from_header(404, &e.header_text());
        assert_eq!(back, e);
        assert_eq!(
            WireError::from_header(410, "SOMETHING_NEW: x").code,
            ErrorCode::PairingGone
        );
    }
}
