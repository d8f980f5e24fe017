//! A rule file with a mistake is refused with the file, the line and the reason.

// Test helpers may unwrap: a panic there is a failed test, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_tariff::{check_rule_file, parse_rule_file, RuleFileError, RuleSet};

/// A valid file; the tests below each break one line of it.
const GOOD: &str = r#"tenant = "t-1"
name = "Test Utility"
rounding = "half_up"
classes = ["household", "business"]
[[kind]]
id = "water"
label = "Water"

[[rule]]
id = "water-tiers"
kind = "water"

[[rule.version]]
version = "v1"
effective_from = 2024-01-01
[rule.version.tiered]
unit = "m³"
cumulation = "month"
tier = [
  { from = "0", to = "10", price = "2.00" },
  { from = "10", to = "20", price = "3.00" },
  { from = "20", price = "4.00" },
]

[[rule.version]]
version = "v2"
effective_from = 2025-01-01
[rule.version.tiered]
unit = "m³"
cumulation = "month"
tier = [{ from = "0", price = "2.50" }]
"#;

/// `GOOD` with line `n` (1-based) replaced.
fn with_line(n: usize, text: &str) -> String {
    GOOD.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { text } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

fn refused(text: &str) -> RuleFileError {
    match parse_rule_file("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_refused_at(text: &str, line: usize, reason_has: &str) {
    let e = refused(text);
    assert_eq!(e.line, line, "{e}");
    assert!(e.reason.contains(reason_has), "{e}");
    assert_eq!(e.file, "bad.toml");
}

#[test]
fn the_base_file_is_good() {
    parse_rule_file("good.toml", GOOD).unwrap();
}

#[test]
fn display_is_file_line_column_reason() {
    let e = refused(&with_line(
        21,
        r#"  { from = "11", to = "20", price = "3.00" },"#,
    ));
    assert_eq!(e.line, 21);
    assert!(
        e.to_string()
            .starts_with(&format!("bad.toml:21:{}: gap between tiers", e.column)),
        "{e}"
    );
}

#[test]
fn a_gap_between_tiers_is_refused_at_the_tier() {
    assert_refused_at(
        &with_line(21, r#"  { from = "11", to = "20", price = "3.00" },"#),
        21,
        "gap between tiers",
    );
}

#[test]
fn overlapping_tiers_are_refused_at_the_tier() {
    assert_refused_at(
        &with_line(21, r#"  { from = "9", to = "20", price = "3.00" },"#),
        21,
        "overlapping tiers",
    );
}

#[test]
fn a_first_tier_not_starting_at_zero_is_refused() {
    assert_refused_at(
        &with_line(20, r#"  { from = "1", to = "10", price = "2.00" },"#),
        20,
        "must start at 0",
    );
}

#[test]
fn a_closed_last_tier_is_refused() {
    assert_refused_at(
        &with_line(22, r#"  { from = "20", to = "30", price = "4.00" },"#),
        22,
        "open-ended",
    );
}

#[test]
fn an_open_tier_before_the_last_is_refused() {
    assert_refused_at(
        &with_line(21, r#"  { from = "10", price = "3.00" },"#),
        21,
        "only the last tier",
    );
}

#[test]
fn a_tier_ending_before_it_starts_is_refused() {
    assert_refused_at(
        &with_line(21, r#"  { from = "10", to = "5", price = "3.00" },"#),
        21,
        "not above its start",
    );
}

#[test]
fn a_negative_price_is_refused_at_its_line() {
    assert_refused_at(
        &with_line(21, r#"  { from = "10", to = "20", price = "-3.00" },"#),
        21,
        "negative",
    );
}

#[test]
fn a_float_price_is_refused_because_it_is_not_exact() {
    assert_refused_at(
        &with_line(20, r#"  { from = "0", to = "10", price = 2.07 },"#),
        20,
        "write decimals as strings",
    );
}

#[test]
fn an_unknown_field_is_refused_at_its_line() {
    assert_refused_at(
        &with_line(18, r#"cumulatoin = "month""#),
        18,
        "unknown field `cumulatoin`",
    );
    assert_refused_at(
        &with_line(20, r#"  { from = "0", to = "10", prise = "2.00" },"#),
        20,
        "unknown field `prise`",
    );
    assert_refused_at(
        &with_line(4, r#"colour = "red""#),
        4,
        "unknown field `colour`",
    );
}

#[test]
fn a_rule_for_an_undeclared_kind_is_refused() {
    assert_refused_at(
        &with_line(11, r#"kind = "gas""#),
        11,
        "unknown fee kind \"gas\": the tenant declares water",
    );
}

#[test]
fn a_rule_without_versions_is_refused() {
    let text: String = GOOD.lines().take(11).collect::<Vec<_>>().join("\n");
    assert_refused_at(&text, 9, "has no version");
}

#[test]
fn a_version_without_its_label_is_refused() {
    assert_refused_at(&with_line(14, ""), 13, "`version` is missing");
}

#[test]
fn versions_out_of_date_order_are_refused() {
    assert_refused_at(
        &with_line(27, "effective_from = 2023-06-01"),
        27,
        "versions must be in date order",
    );
}

#[test]
fn two_versions_on_one_date_are_refused() {
    assert_refused_at(
        &with_line(27, "effective_from = 2024-01-01"),
        27,
        "both take effect on 2024-01-01",
    );
}

#[test]
fn a_version_with_two_charge_models_is_refused() {
    let text = format!("{GOOD}[rule.version.fixed]\nprice = \"1.00\"\n");
    assert_refused_at(&text, 32, "has both tiered and fixed");
}

#[test]
fn two_rules_for_the_same_customers_are_refused() {
    let text = format!(
        "{GOOD}\n[[rule]]\nid = \"other\"\nkind = \"water\"\n[[rule.version]]\nversion = \"v1\"\n\
         effective_from = 2024-01-01\nfixed = {{ price = \"1.00\" }}\n"
    );
    assert_refused_at(&text, 33, "both the water charge rule for every class");
}

#[test]
fn a_bad_tenant_id_or_time_zone_is_refused() {
    assert_refused_at(&with_line(1, r#"tenant = "t.1""#), 1, "tenant id");
    let text = GOOD.replace("rounding", "time_zone = \"Mars/Olympus\"\nrounding");
    assert_refused_at(&text, 3, "unknown time zone");
}

#[test]
fn a_missing_rounding_mode_is_refused() {
    assert_refused_at(&with_line(3, ""), 1, "`rounding` is missing");
}

#[test]
fn load_dir_reports_every_bad_file_and_refuses_the_set() {
    let dir = std::env::temp_dir().join(format!("posfee-tariff-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a-good.toml"), GOOD).unwrap();
    std::fs::write(dir.join("b-bad.toml"), with_line(11, r#"kind = "gas""#)).unwrap();
    std::fs::write(dir.join("c-dup.toml"), GOOD).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a rule file").unwrap();
    let errors = RuleSet::load_dir(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].file.ends_with("b-bad.toml") && errors[0].line == 11,
        "{}",
        errors[0]
    );
    assert!(errors[1].file.ends_with("c-dup.toml"), "{}", errors[1]);
    assert!(
        errors[1].reason.contains("already defined"),
        "{}",
        errors[1]
    );
}

#[test]
fn a_rule_naming_an_undeclared_class_is_refused() {
    // The same line naming a declared class passes: the refusal is about the name.
    let declared = with_line(11, "kind = \"water\"\nclasses = [\"household\"]");
    parse_rule_file("good.toml", &declared).unwrap();
    assert_refused_at(
        &with_line(11, "kind = \"water\"\nclasses = [\"housebold\"]"),
        12,
        "class \"housebold\" is not one the tenant declares (household, business)",
    );
}

#[test]
fn a_late_fee_rate_naming_an_undeclared_class_is_refused() {
    let late = |classes: &str| {
        format!(
            "{GOOD}\n[[rule]]\nid = \"late\"\nkind = \"water\"\n[[rule.version]]\nversion = \"v1\"\n\
             effective_from = 2024-01-01\n[rule.version.late_fee]\nrate = [\n  \
             {{ classes = [{classes}], per_day = \"0.001\" }},\n  {{ per_day = \"0.002\" }},\n]\n"
        )
    };
    parse_rule_file("good.toml", &late("\"household\"")).unwrap();
    // The misspelt class would silently leave households on the catch-all rate.
    assert_refused_at(
        &late("\"residental\""),
        41,
        "class \"residental\" is not one",
    );
}

#[test]
fn the_tenant_must_declare_its_classes() {
    assert_refused_at(&with_line(4, ""), 1, "`classes` is missing");
    assert_refused_at(&with_line(4, "classes = []"), 4, "classes is empty");
    assert_refused_at(
        &with_line(4, "classes = [\"a\", \"a\"]"),
        4,
        "class \"a\" is declared twice",
    );
}

#[test]
fn every_independent_mistake_in_a_file_is_reported() {
    let mut text = with_line(11, "kind = \"gas\"");
    text = text.replace(
        r#"{ from = "10", to = "20", price = "3.00" }"#,
        r#"{ from = "10", to = "20", price = "-3.00" }"#,
    );
    text = text.replace(
        r#"tier = [{ from = "0", price = "2.50" }]"#,
        r#"tier = [{ from = "1", price = "2.50" }]"#,
    );
    text = text.replace(
        r#"rounding = "half_up""#,
        "rounding = \"half_up\"\ntime_zone = \"Mars/Olympus\"",
    );
    let errors = check_rule_file("bad.toml", &text).unwrap_err();
    let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    let expected = [
        (4, "unknown time zone"),
        (12, "unknown fee kind \"gas\""),
        (22, "price -3.00 is negative"),
        (32, "the first tier must start at 0"),
    ];
    assert_eq!(errors.len(), expected.len(), "{found:#?}");
    for ((line, reason), e) in expected.iter().zip(&errors) {
        assert!(e.line == *line && e.reason.contains(reason), "{found:#?}");
    }
    // The first mistake is what parse_rule_file reports.
    assert_eq!(parse_rule_file("bad.toml", &text).unwrap_err(), errors[0]);
}

#[test]
fn two_bad_tiers_are_both_reported_and_their_good_neighbours_are_not() {
    let text = GOOD
        .replace(
            r#"{ from = "0", to = "10", price = "2.00" }"#,
            r#"{ from = "0", to = "10", price = "-2.00" }"#,
        )
        .replace(
            r#"{ from = "20", price = "4.00" }"#,
            r#"{ from = "21", price = "4.00" }"#,
        );
    let errors = check_rule_file("bad.toml", &text).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [20, 22], "{errors:#?}");
    assert!(
        errors[1].reason.contains("gap between tiers"),
        "{}",
        errors[1]
    );
}

// ---------------------------------------------------------------------------------------------
// The [zh] table: the payee's name and a glossary of the file's own words in Chinese.

/// `GOOD` with a `[zh]` table after it (GOOD has 31 lines, so `[zh]` is line 32).
fn with_zh(zh: &str) -> String {
    assert_eq!(GOOD.lines().count(), 31);
    format!("{GOOD}[zh]\n{zh}")
}

#[test]
fn a_zh_table_gives_the_payee_and_the_files_words_in_chinese() {
    let t = parse_rule_file(
        "good.toml",
        &with_zh(
            "name = \"测试水务\"\n[zh.words]\nWater = \"自来水\"\nhousehold = \"居民\"\n\"m³\" = \"立方米\"\n",
        ),
    )
    .unwrap();
    assert_eq!(t.zh.name.as_deref(), Some("测试水务"));
    assert_eq!(t.zh.word("Water"), Some("自来水"));
    assert_eq!(t.zh.word("household"), Some("居民"));
    assert_eq!(t.zh.word("m³"), Some("立方米"));
    // Every entry is optional: `business` has none and is shown as written.
    assert_eq!(t.zh.or("business"), "business");
    // And so is the whole table.
    assert_eq!(parse_rule_file("good.toml", GOOD).unwrap().zh.name, None);
}

#[test]
fn a_zh_word_the_file_never_uses_is_refused_at_its_line() {
    // Line 36: `residential` is not one of this file's classes (household, business); a
    // Chinese for it would never be shown, so it is a misspelling or a leftover.
    assert_refused_at(
        &with_zh("name = \"测试水务\"\n[zh.words]\nWater = \"自来水\"\nresidential = \"居民\"\n"),
        36,
        "zh word \"residential\" is not a word this file uses",
    );
    // A kind's id is not what the payer reads: its label is.
    assert_refused_at(
        &with_zh("[zh.words]\nwater = \"自来水\"\n"),
        34,
        "zh word \"water\"",
    );
}

#[test]
fn every_zh_mistake_is_reported_with_its_line() {
    let text = with_zh(
        "name = \" \"\n[zh.words]\nWater = \"\"\nhousehold = \"居民\"\nsummer = \"夏季\"\n",
    );
    let errors = check_rule_file("bad.toml", &text).unwrap_err();
    let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(found.len(), 3, "{errors:?}");
    assert_eq!(found[0].0, 33);
    assert!(found[0].1.contains("zh name is empty"), "{errors:?}");
    assert_eq!(found[1].0, 35);
    assert!(
        found[1].1.contains("the Chinese for \"Water\" is empty"),
        "{errors:?}"
    );
    assert_eq!(found[2].0, 37);
    assert!(
        found[2].1.contains("\"summer\" is not a word"),
        "{errors:?}"
    );
}

#[test]
fn an_unknown_key_in_the_zh_table_is_refused() {
    assert_refused_at(
        &with_zh("label = \"自来水\"\n"),
        33,
        "unknown field `label`",
    );
}
