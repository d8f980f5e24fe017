//! Signed envelopes: a MessagePack body, the id of the key that signed it and an ed25519
//! signature over a purpose tag plus the body bytes.
//!
//! Signing the exact bytes (not a re-encoding) means no canonical form is needed; the purpose
//! tag means a signature made for one kind of message (a bill) can never be replayed as
//! another (a settlement notice).

use crate::codec::{decode, encode, DecodeError};
use crate::ids::KeyId;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a signature vouches for. Part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A bill issued by the fee-engine with a tenant's key.
    Bill,
    /// A payment request signed by the payer's device key.
    DevicePay,
    /// A registration's proof that the phone holds the device key it registers.
    DeviceRegister,
    /// A registered payer's correction of their name or bank card, signed by their device key.
    DeviceAmend,
    /// A settlement notice from paygate to the ledger.
    Settlement,
    /// A receipt, signed by the ledger's authority: what a kiosk prints and a phone keeps.
    Receipt,
    /// An authority's certificate, signed by the root ([`crate::trust`]).
    Authority,
    /// A key directory record, signed by an authority.
    KeyRecord,
    /// A writer's seal over a message it wrote on a stream (subject and payload).
    Seal,
}

impl Purpose {
    /// The name used in the key directory (`bill.<key id>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Bill => "bill",
            Purpose::DevicePay => "device-pay",
            Purpose::DeviceRegister => "device-register",
            Purpose::DeviceAmend => "device-amend",
            Purpose::Settlement => "settlement",
            Purpose::Receipt => "receipt",
            Purpose::Authority => "authority",
            Purpose::KeyRecord => "key-record",
            Purpose::Seal => "seal",
        }
    }

    /// What an authority's certificate must allow for it to sign with this purpose itself
    /// ([`crate::trust::may`]); a key record's right is the purpose of the key it records,
    /// which the caller checks.
    pub fn authority_right(self) -> Option<&'static str> {
        match self {
            Purpose::Receipt => Some(crate::trust::may::RECEIPT),
            Purpose::Seal => Some(crate::trust::may::SEAL),
            _ => None,
        }
    }

    /// What the key directory holds, read back from their names: bill and settlement keys
    /// (as [`crate::trust::DirectoryEntry`]) and authorities' certificates.
    pub fn of_directory(name: &str) -> Option<Purpose> {
        match name {
            "bill" => Some(Purpose::Bill),
            "settlement" => Some(Purpose::Settlement),
            "authority" => Some(Purpose::Authority),
            _ => None,
        }
    }

    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Bill => b"posfee/v1/bill\0",
            Purpose::DevicePay => b"posfee/v1/device-pay\0",
            Purpose::DeviceRegister => b"posfee/v1/device-register\0",
            Purpose::DeviceAmend => b"posfee/v1/device-amend\0",
            Purpose::Settlement => b"posfee/v1/settlement\0",
            Purpose::Receipt => b"posfee/v1/receipt\0",
            Purpose::Authority => b"posfee/v1/authority\0",
            Purpose::KeyRecord => b"posfee/v1/key-record\0",
            Purpose::Seal => b"posfee/v1/seal\0",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The MessagePack-encoded payload, exactly as signed.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub key_id: KeyId,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signed by unknown key {0}")]
    UnknownKey(KeyId),
    #[error("signature does not verify")]
    BadSignature,
    /// The key is genuine but belongs to someone else than the signed body claims: one
    /// tenant's key cannot sign bills payable to another.
    #[error("signed with key {key} of {owner}, not of {claimed}")]
    NotOwner {
        key: KeyId,
        owner: String,
        claimed: String,
    },
    #[error("signed body: {0}")]
    Body(#[from] DecodeError),
    /// A genuine authority signed something its certificate does not allow.
    #[error("authority {authority} may not sign {purpose}")]
    NotAllowed {
        authority: String,
        purpose: &'static str,
    },
    /// A directory entry whose record names another key or purpose than it is filed under.
    #[error("the directory entry for {0} records another key")]
    Mislabelled(KeyId),
}

fn message(purpose: Purpose, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(purpose.tag().len() + body.len());
    m.extend_from_slice(purpose.tag());
    m.extend_from_slice(body);
    m
}

