//! Every manifest lists what its crate uses, and only that: a dependency in `[dependencies]`
//! is named in the crate's `src/` (or `build.rs`), one in `[dev-dependencies]` in its
//! `src/`, `tests/`, `benches/` or `examples/`, and every `[workspace.dependencies]` entry is
//! taken by some member. The same check `cargo machete` makes (a dependency's name, with `-`
//! as `_`, as a whole word in the sources), without a tool to install; a dependency named
//! only to turn on a feature is listed under `[package.metadata.cargo-machete] ignored`, as
//! that tool reads it.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest(dir: &Path) -> toml::Table {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    text.parse().unwrap()
}

fn members() -> Vec<PathBuf> {
    let ws = manifest(&root());
    let mut dirs: Vec<PathBuf> = ws["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| root().join(m.as_str().unwrap()))
        .collect();
    dirs.push(root());
    dirs
}

/// The Rust sources under `dir`'s `subs`, leaving out other members' folders inside it.
fn sources(dir: &Path, subs: &[&str], members: &[PathBuf]) -> String {
    let mut text = String::new();
    let mut stack: Vec<PathBuf> = subs.iter().map(|s| dir.join(s)).collect();
    while let Some(p) = stack.pop() {
        if p.is_file() {
            if p.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&p).unwrap());
            }
            continue;
        }
        let nested = |m: &PathBuf| m != dir && m.starts_with(dir) && p.starts_with(m);
        if !p.is_dir() || members.iter().any(nested) {
            continue;
        }
        for entry in std::fs::read_dir(&p).unwrap() {
            stack.push(entry.unwrap().path());
        }
    }
    text
}

/// Whether `word` occurs in `text` with no identifier character on either side.
fn names(text: &str, word: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).any(|(i, _)| {
        !ident(text[..i].chars().next_back()) && !ident(text[i + word.len()..].chars().next())
    })
}

fn listed(table: &toml::Table, section: &str) -> Vec<String> {
    table
        .get(section)
        .and_then(|s| s.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn ignored(table: &toml::Table) -> Vec<String> {
    table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("cargo-machete"))
        .and_then(|c| c.get("ignored"))
        .and_then(|i| i.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_manifest_lists_what_its_crate_uses_and_nothing_else() {
    let members = members();
    let mut unused = Vec::new();
    for dir in &members {
        let m = manifest(dir);
        let skip = ignored(&m);
        let src = sources(dir, &["src", "build.rs"], &members);
        let all = sources(dir, &["src", "tests", "benches", "examples"], &members);
        assert!(!src.is_empty(), "{}: no sources found", dir.display());
        for (section, text) in [("dependencies", &src), ("dev-dependencies", &all)] {
            for dep in listed(&m, section) {
                if !skip.contains(&dep) && !names(text, &dep.replace('-', "_")) {
                    unused.push(format!("{} [{section}] {dep}", dir.display()));
                }
            }
        }
    }
    assert!(unused.is_empty(), "listed but never used: {unused:#?}");
}

#[test]
fn every_workspace_dependency_is_taken_by_a_member() {
    let members = members();
    let taken: Vec<String> = members
        .iter()
        .flat_map(|d| {
            let m = manifest(d);
            ["dependencies", "dev-dependencies", "build-dependencies"]
                .iter()
                .flat_map(|s| listed(&m, s))
                .collect::<Vec<_>>()
        })
        .collect();
    let ws = manifest(&root());
    let spare: Vec<String> = ws["workspace"]["dependencies"]
        .as_table()
        .unwrap()
        .keys()
        .filter(|d| !taken.contains(d))
        .cloned()
        .collect();
    assert!(spare.is_empty(), "no member takes {spare:?}");
}

#[test]
fn the_check_finds_a_dependency_nobody_names() {
    // The probe can succeed: a name used as a path counts, one only inside a longer
    // identifier does not.
    assert!(names("use serde_json::Value;", "serde_json"));
    assert!(names("#[serde(with = \"serde_bytes\")]", "serde_bytes"));
    assert!(!names("use serde_json::Value;", "serde"));
    assert!(!names("let my_rand_thing = 1;", "rand"));
}
