//! docs/tariffs.md cannot drift from the parser: every ```toml block in it is a rule file the
//! real parser accepts, and every ```toml input block is an input file that prices against
//! the page's own rule files.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_tariff::{parse_rule_file, preview, Charge, RuleSet};

/// The fenced blocks of `text` with the given info string, with the line each starts on.
fn blocks(text: &str, info: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match current.as_mut() {
            None if line.trim_end() == format!("```{info}") => {
                current = Some((i + 1, String::new()))
            }
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```{info} block");
    out
}

#[test]
fn every_example_in_the_tariff_guide_parses_and_the_input_prices() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tariffs.md");
    let text = std::fs::read_to_string(path).unwrap();
    let rule_files = blocks(&text, "toml");
    // The guide shows the layout and all seven charge models, terms and classes.
    assert!(
        rule_files.len() >= 10,
        "only {} rule examples",
        rule_files.len()
    );
    let mut tenants = Vec::new();
    for (line, body) in &rule_files {
        let name = format!("docs/tariffs.md:{line}");
        match parse_rule_file(&name, body) {
            Ok(t) => tenants.push(t),
            Err(e) => panic!("{e}"),
        }
    }
    let models: std::collections::BTreeSet<String> = tenants
        .iter()
        .flat_map(|t| t.rules.iter())
        .flat_map(|r| r.versions.iter())
        .map(|v| match v.charge {
            Charge::Fixed(_) => "fixed",
            Charge::PerAttribute(_) => "per_attribute",
            Charge::Tiered(_) => "tiered",
            Charge::TimeOfUse(_) => "time_of_use",
            Charge::TopUp(_) => "top_up",
            Charge::LateFee(_) => "late_fee",
        })
        .map(String::from)
        .collect();
    assert_eq!(models.len(), 6, "charge models shown: {models:?}");

    let inputs = blocks(&text, "toml input");
    assert!(!inputs.is_empty(), "no input example");
    let rules = RuleSet::from_tenants(tenants);
    for (line, body) in &inputs {
        let name = format!("docs/tariffs.md:{line}");
        let quote = preview(&rules, &name, body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!quote.lines.is_empty(), "{name} priced nothing");
    }
}
