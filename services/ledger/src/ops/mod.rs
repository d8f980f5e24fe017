//! One file per request the ledger answers.

pub mod audit;
pub mod close;
pub mod refund;
pub mod settle;
pub mod settlements;

use posfee_client::keydir::VerifyError;
use posfee_schemas::{ErrorCode, WireError};

pub(crate) fn internal(e: impl std::fmt::Display) -> WireError {
    tracing::error!(error = %e, "ledger internal error");
    WireError::new(
        ErrorCode::Internal,
        "the ledger could not complete the write",
    )
}

pub(crate) fn signature(what: &str, e: VerifyError) -> WireError {
    match e {
        VerifyError::Sign(e) => WireError::new(ErrorCode::BadSignature, format!("{what}: {e}")),
        VerifyError::Directory(e) => WireError::new(
            ErrorCode::Unavailable,
            format!("{what}: key directory: {e}"),
        ),
    }
}
