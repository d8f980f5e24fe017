//! The key directory: public signing keys in the `POSFEE_KEYS` bucket.
//!
//! Signers publish their public keys at start; verifiers keep a key ring and look up a key id
//! they have not met yet. Rotation needs no restart anywhere: a new key is published before
//! it signs anything, and old keys stay until their signatures no longer matter.

use async_nats::jetstream::{self, kv};
use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::KeyId;
use posfee_schemas::signed::{KeyRequest, KeyRing, PublicKeyRecord, Purpose, SignError, Signed};
use posfee_schemas::{decode, encode, subjects};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::RwLock;

/// Publishes a public key under `<purpose>.<key id>`.
pub async fn publish(
    client: &async_nats::Client,
    purpose: Purpose,
    owner: &str,
    key_id: &KeyId,
    key: &VerifyingKey,
) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    let store = js.get_key_value(subjects::KEYS_BUCKET).await?;
    let record = PublicKeyRecord {
        key_id: key_id.clone(),
        purpose: purpose.as_str().to_string(),
        owner: owner.to_string(),
        public_key: key.to_bytes().to_vec(),
        published_at: Utc::now(),
    };
    store
        .put(
            PublicKeyRecord::directory_key(purpose, key_id),
            encode(&record).into(),
        )
        .await?;
    Ok(())
}

/// Why a signed message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("key directory unavailable: {0}")]
    Directory(String),
}

/// Where a verifier reads keys it has not met: the bucket itself (services), or the key
/// directory service (`posfee.keys.get`: kiosks and phones, which have no JetStream rights).
enum Source {
    Bucket(Box<kv::Store>),
    Service(async_nats::Client, posfee_schemas::subjects::Identity),
}

/// How long a key lookup through the directory service may take.
pub const KEY_LOOKUP_TIMEOUT_MS: u64 = 3_000;

/// A verifier's view of one purpose's keys, filled from the directory on demand.
pub struct KeyDirectory {
    source: Source,
    purpose: Purpose,
    ring: RwLock<KeyRing>,
    /// Who each key in the ring belongs to (a tenant for bills, paygate for settlements).
    owners: RwLock<HashMap<KeyId, String>>,
}

impl KeyDirectory {
    pub async fn open(
        client: &async_nats::Client,
        purpose: Purpose,
    ) -> anyhow::Result<KeyDirectory> {
        let js = jetstream::new(client.clone());
        let store = js.get_key_value(subjects::KEYS_BUCKET).await?;
        Ok(KeyDirectory {
            source: Source::Bucket(Box::new(store)),
            purpose,
            ring: RwLock::new(KeyRing::new()),
            owners: RwLock::new(HashMap::new()),
        })
    }

    /// A verifier that asks the key directory service (`posfee.keys.get`) for keys: a phone's.
    pub fn remote(
        client: &async_nats::Client,
        asker: posfee_schemas::subjects::Identity,
        purpose: Purpose,
    ) -> KeyDirectory {
        KeyDirectory {
            source: Source::Service(client.clone(), asker),
            purpose,
            ring: RwLock::new(KeyRing::new()),
            owners: RwLock::new(HashMap::new()),
        }
    }

    /// As [`KeyDirectory::verify`], and the key must belong to `owner(&body)`: a bill must be
    /// signed by its own tenant's key, a settlement notice by paygate's.
    pub async fn verify_owned<T: DeserializeOwned>(
        &self,
        signed: &Signed,
        owner: impl FnOnce(&T) -> &str,
    ) -> Result<T, VerifyError> {
        let body: T = self.verify(signed).await?;
        let claimed = owner(&body);
        let actual = self
            .owners
            .read()
            .map_err(|_| VerifyError::Directory("key owners lock poisoned".into()))?
            .get(&signed.key_id)
            .cloned()
            .unwrap_or_default();
        if actual != claimed {
            return Err(SignError::NotOwner {
                key: signed.key_id.clone(),
                owner: actual,
                claimed: claimed.to_string(),
            }
            .into());
        }
        Ok(body)
    }

    /// A bill, verified with its own tenant's key.
    pub async fn verify_bill(&self, signed: &Signed) -> Result<Bill, VerifyError> {
        self.verify_owned(signed, |b: &Bill| b.tenant.as_str())
            .await
    }

    /// Verifies `signed` and decodes its body, fetching the signing key if it is new to us.
    pub async fn verify<T: DeserializeOwned>(&self, signed: &Signed) -> Result<T, VerifyError> {
        let known = self
            .ring
            .read()
            .map(|r| r.get(&signed.key_id).is_some())
            .unwrap_or(false);
        if !known {
            self.fetch(&signed.key_id).await?;
        }
        let ring = self
            .ring
            .read()
            .map_err(|_| VerifyError::Directory("key ring lock poisoned".into()))?;
        Ok(signed.verify(self.purpose, &ring)?)
    }

    /// The directory's record of `key_id`, from wherever this verifier reads it.
    async fn lookup(&self, key_id: &KeyId) -> Result<PublicKeyRecord, VerifyError> {
        match &self.source {
            Source::Bucket(store) => {
                let raw = store
                    .get(PublicKeyRecord::directory_key(self.purpose, key_id))
                    .await
                    .map_err(|e| VerifyError::Directory(e.to_string()))?;
                let Some(raw) = raw else {
                    return Err(SignError::UnknownKey(key_id.clone()).into());
                };
                decode(&raw).map_err(|e| VerifyError::Directory(e.to_string()))
            }
            Source::Service(client, asker) => {
                let req = KeyRequest {
                    purpose: self.purpose.as_str().to_string(),
                    key_id: key_id.clone(),
                };
                let timeout = Some(std::time::Duration::from_millis(KEY_LOOKUP_TIMEOUT_MS));
                let subject = subjects::keys_get(asker);
                match crate::call::call(client, subject, &req, timeout).await {
                    Ok(record) => Ok(record),
                    Err(crate::CallError::Remote(e))
                        if e.code == posfee_schemas::ErrorCode::BadSignature =>
                    {
                        Err(SignError::UnknownKey(key_id.clone()).into())
                    }
                    Err(e) => Err(VerifyError::Directory(e.to_string())),
                }
            }
        }
    }

    async fn fetch(&self, key_id: &KeyId) -> Result<(), VerifyError> {
        let record = self.lookup(key_id).await?;
        let bytes: [u8; 32] = record
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::Directory(format!("key {key_id} is not 32 bytes")))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| {
            VerifyError::Directory(format!("key {key_id} is not a valid ed25519 key"))
        })?;
        if record.purpose != self.purpose.as_str() || &record.key_id != key_id {
            return Err(VerifyError::Directory(format!(
                "directory entry for {key_id} is mislabelled"
            )));
        }
        if let Ok(mut owners) = self.owners.write() {
            owners.insert(key_id.clone(), record.owner.clone());
        }
        if let Ok(mut ring) = self.ring.write() {
            ring.insert(key_id.clone(), key);
        }
        Ok(())
    }
}
