//! Role credentials: an nkey seed per role in a file the operator owns.
//!
//! The server only ever learns the public half (through nats.conf); the seed never leaves the
//! machine it was made on. Files are written 0600.

use anyhow::{bail, Context};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Reads an nkey seed file (one line, `SU…`).
pub fn read_seed(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading credentials {}", path.display()))?;
    let seed = text.trim().to_string();
    nkeys::KeyPair::from_seed(&seed)
        .map_err(|e| anyhow::anyhow!("{} does not hold an nkey seed: {e}", path.display()))?;
    Ok(seed)
}

/// The public key of a seed (`U…`), as nats.conf lists it.
pub fn public_key(seed: &str) -> anyhow::Result<String> {
    let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| anyhow::anyhow!("bad seed: {e}"))?;
    Ok(kp.public_key())
}

/// Creates a user nkey seed file unless one exists; returns its path and public key.
pub fn ensure_user_seed(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, String)> {
    ensure_seed(dir, name, nkeys::KeyPair::new_user)
}

/// Creates a seed file of the kind `new` makes (user, account …) unless one exists; returns
/// its path and public key.
pub fn ensure_seed(
    dir: &Path,
    name: &str,
    new: fn() -> nkeys::KeyPair,
) -> anyhow::Result<(PathBuf, String)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.nk"));
    if path.exists() {
        let seed = read_seed(&path)?;
        return Ok((path, public_key(&seed)?));
    }
    let kp = new();
    let seed = kp
        .seed()
        .map_err(|e| anyhow::anyhow!("encoding new seed: {e}"))?;
    write_seed(&path, &seed)?;
    if kp.public_key().is_empty() {
        bail!("generated an empty public key");
    }
    Ok((path, kp.public_key()))
}

/// Writes a new seed file, owner-only, refusing to overwrite one (a seed once handed out is
/// never silently replaced).
pub fn write_seed(path: &Path, seed: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    writeln!(f, "{seed}").with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()?;
    Ok(())
}

/// The device id a phone's seed stands for: the fingerprint of its public key.
pub fn device_id(seed: &str) -> anyhow::Result<posfee_schemas::ids::DeviceId> {
    Ok(posfee_schemas::ids::DeviceId::of_nkey(&public_key(seed)?)?)
}
