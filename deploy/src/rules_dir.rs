//! Which tenants' rule files the system runs with, in one place: `posfee up` hands them to
//! the fee-engine and records the folder in the data dir, and `posfee import` checks rows
//! against the same folder, so an import is judged by the rules that will price it.

use crate::layout::DataDir;
use anyhow::{bail, Context};
use posfee_tariff::RuleSet;
use std::path::{Path, PathBuf};

/// The tenants' rule files the installation ships ([`crate::install::Install`]): the
/// fee-engine's rules unless `posfee up --rules` says otherwise.
pub fn shipped() -> PathBuf {
    match crate::install::Install::find() {
        Ok(i) => i.rules,
        Err(_) => PathBuf::from("rules"),
    }
}

/// Records `dir` (made absolute) as the rules of the system running on `data`.
pub fn record(data: &DataDir, dir: &Path) -> anyhow::Result<()> {
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let path = data.rules_file();
    crate::natsd::replace_file(&path, &dir.display().to_string())
}

/// The rules folder of the system running on `data`, as `posfee up` recorded it.
pub fn of_running(data: &DataDir) -> anyhow::Result<PathBuf> {
    let path = data.rules_file();
    match std::fs::read_to_string(&path) {
        Ok(dir) => Ok(PathBuf::from(dir.trim())),
        Err(_) => bail!(
            "posfee is not running on data dir {} (no {}): rows are checked against the running system's rules; start it with `posfee up --data-dir {}`",
            data.root().display(),
            path.display(),
            data.root().display()
        ),
    }
}

/// Loads every tenant's rules from `dir`, or says which files are wrong and where.
pub fn load(dir: &Path) -> anyhow::Result<RuleSet> {
    RuleSet::load_dir(dir).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the rule files in {} are refused (check them with `posfee rules check {}`):\n  {}",
            dir.display(),
            dir.display(),
            list.join("\n  ")
        )
    })
}
