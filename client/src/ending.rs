//! How a client (kiosk, phone, script) tells a person or a script the way a request ended.
//!
//! Three kinds, never mixed up: an ordinary outcome ("nothing owed", "the payer declined",
//! "not enough money"), shown as a result; an outcome not known yet (the payment may still be
//! completed or released), never shown as a failure; and a failure. Scripts get the same split
//! in the JSON line and in the exit code.

use crate::CallError;
use posfee_schemas::{ErrorCode, WireError};
use std::process::ExitCode;

/// Exit status of a request that ended in an ordinary outcome other than success.
pub const EXIT_OUTCOME: u8 = 3;
/// Exit status when the outcome is not known yet.
pub const EXIT_UNKNOWN: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Outcome,
    Unknown,
    Failure,
}

pub fn ending(e: &WireError) -> Ending {
    if e.code == ErrorCode::OutcomeUnknown {
        Ending::Unknown
    } else if e.code.is_outcome() {
        Ending::Outcome
    } else {
        Ending::Failure
    }
}

/// `{"outcome": …}` for results and unknown outcomes, `{"error": …}` for failures.
pub fn json(e: &WireError) -> serde_json::Value {
    let body = serde_json::json!({ "code": e.code.name(), "message": e.message });
    match ending(e) {
        Ending::Outcome => serde_json::json!({ "outcome": "not_done", "reason": body }),
        Ending::Unknown => serde_json::json!({ "outcome": "unknown", "reason": body }),
        Ending::Failure => serde_json::json!({ "error": body }),
    }
}

pub fn exit_code(e: &WireError) -> ExitCode {
    match ending(e) {
        Ending::Outcome => ExitCode::from(EXIT_OUTCOME),
        Ending::Unknown => ExitCode::from(EXIT_UNKNOWN),
        Ending::Failure => ExitCode::FAILURE,
    }
}

/// A failed call as the person at a kiosk or phone is told it.
pub fn from_call(e: CallError) -> WireError {
    match e {
        CallError::Remote(w) => w,
        CallError::NoResponders(s) => WireError::new(
            ErrorCode::Unavailable,
            format!("nobody is serving {s}; is the system up?"),
        ),
        CallError::TimedOut(s) => WireError::new(
            ErrorCode::Unavailable,
            format!("{s} did not answer in time"),
        ),
        CallError::TooLarge(s) => WireError::new(ErrorCode::PayloadTooLarge, s),
        CallError::Link { subject, reason } => WireError::new(
            ErrorCode::Unavailable,
            format!("the connection could not carry the request to {subject}: {reason}"),
        ),
        other => WireError::new(ErrorCode::Internal, other.to_string()),
    }
}
