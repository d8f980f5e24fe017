//! The terminal's configuration: a TOML file (`--config`), every value overridable by a flag
//! or an environment variable (`POSFEE_` and the flag's name, e.g. `POSFEE_TERMINAL_ID`), so
//! scripts can run a kiosk without a file.
//!
//! Without a URL or a key file the kiosk finds both where `posfee` keeps them: the URL that
//! `posfee up` records in `<data-dir>/run/nats.url`, and the seed `posfee keys terminal ID`
//! wrote to `<data-dir>/creds/terminals/<ID>.nk`. The same for the root key it believes
//! receipts through (`root_key`, `O…`): else `<data-dir>/creds/root.pub`.
//!
//! ```toml
//! terminal_id = "kiosk-01"
//! nats_url = "nats://127.0.0.1:4222"          # optional: else <data-dir>/run/nats.url
//! nkey_file = "data/creds/terminals/kiosk-01.nk"  # optional: else <data-dir>/creds/terminals/
//! root_key = "OD…"                            # optional: else <data-dir>/creds/root.pub
//! heartbeat_secs = 10
//! language = "zh"
//! pairing_ttl_secs = 120
//! [[tenants]]
//! id = "city-water"
//! name = "City Water Supply Co."
//! ```

use crate::i18n::Lang;
use anyhow::{bail, Context};
use posfee_schemas::ids::{TenantId, TerminalId};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `posfee up` and `posfee keys` keep things, unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_HEARTBEAT_SECS: u32 = 10;
pub const DEFAULT_PAIRING_TTL_SECS: u64 = 120;
/// A pairing open longer than this is a code on a screen for anyone passing by.
pub const MAX_PAIRING_TTL_SECS: u64 = 600;
/// The payer confirms on the phone, then paygate and the ledger settle; bills live 15 min.
pub const DEFAULT_RECEIPT_WAIT_SECS: u64 = 300;
pub const MAX_HEARTBEAT_SECS: u32 = 3_600;

/// A payee the kiosk offers in its short list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TenantChoice {
    pub id: TenantId,
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    terminal_id: Option<String>,
    nats_url: Option<String>,
    nkey_file: Option<PathBuf>,
    root_key: Option<String>,
    heartbeat_secs: Option<u32>,
    language: Option<Lang>,
    pairing_ttl_secs: Option<u64>,
    receipt_wait_secs: Option<u64>,
    #[serde(default)]
    tenants: Vec<TenantChoice>,
}

/// Flags and environment variables; each wins over the file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// The terminal's TOML configuration file (format at the top of pos-agent/src/config.rs).
    #[arg(long, global = true, env = "POSFEE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data dir of the running system (as given to `posfee up`): its URL and this
    /// terminal's key are found there when not given [default: ./data].
    #[arg(long, global = true, env = "POSFEE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// This terminal's id, as issued by `posfee keys terminal ID` (letters, digits, '-', '_').
    #[arg(long, global = true, env = "POSFEE_TERMINAL_ID")]
    pub terminal_id: Option<String>,
    /// The NATS server's URL, e.g. nats://127.0.0.1:4222 [default: the URL `posfee up` wrote
    /// to <data-dir>/run/nats.url].
    #[arg(long, global = true, env = "POSFEE_NATS_URL")]
    pub nats_url: Option<String>,
    /// This terminal's nkey seed file [default: <data-dir>/creds/terminals/<terminal-id>.nk,
    /// where `posfee keys terminal ID` puts it].
    #[arg(long, global = true, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
    /// The system's root key (`O…`, or a file holding it): a receipt is printed only if the
    /// ledger's signature verifies through it [default: <data-dir>/creds/root.pub, which
    /// `posfee up` writes; `posfee keys terminal` prints it].
    #[arg(long, global = true, env = "POSFEE_ROOT_KEY")]
    pub root_key: Option<String>,
    /// Seconds between presence heartbeats, 1 to 3600 [default: 10].
    #[arg(long, global = true, env = "POSFEE_HEARTBEAT_SECS")]
    pub heartbeat_secs: Option<u32>,
    /// The screen's language [default: zh].
    #[arg(long, global = true, env = "POSFEE_LANGUAGE", value_enum)]
    pub language: Option<Lang>,
    /// Seconds a pairing (either mode) stays open without a phone, 1 to 600 [default: 120].
    #[arg(long, global = true, env = "POSFEE_PAIRING_TTL_SECS")]
    pub pairing_ttl_secs: Option<u64>,
    /// Seconds the kiosk waits for the receipt once the phone has the bill [default: 300].
    #[arg(long, global = true, env = "POSFEE_RECEIPT_WAIT_SECS")]
    pub receipt_wait_secs: Option<u64>,
}

