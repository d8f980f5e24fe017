//! Who payers are, sealed at rest. Each payer's name, identity card and bank account are
//! encrypted (XChaCha20-Poly1305) under a data key of that payer's own; the data key is kept
//! wrapped by a master key that lives outside every store (`creds/authorities/paygate.master`,
//! [`posfee_client::creds::master_keys_file`]).
//!
//! The sealed identity is written to paygate's journal with the registration (or correction)
//! that gave it, so every instance has it and an instance whose store is lost rebuilds it
//! like everything else; each instance's `identities` tree is a view of those entries. The
//! wrapped data keys are in a bucket of their own (`POSFEE_PAYER_KEYS`, one value per payer,
//! no history, replicated), which only paygate may read or write.
//!
//! Erasing a payer purges their data key from that bucket: what was sealed under it, in the
//! journal, in every view and in every backup of them, can no longer be read by anyone, the
//! master key's holder included, while the books keep amounts and handles. (A backup of the
//! bucket itself keeps the keys it held: back it up no longer than an erasure may wait.)
//! Rotating the master key (a new key put first in the file) wraps every data key again under
//! it while paygate runs ([`Vault::watch`]); the old key may be removed from the file once
//! paygate logs that it is no longer needed.

use crate::store::PayerIdentity;
use async_nats::jetstream::kv;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::subjects;
use posfee_schemas::{decode, encode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;

/// How often the master keys file is read again for a rotation.
pub const RELOAD_EVERY: Duration = Duration::from_secs(posfee_client::creds::MASTER_RELOAD_SECS);

/// The master keys, the one in use first.
#[derive(Clone)]
pub struct MasterKeys(Vec<(String, [u8; 32])>);

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.0.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "MasterKeys({ids:?})")
    }
}

impl MasterKeys {
    pub fn new(keys: Vec<(String, [u8; 32])>) -> anyhow::Result<MasterKeys> {
        anyhow::ensure!(!keys.is_empty(), "no master key");
        Ok(MasterKeys(keys))
    }

    /// A single random key (tests, a paygate without a keys file of its own).
    pub fn random() -> MasterKeys {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKeys(vec![("m1".to_string(), key)])
    }

    fn active(&self) -> (&str, &[u8; 32]) {
        let (id, key) = &self.0[0];
        (id, key)
    }

    fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.0.iter().find(|(i, _)| i == id).map(|(_, k)| k)
    }
}

/// A data key as stored: wrapped by the master key `master`.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    master: String,
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
}

/// A payer's identity sealed under their data key: what the journal and the views hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// Where the wrapped data keys are kept: the cluster's bucket, or files in a folder (what a
/// paygate from before the bucket kept, and the unit tests).
pub enum Shelf {
    /// The bucket, and the stream under it: read from the stream's leader (never a replica
    /// that is behind), and an erasure overwrites the key's messages where they lie.
    Bucket(Box<(kv::Store, async_nats::jetstream::stream::Stream)>),
    Files(PathBuf),
}

