//! The identity service's requests: a phone enrolling its key, any key asking what it is
//! taken for, the operator issuing, revoking and listing keys and walking their journal.

pub mod audit;
pub mod enrol;
pub mod keys;
pub mod status;

use posfee_schemas::{ErrorCode, WireError};

pub(crate) use posfee_runtime::serve::internal;

/// Checks `nkey` is a public user key.
pub(crate) fn user_key(nkey: &str) -> Result<nkeys::KeyPair, WireError> {
    match nkeys::KeyPair::from_public_key(nkey) {
        Ok(k) if nkey.starts_with('U') => Ok(k),
        _ => Err(WireError::new(
            ErrorCode::InvalidField,
            "nkey: not a public user nkey (56 symbols starting with U); send the public half of the key, never its seed",
        )),
    }
}