/// The environment variables of earlier versions, still read when the new one is not set:
/// (argument id, old name).
pub const OLD_ENV_NAMES: &[(&str, &str)] = &[
    ("config", "POS_AGENT_CONFIG"),
    ("terminal_id", "POS_AGENT_TERMINAL_ID"),
    ("nkey_file", "POS_AGENT_NKEY_FILE"),
    ("heartbeat_secs", "POS_AGENT_HEARTBEAT_SECS"),
    ("language", "POS_AGENT_LANGUAGE"),
    ("pairing_ttl_secs", "POS_AGENT_PAIRING_TTL_SECS"),
    ("receipt_wait_secs", "POS_AGENT_RECEIPT_WAIT_SECS"),
];

/// `<data-dir>/run/nats.url`: where `posfee up` records the URL it serves on (the same path
/// as `posfee::layout::DataDir::url_file`; a test holds them together).
pub fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("nats.url")
}

/// `<data-dir>/creds/terminals/<id>.nk`: where `posfee keys terminal ID` writes the seed
/// (the same path as `posfee::identities::Registry::terminal_seed_file`).
pub fn terminal_seed_file(data_dir: &Path, id: &TerminalId) -> PathBuf {
    data_dir
        .join("creds")
        .join("terminals")
        .join(format!("{id}.nk"))
}

/// The URL `posfee up` recorded in `data_dir`, or why there is none.
pub fn running_url(data_dir: &Path) -> anyhow::Result<String> {
    let path = url_file(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_string()),
        _ => bail!(
            "{}{} does not exist; start it with `posfee up --data-dir {}`, \
             pass --data-dir of the running system, or give --nats-url",
            posfee_client::words::NO_SYSTEM,
            path.display(),
            data_dir.display()
        ),
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub terminal: TerminalId,
    pub nats_url: String,
    /// The root the ledger's receipts are believed through.
    pub root: posfee_schemas::trust::TrustRoot,
    pub nkey_file: Option<PathBuf>,
    pub heartbeat_secs: u32,
    pub language: Lang,
    pub pairing_ttl_secs: u64,
    pub receipt_wait_secs: u64,
    pub tenants: Vec<TenantChoice>,
}

