//! Where things live under a data directory. One place, so `up`, `status` and the tests agree.
//!
//! ```text
//! <data-dir>/posfee.lock        held by the running `posfee up`
//! <data-dir>/creds/<role>.nk    nkey seeds, 0600, generated at set-up, never committed (the
//!                               admin role's is made by each `posfee up` and kept in memory)
//! <data-dir>/creds/callout-issuer.nk  the account key that signs the auth callout's answers
//! <data-dir>/creds/identity-sys.nk    the identity service's system-account user
//! <data-dir>/creds/terminals/   each kiosk's seed as `posfee keys` made it (unless --out)
//! <data-dir>/creds/clerks/      each tenant clerk's seed (unless --out)
//! <data-dir>/identity/          the identity service's store: every issued and enrolled key
//! <data-dir>/nats/nats.conf     the server's configuration: a copy of the repository's
//! <data-dir>/nats/auth.conf     its accounts, role users and auth callout
//! <data-dir>/nats/jetstream/    the JetStream store
//! <data-dir>/run/nats.url       the URL of the running server, for `status` and friends
//! <data-dir>/run/rules.dir      the rules folder the running fee-engine loaded, for `import`
//! <data-dir>/logs/<proc>.log    each process's log
//! <data-dir>/<service>/         each service's own store
//! ```

use anyhow::bail;
use posfee_schemas::subjects::Role;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self(root.into())
    }
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// A service role's or tool's seed: `<data-dir>/creds/<role>.nk`.
    pub fn role_seed(&self, role: Role) -> PathBuf {
        role_seed_file(&self.creds(), role)
    }

    /// Refuses a data dir that `posfee up` has not set up (no role keys), so a mistyped
    /// `--data-dir` is named instead of silently read as empty or filled with fresh keys.
    pub fn require_set_up(&self) -> anyhow::Result<()> {
        self.refuse_file()?;
        let admin = self.role_seed(Role::Operator);
        if !admin.exists() {
            bail!(
                "{} is not a posfee data dir (no {}): a data dir is set up by `posfee up --data-dir {}`; check --data-dir (default ./data)",
                self.root().display(),
                admin.display(),
                self.root().display()
            );
        }
        Ok(())
    }

    /// Refuses a data dir path that is a file: everything under it would fail to be created.
    pub fn refuse_file(&self) -> anyhow::Result<()> {
        if self.0.exists() && !self.0.is_dir() {
            bail!(
                "--data-dir {} is a file, not a folder: point --data-dir at a folder (it is created if missing)",
                self.0.display()
            );
        }
        Ok(())
    }
    pub fn lock_file(&self) -> PathBuf {
        self.0.join("posfee.lock")
    }
    pub fn creds(&self) -> PathBuf {
        self.0.join("creds")
    }
    /// The root every signature here is believed through (`creds/root.pub`).
    pub fn trust_root(&self) -> anyhow::Result<posfee_schemas::trust::TrustRoot> {
        let file = self.creds().join(format!("{}.pub", crate::creds::ROOT));
        posfee_client::creds::read_root(&file.to_string_lossy())
    }
    pub fn server_conf(&self) -> PathBuf {
        self.0.join("nats").join("nats.conf")
    }
    pub fn auth_conf(&self) -> PathBuf {
        self.0.join("nats").join("auth.conf")
    }
    pub fn jetstream(&self) -> PathBuf {
        self.0.join("nats").join("jetstream")
    }
    pub fn nats_run(&self) -> PathBuf {
        self.0.join("nats").join("run")
    }
    pub fn url_file(&self) -> PathBuf {
        self.0.join("run").join("nats.url")
    }
    /// Where `posfee up` serves the metrics (`http://127.0.0.1:<port>`), while it runs.
    pub fn metrics_url_file(&self) -> PathBuf {
        self.0.join("run").join("metrics.url")
    }
    /// Where `posfee up` serves the operator's console (`http://127.0.0.1:<port>`), while it
    /// runs.
    pub fn console_url_file(&self) -> PathBuf {
        self.0.join("run").join("console.url")
    }
    pub fn rules_file(&self) -> PathBuf {
        self.0.join("run").join("rules.dir")
    }
    pub fn logs(&self) -> PathBuf {
        self.0.join("logs")
    }
    pub fn service(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

/// Where a role's seed lives in a creds folder: the one place that names it.
pub fn role_seed_file(creds: &Path, role: Role) -> PathBuf {
    creds.join(format!("{}.nk", role.as_str()))
}

/// Where a signing role's authority lives in a creds folder (its certificate beside it,
/// `<role>.cert`): the one place that names it.
pub fn authority_seed_file(creds: &Path, role: Role) -> PathBuf {
    creds
        .join("authorities")
        .join(format!("{}.nk", role.as_str()))
}

impl DataDir {
    /// `role`'s authority, ready to sign (`posfee import` seals what it writes with the
    /// importer's).
    pub fn signer(&self, role: Role) -> anyhow::Result<posfee_schemas::trust::Signer> {
        posfee_client::creds::read_signer(&authority_seed_file(&self.creds(), role))
    }
}
