//! What the kiosk prints: bills, quotes, receipts, the pairing QR code; and the JSON lines of
//! the scripted commands.

use crate::i18n::{t, Lang, Msg};
use chrono::{DateTime, Utc};
use posfee_schemas::fee::{Bill, BillLine, Quote};
use posfee_schemas::ids::AccountNo;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::{Currency, Fen};
use posfee_schemas::pairing::PairCode;
use posfee_schemas::WireError;
use serde_json::json;

pub use posfee_client::screen::{local_time, qr, LOCAL_TZ};

/// A line's fee kind as the payer reads it: the tenant's label, else the kind id.
fn label(lang: Lang, l: &BillLine) -> &str {
    let en = if l.label.is_empty() {
        l.kind.as_str()
    } else {
        l.label.as_str()
    };
    lang.text(en, &l.label_zh)
}

/// Columns on a terminal: a CJK character takes two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// `s` padded with spaces to `cols` columns (left-aligned).
fn pad(s: &str, cols: usize) -> String {
    format!("{s}{}", " ".repeat(cols.saturating_sub(width(s))))
}

/// An amount with its currency, in the kiosk's language: `900.00 元` / `900.00 CNY`.
fn money(lang: Lang, fen: Fen, currency: Currency) -> String {
    match (lang, currency) {
        (Lang::Zh, Currency::CNY) => format!("{fen} 元"),
        _ => format!("{fen} {currency}"),
    }
}

fn lines(lang: Lang, out: &mut String, lines: &[BillLine]) {
    for l in lines {
        out.push_str(&format!(
            "  {} {:<18} {:>10} {} × {:>8}  {:>10}\n",
            pad(label(lang, l), 12),
            l.period,
            l.quantity,
            lang.text(&l.unit, &l.unit_zh),
            l.unit_price,
            l.amount
        ));
        let explanation = lang.text(&l.explanation, &l.explanation_zh);
        if !explanation.is_empty() {
            out.push_str(&format!("      {explanation}\n"));
        }
    }
}

/// One payee in the kiosk's list: its name in the kiosk's language (the other if it has
/// none) and its id, which a payer may type too.
pub fn payee(lang: Lang, p: &posfee_schemas::fee::Payee) -> String {
    format!("{}  ({})", lang.text(&p.name, &p.name_zh), p.tenant)
}

/// The account line a kiosk shows before the amounts: holder masked, never in full, and in
/// English the customer class as the query service names it. The service knows only the
/// class's id, which is English: in Chinese the class follows with the quote, which names it
/// in Chinese.
pub fn account(lang: Lang, a: &posfee_schemas::query::AccountSummary) -> String {
    match lang {
        Lang::En => format!(
            "{}: {}  {}: {}\n",
            t(lang, Msg::Holder),
            a.holder_masked,
            t(lang, Msg::Class),
            a.class
        ),
        Lang::Zh => format!("{}: {}\n", t(lang, Msg::Holder), a.holder_masked),
    }
}

/// Payee, account and (when the fee-engine names it) customer class.
fn heading(lang: Lang, payee: &str, account: &AccountNo, class: (&str, &str)) -> String {
    let mut out = format!(
        "{}: {payee}\n{}: {account}\n",
        t(lang, Msg::Payee),
        t(lang, Msg::Account),
    );
    if !class.0.is_empty() {
        out.push_str(&format!(
            "{}: {}\n",
            t(lang, Msg::Class),
            lang.text(class.0, class.1)
        ));
    }
    out
}

/// The quote, shown after [`account`]: the class is in its heading only in Chinese (in
/// English the account line has named it already).
pub fn quote(lang: Lang, q: &Quote) -> String {
    let class = match lang {
        Lang::Zh => (q.class.as_str(), q.class_zh.as_str()),
        Lang::En => ("", ""),
    };
    let mut out = heading(
        lang,
        lang.text(&q.tenant_name, &q.tenant_name_zh),
        &q.account,
        class,
    );
    if q.lines.is_empty() {
        out.push_str(t(lang, Msg::NothingOwed));
        out.push('\n');
    }
    lines(lang, &mut out, &q.lines);
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Total),
        money(lang, q.total, q.currency)
    ));
    out
}

pub fn bill(lang: Lang, b: &Bill) -> String {
    let mut out = heading(
        lang,
        lang.text(&b.tenant_name, &b.tenant_name_zh),
        &b.account,
        (&b.class, &b.class_zh),
    );
    lines(lang, &mut out, &b.lines);
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Total),
        money(lang, b.total.fen, b.total.currency)
    ));
    out
}

