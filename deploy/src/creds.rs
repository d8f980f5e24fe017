//! One nkey per service or tool role, generated at set-up into `<data-dir>/creds/`, never
//! committed, and the auth callout's two keys (its issuer account key and the identity
//! service's system-account user). The server learns only the public keys, through the
//! generated auth.conf.
//!
//! The admin role (every JetStream API) is different: its key is made afresh by each
//! `posfee up` (and each test harness), kept in memory only, and used once to create the
//! stream and buckets. No admin secret lies in the data dir while the system runs.

use anyhow::Context;
use posfee_client::creds::{certificate_file, ensure_seed, ensure_user_seed, read_seed};
use posfee_schemas::ids::KeyId;
use posfee_schemas::subjects::Role;
use posfee_schemas::trust::{may, RootSigner, TrustRoot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The root key's seed file (`root.nk`, an operator nkey seed) and its public half
/// (`root.pub`), which every verifier pins. With the seed moved offline, `root.pub` and the
/// authorities' certificates are enough to run.
pub const ROOT: &str = "root";

/// What each signing service's authority may do; the other roles sign nothing.
pub fn authority_rights(role: Role) -> Option<&'static [&'static str]> {
    match role {
        Role::FeeEngine => Some(&[may::BILL, may::SEAL]),
        Role::Paygate => Some(&[may::SETTLEMENT, may::SEAL]),
        Role::Ledger => Some(&[may::RECEIPT, may::SEAL]),
        // The identity service signs nothing others read: its authority seals its journal.
        Role::Query | Role::Importer | Role::Identity => Some(&[may::SEAL]),
        Role::Operator | Role::Admin => None,
    }
}

/// The seed file of the account key that signs the auth callout's answers.
pub const CALLOUT_ISSUER: &str = "callout-issuer";
/// The seed file of the identity service's system-account user.
pub const IDENTITY_SYSTEM_USER: &str = "identity-sys";

#[derive(Clone)]
pub struct RoleCreds {
    dir: PathBuf,
    public: BTreeMap<&'static str, (Role, String)>,
    /// This start's admin seed: in memory only.
    admin: String,
    callout: crate::authz::CalloutKeys,
}

impl std::fmt::Debug for RoleCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCreds")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl RoleCreds {
    /// Loads the role seeds in `dir`, creating any that are missing, and makes a new admin key.
    pub fn ensure(dir: &Path) -> anyhow::Result<RoleCreds> {
        let mut public = BTreeMap::new();
        for role in Role::ALL.iter().filter(|r| **r != Role::Admin) {
            let (_, key) = ensure_user_seed(dir, role.as_str())?;
            public.insert(role.as_str(), (*role, key));
        }
        let admin = nkeys::KeyPair::new_user();
        public.insert(Role::Admin.as_str(), (Role::Admin, admin.public_key()));
        let admin = admin
            .seed()
            .map_err(|e| anyhow::anyhow!("encoding the admin seed: {e}"))?;
        let (_, issuer) = ensure_seed(dir, CALLOUT_ISSUER, nkeys::KeyPair::new_account)?;
        let (_, system_user) = ensure_user_seed(dir, IDENTITY_SYSTEM_USER)?;
        ensure_authorities(dir)?;
        Ok(RoleCreds {
            dir: dir.to_path_buf(),
            public,
            admin,
            callout: crate::authz::CalloutKeys {
                issuer,
                system_user,
            },
        })
    }

    /// The credentials of a deployment on real hosts, rendered once and copied to them. With
    /// `with_admin`, the admin key is a file here (`admin.nk`), to create the streams once
    /// (`posfee gen streams`) and then be deleted; without it the server has no admin user.
    pub fn for_hosts(dir: &Path, with_admin: bool) -> anyhow::Result<RoleCreds> {
        let mut creds = Self::ensure(dir)?;
        if with_admin {
            let (path, key) = ensure_user_seed(dir, Role::Admin.as_str())?;
            creds.admin = read_seed(&path)?;
            creds
                .public
                .insert(Role::Admin.as_str(), (Role::Admin, key));
        } else {
            creds.public.remove(Role::Admin.as_str());
        }
        Ok(creds)
    }

    /// A role's seed file. The admin role has none (its seed is in memory: [`Self::seed`]).
    pub fn seed_file(&self, role: Role) -> PathBuf {
        crate::layout::role_seed_file(&self.dir, role)
    }

    pub fn seed(&self, role: Role) -> anyhow::Result<String> {
        if role == Role::Admin {
            return Ok(self.admin.clone());
        }
        read_seed(&self.seed_file(role))
    }

    /// The seed file of the callout's issuer account key (for the identity service).
    pub fn callout_issuer_file(&self) -> PathBuf {
        self.dir.join(format!("{CALLOUT_ISSUER}.nk"))
    }

    /// The seed file of the identity service's system-account user.
    pub fn system_user_file(&self) -> PathBuf {
        self.dir.join(format!("{IDENTITY_SYSTEM_USER}.nk"))
    }

    /// The root every verifier pins.
    pub fn root(&self) -> anyhow::Result<TrustRoot> {
        posfee_client::creds::read_root(&self.root_file().to_string_lossy())
    }

    /// The file holding the root's public key (`root.pub`), for kiosks and phones set up here.
    pub fn root_file(&self) -> PathBuf {
        self.dir.join(format!("{ROOT}.pub"))
    }

    /// The seed file of `role`'s authority (its certificate is beside it), for the services
    /// that sign.
    pub fn authority_file(&self, role: Role) -> Option<PathBuf> {
        authority_rights(role).map(|_| authority_seed_file(&self.dir, role))
    }

    /// `role`'s authority, ready to sign.
    pub fn signer(&self, role: Role) -> anyhow::Result<posfee_schemas::trust::Signer> {
        let file = self
            .authority_file(role)
            .ok_or_else(|| anyhow::anyhow!("{role} signs nothing and has no authority"))?;
        posfee_client::creds::read_signer(&file)
    }

    pub fn callout(&self) -> &crate::authz::CalloutKeys {
        &self.callout
    }

    /// Every role as a server user.
    pub fn users(&self) -> Vec<crate::authz::User> {
        self.public
            .values()
            .map(|(role, key)| crate::authz::User::new((*role).into(), key.clone()))
            .collect()
    }
}