impl Shelf {
    /// The payer's wrapped key and its revision (the stream sequence; 0 for a file).
    async fn get(&self, payer: &PayerHandle) -> anyhow::Result<Option<(Vec<u8>, u64)>> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        match self {
            Shelf::Bucket(b) => {
                let subject = format!("$KV.{}.{}", subjects::PAYER_KEYS_BUCKET, payer.as_str());
                match b.1.get_last_raw_message_by_subject(&subject).await {
                    Ok(m) => Ok(Some((m.payload.to_vec(), m.sequence))),
                    Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Shelf::Files(dir) => match std::fs::read(key_file(dir, payer)) {
                Ok(b) => Ok(Some((b, 0))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Stores a payer's first data key; `false` if they have one already (another instance
    /// made it first: that one is theirs).
    async fn create(&self, payer: &PayerHandle, bytes: Vec<u8>) -> anyhow::Result<bool> {
        match self {
            Shelf::Bucket(b) => match b.0.create(payer.as_str(), bytes.into()).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e.into()),
            },
            Shelf::Files(dir) => {
                if key_file(dir, payer).exists() {
                    return Ok(false);
                }
                write_key_file(dir, payer, &bytes)?;
                Ok(true)
            }
        }
    }

    /// Replaces the payer's wrapped key if it is still at `revision` (a rotation never
    /// brings back a key an erasure took meanwhile); then overwrites the old one where it
    /// lay. Whether it replaced it.
    async fn replace(
        &self,
        payer: &PayerHandle,
        bytes: Vec<u8>,
        revision: u64,
    ) -> anyhow::Result<bool> {
        match self {
            Shelf::Bucket(b) => match b.0.update(payer.as_str(), bytes.into(), revision).await {
                Ok(_) => {
                    b.1.delete_message(revision).await?;
                    Ok(true)
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
                Err(e) => Err(e.into()),
            },
            Shelf::Files(dir) => {
                write_key_file(dir, payer, &bytes)?;
                Ok(true)
            }
        }
    }

    /// Deletes a payer's data key for good: every message holding it is overwritten where
    /// it lies (JetStream's secure erase, on every replica), not only dropped from the index.
    async fn delete(&self, payer: &PayerHandle) -> anyhow::Result<()> {
        match self {
            Shelf::Bucket(b) => {
                // The bucket keeps two values a payer at most (a rotation's new and old).
                for _ in 0..4 {
                    let Some((_, revision)) = self.get(payer).await? else {
                        return Ok(());
                    };
                    b.1.delete_message(revision).await?;
                }
                anyhow::ensure!(
                    self.get(payer).await?.is_none(),
                    "{payer}'s data key is still in the bucket after four deletions"
                );
                Ok(())
            }
            Shelf::Files(dir) => {
                let path = key_file(dir, payer);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            }
        }
    }
}

/// A payer's key file: under the first two hex digits of its handle's SHA-256, so no folder
/// holds more than a 256th of them.
fn key_file(dir: &Path, payer: &PayerHandle) -> PathBuf {
    use sha2::Digest;
    let shard = hex::encode(&sha2::Sha256::digest(payer.as_str().as_bytes())[..1]);
    dir.join(shard).join(payer.as_str())
}

/// Writes a key file whole (a new file renamed over the old), durably.
fn write_key_file(dir: &Path, payer: &PayerHandle, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let path = key_file(dir, payer);
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    let tmp = path.with_extension("new");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(parent)?.sync_all()?;
    Ok(())
}

/// The payers whose key files are in `dir` (a paygate from before the bucket).
pub(crate) fn key_files(dir: &Path) -> anyhow::Result<Vec<(PayerHandle, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for shard in std::fs::read_dir(dir)? {
        let shard = shard?.path();
        if !shard.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&shard)? {
            let file = file?.path();
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // A `.new` file a crash left is not a key.
            if let Ok(payer) = PayerHandle::parse(name.to_string()) {
                out.push((payer, file));
            }
        }
    }
    Ok(out)
}

pub struct Vault {
    masters: RwLock<MasterKeys>,
    /// Where the master keys are read again from, for rotations.
    file: Option<PathBuf>,
    /// A [`Wrapped`] data key per payer.
    keys: Shelf,
    /// Payer handle → [`Sealed`] identity: the view of the journal's registrations and
    /// corrections (the journal's apply writes it; the vault reads it).
    identities: posfee_store::Tree,
}

fn what(label: &str, payer: &PayerHandle) -> Vec<u8> {
    let mut ad = format!("posfee/v1/{label}").into_bytes();
    ad.push(0);
    ad.extend_from_slice(payer.as_str().as_bytes());
    ad
}

fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let data = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| anyhow::anyhow!("sealing failed"))?;
    Ok((nonce.to_vec(), data))
}

fn open(key: &[u8; 32], nonce: &[u8], data: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(nonce.len() == 24, "a sealed value's nonce is not 24 bytes");
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: data, aad })
        .map_err(|_| anyhow::anyhow!("does not open: a wrong key or altered bytes"))
}

/// Who `payer` is, sealed under their data key `key`.
fn seal_identity(
    key: &[u8; 32],
    payer: &PayerHandle,
    identity: &PayerIdentity,
) -> anyhow::Result<Sealed> {
    let (nonce, data) = seal(key, &encode(identity), &what("identity", payer))?;
    Ok(Sealed { nonce, data })
}