pub fn pairing(lang: Lang, code: &PairCode) -> String {
    format!(
        "{}\n{}\n{}: {}\n",
        t(lang, Msg::ScanWithPhone),
        qr(&code.uri()),
        t(lang, Msg::TypeCode),
        code.typed()
    )
}

pub fn receipt(lang: Lang, r: &Receipt) -> String {
    let mut out = format!("==== {} ====\n", t(lang, Msg::Receipt));
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Payee),
        lang.text(&r.tenant_name, &r.tenant_name_zh)
    ));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Terminal), r.terminal));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Account), r.account));
    lines(lang, &mut out, &r.lines);
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Total),
        money(lang, r.total.fen, r.total.currency)
    ));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::PaymentId), r.payment_id));
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Time),
        local_time(r.settled_at)
    ));
    out
}

/// After a basket's receipts: how many bills were paid in the one payment, and their total.
pub fn basket(lang: Lang, receipts: &[Receipt]) -> String {
    let total = posfee_client::screen::basket_total(receipts);
    let n = receipts.len();
    format!(
        "==== {} ====\n{}: {}\n",
        lang.text(
            &format!("{n} bills paid at once"),
            &format!("一次缴清 {n} 笔")
        ),
        t(lang, Msg::Total),
        money(lang, total.fen, total.currency)
    )
}

// --- JSON lines for scripts ------------------------------------------------------------------

pub fn json_bill(b: &Bill) -> serde_json::Value {
    serde_json::to_value(b).unwrap_or_default()
}

pub fn json_pairing(code: &PairCode, expires_at: DateTime<Utc>, b: &Bill) -> serde_json::Value {
    json!({
        "pairing": { "uri": code.uri(), "code": code.typed(), "expires_at": expires_at },
        "bill": json_bill(b),
    })
}

pub use posfee_client::screen::{json_basket, json_receipt};

