//! The shipped rule files speak Chinese: every text of a quote priced against them — payee,
//! class, each line's label, unit and explanation — has its Chinese, and the Chinese carries
//! no English word of the tenant's or of the engine's. Amounts are those of
//! `shipped_rules.rs`; the strings below are checked by hand against the previews.

// Test helpers may unwrap: a panic there is a failed test, not a crash on input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_tariff::{preview, Quote, RuleSet};
use std::path::PathBuf;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/fee-engine/rules")
}

fn preview_of(name: &str) -> Quote {
    let set = RuleSet::load_dir(rules_dir()).unwrap();
    let path = rules_dir().join("preview").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    preview(&set, &path.display().to_string(), &text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A run of two or more Latin letters: an English word (unit symbols such as m³ and a
/// building letter such as A are single letters).
fn english_word(s: &str) -> Option<String> {
    let mut run = String::new();
    for c in s.chars().chain([' ']) {
        if c.is_ascii_alphabetic() {
            run.push(c);
        } else if run.len() >= 2 {
            return Some(run);
        } else {
            run.clear();
        }
    }
    None
}

#[test]
fn every_text_of_every_shipped_preview_has_its_chinese() {
    for name in ["acme-property", "city-water", "city-power", "city-telecom"] {
        let q = preview_of(name);
        let mut texts = vec![q.tenant_name_zh.clone(), q.class_zh.clone()];
        for l in &q.lines {
            texts.extend([
                l.label_zh.clone(),
                l.unit_zh.clone(),
                l.explanation_zh.clone(),
            ]);
            assert!(
                !l.label.is_empty() && !l.explanation.is_empty(),
                "{name}: {l:?}"
            );
        }
        for t in texts {
            assert!(!t.is_empty(), "{name}: a Chinese text is missing in {q:?}");
            assert_eq!(english_word(&t), None, "{name}: English in {t:?}");
        }
    }
}

#[test]
fn the_shipped_previews_read_as_hand_written_chinese() {
    let water = preview_of("city-water");
    assert_eq!(
        (water.tenant_name_zh.as_str(), water.class_zh.as_str()),
        ("市自来水公司", "居民")
    );
    // March: 172.5 → 200 m³ in the year; 7.5 m³ finish tier 1, 20 m³ start tier 2.
    let tier2: Vec<&str> = water
        .lines
        .iter()
        .filter(|l| l.explanation_zh.contains("第 2 档"))
        .map(|l| l.explanation_zh.as_str())
        .collect();
    assert_eq!(
        tier2,
        [
            "水费，第 2 档（每年 180–260 m³）：20.0 m³ × 4.07（年累计 180 → 200）",
            "水资源费，第 2 档（每年 180–260 m³）：20.0 m³ × 1.57（年累计 180 → 200）",
            "污水处理费，第 2 档（每年 180–260 m³）：20.0 m³ × 1.36（年累计 180 → 200）",
        ]
    );
    assert!(water.lines.iter().all(|l| l.label_zh == "自来水"));

    let power = preview_of("city-power");
    let zh: Vec<&str> = power
        .lines
        .iter()
        .map(|l| l.explanation_zh.as_str())
        .collect();
    assert!(zh.contains(&"第 1 档（每月 0–200 千瓦时）：200 千瓦时 × 0.4983"));
    // 142.35 due 2025-11-20, paid 2026-02-10: 10 + 31 + 31 + 10 = 82 days at 1‰ a day.
    assert!(zh.contains(&"2025-10 未缴账单，2025-11-20 到期"));
    assert!(zh.contains(&"滞纳金：欠费 142.35 元（2025-11-20 到期），82 天 × 每日 1‰"));

    let acme = preview_of("acme-property");
    assert_eq!(acme.tenant_name_zh, "艾克美物业管理有限公司");
    let free = acme
        .lines
        .iter()
        .find(|l| l.amount.get() == 0 && l.kind.as_str() == "property")
        .unwrap();
    // 89.50 m² × 2.90 = 259.55 would be the 13th month; it is free.
    assert_eq!(
        free.explanation_zh,
        "赠送（每预缴 12 个月赠 1 个月）；原价 259.55 元：89.50 m² × 每月 2.90 元/m² × 1 个月（楼栋 A）"
    );
    assert_eq!(
        (free.label_zh.as_str(), free.unit_zh.as_str()),
        ("物业费", "m²·月")
    );

    let telecom = preview_of("city-telecom");
    let labels: Vec<(&str, &str)> = telecom
        .lines
        .iter()
        .map(|l| (l.label_zh.as_str(), l.unit_zh.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("话费", "笔"), ("话费", "元赠款"), ("宽带套餐", "个月")]
    );
}