/// Who `payer` is, opened with their data key `key`.
fn open_identity(
    key: &[u8; 32],
    payer: &PayerHandle,
    sealed: &Sealed,
) -> anyhow::Result<PayerIdentity> {
    let plain = open(key, &sealed.nonce, &sealed.data, &what("identity", payer))?;
    Ok(decode(&plain)?)
}

impl Vault {
    /// The vault over `identities` (a view the journal keeps), with the data keys on `keys`.
    pub fn open(
        keys: Shelf,
        identities: posfee_store::Tree,
        masters: (MasterKeys, Option<PathBuf>),
    ) -> Vault {
        let (masters, file) = masters;
        Vault {
            masters: RwLock::new(masters),
            file,
            keys,
            identities,
        }
    }

    fn masters(&self) -> MasterKeys {
        self.masters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The payer's data key, made and stored (wrapped) if they have none yet; if they have
    /// one (another instance stored it first), that one. Made first: a registration's payer
    /// is new, so the store is asked once.
    async fn data_key(&self, payer: &PayerHandle) -> anyhow::Result<[u8; 32]> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        if self.keys.create(payer, self.wrap(payer, &key)?).await? {
            return Ok(key);
        }
        self.unwrapped(payer)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{payer}'s data key was there and deleted at once"))
    }

    fn wrap(&self, payer: &PayerHandle, key: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        let masters = self.masters();
        let (id, master) = masters.active();
        let (nonce, wrapped) = seal(master, key, &what("payer-key", payer))?;
        Ok(encode(&Wrapped {
            master: id.to_string(),
            nonce,
            key: wrapped,
        }))
    }

    async fn unwrapped(&self, payer: &PayerHandle) -> anyhow::Result<Option<[u8; 32]>> {
        let Some((raw, _)) = self.keys.get(payer).await? else {
            return Ok(None);
        };
        self.unwrap_key(payer, &raw).map(Some)
    }

    /// A wrapped key opened with the master key that wrapped it.
    fn unwrap_key(&self, payer: &PayerHandle, raw: &[u8]) -> anyhow::Result<[u8; 32]> {
        let w: Wrapped = decode(raw)?;
        let masters = self.masters();
        let master = masters.get(&w.master).ok_or_else(|| {
            anyhow::anyhow!(
                "{payer}'s data key is wrapped by master key {}, which the master keys file no longer holds",
                w.master
            )
        })?;
        let key = open(master, &w.nonce, &w.key, &what("payer-key", payer))?;
        key.try_into()
            .map_err(|_| anyhow::anyhow!("{payer}'s data key is not 32 bytes"))
    }

    /// Seals who `payer` is under their data key, made and stored now if they have none:
    /// what their registration carries to the journal. Only a registration makes a key.
    pub async fn seal(
        &self,
        payer: &PayerHandle,
        identity: &PayerIdentity,
    ) -> anyhow::Result<Sealed> {
        seal_identity(&self.data_key(payer).await?, payer, identity)
    }

    /// Seals a correction under the payer's existing key; `None` if they have none (erased:
    /// a correction never makes a key again).
    pub async fn seal_existing(
        &self,
        payer: &PayerHandle,
        identity: &PayerIdentity,
    ) -> anyhow::Result<Option<Sealed>> {
        let Some(key) = self.unwrapped(payer).await? else {
            return Ok(None);
        };
        seal_identity(&key, payer, identity).map(Some)
    }

