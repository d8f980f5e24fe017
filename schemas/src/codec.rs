//! MessagePack on the wire: maps with field names, so fields can be added without breaking
//! older readers, and unknown fields are ignored by serde's default.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The largest payload a posfee message may carry. nats.conf sets the server's `max_payload`
/// to the same figure; a bill with a few hundred lines fits with room to spare.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload of {size} bytes is over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("payload is empty")]
    Empty,
    #[error("malformed payload: {0}")]
    Malformed(#[from] rmp_serde::decode::Error),
}

/// Reads an optional field that is not an `Option` (a list, a map, a text): absent (with
/// `#[serde(default)]`) and nil both mean its default, as the contract promises for every
/// optional field.
pub fn nil_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Encodes a payload as a MessagePack map with field names.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serializing our own plain-data types into a Vec cannot fail: no maps with non-string
    // keys, no I/O. An error here is a programming mistake, reported loudly in debug builds.
    match rmp_serde::to_vec_named(value) {
        Ok(bytes) => bytes,
        Err(e) => {
            debug_assert!(false, "encode failed: {e}");
            Vec::new()
        }
    }
}

/// Decodes a payload, refusing oversized or empty input before parsing.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            max: MAX_PAYLOAD_BYTES,
        });
    }
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(rmp_serde::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        a: u32,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        a: u32,
        #[serde(default)]
        b: String,
    }

    #[test]
    fn newer_sender_older_reader_and_back() {
        let v2 = V2 {
            a: 1,
            b: "x".into(),
        };
        assert_eq!(decode::<V1>(&encode(&v2)).unwrap(), V1 { a: 1 });
        let v1 = V1 { a: 2 };
        assert_eq!(
            decode::<V2>(&encode(&v1)).unwrap(),
            V2 {
                a: 2,
                b: String::new()
            }
        );
    }

    #[test]
    fn garbage_truncated_and_oversized_input_are_errors() {
        let good = encode(&V1 { a: 7 });
        assert!(decode::<V1>(&good[..good.len() - 1]).is_err());
        assert!(decode::<V1>(&[0xc1]).is_err());
        assert!(matches!(decode::<V1>(&[]), Err(DecodeError::Empty)));
        // An array header declaring four billion elements must not allocate them.
        assert!(decode::<Vec<u8>>(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(
            decode::<V1>(&big),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_optional_field_sent_as_nil_reads_as_absent() {
        use crate::fee::QuoteRequest;
        // {tenant: "city-water", account: "W-1", kinds: nil, as_of: nil}
        let mut quote = vec![0x84];
        for (k, v) in [("tenant", "city-water"), ("account", "W-1")] {
            quote.extend(encode(&k));
            quote.extend(encode(&v));
        }
        for k in ["kinds", "as_of"] {
            quote.extend(encode(&k));
            quote.push(0xc0);
        }
        let q: QuoteRequest = decode(&quote).unwrap();
        assert!(q.kinds.is_empty() && q.as_of.is_none());
        // The same for a text.
        #[derive(Debug, Deserialize)]
        struct Versioned {
            #[serde(default, deserialize_with = "nil_is_default")]
            version: String,
        }
        let nil = [0x81, 0xa7, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0xc0];
        assert_eq!(decode::<Versioned>(&nil).unwrap().version, "");
    }
}
