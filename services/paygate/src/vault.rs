//! Who payers are, sealed at rest. Each payer's name, identity card and bank account are
//! encrypted (XChaCha20-Poly1305) under a data key of that payer's own; the data key is kept
//! wrapped by a master key that lives outside every store (`creds/authorities/paygate.master`,
//! [`posfee_client::creds::master_keys_file`]). The sealed identities are in paygate's store;
//! each wrapped data key is a small file of its own beside it (`payer-keys/<2 hex>/<handle>`),
//! not a record in a log-structured store, so deleting it deletes it; that folder is never
//! backed up longer than an erasure may wait.
//!
//! Erasing a payer deletes their data key file: what was sealed under it, in the store, in
//! its copies and in every backup of the store, can no longer be read by anyone, the master
//! key's holder included, while the books keep amounts and handles. Rotating the master key (a new key put
//! first in the file) wraps every data key again under it while paygate runs
//! ([`Vault::watch`]); the old key may be removed from the file once paygate logs that it is
//! no longer needed.

use crate::store::PayerIdentity;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use posfee_schemas::ids::PayerHandle;
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

/// Something sealed under a payer's data key.
#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

pub struct Vault {
    masters: RwLock<MasterKeys>,
    /// Where the master keys are read again from, for rotations.
    file: Option<PathBuf>,
    /// `payer-keys/`: a [`Wrapped`] data key per payer, a file each.
    keys: PathBuf,
    /// Payer handle → [`Sealed`] identity, in paygate's store.
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

impl Vault {
    /// The vault over `identities`, with the data keys in `dir` (created if missing).
    pub fn open(
        dir: &Path,
        identities: posfee_store::Tree,
        masters: MasterKeys,
        file: Option<PathBuf>,
    ) -> anyhow::Result<Vault> {
        std::fs::create_dir_all(dir)?;
        let vault = Vault {
            masters: RwLock::new(masters),
            file,
            keys: dir.to_path_buf(),
            identities,
        };
        vault.seal_plain_ones()?;
        Ok(vault)
    }

    /// Seals the identities a paygate from before sealing stored in plain; how many.
    fn seal_plain_ones(&self) -> anyhow::Result<usize> {
        let mut sealed = 0;
        for item in self.identities.iter() {
            let (handle, raw) = item?;
            if decode::<Sealed>(&raw).is_ok() {
                continue;
            }
            let Ok(identity) = decode::<PayerIdentity>(&raw) else {
                continue;
            };
            let payer = PayerHandle::parse(String::from_utf8_lossy(&handle).to_string())
                .map_err(|e| anyhow::anyhow!("an identity under a bad handle: {e}"))?;
            self.put(&payer, &identity)?;
            sealed += 1;
        }
        if sealed > 0 {
            self.identities.flush()?;
            tracing::info!(sealed, "identities stored in plain before are sealed now");
        }
        Ok(sealed)
    }

    /// The payer's key file: under the first two hex digits of its handle's SHA-256, so no
    /// folder holds more than a 256th of them.
    fn key_file(&self, payer: &PayerHandle) -> PathBuf {
        use sha2::Digest;
        let shard = hex::encode(&sha2::Sha256::digest(payer.as_str().as_bytes())[..1]);
        self.keys.join(shard).join(payer.as_str())
    }

