//! One file per request the ledger answers.

pub mod audit;
pub mod basket;
pub mod close;
pub mod refund;
pub mod settle;
pub mod settlements;
pub mod statement;

use posfee_client::keydir::VerifyError;
use posfee_schemas::{ErrorCode, WireError};

pub(crate) use posfee_runtime::serve::internal;

pub(crate) fn signature(what: &str, e: VerifyError) -> WireError {
    match e {
        VerifyError::Sign(e) => WireError::new(ErrorCode::BadSignature, format!("{what}: {e}")),
        VerifyError::Directory(e) => WireError::new(
            ErrorCode::Unavailable,
            format!("{what}: key directory: {e}"),
        ),
    }
}
