//! One nkey per service or tool role, generated at set-up into `<data-dir>/creds/`, never
//! committed, and the auth callout's two keys (its issuer account key and the identity
//! service's system-account user). The server learns only the public keys, through the
//! generated auth.conf.
//!
//! The admin role (every JetStream API) is different: its key is made afresh by each
//! `posfee up` (and each test harness), kept in memory only, and used once to create the
//! stream and buckets. No admin secret lies in the data dir while the system runs.

use posfee_client::creds::{ensure_seed, ensure_user_seed, read_seed};
use posfee_schemas::subjects::Role;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
