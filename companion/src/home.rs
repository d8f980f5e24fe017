//! The phone's own store: identity, bank account, device key, payer handle, pending payments
//! and receipts, in a store (posfee_store) under the companion's home directory. The directory is
//! 0700 and its files 0600; nothing here is ever logged.

use posfee_schemas::ids::{BillId, IdempotencyKey, KeyId, PayerHandle, PaymentId};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::Money;
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The home directory unless `--home` says otherwise.
pub const HOME_ENV: &str = "POSFEE_COMPANION_HOME";
pub const DEFAULT_HOME_DIR: &str = ".posfee-companion";

const PROFILE_TREE: &str = "profile";
/// The phone's bus key in its home directory.
pub const BUS_KEY_FILE: &str = "bus.nk";
/// The root key this phone pinned the first time it was given one.
pub const ROOT_FILE: &str = "root.pub";

fn enrolled_key(device: &posfee_schemas::ids::DeviceId) -> Vec<u8> {
    format!("enrolled/{device}").into_bytes()
}
const PROFILE_KEY: &[u8] = b"me";
/// The profile locked under the payer's passphrase ([`LockedProfile`]), instead of `me`.
const LOCKED_KEY: &[u8] = b"me-locked";
/// The passphrase of a locked phone, for scripts; without it the phone asks on its terminal.
pub const PASSPHRASE_ENV: &str = "POSFEE_COMPANION_PASSPHRASE";
/// How the passphrase becomes a key: Argon2id with these costs (memory in KiB, passes,
/// lanes), recorded beside each locked profile.
const KDF: &str = "argon2id-v19-m19456-t2-p1";
const PENDING_TREE: &str = "pending";
const RECEIPTS_TREE: &str = "receipts";

/// `$POSFEE_COMPANION_HOME`, else `$HOME/.posfee-companion`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(HOME_ENV) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(DEFAULT_HOME_DIR)
}

/// Who this phone's payer is, as registered with the payment platform.
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub national_id: String,
    pub bank_account: String,
    pub device_key_id: KeyId,
    /// The device key's secret half (ed25519 seed).
    #[serde(with = "serde_bytes")]
    pub device_seed: Vec<u8>,
    /// Reused on a retried registration, so the platform registers this phone once.
    pub idempotency_key: IdempotencyKey,
    /// Set once the platform answered.
    #[serde(default)]
    pub payer: Option<PayerHandle>,
    #[serde(default)]
    pub balance: Option<Money>,
}

// Identity and key material never reach a log line by accident.
impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("device_key_id", &self.device_key_id)
            .field("payer", &self.payer)
            .finish_non_exhaustive()
    }
}

/// A payment the phone decided to make, stored before the order leaves, so a retry (or a
/// restart) pays with the same id and paygate takes it once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingPayment {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    /// The exact order sent, so the phone can ask again later (`companion receipts`) how it
    /// ended. Absent until the order is built.
    #[serde(default)]
    pub request: Option<posfee_schemas::paygate::PayRequest>,
}

pub struct Home {
    dir: PathBuf,
    db: posfee_store::Db,
    profile: posfee_store::Tree,
    pending: posfee_store::Tree,
    receipts: posfee_store::Tree,
    /// The passphrase given for this run, if any (else asked on the terminal when needed).
    passphrase: std::sync::Mutex<Option<String>>,
    /// The key derived from it, with the salt it was derived with.
    key: std::sync::Mutex<Option<([u8; 16], [u8; 32])>>,
    /// Whether a profile saved from now on is locked (`register --lock`, `lock`).
    lock_new: std::sync::atomic::AtomicBool,
    /// Never ask for the passphrase on the terminal (scripts, `--json`).
    never_ask: std::sync::atomic::AtomicBool,
}

