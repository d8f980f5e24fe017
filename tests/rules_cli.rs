//! `posfee rules`: tenants check their rule files and preview a bill with no system running.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");
const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/services/fee-engine/rules");

#[test]
fn the_shipped_rule_files_pass_the_check() {
    let out = Command::new(POSFEE)
        .args(["rules", "check", RULES])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for tenant in ["acme-property", "city-water", "city-power", "city-telecom"] {
        assert!(text.contains(&format!("tenant {tenant}")), "{text}");
    }
}

#[test]
fn a_broken_file_is_refused_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.toml");
    std::fs::write(
        &bad,
        r#"tenant = "broken-water"
name = "Broken"
rounding = "half_up"

[[kind]]
id = "water"
label = "Water"

[[rule]]
id = "w"
kind = "water"

[[rule.version]]
version = "v1"
effective_from = 2026-01-01
[rule.version.tiered]
unit = "m3"
cumulation = "month"
tier = [
  { from = "0", to = "10", price = "2.00" },
  { from = "8", price = "3.00" },
]
"#,
    )
    .unwrap();
    let out = Command::new(POSFEE)
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("broken.toml")).unwrap();
    // The overlapping tier is on line 21.
    assert!(line.contains("broken.toml:21:"), "{line}");
    assert!(line.to_lowercase().contains("overlap"), "{line}");
}

#[test]
fn an_offline_quote_prices_the_preview_input() {
    let out = Command::new(POSFEE)
        .args(["rules", "quote", "--rules", RULES, "--input"])
        .arg(format!("{RULES}/preview/city-water.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 22.5 m³ in February and 27.5 m³ in March from 150 m³ year to date: 180 − 150 = 30 m³
    // at 5.00 and 20 m³ at 7.00 = 150.00 + 140.00.
    let total = text.lines().find(|l| l.starts_with("TOTAL")).unwrap();
    assert!(total.trim_end().ends_with("290.00"), "{total}");
}
