//! The files a posfee installation runs with, found at run time, never baked in at build time:
//! the server settings (`nats.conf`), the tenants' rule files and a nats-server binary.
//!
//! In order: `POSFEE_HOME` names an installation folder (`nats.conf`, `rules/`, `bin/`); else
//! a source checkout holding the running executable (`target/…` inside it: `nats.conf`,
//! `services/fee-engine/rules/`, `.tools/bin/`, the phone's web app built in
//! `companion/web/dist/`), which is how developers and the tests run; else the shared folder
//! beside the executable, `<prefix>/share/posfee/` for `<prefix>/bin/posfee` (the web app in
//! its `web/`). `POSFEE_NATS_CONF`, `posfee up --rules` and `NATS_SERVER` override
//! one file each.

use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub nats_conf: PathBuf,
    pub rules: PathBuf,
    /// Where a nats-server installed with posfee would be (it may not exist: then PATH).
    pub nats_server: PathBuf,
    /// The phone's web app as built (`index.html` and its assets), which `posfee up` serves.
    pub web: PathBuf,
    /// The operator's console as built, which `posfee up` serves on a port of its own.
    pub console: PathBuf,
}

impl Install {
    /// The installation this process runs from.
    pub fn find() -> anyhow::Result<Install> {
        if let Some(home) = std::env::var_os("POSFEE_HOME") {
            return Ok(Install::home(Path::new(&home)));
        }
        let exe = std::env::current_exe().context("locating the running executable")?;
        Ok(Install::for_executable(&exe))
    }

    /// An installation folder: `nats.conf`, `rules/`, `bin/nats-server`.
    pub fn home(home: &Path) -> Install {
        Install {
            nats_conf: home.join("nats.conf"),
            rules: home.join("rules"),
            nats_server: home.join("bin").join("nats-server"),
            web: home.join("web"),
            console: home.join("console"),
        }
    }

    /// The source checkout that holds `exe`, or else `<prefix>/share/posfee` for
    /// `<prefix>/bin/<exe>`.
    pub fn for_executable(exe: &Path) -> Install {
        for dir in exe.ancestors().skip(1) {
            if dir.join("nats.conf").is_file() && dir.join("services/fee-engine/rules").is_dir() {
                return Install {
                    nats_conf: dir.join("nats.conf"),
                    rules: dir.join("services/fee-engine/rules"),
                    nats_server: dir.join(".tools/bin/nats-server"),
                    web: dir.join("companion/web/dist"),
                    console: dir.join("operator/console/dist"),
                };
            }
        }
        let prefix = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new("/usr/local"));
        Install::home(&prefix.join("share").join("posfee"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_checkout_is_found_from_its_build_and_an_installed_binary_reads_its_share_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("src");
        std::fs::create_dir_all(checkout.join("services/fee-engine/rules")).unwrap();
        std::fs::create_dir_all(checkout.join("target/debug")).unwrap();
        std::fs::write(checkout.join("nats.conf"), "").unwrap();
        let built = Install::for_executable(&checkout.join("target/debug/posfee"));
        assert_eq!(built.nats_conf, checkout.join("nats.conf"));
        assert_eq!(built.rules, checkout.join("services/fee-engine/rules"));
        assert_eq!(built.web, checkout.join("companion/web/dist"));
        assert_eq!(built.console, checkout.join("operator/console/dist"));

        let installed = Install::for_executable(&tmp.path().join("opt/bin/posfee"));
        assert_eq!(
            installed.nats_conf,
            tmp.path().join("opt/share/posfee/nats.conf")
        );
        assert_eq!(installed.rules, tmp.path().join("opt/share/posfee/rules"));
    }
}