    /// The sealed identity as the view holds it, to tell whether it changed meanwhile.
    pub fn sealed(&self, payer: &PayerHandle) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .identities
            .get(payer.as_str().as_bytes())?
            .map(|v| v.to_vec()))
    }

    /// What a paygate from before the journal kept in its own store: `raw` (sealed under the
    /// key file in `dir`, or in plain from before sealing), opened.
    pub fn open_kept(
        &self,
        dir: &Path,
        payer: &PayerHandle,
        raw: &[u8],
    ) -> anyhow::Result<Option<PayerIdentity>> {
        if let Ok(plain) = decode::<PayerIdentity>(raw) {
            return Ok(Some(plain));
        }
        let s: Sealed = decode(raw)?;
        let Ok(wrapped) = std::fs::read(key_file(dir, payer)) else {
            return Ok(None);
        };
        let key = self.unwrap_key(payer, &wrapped)?;
        open_identity(&key, payer, &s).map(Some)
    }

    /// Who `payer` is, if the view holds their sealed identity and their key is not erased.
    pub async fn get(&self, payer: &PayerHandle) -> anyhow::Result<Option<PayerIdentity>> {
        let Some(raw) = self.identities.get(payer.as_str().as_bytes())? else {
            return Ok(None);
        };
        let Some(key) = self.unwrapped(payer).await? else {
            return Ok(None);
        };
        open_identity(&key, payer, &decode(&raw)?).map(Some)
    }

    /// Deletes `payer`'s data key: every copy of what was sealed under it can no longer be
    /// opened. The journal's erasure takes the sealed identity out of the views.
    pub async fn erase(&self, payer: &PayerHandle) -> anyhow::Result<()> {
        self.keys.delete(payer).await
    }

    /// Drops the key made for a registration that did not happen.
    pub async fn discard(&self, payer: &PayerHandle) {
        if let Err(e) = self.erase(payer).await {
            tracing::warn!(payer = %payer, error = %e, "an unused registration's data key stays");
        }
    }

    /// Wraps every data key of a payer this view knows, not wrapped by the master key in use,
    /// again under it (only if the key is unchanged meanwhile), and overwrites the old one;
    /// how many.
    pub async fn rewrap(&self) -> anyhow::Result<usize> {
        let active = self.masters().active().0.to_string();
        let mut done = 0;
        let payers: Vec<posfee_store::IVec> =
            self.identities.iter().keys().collect::<Result<_, _>>()?;
        for handle in payers {
            let Ok(payer) = PayerHandle::parse(String::from_utf8_lossy(&handle).to_string()) else {
                continue;
            };
            let Some((raw, revision)) = self.keys.get(&payer).await? else {
                continue;
            };
            if decode::<Wrapped>(&raw)?.master == active {
                continue;
            }
            let key = self.unwrap_key(&payer, &raw)?;
            if self
                .keys
                .replace(&payer, self.wrap(&payer, &key)?, revision)
                .await?
            {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Reads the master keys file every [`RELOAD_EVERY`]; when another key is first, wraps
    /// every data key again under it, then says the others are no longer needed.
    pub async fn watch(self: std::sync::Arc<Self>, shutdown: posfee_client::Shutdown) {
        let Some(file) = self.file.clone() else {
            return;
        };
        loop {
            // A failure is logged in `reload` and tried again at the next tick.
            let _ = self.reload(&file).await;
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(RELOAD_EVERY) => {}
            }
        }
    }

    async fn reload(&self, file: &Path) -> anyhow::Result<()> {
        let read = posfee_client::creds::read_master_keys(file).and_then(MasterKeys::new);
        let keys = match read {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "the master keys file could not be read; keeping the keys loaded");
                return Err(e);
            }
        };
        let before = self.masters().active().0.to_string();
        let now = keys.active().0.to_string();
        *self.masters.write().unwrap_or_else(|p| p.into_inner()) = keys;
        let rewrapped = match self.rewrap().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "wrapping payers' data keys under the new master key failed");
                return Err(e);
            }
        };
        if rewrapped > 0 || before != now {
            tracing::info!(master = %now, rewrapped, "every payer's data key is wrapped by master key {now}: the others may be removed from the master keys file");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A vault on key files in `dir`, its view tree in `dir/db`.
    async fn vault(dir: &Path, masters: MasterKeys) -> Vault {
        let db = posfee_store::open(&dir.join("db")).unwrap();
        let keys = Shelf::Files(dir.join("payer-keys"));
        Vault::open(keys, db.open_tree("identities").unwrap(), (masters, None))
    }

    fn who() -> PayerIdentity {
        PayerIdentity {
            name: "测试隐私姓名".into(),
            national_id: "11010519491231002X".into(),
            bank_account: "6222600260001072444".into(),
        }
    }

    fn payer() -> PayerHandle {
        PayerHandle::parse("p-0123456789abcdef01234567").unwrap()
    }

    /// What the journal's apply does with a registration's sealed identity.
    fn applied(v: &Vault, payer: &PayerHandle, sealed: &Sealed) {
        v.identities
            .insert(payer.as_str().as_bytes(), encode(sealed))
            .unwrap();
    }

    fn contains(dir: &Path, needle: &[u8]) -> bool {
        fn walk(dir: &Path, needle: &[u8]) -> bool {
            std::fs::read_dir(dir).unwrap().flatten().any(|e| {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, needle)
                } else {
                    std::fs::read(&p)
                        .map(|b| b.windows(needle.len()).any(|w| w == needle))
                        .unwrap_or(false)
                }
            })
        }
        walk(dir, needle)
    }

    #[tokio::test]
    async fn identities_are_sealed_and_open_only_with_their_master_key() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path(), MasterKeys::random()).await;
        let sealed = v.seal(&payer(), &who()).await.unwrap();
        applied(&v, &payer(), &sealed);
        assert_eq!(v.get(&payer()).await.unwrap().unwrap(), who());
        // The scan finds what it looks for: the same bytes unsealed, in a tree of their own.
        let plain = tempfile::tempdir().unwrap();
        let db = posfee_store::open(plain.path()).unwrap();
        db.open_tree("x")
            .unwrap()
            .insert(b"k", encode(&who()))
            .unwrap();
        db.flush().unwrap();
        assert!(contains(plain.path(), who().national_id.as_bytes()));
        v.identities.flush().unwrap();
        for secret in [who().national_id, who().bank_account, who().name] {
            assert!(
                !contains(tmp.path(), secret.as_bytes()),
                "{secret} in plain"
            );
        }
        *v.masters.write().unwrap() = MasterKeys::new(vec![("m1".into(), [9u8; 32])]).unwrap();
        assert!(
            v.get(&payer()).await.is_err(),
            "opened with another master key"
        );
    }

    #[tokio::test]
    async fn what_an_older_paygate_kept_opens_and_a_correction_never_makes_a_key() {
        let tmp = tempfile::tempdir().unwrap();
        let old = vault(tmp.path(), MasterKeys::random()).await;
        let sealed = old.seal(&payer(), &who()).await.unwrap();
        // Kept sealed under the key file, or in plain from before sealing: both open.
        let dir = tmp.path().join("payer-keys");
        assert_eq!(
            old.open_kept(&dir, &payer(), &encode(&sealed)).unwrap(),
            Some(who())
        );
        assert_eq!(
            old.open_kept(&dir, &payer(), &encode(&who())).unwrap(),
            Some(who())
        );
        // A correction is sealed under the payer's key, and only if they still have one.
        let corrected = old.seal_existing(&payer(), &who()).await.unwrap().unwrap();
        applied(&old, &payer(), &corrected);
        assert_eq!(old.get(&payer()).await.unwrap().unwrap(), who());
        old.erase(&payer()).await.unwrap();
        assert!(old.seal_existing(&payer(), &who()).await.unwrap().is_none());
        assert!(
            old.unwrapped(&payer()).await.unwrap().is_none(),
            "a key came back"
        );
    }

    #[tokio::test]
    async fn a_rotation_wraps_again_and_an_erasure_leaves_nothing_to_open() {
        let tmp = tempfile::tempdir().unwrap();
        let old = MasterKeys::new(vec![("m1".into(), [1u8; 32])]).unwrap();
        let v = vault(tmp.path(), old).await;
        let sealed = v.seal(&payer(), &who()).await.unwrap();
        applied(&v, &payer(), &sealed);
        *v.masters.write().unwrap() =
            MasterKeys::new(vec![("m2".into(), [2u8; 32]), ("m1".into(), [1u8; 32])]).unwrap();
        assert_eq!(v.rewrap().await.unwrap(), 1);
        assert_eq!(v.rewrap().await.unwrap(), 0, "already under m2");
        // The old master key can go: the identity opens with the new one alone.
        *v.masters.write().unwrap() = MasterKeys::new(vec![("m2".into(), [2u8; 32])]).unwrap();
        assert_eq!(v.get(&payer()).await.unwrap().unwrap().name, who().name);
        v.erase(&payer()).await.unwrap();
        assert!(v.get(&payer()).await.unwrap().is_none());
        // A copy taken before the erasure (the journal's, a backup's) no longer opens.
        assert!(v.unwrapped(&payer()).await.unwrap().is_none());
        for key in [[1u8; 32], [2u8; 32]] {
            let aad = what("identity", &payer());
            assert!(open(&key, &sealed.nonce, &sealed.data, &aad).is_err());
        }
    }
}
