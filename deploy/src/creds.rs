//! One nkey per service or tool role, generated at set-up into `<data-dir>/creds/`, never
//! committed. The server learns only the public keys, through the generated auth.conf.

use posfee_client::creds::{ensure_user_seed, read_seed};
use posfee_schemas::subjects::Role;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct RoleCreds {
    dir: PathBuf,
    public: BTreeMap<&'static str, (Role, String)>,
}

impl RoleCreds {
    /// Loads the role seeds in `dir`, creating any that are missing.
    pub fn ensure(dir: &Path) -> anyhow::Result<RoleCreds> {
        let mut public = BTreeMap::new();
        for role in Role::ALL {
            let (_, key) = ensure_user_seed(dir, role.as_str())?;
            public.insert(role.as_str(), (*role, key));
        }
        Ok(RoleCreds {
            dir: dir.to_path_buf(),
            public,
        })
    }

    pub fn seed_file(&self, role: Role) -> PathBuf {
        crate::layout::role_seed_file(&self.dir, role)
    }

    pub fn seed(&self, role: Role) -> anyhow::Result<String> {
        read_seed(&self.seed_file(role))
    }

    /// Every role as a server user.
    pub fn users(&self) -> Vec<crate::authz::User> {
        self.public
            .values()
            .map(|(role, key)| crate::authz::User::new((*role).into(), key.clone()))
            .collect()
    }
}