/// The profile sealed (XChaCha20-Poly1305) under a key derived from the payer's passphrase.
#[derive(Serialize, Deserialize)]
struct LockedProfile {
    kdf: String,
    #[serde(with = "serde_bytes")]
    salt: Vec<u8>,
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

fn locked_error(reason: &str) -> WireError {
    WireError::field(
        "passphrase",
        format!(
            "{reason}: give it in {PASSPHRASE_ENV}, or run the command on a terminal to be asked"
        ),
    )
}

fn store_err(doing: &str, e: impl std::fmt::Display) -> posfee_schemas::WireError {
    crate::internal(doing, e)
}

impl Home {
    pub fn open(dir: &Path) -> crate::Result<Home> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| store_err(&format!("creating {}", dir.display()), e))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let db = posfee_store::open(&dir.join("store")).map_err(|e| {
            store_err(
                &format!("opening the store in {}", dir.display()),
                format!("{e:#}"),
            )
        })?;
        restrict(dir);
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| store_err("opening the store", e))
        };
        Ok(Home {
            profile: tree(PROFILE_TREE)?,
            pending: tree(PENDING_TREE)?,
            receipts: tree(RECEIPTS_TREE)?,
            dir: dir.to_path_buf(),
            db,
            passphrase: std::sync::Mutex::new(None),
            key: std::sync::Mutex::new(None),
            lock_new: std::sync::atomic::AtomicBool::new(false),
            never_ask: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The passphrase is never asked on the terminal: only [`Home::set_passphrase`] gives it.
    pub fn never_ask(&self) {
        self.never_ask
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The passphrase a locked profile opens with, for this run.
    pub fn set_passphrase(&self, passphrase: String) {
        *self.passphrase.lock().unwrap_or_else(|p| p.into_inner()) = Some(passphrase);
    }

    /// Profiles saved from now on are locked under the passphrase.
    pub fn lock_new_profiles(&self) {
        self.lock_new
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether this phone's identity is locked under a passphrase.
    pub fn is_locked(&self) -> crate::Result<bool> {
        self.profile
            .contains_key(LOCKED_KEY)
            .map_err(|e| store_err("reading the profile", e))
    }

    /// The passphrase: given for this run, else asked on the terminal (twice when `new`).
    fn passphrase(&self, new: bool) -> crate::Result<String> {
        use std::io::IsTerminal;
        if let Some(p) = self
            .passphrase
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(p);
        }
        if self.never_ask.load(std::sync::atomic::Ordering::SeqCst)
            || !std::io::stdin().is_terminal()
        {
            return Err(locked_error(
                "this phone's identity is locked under a passphrase",
            ));
        }
        let ask = |prompt: &str| {
            rpassword::prompt_password(prompt).map_err(|e| store_err("reading the passphrase", e))
        };
        let p = ask("Passphrase / 密码: ")?;
        if new && ask("Again / 再输一次: ")? != p {
            return Err(locked_error("the two passphrases differ"));
        }
        if p.chars().count() < 8 {
            return Err(locked_error("a passphrase has at least 8 characters"));
        }
        self.set_passphrase(p.clone());
        Ok(p)
    }

    /// The key for `salt`, derived once per run.
    fn key_for(&self, salt: &[u8; 16], new: bool) -> crate::Result<[u8; 32]> {
        if let Some((s, k)) = *self.key.lock().unwrap_or_else(|p| p.into_inner()) {
            if &s == salt {
                return Ok(k);
            }
        }
        let passphrase = self.passphrase(new)?;
        let params = argon2::Params::new(19_456, 2, 1, Some(32))
            .map_err(|e| store_err("the passphrase's key", e))?;
        let mut key = [0u8; 32];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| store_err("the passphrase's key", e))?;
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) = Some((*salt, key));
        Ok(key)
    }

    fn unlock_profile(&self, raw: &[u8]) -> crate::Result<Profile> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let l: LockedProfile = decode(raw).map_err(|e| store_err("reading the profile", e))?;
        let salt: [u8; 16] = l
            .salt
            .as_slice()
            .try_into()
            .map_err(|_| store_err("reading the profile", "its salt is not 16 bytes"))?;
        if l.kdf != KDF || l.nonce.len() != 24 {
            return Err(store_err(
                "reading the profile",
                format!("unknown lock {}", l.kdf),
            ));
        }
        let key = self.key_for(&salt, false)?;
        let plain = chacha20poly1305::XChaCha20Poly1305::new(&key.into())
            .decrypt(
                chacha20poly1305::XNonce::from_slice(&l.nonce),
                Payload {
                    msg: &l.data,
                    aad: LOCKED_KEY,
                },
            )
            .map_err(|_| {
                *self.key.lock().unwrap_or_else(|p| p.into_inner()) = None;
                *self.passphrase.lock().unwrap_or_else(|p| p.into_inner()) = None;
                locked_error("the passphrase does not open this phone's identity")
            })?;
        decode(&plain).map_err(|e| store_err("reading the profile", e))
    }

    fn locked_bytes(&self, p: &Profile) -> crate::Result<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use rand::RngCore;
        let salt = match self.profile.get(LOCKED_KEY).ok().flatten() {
            Some(raw) => decode::<LockedProfile>(&raw)
                .ok()
                .and_then(|l| <[u8; 16]>::try_from(l.salt.as_slice()).ok()),
            None => None,
        };
        let salt = salt.unwrap_or_else(|| {
            let mut s = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut s);
            s
        });
        let key = self.key_for(&salt, true)?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let data = chacha20poly1305::XChaCha20Poly1305::new(&key.into())
            .encrypt(
                chacha20poly1305::XNonce::from_slice(&nonce),
                Payload {
                    msg: &encode(p),
                    aad: LOCKED_KEY,
                },
            )
            .map_err(|_| store_err("locking the profile", "sealing failed"))?;
        Ok(encode(&LockedProfile {
            kdf: KDF.to_string(),
            salt: salt.to_vec(),
            nonce: nonce.to_vec(),
            data,
        }))
    }

    /// Locks the profile under a passphrase (asked twice, or given): only its sealed form is
    /// kept from now on. A profile that was stored in plain may linger in the store's older
    /// log segments until it compacts them; register with `--lock` to never store it in plain.
    pub async fn lock(&self) -> crate::Result<()> {
        let p = self.profile()?.ok_or_else(|| {
            WireError::new(ErrorCode::PayerNotFound, "nothing to lock: register first")
        })?;
        self.lock_new_profiles();
        self.save_profile(&p).await
    }

    /// Keeps the profile in plain again (the passphrase is asked once more).
    pub async fn unlock(&self) -> crate::Result<()> {
        let p = self.profile()?.ok_or_else(|| {
            WireError::new(
                ErrorCode::PayerNotFound,
                "nothing to unlock: register first",
            )
        })?;
        self.lock_new
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.profile
            .insert(PROFILE_KEY, encode(&p))
            .map_err(|e| store_err("saving the profile", e))?;
        self.profile
            .remove(LOCKED_KEY)
            .map_err(|e| store_err("saving the profile", e))?;
        self.flush().await
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This phone's bus key (`<home>/bus.nk`, 0600), made here on first use: the phone's own,
    /// never issued by anyone else.
    pub fn bus_seed(&self) -> crate::Result<String> {
        let path = self.dir.join(BUS_KEY_FILE);
        if !path.exists() {
            let seed =
                posfee_client::enrol::new_key().map_err(|e| store_err("making the bus key", e))?;
            posfee_client::creds::write_seed(&path, &seed)
                .map_err(|e| store_err("saving the bus key", format!("{e:#}")))?;
        }
        posfee_client::creds::read_seed(&path)
            .map_err(|e| store_err("reading the bus key", format!("{e:#}")))
    }

    /// The root this phone believes bills and receipts through: pinned here (`<home>/root.pub`)
    /// the first time, so a system that later offers another root is refused rather than
    /// believed. `offered` is what this run was given (a flag, or the running system's file).
    pub fn root(
        &self,
        offered: Option<posfee_schemas::trust::TrustRoot>,
    ) -> crate::Result<posfee_schemas::trust::TrustRoot> {
        let path = self.dir.join(ROOT_FILE);
        let pinned = match std::fs::read_to_string(&path) {
            Ok(text) => Some(
                posfee_schemas::trust::TrustRoot::parse(&text)
                    .map_err(|e| store_err("reading the pinned root key", e))?,
            ),
            Err(_) => None,
        };
        match (pinned, offered) {
            (Some(p), Some(o)) if p != o => Err(WireError::new(
                ErrorCode::BadSignature,
                format!(
                    "this phone trusts the system whose root key is {p}, but was given {o}:                      nothing signed under another root is believed; use a phone home of its own                      (--home) for another system"
                ),
            )),
            (Some(p), _) => Ok(p),
            (None, Some(o)) => {
                std::fs::write(&path, format!("{o}\n"))
                    .map_err(|e| store_err("pinning the root key", e))?;
                Ok(o)
            }
            (None, None) => Err(WireError::new(
                ErrorCode::InvalidField,
                "no root key: give the system's with --root-key (or POSFEE_ROOT_KEY), or                  --data-dir of the running system (its creds/root.pub)",
            )),
        }
    }

    /// Whether the key with this device id was enrolled from this phone.
    pub fn enrolled(&self, device: &posfee_schemas::ids::DeviceId) -> crate::Result<bool> {
        self.profile
            .contains_key(enrolled_key(device))
            .map_err(|e| store_err("reading the enrolment", e))
    }

    /// Records the enrolment of the key with this device id.
    pub async fn mark_enrolled(&self, device: &posfee_schemas::ids::DeviceId) -> crate::Result<()> {
        self.profile
            .insert(enrolled_key(device), b"1".as_slice())
            .map_err(|e| store_err("saving the enrolment", e))?;
        self.flush().await
    }

    pub fn profile(&self) -> crate::Result<Option<Profile>> {
        if let Some(raw) = self
            .profile
            .get(LOCKED_KEY)
            .map_err(|e| store_err("reading the profile", e))?
        {
            return self.unlock_profile(&raw).map(Some);
        }
        match self
            .profile
            .get(PROFILE_KEY)
            .map_err(|e| store_err("reading the profile", e))?
        {
            Some(raw) => Ok(Some(
                decode(&raw).map_err(|e| store_err("reading the profile", e))?,
            )),
            None => Ok(None),
        }
    }

    pub async fn save_profile(&self, p: &Profile) -> crate::Result<()> {
        let locked = self.lock_new.load(std::sync::atomic::Ordering::SeqCst) || self.is_locked()?;
        if locked {
            let bytes = self.locked_bytes(p)?;
            self.profile
                .insert(LOCKED_KEY, bytes)
                .map_err(|e| store_err("saving the profile", e))?;
            self.profile
                .remove(PROFILE_KEY)
                .map_err(|e| store_err("saving the profile", e))?;
        } else {
            self.profile
                .insert(PROFILE_KEY, encode(p))
                .map_err(|e| store_err("saving the profile", e))?;
        }
        self.flush().await
    }

    /// Forgets a registration paygate refused, so corrected details can be registered.
    pub async fn forget_profile(&self) -> crate::Result<()> {
        for key in [PROFILE_KEY, LOCKED_KEY] {
            self.profile
                .remove(key)
                .map_err(|e| store_err("forgetting the profile", e))?;
        }
        self.flush().await
    }

    /// Every payment whose outcome the phone has not learnt yet.
    pub fn pending_all(&self) -> crate::Result<Vec<PendingPayment>> {
        let mut out = Vec::new();
        for item in self.pending.iter() {
            let (_, raw) = item.map_err(|e| store_err("reading payments", e))?;
            out.push(decode(&raw).map_err(|e| store_err("reading payments", e))?);
        }
        Ok(out)
    }

    pub fn pending(&self, bill: BillId) -> crate::Result<Option<PendingPayment>> {
        match self
            .pending
            .get(bill.0.as_bytes())
            .map_err(|e| store_err("reading payments", e))?
        {
            Some(raw) => Ok(Some(
                decode(&raw).map_err(|e| store_err("reading payments", e))?,
            )),
            None => Ok(None),
        }
    }

    pub async fn save_pending(&self, p: &PendingPayment) -> crate::Result<()> {
        self.pending
            .insert(p.bill_id.0.as_bytes(), encode(p))
            .map_err(|e| store_err("saving the payment", e))?;
        self.flush().await
    }

    /// Forgets a payment the platform definitively refused, so the next attempt is a new
    /// payment rather than a replay of the refusal.
    pub async fn forget_pending(&self, bill: BillId) -> crate::Result<()> {
        self.pending
            .remove(bill.0.as_bytes())
            .map_err(|e| store_err("forgetting the payment", e))?;
        self.flush().await
    }

    /// Keeps the receipt and forgets the pending payment it settles.
    pub async fn save_receipt(&self, r: &Receipt) -> crate::Result<()> {
        self.receipts
            .insert(r.payment_id.0.as_bytes(), encode(r))
            .map_err(|e| store_err("saving the receipt", e))?;
        self.pending
            .remove(r.bill_id.0.as_bytes())
            .map_err(|e| store_err("saving the receipt", e))?;
        self.flush().await
    }

    /// Every receipt, oldest first.
    pub fn receipts(&self) -> crate::Result<Vec<Receipt>> {
        let mut out = Vec::new();
        for item in self.receipts.iter() {
            let (_, raw) = item.map_err(|e| store_err("reading receipts", e))?;
            match decode::<Receipt>(&raw) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(error = %e, "undecodable receipt skipped"),
            }
        }
        out.sort_by_key(|r| r.settled_at);
        Ok(out)
    }

    async fn flush(&self) -> crate::Result<()> {
        posfee_store::flush(&self.db)
            .await
            .map_err(|e| store_err("writing the store", format!("{e:#}")))?;
        Ok(())
    }
}