impl Signed {
    pub fn sign<T: Serialize>(
        purpose: Purpose,
        value: &T,
        key_id: &KeyId,
        key: &SigningKey,
    ) -> Signed {
        let body = encode(value);
        let signature = sign_detached(key, purpose, &body);
        Signed {
            body,
            key_id: key_id.clone(),
            signature,
        }
    }

    /// Checks the signature against the key ring, then decodes the body.
    pub fn verify<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        keys: &KeyRing,
    ) -> Result<T, SignError> {
        let key = keys
            .get(&self.key_id)
            .ok_or_else(|| SignError::UnknownKey(self.key_id.clone()))?;
        verify_with(key, purpose, &self.body, &self.signature)?;
        Ok(decode(&self.body)?)
    }

    /// Decodes the body without checking the signature: for showing what was received before
    /// the verdict, never for acting on it.
    pub fn peek<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        decode(&self.body)
    }
}

/// Verifies a detached signature over `purpose || body`; one this process made or has
/// checked before, over the very same bytes, passes without a second check ([`CHECKED`]).
pub fn verify_with(
    key: &VerifyingKey,
    purpose: Purpose,
    body: &[u8],
    signature: &[u8],
) -> Result<(), SignError> {
    let sig = Signature::from_slice(signature).map_err(|_| SignError::BadSignature)?;
    let message = message(purpose, body);
    let seen = checked_digest(key, &message, signature);
    if CHECKED.get(&seen).is_some() {
        return Ok(());
    }
    key.verify(&message, &sig)
        .map_err(|_| SignError::BadSignature)?;
    CHECKED.put(seen, ());
    Ok(())
}

/// Makes a detached signature over `purpose || body`.
pub fn sign_detached(key: &SigningKey, purpose: Purpose, body: &[u8]) -> Vec<u8> {
    let message = message(purpose, body);
    let signature = key.sign(&message).to_bytes().to_vec();
    CHECKED.put(
        checked_digest(&key.verifying_key(), &message, &signature),
        (),
    );
    signature
}

/// The ed25519 public key `bytes` encode, or `None` for anything else. Decoding one is a
/// point decompression (a field square root, about a seventh of a signature check on this
/// project's reference machine), and the same few keys check every seal and receipt, and
/// every order of one phone, so each decoded key is remembered.
pub fn public_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let raw: [u8; 32] = bytes.try_into().ok()?;
    if let Some(key) = DECODED.get(&raw) {
        return Some(key);
    }
    let key = VerifyingKey::from_bytes(&raw).ok()?;
    DECODED.put(raw, key);
    Some(key)
}

/// Public keys already decoded, by their bytes ([`public_key`]).
static DECODED: Memo<[u8; 32], VerifyingKey> = Memo::new();

/// What [`verify_with`] need not check again: the signatures this process made or has
/// checked, each known by a SHA-256 over key, signature and signed message
/// ([`checked_digest`]), so only the very same bytes match. The same signature comes back
/// within moments, e.g. the fee-engine reads back every `bill.issued` it sealed. A check
/// costs about 30 µs on this project's reference machine, the digest about 1.
static CHECKED: Memo<[u8; 32], ()> = Memo::new();

fn checked_digest(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"posfee/v1/checked\0");
    h.update(key.as_bytes());
    h.update(signature);
    h.update(message);
    h.finalize().into()
}

/// Values a process remembers to spare itself work, at most [`Memo::MAX`] of them: when
/// full it forgets them all at once, and what is forgotten is simply worked out again.
struct Memo<K, V>(std::sync::Mutex<Option<std::collections::HashMap<K, V>>>);

impl<K: std::hash::Hash + Eq, V: Copy> Memo<K, V> {
    const MAX: usize = 4_096;

    const fn new() -> Self {
        Memo(std::sync::Mutex::new(None))
    }

    fn get(&self, key: &K) -> Option<V> {
        let held = self.0.lock().ok()?;
        held.as_ref()?.get(key).copied()
    }

    fn put(&self, key: K, value: V) {
        if let Ok(mut held) = self.0.lock() {
            let held = held.get_or_insert_with(Default::default);
            if held.len() >= Self::MAX {
                held.clear();
            }
            held.insert(key, value);
        }
    }
}

