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

/// The file of the master keys that wrap payers' data keys, beside paygate's authority seed
/// (`paygate.nk` → `paygate.master`): one key per line, `<id> <64 hex digits>`, the first the
/// one new data keys are wrapped with, the others kept to unwrap what they wrapped until
/// paygate has wrapped everything again under the first. Kept outside every store.
pub fn master_keys_file(seed_file: &Path) -> PathBuf {
    seed_file.with_extension("master")
}

/// How often paygate reads the master keys file again (a rotation takes effect within it).
pub const MASTER_RELOAD_SECS: u64 = 10;

/// The master keys, the one in use first.
pub fn read_master_keys(file: &Path) -> anyhow::Result<Vec<(String, [u8; 32])>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the master keys {}", file.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, hex) = line.split_once(' ').with_context(|| {
            format!("{} line {}: `<id> <64 hex digits>`", file.display(), n + 1)
        })?;
        let key = hex_key(hex.trim())
            .with_context(|| format!("{} line {}: not 64 hex digits", file.display(), n + 1))?;
        keys.push((id.trim().to_string(), key));
    }
    if keys.is_empty() {
        bail!("{} holds no master key", file.display());
    }
    Ok(keys)
}

fn hex_key(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// Creates the master keys file with one key unless it exists.
pub fn ensure_master_keys(file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        return read_master_keys(file).map(|_| ());
    }
    write_seed(file, &format!("m1 {}", random_hex32()))
}

/// Puts a new master key first (`m<n+1>`), keeping the others for what they wrapped; returns
/// its id. Paygate wraps every data key again under it within a minute, without stopping.
pub fn rotate_master_keys(file: &Path) -> anyhow::Result<String> {
    let keys = read_master_keys(file)?;
    let next = keys
        .iter()
        .filter_map(|(id, _)| id.strip_prefix('m')?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("m{next}");
    let mut text = format!("{id} {}\n", random_hex32());
    for (old, key) in &keys {
        text.push_str(&format!("{old} {}\n", hex::encode(key)));
    }
    let tmp = file.with_extension("master.new");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, file).with_context(|| format!("replacing {}", file.display()))?;
    Ok(id)
}

fn random_hex32() -> String {
    posfee_schemas::trust::JournalSeal::generate_hex()
}
