//! Tenants' bill-signing keys: files the operator owns and can rotate.
//!
//! `<keys-dir>/<tenant>/<n>.ed25519` holds a 32-byte seed; its key id is `<tenant>-<n>`. The
//! highest `n` signs new bills; every key in the folder still verifies, so a bill signed just
//! before a rotation stays payable. A tenant without a key gets `1` at first start.

use anyhow::{bail, Context};
use ed25519_dalek::{SigningKey, VerifyingKey};
use posfee_schemas::ids::{KeyId, TenantId};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const KEY_FILE_SUFFIX: &str = ".ed25519";

#[derive(Clone)]
pub struct TenantKey {
    pub id: KeyId,
    pub key: SigningKey,
}

/// Every tenant's signing key and all its verifying keys.
#[derive(Clone, Default)]
pub struct TenantKeys {
    active: BTreeMap<TenantId, TenantKey>,
    public: BTreeMap<KeyId, (TenantId, VerifyingKey)>,
}

impl TenantKeys {
    /// Loads (creating where missing) the keys of `tenants` from `dir`.
    pub fn load_or_create<'a>(
        dir: &Path,
        tenants: impl IntoIterator<Item = &'a TenantId>,
    ) -> anyhow::Result<TenantKeys> {
        let mut keys = TenantKeys::default();
        for tenant in tenants {
            let tdir = dir.join(tenant.as_str());
            std::fs::create_dir_all(&tdir)
                .with_context(|| format!("creating {}", tdir.display()))?;
            let mut found = numbered_keys(&tdir)?;
            if found.is_empty() {
                create_key(&tdir.join(format!("1{KEY_FILE_SUFFIX}")))?;
                found = numbered_keys(&tdir)?;
            }
            for (n, path) in &found {
                let key = read_key(path)?;
                let id = KeyId::parse(format!("{tenant}-{n}"))
                    .with_context(|| format!("key id for {}", path.display()))?;
                keys.public
                    .insert(id.clone(), (tenant.clone(), key.verifying_key()));
                keys.active.insert(tenant.clone(), TenantKey { id, key });
            }
        }
        Ok(keys)
    }

    pub fn active(&self, tenant: &TenantId) -> Option<&TenantKey> {
        self.active.get(tenant)
    }

    /// Every verifying key with the tenant it belongs to.
    pub fn public_keys(&self) -> &BTreeMap<KeyId, (TenantId, VerifyingKey)> {
        &self.public
    }
}

fn numbered_keys(dir: &Path) -> anyhow::Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(n) = name
            .strip_suffix(KEY_FILE_SUFFIX)
            .and_then(|n| n.parse::<u32>().ok())
        {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!("{} is not a 32-byte ed25519 seed", path.display());
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new key from the OS CSPRNG, readable by the owner only.
pub fn create_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(&key.to_bytes())?;
    f.sync_all()?;
    Ok(key.verifying_key())
}
