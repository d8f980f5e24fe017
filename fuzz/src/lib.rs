//! What every decoder target checks: arbitrary bytes never panic `posfee_schemas::decode`, and
//! whatever does decode survives a round trip through `encode` unchanged (so a value a
//! service accepted is the value it would store and send on).

use posfee_schemas::{decode, encode, MAX_PAYLOAD_BYTES};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

/// Decodes `data` as `T`; if it decodes, re-encodes and decodes again and demands equality.
pub fn decodes_and_round_trips<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let Ok(value) = decode::<T>(data) else {
        return;
    };
    let bytes = encode(&value);
    // Input in the compact array form may grow past the limit once written with field names.
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return;
    }
    match decode::<T>(&bytes) {
        Ok(again) => assert_eq!(value, again, "round trip changed the value"),
        Err(e) => panic!("re-encoded {value:?} does not decode: {e}"),
    }
}