/// The certificates of the signing services' authorities in a creds folder (`<role>.cert`),
/// for the key directory: readers of receipts and seals find them under `authority.<role>`.
pub fn certificates(dir: &Path) -> anyhow::Result<Vec<posfee_schemas::signed::Signed>> {
    let mut out = Vec::new();
    for role in Role::ALL {
        if authority_rights(*role).is_none() {
            continue;
        }
        let file = certificate_file(&authority_seed_file(dir, *role));
        let bytes = std::fs::read(&file)
            .with_context(|| format!("reading the certificate {}", file.display()))?;
        out.push(
            posfee_schemas::decode(&bytes)
                .map_err(|e| anyhow::anyhow!("{} is not a certificate: {e}", file.display()))?,
        );
    }
    Ok(out)
}

use crate::layout::authority_seed_file;

/// The root (made on first use; never made again once its public half exists, so a root
/// moved offline is not silently replaced) and each signing service's authority with a
/// certificate from it. A certificate that does not match the root or its key is made again
/// while the root's seed is here; without the seed it must already be right.
fn ensure_authorities(dir: &Path) -> anyhow::Result<()> {
    let seed_file = dir.join(format!("{ROOT}.nk"));
    let pub_file = dir.join(format!("{ROOT}.pub"));
    let signer = if seed_file.exists() || !pub_file.exists() {
        let (_, public) = ensure_seed(dir, ROOT, nkeys::KeyPair::new_operator)?;
        let signer = RootSigner::from_seed(&read_seed(&seed_file)?)?;
        if std::fs::read_to_string(&pub_file)
            .map(|t| t.trim() == public)
            .ok()
            != Some(true)
        {
            std::fs::write(&pub_file, format!("{public}\n"))
                .with_context(|| format!("writing {}", pub_file.display()))?;
        }
        Some(signer)
    } else {
        None
    };
    let root = posfee_client::creds::read_root(&pub_file.to_string_lossy())?;
    for role in Role::ALL {
        let Some(rights) = authority_rights(*role) else {
            continue;
        };
        let seed = authority_seed_file(dir, *role);
        ensure_seed(
            seed.parent().unwrap_or(dir),
            role.as_str(),
            nkeys::KeyPair::new_account,
        )?;
        posfee_client::creds::ensure_journal_key(&seed)?;
        if *role == Role::Paygate {
            posfee_client::creds::ensure_master_keys(&posfee_client::creds::master_keys_file(
                &seed,
            ))?;
        }
        if posfee_client::creds::read_signer(&seed).is_ok_and(|s| {
            root.authority(s.certificate()).is_ok()
                && s.authority().may == rights.iter().map(|r| r.to_string()).collect::<Vec<_>>()
        }) {
            continue;
        }
        let Some(root_signer) = &signer else {
            anyhow::bail!(
                "{} has no certificate from the root {root}: make one where the root's seed is (posfee gen server-config)",
                seed.display()
            );
        };
        let (_, raw) = nkeys::decode_seed(&read_seed(&seed)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", seed.display()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&raw);
        let cert = root_signer.certify(
            &KeyId::parse(role.as_str())?,
            &key.verifying_key(),
            rights,
            chrono::Utc::now(),
        )?;
        write_private(&certificate_file(&seed), &posfee_schemas::encode(&cert))?;
    }
    Ok(())
}

/// Writes (or replaces) a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
