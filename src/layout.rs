//! Where things live under a data directory. One place, so `up`, `status` and the tests agree.
//!
//! ```text
//! <data-dir>/posfee.lock        held by the running `posfee up`
//! <data-dir>/creds/<role>.nk    nkey seeds, 0600, generated at set-up, never committed
//! <data-dir>/creds/terminals/   each kiosk's public key (and seed, unless sent elsewhere)
//! <data-dir>/creds/devices/     each phone's public key (and seed, unless made on the phone)
//! <data-dir>/nats/nats.conf     the server's configuration: a copy of the repository's
//! <data-dir>/nats/auth.conf     its users, rendered from the roles, kiosks and phones
//! <data-dir>/nats/jetstream/    the JetStream store
//! <data-dir>/run/nats.url       the URL of the running server, for `status` and friends
//! <data-dir>/run/rules.dir      the rules folder the running fee-engine loaded, for `import`
//! <data-dir>/logs/<proc>.log    each process's log
//! <data-dir>/<service>/         each service's own sled store
//! ```

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
    pub fn lock_file(&self) -> PathBuf {
        self.0.join("posfee.lock")
    }
    pub fn creds(&self) -> PathBuf {
        self.0.join("creds")
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