impl ConfigArgs {
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let Some(terminal) = self.terminal_id.clone().or(file.terminal_id) else {
            bail!("no terminal id: set terminal_id in the config file or pass --terminal-id");
        };
        let terminal = TerminalId::parse(terminal).context("terminal_id")?;
        let heartbeat_secs = self
            .heartbeat_secs
            .or(file.heartbeat_secs)
            .unwrap_or(DEFAULT_HEARTBEAT_SECS);
        if !(1..=MAX_HEARTBEAT_SECS).contains(&heartbeat_secs) {
            bail!("heartbeat_secs must be 1..={MAX_HEARTBEAT_SECS}, got {heartbeat_secs}");
        }
        let pairing_ttl_secs = self
            .pairing_ttl_secs
            .or(file.pairing_ttl_secs)
            .unwrap_or(DEFAULT_PAIRING_TTL_SECS);
        if !(1..=MAX_PAIRING_TTL_SECS).contains(&pairing_ttl_secs) {
            bail!("pairing_ttl_secs must be 1..={MAX_PAIRING_TTL_SECS}, got {pairing_ttl_secs}");
        }
        let receipt_wait_secs = self
            .receipt_wait_secs
            .or(file.receipt_wait_secs)
            .unwrap_or(DEFAULT_RECEIPT_WAIT_SECS);
        if receipt_wait_secs == 0 {
            bail!("receipt_wait_secs must be at least 1");
        }
        // A relative key path in the file is relative to the file, not to where we started.
        let nkey_file = self.nkey_file.clone().or_else(|| {
            file.nkey_file.map(|p| match &self.config {
                Some(c) if p.is_relative() => c.parent().unwrap_or(Path::new(".")).join(p),
                _ => p,
            })
        });
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let nkey_file = match nkey_file {
            Some(p) => p,
            None => {
                let kept = terminal_seed_file(&data_dir, &terminal);
                if !kept.exists() {
                    bail!(
                        "terminal {terminal}{}none given (--nkey-file, POSFEE_NKEY_FILE or \
                         nkey_file in the config) and none at {}; issue one with \
                         `posfee keys terminal {terminal} --data-dir {}`",
                        posfee_client::words::NO_KEY,
                        kept.display(),
                        data_dir.display()
                    );
                }
                kept
            }
        };
        let nats_url = match self.nats_url.clone().or(file.nats_url) {
            Some(u) => u,
            None => running_url(&data_dir)?,
        };
        let root = root_key(self.root_key.clone().or(file.root_key), &data_dir)?;
        Ok(Config {
            terminal,
            nats_url,
            root,
            nkey_file: Some(nkey_file),
            heartbeat_secs,
            language: self.language.or(file.language).unwrap_or_default(),
            pairing_ttl_secs,
            receipt_wait_secs,
            tenants: file.tenants,
        })
    }
}