    /// Writes a key file whole (a new file renamed over the old), durably.
    fn write_key_file(&self, payer: &PayerHandle, bytes: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        let path = self.key_file(payer);
        let dir = path.parent().unwrap_or(&self.keys);
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension("new");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    fn read_key_file(&self, payer: &PayerHandle) -> anyhow::Result<Option<Vec<u8>>> {
        match std::fs::read(self.key_file(payer)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn delete_key_file(&self, payer: &PayerHandle) -> anyhow::Result<()> {
        let path = self.key_file(payer);
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

    fn masters(&self) -> MasterKeys {
        self.masters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The payer's data key, made and stored (wrapped) if they have none yet.
    fn data_key(&self, payer: &PayerHandle) -> anyhow::Result<[u8; 32]> {
        if let Some(key) = self.unwrapped(payer)? {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        self.store_wrapped(payer, &key)?;
        Ok(key)
    }

    fn store_wrapped(&self, payer: &PayerHandle, key: &[u8; 32]) -> anyhow::Result<()> {
        let masters = self.masters();
        let (id, master) = masters.active();
        let (nonce, wrapped) = seal(master, key, &what("payer-key", payer))?;
        let record = Wrapped {
            master: id.to_string(),
            nonce,
            key: wrapped,
        };
        self.write_key_file(payer, &encode(&record))
    }

    fn unwrapped(&self, payer: &PayerHandle) -> anyhow::Result<Option<[u8; 32]>> {
        let Some(raw) = self.read_key_file(payer)? else {
            return Ok(None);
        };
        let w: Wrapped = decode(&raw)?;
        let masters = self.masters();
        let master = masters.get(&w.master).ok_or_else(|| {
            anyhow::anyhow!(
                "{payer}'s data key is wrapped by master key {}, which the master keys file no longer holds",
                w.master
            )
        })?;
        let key = open(master, &w.nonce, &w.key, &what("payer-key", payer))?;
        Ok(Some(key.try_into().map_err(|_| {
            anyhow::anyhow!("{payer}'s data key is not 32 bytes")
        })?))
    }

    /// Seals and stores who `payer` is (the data key durably; the store's commit makes the
    /// sealed identity durable).
    pub fn put(&self, payer: &PayerHandle, identity: &PayerIdentity) -> anyhow::Result<()> {
        let key = self.data_key(payer)?;
        let (nonce, data) = seal(&key, &encode(identity), &what("identity", payer))?;
        self.identities
            .insert(payer.as_str().as_bytes(), encode(&Sealed { nonce, data }))?;
        Ok(())
    }

    /// Who `payer` is, if this store holds it and it was not erased.
    pub fn get(&self, payer: &PayerHandle) -> anyhow::Result<Option<PayerIdentity>> {
        let Some(raw) = self.identities.get(payer.as_str().as_bytes())? else {
            return Ok(None);
        };
        let Some(key) = self.unwrapped(payer)? else {
            return Ok(None);
        };
        let s: Sealed = decode(&raw)?;
        Ok(Some(decode(&open(
            &key,
            &s.nonce,
            &s.data,
            &what("identity", payer),
        )?)?))
    }

    /// Forgets who `payer` is: their data key first (which makes every copy unreadable), then
    /// the sealed identity.
    pub fn erase(&self, payer: &PayerHandle) -> anyhow::Result<()> {
        self.delete_key_file(payer)?;
        self.identities.remove(payer.as_str().as_bytes())?;
        Ok(())
    }

    /// Drops an identity sealed for a registration that did not happen, and its key.
    pub fn discard(&self, payer: &PayerHandle) {
        if let Err(e) = self.erase(payer) {
            tracing::warn!(payer = %payer, error = %e, "an unused registration's sealed identity stays");
        }
    }

    /// Wraps every data key not wrapped by the master key in use again under it; how many.
    pub async fn rewrap(&self) -> anyhow::Result<usize> {
        let active = self.masters().active().0.to_string();
        let mut done = 0;
        for shard in std::fs::read_dir(&self.keys)? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&shard)? {
                let file = file?.path();
                let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Ok(payer) = PayerHandle::parse(name.to_string()) else {
                    continue; // a `.new` file a crash left
                };
                let w: Wrapped = decode(&std::fs::read(&file)?)?;
                if w.master == active {
                    continue;
                }
                if let Some(key) = self.unwrapped(&payer)? {
                    self.store_wrapped(&payer, &key)?;
                    done += 1;
                }
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

    fn vault(dir: &Path, masters: MasterKeys) -> Vault {
        let db = posfee_store::open(&dir.join("db")).unwrap();
        Vault::open(
            &dir.join("payer-keys"),
            db.open_tree("identities").unwrap(),
            masters,
            None,
        )
        .unwrap()
    }

    fn who() -> PayerIdentity {
        PayerIdentity {
            name: "测试隐私姓名".into(),
            national_id: "11010519491231002X".into(),
            bank_account: "6222600260001072444".into(),
        }
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
    async fn identities_are_sealed_on_disk_and_open_only_with_their_master_key() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path(), MasterKeys::random());
        let payer = PayerHandle::parse("p-0123456789abcdef01234567").unwrap();
        v.put(&payer, &who()).unwrap();
        assert_eq!(
            v.get(&payer).unwrap().unwrap().national_id,
            who().national_id
        );
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
        assert!(v.get(&payer).is_err(), "opened with another master key");
    }

    #[test]
    fn identities_stored_in_plain_before_are_sealed_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let payer = PayerHandle::parse("p-0123456789abcdef01234567").unwrap();
        {
            let db = posfee_store::open(&tmp.path().join("db")).unwrap();
            let t = db.open_tree("identities").unwrap();
            t.insert(payer.as_str().as_bytes(), encode(&who())).unwrap();
            db.flush().unwrap();
        }
        let v = vault(tmp.path(), MasterKeys::random());
        assert_eq!(
            v.get(&payer).unwrap().unwrap().bank_account,
            who().bank_account
        );
        let raw = v
            .identities
            .get(payer.as_str().as_bytes())
            .unwrap()
            .unwrap();
        assert!(decode::<Sealed>(&raw).is_ok(), "still in plain");
    }

    #[tokio::test]
    async fn a_rotation_wraps_again_and_an_erasure_leaves_nothing_to_open() {
        let tmp = tempfile::tempdir().unwrap();
        let old = MasterKeys::new(vec![("m1".into(), [1u8; 32])]).unwrap();
        let v = vault(tmp.path(), old);
        let payer = PayerHandle::parse("p-0123456789abcdef01234567").unwrap();
        v.put(&payer, &who()).unwrap();
        *v.masters.write().unwrap() =
            MasterKeys::new(vec![("m2".into(), [2u8; 32]), ("m1".into(), [1u8; 32])]).unwrap();
        assert_eq!(v.rewrap().await.unwrap(), 1);
        assert_eq!(v.rewrap().await.unwrap(), 0, "already under m2");
        // The old master key can go: the identity opens with the new one alone.
        *v.masters.write().unwrap() = MasterKeys::new(vec![("m2".into(), [2u8; 32])]).unwrap();
        assert_eq!(v.get(&payer).unwrap().unwrap().name, who().name);
        // A copy taken before the erasure …
        let sealed = v
            .identities
            .get(payer.as_str().as_bytes())
            .unwrap()
            .unwrap();
        v.erase(&payer).unwrap();
        assert!(v.get(&payer).unwrap().is_none());
        // … still holds the sealed bytes, and no key in the store opens them any more.
        let s: Sealed = decode(&sealed).unwrap();
        assert!(v.unwrapped(&payer).unwrap().is_none());
        for key in [[1u8; 32], [2u8; 32]] {
            assert!(open(&key, &s.nonce, &s.data, &what("identity", &payer)).is_err());
        }
    }
}