impl Drop for Home {
    /// Files the store made since the home was opened are owner-only from here on. Until then the
    /// home directory itself (0700) already keeps everyone else out, so this is not done on
    /// every write: walking the store after each receipt cost the phone more than paying.
    fn drop(&mut self) {
        restrict(&self.dir);
    }
}

/// Makes every file under `dir` owner-only (the store creates them with the default umask).
fn restrict(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        if path.is_dir() {
            restrict(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "王五".into(),
            national_id: "110101199003071233".into(),
            bank_account: "4111111111111111".into(),
            device_key_id: KeyId::parse("dev-0011223344556677").unwrap(),
            device_seed: vec![7; 32],
            idempotency_key: IdempotencyKey::parse("register-0011223344556677").unwrap(),
            payer: None,
            balance: None,
        }
    }

    fn holds(dir: &Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir).unwrap().flatten().any(|e| {
            let p = e.path();
            match p.is_dir() {
                true => holds(&p, needle),
                false => std::fs::read(&p)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false),
            }
        })
    }

    #[tokio::test]
    async fn a_locked_identity_is_never_on_disk_in_plain_and_opens_only_with_its_passphrase() {
        let tmp = tempfile::tempdir().unwrap();
        let (plain_dir, locked_dir) = (tmp.path().join("plain"), tmp.path().join("locked"));
        let secret = profile().national_id;
        // The scan finds the identity where it is stored in plain.
        {
            let home = Home::open(&plain_dir).unwrap();
            home.save_profile(&profile()).await.unwrap();
        }
        assert!(holds(&plain_dir, secret.as_bytes()));
        {
            let home = Home::open(&locked_dir).unwrap();
            home.set_passphrase("correct horse battery".into());
            home.lock_new_profiles();
            home.save_profile(&profile()).await.unwrap();
            assert_eq!(home.profile().unwrap().unwrap().national_id, secret);
        }
        for s in [secret.as_str(), "4111111111111111", "王五"] {
            assert!(!holds(&locked_dir, s.as_bytes()), "{s} in plain");
        }
        // Reopened: without the passphrase (no terminal here) it says what to do; a wrong one
        // is refused; the right one opens it, and unlocking keeps it in plain again.
        let home = Home::open(&locked_dir).unwrap();
        home.never_ask();
        assert!(home.is_locked().unwrap());
        let e = home.profile().unwrap_err();
        assert!(e.message.contains(PASSPHRASE_ENV), "{e}");
        home.set_passphrase("wrong horse battery".into());
        let e = home.profile().unwrap_err();
        assert!(e.message.contains("does not open"), "{e}");
        home.set_passphrase("correct horse battery".into());
        assert_eq!(
            home.profile().unwrap().unwrap().bank_account,
            "4111111111111111"
        );
        home.unlock().await.unwrap();
        assert!(!home.is_locked().unwrap());
        let reopened = Home::open(&plain_dir).unwrap();
        assert!(reopened.profile().unwrap().is_some());
    }

    #[tokio::test]
    async fn the_store_is_owner_only_and_survives_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("phone");
        {
            let home = Home::open(&dir).unwrap();
            home.save_profile(&profile()).await.unwrap();
            let p = PendingPayment {
                payment_id: PaymentId::new_random(),
                bill_id: BillId::new_random(),
                request: None,
            };
            home.save_pending(&p).await.unwrap();
            assert_eq!(
                home.pending(p.bill_id).unwrap().unwrap().payment_id,
                p.payment_id
            );
            home.forget_pending(p.bill_id).await.unwrap();
            assert!(home.pending(p.bill_id).unwrap().is_none());
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        for e in std::fs::read_dir(dir.join("store")).unwrap().flatten() {
            let m = e.metadata().unwrap().permissions().mode() & 0o777;
            assert!(m == 0o600 || m == 0o700, "{} is {m:o}", e.path().display());
        }
        let home = Home::open(&dir).unwrap();
        assert_eq!(
            home.profile().unwrap().unwrap().national_id,
            "110101199003071233"
        );
    }

    #[test]
    fn a_profile_never_prints_identity_or_key() {
        let text = format!("{:?}", profile());
        for secret in ["王五", "110101199003071233", "4111111111111111", "[7, 7"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
