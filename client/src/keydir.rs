//! The key directory: public keys in the `POSFEE_KEYS` bucket, believed only through the root.
//!
//! The bucket holds, under `<purpose>.<key id>`, each bill-signing and settlement-notice key
//! as a [`DirectoryEntry`] (its record signed by an authority, with the authority's
//! certificate), and under `authority.<name>` each authority's certificate. A verifier pins
//! the root ([`TrustRoot`]) and believes an entry only if the root certified the authority
//! and the authority may vouch for that purpose: an entry written into the bucket by anyone
//! else (a leaked service seed, a relayed write) is refused, wherever it was written.
//!
//! Signers publish their public keys at start; verifiers keep what they verified and look up
//! a key id they have not met yet. Rotation needs no restart anywhere: a new key is published
//! before it signs anything, and old keys stay until their signatures no longer matter.

use async_nats::jetstream::{self, kv};
use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::KeyId;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::signed::{KeyRequest, PublicKeyRecord, Purpose, SignError, Signed};
use posfee_schemas::subjects::{self, Identity, Role};
use posfee_schemas::trust::{Authority, DirectoryEntry, Seal, Signer, TrustRoot};
use posfee_schemas::{decode, encode};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::RwLock;

/// The directory key of an authority's certificate (`authority.<name>`), which the set-up
/// writes (`posfee_deploy::streams::publish_authorities`).
pub fn authority_key(name: &KeyId) -> String {
    format!("{}.{name}", Purpose::Authority.as_str())
}

/// Publishes `key` under `<purpose>.<key id>`, signed by `signer` (the entry carries the
/// signer's certificate).
pub async fn publish(
    client: &async_nats::Client,
    signer: &Signer,
    purpose: Purpose,
    owner: &str,
    key_id: &KeyId,
    key: &VerifyingKey,
) -> anyhow::Result<()> {
    let store = bucket(client).await?;
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
            encode(&signer.entry(&record)).into(),
        )
        .await?;
    Ok(())
}

async fn bucket(client: &async_nats::Client) -> anyhow::Result<kv::Store> {
    Ok(jetstream::new(client.clone())
        .get_key_value(subjects::KEYS_BUCKET)
        .await?)
}

/// Why a signed message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("key directory unavailable: {0}")]
    Directory(String),
}

impl VerifyError {
    /// As a kiosk or a phone reports it: `what` did not verify is `BAD_SIGNATURE` (never
    /// shown, printed or kept); a directory it could not ask is `UNAVAILABLE` (ask again).
    pub fn into_wire(self, what: &str) -> posfee_schemas::WireError {
        use posfee_schemas::{ErrorCode, WireError};
        match self {
            VerifyError::Sign(e) => WireError::new(
                ErrorCode::BadSignature,
                format!("{what} is not signed by whom it must be: {e}"),
            ),
            VerifyError::Directory(e) => WireError::new(
                ErrorCode::Unavailable,
                format!("{what}: the key directory did not answer: {e}"),
            ),
        }
    }
}

/// Where a verifier reads keys it has not met: the bucket itself (services), or the key
/// directory service (`posfee.keys.get`: kiosks and phones, which have no JetStream rights).
enum Source {
    Bucket(Box<kv::Store>),
    Service(async_nats::Client, Identity),
}

/// How long a key lookup through the directory service may take.
pub const KEY_LOOKUP_TIMEOUT_MS: u64 = 3_000;

/// A key the directory vouched for, with who signs with it (a tenant for bills, paygate for
/// settlement notices).
#[derive(Clone)]
struct Known {
    key: VerifyingKey,
    owner: String,
}

/// A verifier's view of the directory: what it verified so far, filled on demand.
pub struct KeyDirectory {
    source: Source,
    root: TrustRoot,
    keys: RwLock<HashMap<(&'static str, KeyId), Known>>,
    authorities: RwLock<HashMap<KeyId, Authority>>,
}

impl KeyDirectory {
    /// A verifier that reads the bucket (a service).
    pub async fn open(
        client: &async_nats::Client,
        root: TrustRoot,
    ) -> anyhow::Result<KeyDirectory> {
        let store = bucket(client).await?;
        Ok(Self::with(Source::Bucket(Box::new(store)), root))
    }

    /// A verifier that asks the key directory service (`posfee.keys.get`): a kiosk's or a
    /// phone's.
    pub fn remote(client: &async_nats::Client, asker: Identity, root: TrustRoot) -> KeyDirectory {
        Self::with(Source::Service(client.clone(), asker), root)
    }

    fn with(source: Source, root: TrustRoot) -> KeyDirectory {
        KeyDirectory {
            source,
            root,
            keys: RwLock::new(HashMap::new()),
            authorities: RwLock::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// A bill, verified with its own tenant's key.
    pub async fn verify_bill(&self, signed: &Signed) -> Result<Bill, VerifyError> {
        self.verify_owned(Purpose::Bill, signed, |b: &Bill| b.tenant.as_str())
            .await
    }

    /// Verifies `signed` with a `purpose` key from the directory, which must belong to
    /// `owner(&body)` (a bill to its tenant), and decodes it.
    pub async fn verify_owned<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        signed: &Signed,
        owner: impl FnOnce(&T) -> &str,
    ) -> Result<T, VerifyError> {
        let known = self.key(purpose, &signed.key_id).await?;
        posfee_schemas::signed::verify_with(&known.key, purpose, &signed.body, &signed.signature)?;
        let body: T = decode(&signed.body).map_err(SignError::from)?;
        let claimed = owner(&body);
        if known.owner != claimed {
            return Err(SignError::NotOwner {
                key: signed.key_id.clone(),
                owner: known.owner,
                claimed: claimed.to_string(),
            }
            .into());
        }
        Ok(body)
    }

    /// Verifies `signed` with a `purpose` key from the directory, whoever owns it.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        signed: &Signed,
    ) -> Result<T, VerifyError> {
        let known = self.key(purpose, &signed.key_id).await?;
        posfee_schemas::signed::verify_with(&known.key, purpose, &signed.body, &signed.signature)?;
        Ok(decode(&signed.body).map_err(SignError::from)?)
    }