pub fn json_error(e: &WireError) -> serde_json::Value {
    json!({ "error": { "code": e.code.name(), "message": e.message } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use posfee_schemas::ids::{BillId, PairToken, PaymentId, TenantId, TerminalId};
    use posfee_schemas::money::Money;
    use posfee_tariff::{preview, RuleSet};
    use std::path::PathBuf;

    fn rules_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/fee-engine/rules")
    }

    /// Inputs that, with the shipped previews, reach every charge model and term: time of
    /// use with a minimum and earlier-year late fees (commercial power), summer tiers
    /// (residential power in July), a discount and a default price (24 months prepaid for a
    /// building not listed).
    const MORE: [&str; 3] = [
        r#"
tenant = "city-power"
account = "3-1-1202"
class = "commercial"
as_of = 2026-07-10
[meters]
electricity = "E-2"
[paid_through]
electricity = "2026-05"
[[reading]]
meter = "E-2"
register = "peak"
read_on = 2026-05-31
value = "100"
[[reading]]
meter = "E-2"
register = "flat"
read_on = 2026-05-31
value = "100"
[[reading]]
meter = "E-2"
register = "valley"
read_on = 2026-05-31
value = "100"
[[reading]]
meter = "E-2"
register = "peak"
read_on = 2026-06-30
value = "105"
[[reading]]
meter = "E-2"
register = "flat"
read_on = 2026-06-30
value = "110"
[[reading]]
meter = "E-2"
register = "valley"
read_on = 2026-06-30
value = "120"
[[arrear]]
kind = "electricity"
period = "2025-11"
amount = "50.00"
due_on = 2025-12-20
"#,
        r#"
tenant = "city-power"
account = "3-1-1202"
class = "residential"
as_of = 2026-08-02
[meters]
electricity = "E-3"
[paid_through]
electricity = "2026-06"
[[reading]]
meter = "E-3"
read_on = 2026-06-30
value = "1000"
[[reading]]
meter = "E-3"
read_on = 2026-07-31
value = "1300"
"#,
        r#"
tenant = "acme-property"
account = "3-1-1202"
class = "commercial"
as_of = 2026-03-05
kinds = ["property"]
prepay_months = 24
[attributes]
area_m2 = "89.50"
building = "C"
[paid_through]
property = "2026-01"
[[arrear]]
kind = "property"
period = "2023-12"
amount = "200.00"
due_on = 2024-01-15
"#,
    ];

    /// One bill holding the lines of every charge model, priced by the tariff crate from the
    /// shipped rule files, with city-power's payee and class.
    fn every_model() -> Bill {
        let set = RuleSet::load_dir(rules_dir()).unwrap();
        let mut quotes = Vec::new();
        for name in ["city-power", "city-water", "acme-property", "city-telecom"] {
            let path = rules_dir().join("preview").join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&path).unwrap();
            quotes.push(preview(&set, name, &text).unwrap());
        }
        for (i, text) in MORE.iter().enumerate() {
            quotes.push(preview(&set, &format!("more-{i}"), text).unwrap());
        }
        let lines: Vec<BillLine> = quotes.iter().flat_map(|q| q.lines.clone()).collect();
        let total = Fen::sum(lines.iter().map(|l| l.amount)).unwrap();
        let q = &quotes[0];
        Bill {
            basket: None,
            bill_id: BillId::new_random(),
            tenant: q.tenant.clone(),
            tenant_name: q.tenant_name.clone(),
            account: AccountNo::parse("3-1-1202").unwrap(),
            terminal: TerminalId::parse("kiosk-01").unwrap(),
            as_of: q.as_of,
            lines,
            total: Money::cny(total.get()),
            issued_at: Utc::now(),
            expires_at: Utc::now(),
            holder_masked: Some("张*".into()),
            tenant_name_zh: q.tenant_name_zh.clone(),
            class: q.class.clone(),
            class_zh: q.class_zh.clone(),
        }
    }

    /// The first run of two or more Latin letters: an English word. Unit symbols (m³, m²)
    /// and a building letter are single letters.
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
    fn the_every_model_bill_has_every_model() {
        let b = every_model();
        let zh: String = b
            .lines
            .iter()
            .map(|l| l.explanation_zh.clone() + "\n")
            .collect();
        for shown in [
            "每月 300.00 元 × ",                            // fixed
            "（楼栋 A）",                                   // per attribute, listed
            "（楼栋 C，默认单价）",                         // per attribute, default
            "（年累计 ",                                    // tiered, year to date
            "水资源费，第 1 档",                            // tiered components
            "，夏季）",                                     // tiered, season
            "峰时段：",                                     // time of use
            "充值 200.00 元",                               // top-up
            "充值 200.00 元赠送 10.00 元",                  // bonus
            " 天 × 每日 1‰",                                // late fee, one rate
            "（往年欠费）",                                 // late fee, earlier years
            "以欠费的 300‰ 为上限",                         // late fee cap
            "元优惠 3%",                                    // discount
            "费用 19.21 元低于最低收费 20.00 元，补足差额", // minimum
            "赠送（每预缴 12 个月赠 1 个月）",              // prepaid free months
            "未缴账单",                                     // arrears
        ] {
            assert!(zh.contains(shown), "no {shown:?} in\n{zh}");
        }
    }

    #[test]
    fn in_chinese_the_kiosk_shows_no_english_for_a_bill_with_every_model() {
        let b = every_model();
        let text = bill(Lang::Zh, &b);
        for line in text.lines() {
            assert_eq!(
                english_word(line),
                None,
                "English on the zh screen: {line:?}\n{text}"
            );
        }
        assert!(text.starts_with("收款单位: 市供电公司\n户号: 3-1-1202\n用户类别: 居民\n"));
        assert!(text.contains("  电费         2025-12"), "{text}");
        assert!(text.contains(" 200 千瓦时 ×   0.4883"), "{text}");
        assert!(text.contains(" 1 笔 × "), "{text}");
        assert!(text.contains(" 12 个月 ×   300.00"), "{text}");
        assert!(
            text.ends_with(&format!("合计: {} 元\n", b.total.fen)),
            "{text}"
        );

        // The receipt of the same bill, and a quote.
        let r = receipt_of(&b);
        let shown = receipt(Lang::Zh, &r)
            .replace(&r.payment_id.to_string(), "")
            .replace(r.terminal.as_str(), "");
        for line in shown.lines() {
            assert_eq!(
                english_word(line),
                None,
                "English on the zh receipt: {line:?}"
            );
        }
        assert!(shown.contains("收款单位: 市供电公司\n"));
        let q = quote_of(&b);
        for line in quote(Lang::Zh, &q).lines() {
            assert_eq!(
                english_word(line),
                None,
                "English on the zh quote: {line:?}"
            );
        }
    }

    #[test]
    fn in_english_the_kiosk_shows_the_tenants_words_and_no_chinese() {
        let b = every_model();
        let text = bill(Lang::En, &b);
        assert!(
            !text.chars().any(|c| width(&c.to_string()) == 2),
            "Chinese on the en screen:\n{text}"
        );
        assert!(text.starts_with(
            "Payee: City Power Supply Co.\nAccount: 3-1-1202\nCustomer class: residential\n"
        ));
        assert!(text.contains("  Electricity  2025-12"), "{text}");
        assert!(text.contains(" 200 kWh ×   0.4883"), "{text}");
        assert!(
            text.contains("tier 1 (0–200 kWh a month): 200 kWh × 0.4883"),
            "{text}"
        );
        assert!(text.contains(" 12 month ×   300.00"), "{text}");
        assert!(
            text.ends_with(&format!("Total: {} CNY\n", b.total.fen)),
            "{text}"
        );
        let r = receipt(Lang::En, &receipt_of(&b));
        assert!(r.contains("Payee: City Power Supply Co.\n"), "{r}");
        assert!(!r.chars().any(|c| width(&c.to_string()) == 2), "{r}");
    }

    #[test]
    fn texts_from_an_older_fee_engine_fall_back_to_what_it_sent() {
        // No label, no Chinese, no class: the kind id and the English are shown in zh mode.
        let mut b = every_model();
        b.tenant_name_zh.clear();
        b.class.clear();
        b.lines.truncate(1);
        let l = &mut b.lines[0];
        l.label.clear();
        l.label_zh.clear();
        l.unit_zh.clear();
        l.explanation_zh.clear();
        let text = bill(Lang::Zh, &b);
        assert!(text.starts_with("收款单位: City Power Supply Co.\n户号: 3-1-1202\n  electricity"));
        assert!(text.contains("tier 1 (0–200 kWh a month)"), "{text}");
        assert!(!text.contains("用户类别"), "{text}");
    }

    #[test]
    fn the_query_screen_names_the_class_once_in_either_language() {
        let a = posfee_schemas::query::AccountSummary {
            tenant: TenantId::parse("city-power").unwrap(),
            account: AccountNo::parse("3-1-1202").unwrap(),
            class: "residential".into(),
            attributes: Default::default(),
            holder_masked: "张*".into(),
            outstanding: None,
            outstanding_error: None,
        };
        let q = quote_of(&every_model());
        let en = account(Lang::En, &a) + &quote(Lang::En, &q);
        assert!(en.starts_with("Holder: 张*  Customer class: residential\nPayee: "));
        assert_eq!(en.matches("Customer class").count(), 1, "{en}");
        let zh = account(Lang::Zh, &a) + &quote(Lang::Zh, &q);
        assert!(zh.starts_with("户主: 张*\n收款单位: 市供电公司\n户号: 3-1-1202\n用户类别: 居民\n"));
        assert_eq!(zh.matches("用户类别").count(), 1, "{zh}");
    }

    #[test]
    fn nothing_owed_is_said_in_the_kiosks_language() {
        let mut q = quote_of(&every_model());
        q.lines.clear();
        q.total = Fen::ZERO;
        assert!(quote(Lang::Zh, &q).contains("当前无欠费\n合计: 0.00 元\n"));
        assert!(quote(Lang::En, &q).contains("Nothing is owed\nTotal: 0.00 CNY\n"));
    }

    fn receipt_of(b: &Bill) -> Receipt {
        Receipt {
            payment_id: PaymentId::new_random(),
            bill_id: b.bill_id,
            tenant: b.tenant.clone(),
            tenant_name: b.tenant_name.clone(),
            account: b.account.clone(),
            terminal: b.terminal.clone(),
            lines: b.lines.clone(),
            total: b.total,
            settled_at: Utc::now(),
            tenant_name_zh: b.tenant_name_zh.clone(),
        }
    }

    fn quote_of(b: &Bill) -> Quote {
        Quote {
            tenant: TenantId::parse(b.tenant.as_str()).unwrap(),
            tenant_name: b.tenant_name.clone(),
            account: b.account.clone(),
            as_of: b.as_of,
            currency: b.total.currency,
            lines: b.lines.clone(),
            total: b.total.fen,
            tenant_name_zh: b.tenant_name_zh.clone(),
            class: b.class.clone(),
            class_zh: b.class_zh.clone(),
        }
    }

    #[test]
    fn the_qr_code_draws_and_the_typed_code_is_shown() {
        let code = PairCode::terminal(
            TerminalId::parse("kiosk-01").unwrap(),
            PairToken::generate(),
            Some(posfee_schemas::ids::BillId::new_random()),
        );
        let text = pairing(Lang::En, &code);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
        assert!(text.contains(&code.typed()));
    }
}
