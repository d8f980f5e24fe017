//! Signing keys as files the operator owns and can rotate.
//!
//! A key folder holds `<n>.ed25519` files, each a 32-byte seed, readable by the owner only.
//! The key id of `<n>` is `<prefix>-<n>`. The highest `n` signs; all of them still verify, so
//! a message signed just before a rotation stays valid. An empty folder gets key `1`.

use anyhow::{bail, Context};
use ed25519_dalek::{SigningKey, VerifyingKey};
use posfee_schemas::ids::KeyId;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const KEY_FILE_SUFFIX: &str = ".ed25519";

/// The keys of one signer: the one that signs now, and every one that still verifies.
pub struct KeySet {
    pub active_id: KeyId,
    pub active: SigningKey,
    pub all: Vec<(KeyId, VerifyingKey)>,
}

/// Loads the keys in `dir`, creating key `1` if there is none.
pub fn load_or_create(dir: &Path, prefix: &str) -> anyhow::Result<KeySet> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut found = numbered(dir)?;
    if found.is_empty() {
        create(&dir.join(format!("1{KEY_FILE_SUFFIX}")))?;
        found = numbered(dir)?;
    }
    let mut all = Vec::new();
    let mut active = None;
    for (n, path) in &found {
        let key = read(path)?;
        let id = KeyId::parse(format!("{prefix}-{n}"))
            .with_context(|| format!("key id for {}", path.display()))?;
        all.push((id.clone(), key.verifying_key()));
        active = Some((id, key));
    }
    let Some((active_id, active)) = active else {
        bail!("no key in {}", dir.display());
    };
    Ok(KeySet {
        active_id,
        active,
        all,
    })
}

/// Adds the next numbered key to `dir` (rotation); returns its number.
pub fn rotate(dir: &Path) -> anyhow::Result<u32> {
    let next = numbered(dir)?.last().map(|(n, _)| n + 1).unwrap_or(1);
    create(&dir.join(format!("{next}{KEY_FILE_SUFFIX}")))?;
    Ok(next)
}

fn numbered(dir: &Path) -> anyhow::Result<Vec<(u32, PathBuf)>> {
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

fn read(path: &Path) -> anyhow::Result<SigningKey> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!("{} is not a 32-byte ed25519 seed", path.display());
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new key from the OS CSPRNG, readable by the owner only.
fn create(path: &Path) -> anyhow::Result<()> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(&key.to_bytes())?;
    f.sync_all()?;
    Ok(())
}