/// The root key given, or the one `posfee up` keeps in `<data-dir>/creds/root.pub`.
pub fn root_key(
    given: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<posfee_schemas::trust::TrustRoot> {
    if let Some(given) = given {
        return posfee_client::creds::read_root(&given).context("root_key");
    }
    let kept = data_dir.join("creds").join("root.pub");
    if !kept.exists() {
        bail!(
            "no root key: none given (--root-key, POSFEE_ROOT_KEY or root_key in the config) and              none at {}; `posfee keys terminal ID` prints the system's, or pass --data-dir of the              running system",
            kept.display()
        );
    }
    posfee_client::creds::read_root(&kept.to_string_lossy())
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config {}", path.display()))
}

impl Config {
    pub fn settings(&self) -> crate::Settings {
        crate::Settings {
            terminal: self.terminal.clone(),
            pairing_ttl: Duration::from_secs(self.pairing_ttl_secs),
            receipt_wait: Duration::from_secs(self.receipt_wait_secs),
            heartbeat: Duration::from_secs(u64::from(self.heartbeat_secs)),
            root: self.root.clone(),
        }
    }

    /// Connects to the bus as this terminal: its own key, its own inbox prefix.
    pub async fn connect(&self) -> anyhow::Result<async_nats::Client> {
        let seed = match &self.nkey_file {
            Some(p) => Some(posfee_client::creds::read_seed(p)?),
            None => None,
        };
        posfee_client::bus::connect(
            &self.nats_url,
            self.identity(),
            seed,
            &format!("pos-agent-{}", self.terminal),
        )
        .await
    }

    /// Who this kiosk is on the bus.
    pub fn identity(&self) -> posfee_schemas::subjects::Identity {
        posfee_schemas::subjects::Identity::Terminal(self.terminal.clone())
    }

    /// This kiosk's seed, if it has a readable one.
    pub fn seed(&self) -> Option<String> {
        let file = self.nkey_file.as_ref()?;
        posfee_client::creds::read_seed(file).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_values_apply_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.toml");
        std::fs::write(
            &path,
            "terminal_id = \"kiosk-09\"\nnkey_file = \"creds/terminal.nk\"\nlanguage = \"en\"\npairing_ttl_secs = 30\n[[tenants]]\nid = \"city-water\"\nname = \"Water\"\n",
        )
        .unwrap();
        let root = nkeys::KeyPair::new_operator().public_key();
        let args = ConfigArgs {
            config: Some(path.clone()),
            nats_url: Some("nats://127.0.0.1:1".into()),
            pairing_ttl_secs: Some(5),
            root_key: Some(root.clone()),
            ..Default::default()
        };
        let c = args.resolve().unwrap();
        assert_eq!(c.terminal.as_str(), "kiosk-09");
        assert_eq!(c.language, Lang::En);
        assert_eq!(c.pairing_ttl_secs, 5);
        assert_eq!(c.heartbeat_secs, DEFAULT_HEARTBEAT_SECS);
        assert_eq!(c.nkey_file.unwrap(), dir.path().join("creds/terminal.nk"));
        assert_eq!(c.tenants.len(), 1);
        assert_eq!(c.root.as_str(), root);
    }

    #[test]
    fn bad_values_are_refused_with_the_field_named() {
        let no_id = ConfigArgs::default().resolve().unwrap_err().to_string();
        assert!(no_id.contains("terminal id"), "{no_id}");
        let ttl = ConfigArgs {
            terminal_id: Some("k".into()),
            pairing_ttl_secs: Some(0),
            ..Default::default()
        };
        assert!(ttl
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("pairing_ttl_secs"));
        let bad_id = ConfigArgs {
            terminal_id: Some("k.1".into()),
            ..Default::default()
        };
        assert!(format!("{:#}", bad_id.resolve().unwrap_err()).contains("terminal_id"));
    }

    #[test]
    fn url_and_key_are_found_in_the_data_dir_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let args = ConfigArgs {
            data_dir: Some(data.clone()),
            terminal_id: Some("kiosk-03".into()),
            ..Default::default()
        };
        // Neither key nor URL: the refusal names the command that issues a key.
        let no_key = format!("{:#}", args.resolve().unwrap_err());
        assert!(
            no_key.contains("posfee keys terminal kiosk-03 --data-dir"),
            "{no_key}"
        );
        let seed = data.join("creds/terminals/kiosk-03.nk");
        std::fs::create_dir_all(seed.parent().unwrap()).unwrap();
        std::fs::write(&seed, "S").unwrap();
        let no_url = format!("{:#}", args.resolve().unwrap_err());
        assert!(no_url.contains("posfee up --data-dir"), "{no_url}");
        std::fs::create_dir_all(data.join("run")).unwrap();
        std::fs::write(data.join("run/nats.url"), "nats://127.0.0.1:4999\n").unwrap();
        // No root key: the refusal says where it is found.
        let no_root = format!("{:#}", args.resolve().unwrap_err());
        assert!(no_root.contains("root.pub"), "{no_root}");
        let root = nkeys::KeyPair::new_operator().public_key();
        std::fs::write(data.join("creds/root.pub"), format!("{root}\n")).unwrap();
        let c = args.resolve().unwrap();
        assert_eq!(c.root.as_str(), root);
        assert_eq!(c.nats_url, "nats://127.0.0.1:4999");
        assert_eq!(c.nkey_file.unwrap(), seed);
        let explicit = ConfigArgs {
            nats_url: Some("nats://10.0.0.1:4222".into()),
            nkey_file: Some(dir.path().join("elsewhere.nk")),
            ..args
        };
        let c = explicit.resolve().unwrap();
        assert_eq!(c.nats_url, "nats://10.0.0.1:4222");
        assert_eq!(c.nkey_file.unwrap(), dir.path().join("elsewhere.nk"));
    }
}
