//! The kiosks and phones allowed on the bus, each with an nkey of its own.
//!
//! ```text
//! <data-dir>/creds/terminals/<terminal-id>.pub   the public key the server lets in
//! <data-dir>/creds/terminals/<terminal-id>.nk    its seed, unless `--out` put it elsewhere
//! <data-dir>/creds/devices/<device-id>.pub
//! <data-dir>/creds/devices/<device-id>.nk
//! ```
//!
//! The registry is the `.pub` files: the server configuration is rendered from them
//! ([`crate::natsd::write_config`]), so revoking one identity is deleting its file and
//! reloading the server; the others' connections are not touched. Seeds are written 0600 and
//! only once; in production a kiosk's seed is carried to the kiosk (`--out`) and a phone's is
//! made on the phone and only its public key enrolled.

use anyhow::{bail, Context};
use posfee_client::creds::{device_id, read_seed, write_seed};
use posfee_schemas::ids::{DeviceId, TenantId, TerminalId};
use posfee_schemas::subjects::Identity;
use std::path::{Path, PathBuf};

/// How many fresh keys `add_device` tries before giving up on a unique fingerprint. With 40
/// bits of fingerprint a clash is already rare at a million phones.
const DEVICE_ID_ATTEMPTS: usize = 16;

/// What was issued: who, their public key, and where the seed was written.
#[derive(Debug, Clone)]
pub struct Issued {
    pub who: Identity,
    pub public_key: String,
    pub seed_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Registry {
    creds: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Terminal,
    Device,
    Clerk,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Terminal => "terminals",
            Kind::Device => "devices",
            Kind::Clerk => "clerks",
        }
    }
}

impl Registry {
    /// The registry under a data dir's `creds/` folder.
    pub fn new(creds: &Path) -> Registry {
        Registry {
            creds: creds.to_path_buf(),
        }
    }

    /// Waits for, then holds, the registry's lock until the returned file is dropped: two
    /// operators changing keys at once are served one after the other, so neither's change
    /// is lost between rendering the users and reloading the server.
    pub fn lock(&self) -> anyhow::Result<std::fs::File> {
        std::fs::create_dir_all(&self.creds)
            .with_context(|| format!("creating {}", self.creds.display()))?;
        let path = self.creds.join("keys.lock");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }

    fn dir(&self, kind: Kind) -> PathBuf {
        self.creds.join(kind.dir())
    }

    fn file(&self, kind: Kind, id: &str, ext: &str) -> PathBuf {
        self.dir(kind).join(format!("{id}.{ext}"))
    }

    /// The seed file an identity connects with, where `posfee up` and `posfee keys` keep it:
    /// `<creds>/<role>.nk`, or a kiosk's or phone's unless `--out` sent it elsewhere.
    pub fn seed_file(&self, who: &Identity) -> PathBuf {
        match who {
            Identity::Role(r) => crate::layout::role_seed_file(&self.creds, *r),
            Identity::Terminal(t) => self.terminal_seed_file(t),
            Identity::Device(d) => self.device_seed_file(d),
            Identity::Clerk(t) => self.file(Kind::Clerk, t.as_str(), "nk"),
        }
    }

    /// Where a terminal's seed is kept when `--out` was not given.
    pub fn terminal_seed_file(&self, id: &TerminalId) -> PathBuf {
        self.file(Kind::Terminal, id.as_str(), "nk")
    }

    /// Where a phone's seed is kept when `--out` was not given.
    pub fn device_seed_file(&self, id: &DeviceId) -> PathBuf {
        self.file(Kind::Device, id.as_str(), "nk")
    }

    /// A new key for a terminal. Refused if the terminal has one, unless `replace`: then the
    /// old key stops working when the server reloads (a kiosk re-imaged or its key lost).
    pub fn add_terminal(
        &self,
        id: &TerminalId,
        seed_out: Option<&Path>,
        replace: bool,
    ) -> anyhow::Result<Issued> {
        self.add_named(
            Kind::Terminal,
            Identity::Terminal(id.clone()),
            id.as_str(),
            seed_out,
            replace,
        )
    }

