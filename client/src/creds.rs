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
        .with_context(|| format!("{}{}", crate::words::NO_KEY_FILE, path.display()))?;
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

/// The journal key file beside an authority's seed file (`<name>.nk` → `<name>.journal`):
/// the key a service seals its own journal with. It is not derived from the authority, so
/// replacing a leaked authority leaves the journal's entries readable.
pub fn journal_key_file(seed_file: &Path) -> PathBuf {
    seed_file.with_extension("journal")
}

/// Creates the journal key file beside an authority's seed file unless one exists.
pub fn ensure_journal_key(seed_file: &Path) -> anyhow::Result<()> {
    let path = journal_key_file(seed_file);
    if path.exists() {
        return read_journal_key(seed_file).map(|_| ());
    }
    write_seed(&path, &posfee_schemas::trust::JournalSeal::generate_hex())
}

/// The journal key beside an authority's seed file.
pub fn read_journal_key(seed_file: &Path) -> anyhow::Result<posfee_schemas::trust::JournalSeal> {
    let path = journal_key_file(seed_file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the journal key {}", path.display()))?;
    posfee_schemas::trust::JournalSeal::from_hex(&text)
        .ok_or_else(|| anyhow::anyhow!("{} does not hold 64 hex digits", path.display()))
}

/// The certificate file beside an authority's seed file (`<name>.nk` → `<name>.cert`).
pub fn certificate_file(seed_file: &Path) -> PathBuf {
    seed_file.with_extension("cert")
}

/// An authority's private half and its certificate: the seed file (`<name>.nk`) and the
/// certificate beside it (`<name>.cert`, MessagePack).
pub fn read_signer(seed_file: &Path) -> anyhow::Result<posfee_schemas::trust::Signer> {
    let seed = read_seed(seed_file)?;
    let (_, raw) =
        nkeys::decode_seed(&seed).map_err(|e| anyhow::anyhow!("{}: {e}", seed_file.display()))?;
    let cert_file = certificate_file(seed_file);
    let cert = std::fs::read(&cert_file).with_context(|| {
        format!(
            "reading the authority's certificate {}",
            cert_file.display()
        )
    })?;
    let cert: posfee_schemas::signed::Signed = posfee_schemas::decode(&cert)
        .map_err(|e| anyhow::anyhow!("{} is not a certificate: {e}", cert_file.display()))?;
    posfee_schemas::trust::Signer::new(ed25519_dalek::SigningKey::from_bytes(&raw), cert).map_err(
        |e| {
            anyhow::anyhow!(
                "{} does not certify {}: {e}",
                cert_file.display(),
                seed_file.display()
            )
        },
    )
}

/// The root key to pin: given as the key itself (`O…`) or as a file holding it.
pub fn read_root(given: &str) -> anyhow::Result<posfee_schemas::trust::TrustRoot> {
    let given = given.trim();
    if let Ok(root) = posfee_schemas::trust::TrustRoot::parse(given) {
        return Ok(root);
    }
    let text = std::fs::read_to_string(given)
        .with_context(|| format!("{given:?} is neither a root key (O…) nor a file holding one"))?;
    Ok(posfee_schemas::trust::TrustRoot::parse(&text)?)
}