    /// A receipt, verified as the ledger's: only the ledger's authority may sign receipts.
    pub async fn verify_receipt(&self, signed: &Signed) -> Result<Receipt, VerifyError> {
        if signed.key_id.as_str() != Role::Ledger.as_str() {
            return Err(SignError::UnknownKey(signed.key_id.clone()).into());
        }
        let ledger = self.authority(&signed.key_id).await?;
        Ok(ledger.verify(Purpose::Receipt, signed)?)
    }

    /// Whether `writer` sealed `payload` on `subject` (`seal`: the message's
    /// [`posfee_schemas::trust::SEAL_HEADER`]): false for a message with no seal, a seal of
    /// anyone else, or one that does not verify. An error only when the writer's certificate
    /// cannot be read or is not the root's: ask again, for a message is never judged unsealed
    /// for want of its writer's certificate (a feed that did would pass over a real settlement
    /// for good).
    pub async fn sealed_by(
        &self,
        writer: &KeyId,
        subject: &str,
        payload: &[u8],
        seal: Option<&str>,
    ) -> Result<bool, VerifyError> {
        let Some(Ok(seal)) = seal.map(Seal::parse) else {
            return Ok(false);
        };
        if &seal.authority != writer {
            return Ok(false);
        }
        let authority = self.authority(writer).await?;
        if seal.check(&authority, subject, payload).is_ok() {
            return Ok(true);
        }
        // The authority may have been replaced since it was read: read its certificate again
        // once before judging the message unsealed.
        if let Ok(mut m) = self.authorities.write() {
            m.remove(writer);
        }
        let fresh = self.authority(writer).await?;
        Ok(
            fresh.public_key != authority.public_key
                && seal.check(&fresh, subject, payload).is_ok(),
        )
    }

    /// The authority named `name`, as the root certified it.
    pub async fn authority(&self, name: &KeyId) -> Result<Authority, VerifyError> {
        if let Some(a) = self
            .authorities
            .read()
            .ok()
            .and_then(|m| m.get(name).cloned())
        {
            return Ok(a);
        }
        let certificate: Signed = self.lookup(Purpose::Authority, name).await?;
        let authority = self.root.authority(&certificate)?;
        if &authority.name != name {
            return Err(SignError::Mislabelled(name.clone()).into());
        }
        if let Ok(mut m) = self.authorities.write() {
            m.insert(name.clone(), authority.clone());
        }
        Ok(authority)
    }

    /// The `purpose` key `key_id`, as the directory vouches for it.
    async fn key(&self, purpose: Purpose, key_id: &KeyId) -> Result<Known, VerifyError> {
        let at = (purpose.as_str(), key_id.clone());
        if let Some(k) = self.keys.read().ok().and_then(|m| m.get(&at).cloned()) {
            return Ok(k);
        }
        let entry: DirectoryEntry = self.lookup(purpose, key_id).await?;
        let record = self.root.key_record(&entry, purpose, key_id)?;
        let bytes: [u8; 32] = record
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::Directory(format!("key {key_id} is not 32 bytes")))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| {
            VerifyError::Directory(format!("key {key_id} is not a valid ed25519 key"))
        })?;
        let known = Known {
            key,
            owner: record.owner,
        };
        if let Ok(mut m) = self.keys.write() {
            m.insert(at, known.clone());
        }
        Ok(known)
    }

    /// The directory's value under `<purpose>.<key id>`, from wherever this verifier reads it.
    async fn lookup<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        key_id: &KeyId,
    ) -> Result<T, VerifyError> {
        let unknown = || VerifyError::Sign(SignError::UnknownKey(key_id.clone()));
        match &self.source {
            Source::Bucket(store) => {
                let raw = store
                    .get(PublicKeyRecord::directory_key(purpose, key_id))
                    .await
                    .map_err(|e| VerifyError::Directory(e.to_string()))?
                    .ok_or_else(unknown)?;
                // An entry that does not even decode is not the directory's: nothing signed
                // with that key can be trusted.
                decode(&raw).map_err(|_| unknown())
            }
            Source::Service(client, asker) => {
                let req = KeyRequest {
                    purpose: purpose.as_str().to_string(),
                    key_id: key_id.clone(),
                };
                let timeout = Some(std::time::Duration::from_millis(KEY_LOOKUP_TIMEOUT_MS));
                let subject = subjects::keys_get(asker);
                match crate::call::call(client, subject, &req, timeout).await {
                    Ok(value) => Ok(value),
                    Err(crate::CallError::Remote(e))
                        if e.code == posfee_schemas::ErrorCode::BadSignature =>
                    {
                        Err(unknown())
                    }
                    Err(crate::CallError::Decode { .. }) => Err(unknown()),
                    Err(e) => Err(VerifyError::Directory(e.to_string())),
                }
            }
        }
    }
}
