//! Loading and checking rule files from disk: the only I/O in the crate.

use crate::error::RuleFileError;
use crate::parse::check_rule_file;
use crate::tenant::Tenant;
use posfee_schemas::ids::TenantId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest rule file we read, in bytes; a tariff is a few kilobytes.
pub const MAX_RULE_FILE_BYTES: u64 = 1024 * 1024;

/// Every tenant's checked tariff, by tenant id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub tenants: BTreeMap<TenantId, Tenant>,
}

/// The outcome of checking one file (`posfee rules check`): the tenant, or every mistake
/// in the file (never an empty list).
#[derive(Debug, Clone, PartialEq)]
pub struct FileCheck {
    pub file: String,
    pub result: Result<Tenant, Vec<RuleFileError>>,
}

impl RuleSet {
    /// Loads every `*.toml` file in `dir`. All mistakes in all files are reported, not just
    /// the first file's; any mistake refuses the whole set so a half-loaded tariff never runs.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<RuleSet, Vec<RuleFileError>> {
        RuleSet::load_paths(&[dir.as_ref().to_path_buf()])
    }

    /// Loads rule files and directories of them (see [`check_paths`]).
    pub fn load_paths(paths: &[PathBuf]) -> Result<RuleSet, Vec<RuleFileError>> {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        for check in check_paths(paths) {
            match check.result {
                Err(e) => errors.extend(e),
                Ok(tenant) => {
                    if let Some(first) = set.tenants.get(&tenant.id) {
                        errors.push(RuleFileError::whole_file(
                            &check.file,
                            format!(
                                "tenant {} is already defined in {}",
                                tenant.id, first.source
                            ),
                        ));
                    } else {
                        set.tenants.insert(tenant.id.clone(), tenant);
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Builds a set from tenants already parsed (tests, previews of a single file).
    pub fn from_tenants(tenants: impl IntoIterator<Item = Tenant>) -> RuleSet {
        RuleSet {
            tenants: tenants.into_iter().map(|t| (t.id.clone(), t)).collect(),
        }
    }

    pub fn tenant(&self, id: &TenantId) -> Option<&Tenant> {
        self.tenants.get(id)
    }
}

/// Checks each file; a directory stands for its `*.toml` files in name order. One result per
/// file, so a CLI can print every file's verdict.
pub fn check_paths(paths: &[PathBuf]) -> Vec<FileCheck> {
    let mut checks = Vec::new();
    for path in paths {
        if path.is_dir() {
            match toml_files(path) {
                Ok(files) => checks.extend(files.iter().map(|f| check_file(f))),
                Err(e) => checks.push(FileCheck {
                    file: path.display().to_string(),
                    result: Err(vec![RuleFileError::whole_file(
                        &path.display().to_string(),
                        format!("cannot list directory: {e}"),
                    )]),
                }),
            }
        } else {
            checks.push(check_file(path));
        }
    }
    checks
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn check_file(path: &Path) -> FileCheck {
    let file = path.display().to_string();
    let result = read_bounded(path)
        .map_err(|reason| vec![RuleFileError::whole_file(&file, reason)])
        .and_then(|text| check_rule_file(&file, &text));
    FileCheck { file, result }
}

/// Reads a text file of at most [`MAX_RULE_FILE_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<String, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > MAX_RULE_FILE_BYTES {
        return Err(format!(
            "file is {len} bytes, more than the {MAX_RULE_FILE_BYTES} allowed"
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}
