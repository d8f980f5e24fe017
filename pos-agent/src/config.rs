//! The terminal's configuration: a TOML file (`--config`), every value overridable by a flag
//! or an environment variable, so scripts can run a kiosk without a file.
//!
//! ```toml
//! terminal_id = "kiosk-01"
//! nats_url = "nats://127.0.0.1:4222"
//! nkey_file = "data/creds/terminals/kiosk-01.nk"
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

pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
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
    /// The terminal's TOML configuration file.
    #[arg(long, global = true, env = "POS_AGENT_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, global = true, env = "POS_AGENT_TERMINAL_ID")]
    pub terminal_id: Option<String>,
    #[arg(long, global = true, env = "POSFEE_NATS_URL")]
    pub nats_url: Option<String>,
    /// This terminal's nkey seed file (`posfee keys terminal ID` issues one).
    #[arg(long, global = true, env = "POS_AGENT_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
    #[arg(long, global = true, env = "POS_AGENT_HEARTBEAT_SECS")]
    pub heartbeat_secs: Option<u32>,
    #[arg(long, global = true, env = "POS_AGENT_LANGUAGE", value_enum)]
    pub language: Option<Lang>,
    #[arg(long, global = true, env = "POS_AGENT_PAIRING_TTL_SECS")]
    pub pairing_ttl_secs: Option<u64>,
    #[arg(long, global = true, env = "POS_AGENT_RECEIPT_WAIT_SECS")]
    pub receipt_wait_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub terminal: TerminalId,
    pub nats_url: String,
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
        Ok(Config {
            terminal,
            nats_url: self
                .nats_url
                .clone()
                .or(file.nats_url)
                .unwrap_or_else(|| DEFAULT_NATS_URL.to_string()),
            nkey_file,
            heartbeat_secs,
            language: self.language.or(file.language).unwrap_or_default(),
            pairing_ttl_secs,
            receipt_wait_secs,
            tenants: file.tenants,
        })
    }
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
        }
    }

    /// Connects to the bus as this terminal: its own key, its own inbox prefix.
    pub async fn connect(&self) -> anyhow::Result<async_nats::Client> {
        let seed = match &self.nkey_file {
            Some(p) => Some(posfee_runtime::creds::read_seed(p)?),
            None => None,
        };
        posfee_runtime::bus::connect(
            &self.nats_url,
            posfee_schemas::subjects::Identity::Terminal(self.terminal.clone()),
            seed,
            &format!("pos-agent-{}", self.terminal),
        )
        .await
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
        let args = ConfigArgs {
            config: Some(path.clone()),
            pairing_ttl_secs: Some(5),
            ..Default::default()
        };
        let c = args.resolve().unwrap();
        assert_eq!(c.terminal.as_str(), "kiosk-09");
        assert_eq!(c.language, Lang::En);
        assert_eq!(c.pairing_ttl_secs, 5);
        assert_eq!(c.heartbeat_secs, DEFAULT_HEARTBEAT_SECS);
        assert_eq!(c.nkey_file.unwrap(), dir.path().join("creds/terminal.nk"));
        assert_eq!(c.tenants.len(), 1);
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
}
