//! What the build takes from crates.io, checked the way `cargo deny check licenses bans` would:
//! every crate in the resolved graph (for the platforms posfee runs on) carries a licence we
//! may ship under Apache-2.0, and no crate comes in two versions unless it is listed below with
//! why. Advisories are not checked here: the RustSec database lives on GitHub, which this
//! project's machines cannot reach (see README, "Checks").

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

/// Licences (SPDX ids) a crate may carry, alone or as one side of an `OR`.
const ALLOWED: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "0BSD",
    "ISC",
    "Zlib",
    "BSL-1.0",
    "Unicode-3.0",
    "Unlicense",
    "CC0-1.0",
];

/// Crates that come in more than one version today, each because crates we depend on have not
/// moved to one major version yet: rand 0.8 (nkeys) beside 0.9 (ours) and 0.10 (async-nats),
/// with their chacha, core, getrandom and cpufeatures; syn 2 beside 3 (clap's and ICU's derive
/// macros); toml 0.8's toml_edit and winnow beside the newer ones; hashbrown 0.16 (the metrics
/// exporter's metrics-util) beside 0.17 (indexmap); base64 0.23 (hyper-util, under axum and
/// the OTLP exporter) beside 0.22; chacha20 0.9 (the AEAD that seals payers' details,
/// chacha20poly1305 0.10, whose next major is not released) beside 0.10 (rand 0.10's generator).
/// A new name here is a decision, not an accident.
const KNOWN_DUPLICATES: &[&str] = &[
    "base64",
    "chacha20",
    "cpufeatures",
    "getrandom",
    "hashbrown",
    "rand",
    "rand_chacha",
    "rand_core",
    "syn",
    "toml_datetime",
    "toml_edit",
    "winnow",
];

struct Package {
    name: String,
    version: String,
    license: Option<String>,
}

/// The packages of the resolved graph on Linux (where posfee runs), from `cargo metadata`.
fn packages() -> Vec<Package> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resolved: BTreeSet<&str> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| resolved.contains(p["id"].as_str().unwrap()))
        .map(|p| Package {
            name: p["name"].as_str().unwrap().to_string(),
            version: p["version"].as_str().unwrap().to_string(),
            license: p["license"].as_str().map(String::from),
        })
        .collect()
}

/// Whether an SPDX expression (as crates write them: `MIT OR Apache-2.0`, `MIT/Apache-2.0`,
/// `(MIT OR Apache-2.0) AND Unicode-3.0`) can be taken under allowed licences only: some
/// alternative of every `AND` part is allowed.
fn allowed(expr: &str) -> bool {
    expr.split(" AND ").all(|part| {
        part.trim()
            .trim_matches(|c| c == '(' || c == ')')
            .split(" OR ")
            .flat_map(|a| a.split('/'))
            .any(|a| ALLOWED.contains(&a.trim()))
    })
}

#[test]
fn every_crate_carries_a_licence_we_may_ship_under() {
    let refused: Vec<String> = packages()
        .into_iter()
        .filter(|p| !p.license.as_deref().is_some_and(allowed))
        .map(|p| format!("{} {} ({:?})", p.name, p.version, p.license))
        .collect();
    assert!(refused.is_empty(), "licences not allowed: {refused:#?}");
}

#[test]
fn no_crate_comes_in_two_versions_unless_listed() {
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages() {
        versions.entry(p.name).or_default().insert(p.version);
    }
    let doubled: Vec<String> = versions
        .iter()
        .filter(|(name, v)| v.len() > 1 && !KNOWN_DUPLICATES.contains(&name.as_str()))
        .map(|(name, v)| format!("{name} {v:?}"))
        .collect();
    assert!(doubled.is_empty(), "new duplicate versions: {doubled:#?}");
    let gone: Vec<&&str> = KNOWN_DUPLICATES
        .iter()
        .filter(|n| versions.get(**n).is_none_or(|v| v.len() < 2))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer doubled, take off the list: {gone:?}"
    );
}

#[test]
fn the_licence_check_refuses_what_it_must() {
    // The probe can succeed: real expressions from the graph pass, a copyleft-only one and
    // a missing part do not.
    assert!(allowed("MIT OR Apache-2.0"));
    assert!(allowed("MIT/Apache-2.0"));
    assert!(allowed("(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(allowed("MIT OR Apache-2.0 OR LGPL-2.1-or-later"));
    assert!(!allowed("GPL-3.0-only"));
    assert!(!allowed("MIT AND GPL-2.0-only"));
}