    /// A key for an identity named by the operator (a kiosk, a tenant's clerk): refused if it
    /// has one, unless `replace`, when the old key stops working at the server's reload.
    fn add_named(
        &self,
        kind: Kind,
        who: Identity,
        id: &str,
        seed_out: Option<&Path>,
        replace: bool,
    ) -> anyhow::Result<Issued> {
        let pub_file = self.file(kind, id, "pub");
        if pub_file.exists() && !replace {
            bail!("{who} already has a key; pass --replace to issue a new one (the old one stops working)");
        }
        let seed_file = seed_out
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.file(kind, id, "nk"));
        let kp = nkeys::KeyPair::new_user();
        let seed = kp
            .seed()
            .map_err(|e| anyhow::anyhow!("encoding seed: {e}"))?;
        if replace {
            let _ = std::fs::remove_file(&seed_file);
        }
        write_seed(&seed_file, &seed)?;
        write_public(&pub_file, &kp.public_key())?;
        Ok(Issued {
            who,
            public_key: kp.public_key(),
            seed_file,
        })
    }

    /// A new phone: a fresh key whose fingerprint names the device.
    pub fn add_device(&self, seed_out: Option<&Path>) -> anyhow::Result<Issued> {
        for _ in 0..DEVICE_ID_ATTEMPTS {
            let kp = nkeys::KeyPair::new_user();
            let id = DeviceId::of_nkey(&kp.public_key())?;
            let pub_file = self.file(Kind::Device, id.as_str(), "pub");
            if pub_file.exists() {
                continue;
            }
            let seed = kp
                .seed()
                .map_err(|e| anyhow::anyhow!("encoding seed: {e}"))?;
            let seed_file = seed_out
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.device_seed_file(&id));
            write_seed(&seed_file, &seed)?;
            write_public(&pub_file, &kp.public_key())?;
            return Ok(Issued {
                who: Identity::Device(id),
                public_key: kp.public_key(),
                seed_file,
            });
        }
        bail!("no unused device id after {DEVICE_ID_ATTEMPTS} keys")
    }

    /// Enrols a phone that made its own key (the seed never leaves the phone).
    pub fn enrol_device(&self, public: &str) -> anyhow::Result<DeviceId> {
        let kp = nkeys::KeyPair::from_public_key(public)
            .map_err(|e| anyhow::anyhow!("not a public nkey: {e}"))?;
        let id = DeviceId::of_nkey(&kp.public_key())?;
        let pub_file = self.file(Kind::Device, id.as_str(), "pub");
        if pub_file.exists() {
            bail!("device {id} is already enrolled");
        }
        write_public(&pub_file, &kp.public_key())?;
        Ok(id)
    }

    /// A key for a tenant's billing clerk: it may refund that tenant's payments and nothing
    /// else. One per tenant; `replace` issues a new one and the old one stops working.
    pub fn add_clerk(
        &self,
        tenant: &TenantId,
        seed_out: Option<&Path>,
        replace: bool,
    ) -> anyhow::Result<Issued> {
        self.add_named(
            Kind::Clerk,
            Identity::Clerk(tenant.clone()),
            tenant.as_str(),
            seed_out,
            replace,
        )
    }

    /// Takes a tenant's clerk off the bus.
    pub fn revoke_clerk(&self, tenant: &TenantId) -> anyhow::Result<()> {
        self.revoke(Kind::Clerk, tenant.as_str())
    }

    /// Takes a terminal off the bus: its key is forgotten (and its seed, if kept here).
    pub fn revoke_terminal(&self, id: &TerminalId) -> anyhow::Result<()> {
        self.revoke(Kind::Terminal, id.as_str())
    }

    /// Takes a phone off the bus.
    pub fn revoke_device(&self, id: &DeviceId) -> anyhow::Result<()> {
        self.revoke(Kind::Device, id.as_str())
    }

    fn revoke(&self, kind: Kind, id: &str) -> anyhow::Result<()> {
        let pub_file = self.file(kind, id, "pub");
        if !pub_file.exists() {
            bail!("no {} {id} is registered", kind.dir().trim_end_matches('s'));
        }
        std::fs::remove_file(&pub_file)
            .with_context(|| format!("removing {}", pub_file.display()))?;
        let _ = std::fs::remove_file(self.file(kind, id, "nk"));
        Ok(())
    }

    /// Every registered terminal and phone with its public key, terminals first, by id.
    pub fn all(&self) -> anyhow::Result<Vec<(Identity, String)>> {
        let mut out = Vec::new();
        for kind in [Kind::Terminal, Kind::Device, Kind::Clerk] {
            let dir = self.dir(kind);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut found = Vec::new();
            for entry in entries {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                    continue;
                }
                let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let who = match kind {
                    Kind::Terminal => Identity::Terminal(
                        TerminalId::parse(stem)
                            .with_context(|| format!("registry file {}", path.display()))?,
                    ),
                    Kind::Device => Identity::Device(
                        DeviceId::parse(stem)
                            .with_context(|| format!("registry file {}", path.display()))?,
                    ),
                    Kind::Clerk => Identity::Clerk(
                        TenantId::parse(stem)
                            .with_context(|| format!("registry file {}", path.display()))?,
                    ),
                };
                let key = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim()
                    .to_string();
                nkeys::KeyPair::from_public_key(&key).map_err(|e| {
                    anyhow::anyhow!("{} does not hold a public nkey: {e}", path.display())
                })?;
                found.push((stem.to_string(), who, key));
            }
            found.sort_by(|a, b| a.0.cmp(&b.0));
            out.extend(found.into_iter().map(|(_, w, k)| (w, k)));
        }
        Ok(out)
    }
}