/// A public key as the key directory (`POSFEE_KEYS` bucket) publishes it, under the key
/// `<purpose>.<key id>`. Only the key's owner may write there (nats.conf), so a verifier that
/// meets an unknown key id looks it up here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyRecord {
    pub key_id: KeyId,
    /// `bill` or `settlement`.
    pub purpose: String,
    /// Who signs with it: a tenant id, or `paygate`.
    pub owner: String,
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

impl PublicKeyRecord {
    pub fn directory_key(purpose: Purpose, key_id: &KeyId) -> String {
        format!("{}.{key_id}", purpose.as_str())
    }
}

/// `posfee.keys.get`: a phone or kiosk asks the key directory for one key it has not met
/// yet. The answer is the [`crate::trust::DirectoryEntry`] of a bill or settlement key, or the
/// certificate ([`Signed`]) of an authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// `bill`, `settlement` or `authority`.
    pub purpose: String,
    pub key_id: KeyId,
}

/// Every public key a verifier accepts, by key id. Holding more than one lets a signer rotate
/// to a new key while signatures made with the old one still verify.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl KeyRing {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, id: KeyId, key: VerifyingKey) {
        self.keys.insert(id, key);
    }
    pub fn remove(&mut self, id: &KeyId) {
        self.keys.remove(id);
    }
    pub fn get(&self, id: &KeyId) -> Option<&VerifyingKey> {
        self.keys.get(id)
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn verifies_with_the_right_key_and_purpose_only() {
        let id = KeyId::parse("k1").unwrap();
        let s = Signed::sign(Purpose::Bill, &("payee", 500i64), &id, &key(1));
        let mut ring = KeyRing::new();
        ring.insert(id.clone(), key(1).verifying_key());
        let (p, amt): (String, i64) = s.verify(Purpose::Bill, &ring).unwrap();
        assert_eq!((p.as_str(), amt), ("payee", 500));
        assert!(matches!(
            s.verify::<(String, i64)>(Purpose::Settlement, &ring),
            Err(SignError::BadSignature)
        ));
        ring.insert(id, key(2).verifying_key());
        assert!(s.verify::<(String, i64)>(Purpose::Bill, &ring).is_err());
        assert!(matches!(
            s.verify::<(String, i64)>(Purpose::Bill, &KeyRing::new()),
            Err(SignError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_remembered_signature_stands_only_for_the_very_same_bytes() {
        // Signed here, so remembered: each variant below differs in one part only, and each
        // must still be checked, and refused, after the original passed.
        let body = encode(&("payee", 500i64));
        let sig = sign_detached(&key(3), Purpose::Bill, &body);
        for _ in 0..2 {
            assert!(verify_with(&key(3).verifying_key(), Purpose::Bill, &body, &sig).is_ok());
        }
        let other_body = encode(&("payee", 501i64));
        assert!(verify_with(&key(3).verifying_key(), Purpose::Bill, &other_body, &sig).is_err());
        assert!(verify_with(&key(3).verifying_key(), Purpose::Receipt, &body, &sig).is_err());
        assert!(verify_with(&key(4).verifying_key(), Purpose::Bill, &body, &sig).is_err());
        let mut bent = sig.clone();
        bent[10] ^= 1;
        assert!(verify_with(&key(3).verifying_key(), Purpose::Bill, &body, &bent).is_err());
    }

    #[test]
    fn public_keys_decode_once_and_refuse_what_is_not_one() {
        let bytes = key(5).verifying_key().to_bytes();
        assert_eq!(public_key(&bytes), Some(key(5).verifying_key()));
        assert_eq!(public_key(&bytes), Some(key(5).verifying_key()));
        assert_eq!(public_key(&bytes[..31]), None);
        // y = 2 is on no point of the curve: 32 bytes, but no key.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert_eq!(public_key(&not_a_point), None);
    }

    #[test]
    fn a_changed_body_fails() {
        let id = KeyId::parse("k1").unwrap();
        let mut s = Signed::sign(Purpose::Bill, &("payee", 500i64), &id, &key(1));
        let mut ring = KeyRing::new();
        ring.insert(id, key(1).verifying_key());
        s.body = encode(&("payee", 50000i64));
        assert!(s.verify::<(String, i64)>(Purpose::Bill, &ring).is_err());
    }
}
