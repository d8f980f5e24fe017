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
classes = ["residential"]
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

/// A water tenant's rule file with a residential rule and a late fee; `classes` and
/// `late_classes` fill in the rule's and the late-fee rate's class lists.
fn water_rules(classes: &str, late_classes: &str, second_price: &str) -> String {
    format!(
        r#"tenant = "some-water"
name = "Some Water"
rounding = "half_up"
classes = ["residential", "business"]

[[kind]]
id = "water"
label = "Water"

[[rule]]
id = "w-home"
kind = "water"
classes = [{classes}]

[[rule.version]]
version = "v1"
effective_from = 2026-01-01
[rule.version.tiered]
unit = "m3"
cumulation = "month"
tier = [
  {{ from = "0", to = "10", price = "2.00" }},
  {{ from = "10", price = "{second_price}" }},
]

[[rule]]
id = "w-late"
kind = "water"

[[rule.version]]
version = "v1"
effective_from = 2026-01-01
[rule.version.late_fee]
rate = [
  {{ classes = [{late_classes}], per_day = "0.001" }},
  {{ per_day = "0.002" }},
]
"#
    )
}

fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("water.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(POSFEE)
        .args(["rules", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_misspelt_class_in_a_late_fee_rate_is_refused() {
    let (ok, text) = check(&water_rules(r#""residential""#, r#""residential""#, "3.00"));
    assert!(ok, "the correctly spelt file passes:\n{text}");
    let (ok, text) = check(&water_rules(r#""residential""#, r#""residental""#, "3.00"));
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("residental"))
        .unwrap_or_default();
    assert!(line.contains("water.toml:35:"), "{text}");
    assert!(
        line.contains("not one the tenant declares (residential, business)"),
        "{text}"
    );
}

#[test]
fn every_mistake_in_a_file_is_reported_with_its_line() {
    let (ok, text) = check(&water_rules(r#""residental""#, r#""buisness""#, "-3.00"));
    assert!(!ok, "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error ")).collect();
    assert_eq!(errors.len(), 3, "{text}");
    for (line, reason) in [
        (13, "\"residental\""),
        (23, "negative"),
        (35, "\"buisness\""),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("water.toml:{line}:")) && e.contains(reason)),
            "line {line} ({reason}) not reported:\n{text}"
        );
    }
    assert!(text.contains("3 mistake(s)"), "{text}");
}

#[test]
fn syntax_mistakes_in_several_tables_are_all_reported_at_once() {
    let text = water_rules(r#""residential""#, r#""business""#, "3.00")
        .replace("label = \"Water\"", "label = \"Water")
        .replace("id = \"w-home\"", "id = = \"w-home\"")
        .replace("per_day = \"0.002\" }", "per_day = 0.002.1 }");
    let (ok, out) = check(&text);
    assert!(!ok, "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error ")).collect();
    assert_eq!(errors.len(), 3, "{out}");
    for line in [8, 11, 36] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("water.toml:{line}:"))),
            "line {line} not reported:\n{out}"
        );
    }
    // One mistake alone is reported as before: the probe can succeed.
    let (ok, out) = check(&water_rules(r#""residential""#, r#""business""#, "3.00"));
    assert!(ok, "{out}");
}

#[test]
fn a_missing_line_is_named_with_what_to_add() {
    let text = water_rules(r#""residential""#, r#""business""#, "3.00")
        .replace("classes = [\"residential\", \"business\"]\n", "");
    let (ok, out) = check(&text);
    assert!(!ok, "{out}");
    assert!(
        out.contains("`classes` is missing") && out.contains("classes = …"),
        "{out}"
    );
    assert!(!out.contains("missing field"), "{out}");
}
