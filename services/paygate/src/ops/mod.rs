//! One file per request paygate answers.

pub mod amend;
pub mod audit;
pub mod pay;
pub mod payments;
pub mod register;

use posfee_schemas::{ErrorCode, WireError};

pub(crate) fn internal(e: impl std::fmt::Display) -> WireError {
    tracing::error!(error = %e, "paygate internal error");
    WireError::new(
        ErrorCode::Internal,
        "the payment platform could not complete the write",
    )
}