/// The device id a phone's seed file names.
pub fn device_of_seed_file(path: &Path) -> anyhow::Result<DeviceId> {
    device_id(&read_seed(path)?)
}

/// Written to a temporary name and renamed, so a reader never sees half a key.
fn write_public(path: &Path, key: &str) -> anyhow::Result<()> {
    crate::natsd::replace_file(path, &format!("{key}\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn terminals_and_devices_are_listed_and_revoked_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        let k1 = TerminalId::parse("kiosk-01").unwrap();
        let k2 = TerminalId::parse("kiosk-02").unwrap();
        let a = reg.add_terminal(&k1, None, false).unwrap();
        reg.add_terminal(&k2, None, false).unwrap();
        let phone = reg.add_device(None).unwrap();
        let Identity::Device(dev) = &phone.who else {
            panic!("not a device")
        };
        assert_eq!(device_of_seed_file(&phone.seed_file).unwrap(), *dev);
        assert_eq!(reg.all().unwrap().len(), 3);
        assert!(reg.add_terminal(&k1, None, false).is_err(), "a second key");
        let b = reg.add_terminal(&k1, None, true).unwrap();
        assert_ne!(a.public_key, b.public_key);
        reg.revoke_terminal(&k1).unwrap();
        assert!(!b.seed_file.exists());
        let left: Vec<_> = reg.all().unwrap().into_iter().map(|(w, _)| w).collect();
        assert_eq!(left, [Identity::Terminal(k2), phone.who.clone()]);
        assert!(reg.revoke_terminal(&k1).is_err(), "revoked twice");
        reg.revoke_device(dev).unwrap();
        assert_eq!(reg.all().unwrap().len(), 1);
        // The lock is taken and given back.
        drop(reg.lock().unwrap());
        drop(reg.lock().unwrap());
    }

    #[test]
    fn a_phone_can_enrol_only_its_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        let kp = nkeys::KeyPair::new_user();
        let id = reg.enrol_device(&kp.public_key()).unwrap();
        assert_eq!(id, DeviceId::of_nkey(&kp.public_key()).unwrap());
        assert!(reg.enrol_device(&kp.public_key()).is_err());
        assert!(reg.enrol_device(&kp.seed().unwrap()).is_err(), "a seed");
        assert!(!reg.device_seed_file(&id).exists());
    }
}
