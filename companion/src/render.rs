//! What the phone shows: the verified bill, receipts, its own QR code; and JSON lines.

use crate::verify::VerifiedBill;
use posfee_schemas::fee::{Bill, BillLine};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::PairCode;
use posfee_schemas::WireError;
use serde_json::json;

pub use posfee_client::screen::{local_time, qr, LOCAL_TZ};
use posfee_client::words::Lang;
use posfee_schemas::money::{Currency, Money};

/// The language the phone speaks: both side by side (the default, `Payee 收款单位`), or one
/// (`--language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speech {
    #[default]
    Both,
    Only(Lang),
}

impl Speech {
    /// Words of the phone's own, given in both languages.
    pub fn say(self, en: &str, zh: &str) -> String {
        match self {
            Speech::Both => format!("{en} {zh}"),
            Speech::Only(Lang::En) => en.to_string(),
            Speech::Only(Lang::Zh) => zh.to_string(),
        }
    }

    /// A sender's text in both languages (the Chinese may be missing): `City Water Supply
    /// Co. 市自来水公司`; the English alone when there is no Chinese (or the same text).
    pub fn text(self, en: &str, zh: &str) -> String {
        match self {
            Speech::Both if !zh.is_empty() && zh != en => format!("{en} {zh}"),
            Speech::Both => en.to_string(),
            Speech::Only(lang) => lang.text(en, zh).to_string(),
        }
    }

    /// An amount as the kiosk says it: `900.00 元` in Chinese.
    pub fn money(self, m: Money) -> String {
        match (self, m.currency) {
            (Speech::Only(Lang::Zh), Currency::CNY) => format!("{} 元", m.fen),
            _ => m.to_string(),
        }
    }
}

fn lines(out: &mut String, sp: Speech, lines: &[BillLine]) {
    for l in lines {
        let en = if l.label.is_empty() {
            l.kind.as_str()
        } else {
            l.label.as_str()
        };
        out.push_str(&format!(
            "  {} {:<18} {:>10}\n",
            sp.text(en, &l.label_zh),
            l.period,
            l.amount
        ));
        let explanation = (l.explanation.as_str(), l.explanation_zh.as_str());
        match sp {
            Speech::Both => {
                if !explanation.0.is_empty() {
                    out.push_str(&format!("      {}\n", explanation.0));
                }
                if !explanation.1.is_empty() && explanation.1 != explanation.0 {
                    out.push_str(&format!("      {}\n", explanation.1));
                }
            }
            Speech::Only(_) => {
                let said = sp.text(explanation.0, explanation.1);
                if !said.is_empty() {
                    out.push_str(&format!("      {said}\n"));
                }
            }
        }
    }
}

/// The bill as signed by the payee: the only source of what the payer is asked to pay.
/// A basket shows every bill, numbered, then what the one confirmation pays.
pub fn bill(sp: Speech, v: &VerifiedBill) -> String {
    if v.more.is_empty() {
        return signed_bill(sp, &v.bill);
    }
    let n = v.more.len() + 1;
    let mut out = format!(
        "{}\n",
        sp.say(
            &format!("{n} bills, paid together"),
            &format!("{n} 笔账单，一次支付")
        )
    );
    for (i, b) in v.bills().enumerate() {
        out.push_str(&format!("-- {}/{n} --\n", i + 1));
        out.push_str(&signed_bill(sp, b));
    }
    out.push_str(&format!(
        "{}:    {}\n",
        sp.say("Basket total", "合计（全部账单）"),
        sp.money(v.total())
    ));
    out
}

/// After a basket's receipts: how many bills and what they came to.
pub fn basket(sp: Speech, receipts: &[Receipt]) -> String {
    format!(
        "{}: {}, {}\n",
        sp.say(
            &format!("Paid {} bills", receipts.len()),
            &format!("已缴 {} 笔", receipts.len())
        ),
        sp.money(posfee_client::screen::basket_total(receipts)),
        sp.say("one payment", "一次支付")
    )
}

/// Every text shown is from the signed bill.
fn signed_bill(sp: Speech, b: &Bill) -> String {
    let mut out = format!(
        "{}: {}\n{}:  {}\n",
        sp.say("Payee", "收款单位"),
        sp.text(&b.tenant_name, &b.tenant_name_zh),
        sp.say("Account", "户号"),
        b.account
    );
    if !b.class.is_empty() {
        out.push_str(&format!(
            "{}: {}\n",
            sp.say("Class", "用户类别"),
            sp.text(&b.class, &b.class_zh)
        ));
    }
    if let Some(h) = &b.holder_masked {
        out.push_str(&format!("{}:   {h}\n", sp.say("Holder", "户主")));
    }
    out.push_str(&format!("{}: {}\n", sp.say("Terminal", "终端"), b.terminal));
    lines(&mut out, sp, &b.lines);
    out.push_str(&format!(
        "{}:    {}\n({})\n",
        sp.say("Total", "合计"),
        sp.money(b.total),
        sp.say("signature verified", "已验签")
    ));
    out
}

pub fn receipt(sp: Speech, r: &Receipt) -> String {
    let mut out = format!(
        "{}  {}\n{}: {}\n{}:  {}\n{}: {}\n",
        sp.say("Receipt", "缴费凭证"),
        local_time(r.settled_at),
        sp.say("Payee", "收款单位"),
        sp.text(&r.tenant_name, &r.tenant_name_zh),
        sp.say("Account", "户号"),
        r.account,
        sp.say("Terminal", "终端"),
        r.terminal
    );
    lines(&mut out, sp, &r.lines);
    out.push_str(&format!(
        "{}:    {}\n{}: {}\n",
        sp.say("Total", "合计"),
        sp.money(r.total),
        sp.say("Payment", "支付编号"),
        r.payment_id
    ));
    out
}

pub fn code(sp: Speech, code: &PairCode) -> String {
    format!(
        "{}\n{}: {}\n",
        qr(&code.uri()),
        sp.say("Code", "付款码"),
        code.typed()
    )
}

pub fn json_bill(v: &VerifiedBill) -> serde_json::Value {
    if v.more.is_empty() {
        return json!({ "bill": serde_json::to_value(&v.bill).unwrap_or_default() });
    }
    json!({
        "bill": serde_json::to_value(&v.bill).unwrap_or_default(),
        "more_bills": v.more.iter().map(|(b, _)| serde_json::to_value(b).unwrap_or_default()).collect::<Vec<_>>(),
        "total_fen": v.total().fen.get(),
    })
}

pub use posfee_client::screen::{json_basket, json_receipt};

pub fn json_error(e: &WireError) -> serde_json::Value {
    json!({ "error": { "code": e.code.name(), "message": e.message } })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use posfee_schemas::ids::{AccountNo, BillId, PaymentId, TerminalId};
    use posfee_schemas::money::{Fen, Money};
    use posfee_tariff::{preview, RuleSet};
    use std::path::PathBuf;

    /// City-water's shipped preview (tiered by the year, three components), as a bill.
    fn water_bill() -> Bill {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/fee-engine/rules");
        let set = RuleSet::load_dir(&dir).unwrap();
        let text = std::fs::read_to_string(dir.join("preview/city-water.toml")).unwrap();
        let q = preview(&set, "city-water.toml", &text).unwrap();
        Bill {
            basket: None,
            bill_id: BillId::new_random(),
            tenant: q.tenant,
            tenant_name: q.tenant_name,
            account: AccountNo::parse("3-1-1202").unwrap(),
            terminal: TerminalId::parse("kiosk-01").unwrap(),
            as_of: q.as_of,
            lines: q.lines,
            total: Money::cny(q.total.get()),
            issued_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
            holder_masked: Some("张*".into()),
            tenant_name_zh: q.tenant_name_zh,
            class: q.class,
            class_zh: q.class_zh,
        }
    }

    #[test]
    fn the_phone_shows_the_signed_bill_in_both_languages_side_by_side() {
        let text = signed_bill(Speech::Both, &water_bill());
        assert!(
            text.starts_with(
                "Payee 收款单位: City Water Supply Co. 市自来水公司\nAccount 户号:  3-1-1202\n\
                 Class 用户类别: residential 居民\nHolder 户主:   张*\n"
            ),
            "{text}"
        );
        // Each line: the kind in both languages, then its explanation in English and Chinese.
        let line = format!(
            "  Tap water 自来水 {:<18} {:>10}\n      {}\n      {}\n",
            "2026-03",
            Fen::new(8140),
            "water fee, tier 2 (180–260 m³ a year): 20.0 m³ × 4.07 (year to date 180 → 200)",
            "水费，第 2 档（每年 180–260 m³）：20.0 m³ × 4.07（年累计 180 → 200）"
        );
        assert!(text.contains(&line), "{text}");
    }

    #[test]
    fn a_bill_without_chinese_is_shown_in_english_once() {
        let mut b = water_bill();
        b.tenant_name_zh.clear();
        b.class.clear();
        for l in &mut b.lines {
            l.label.clear();
            l.label_zh.clear();
            l.explanation_zh.clear();
        }
        let text = signed_bill(Speech::Both, &b);
        assert!(
            text.starts_with("Payee 收款单位: City Water Supply Co.\n"),
            "{text}"
        );
        assert!(!text.contains("Class"), "{text}");
        assert!(text.contains("  water 2026-02"), "{text}");
        assert!(!text.contains("水费"), "{text}");
    }

    #[test]
    fn the_receipt_shows_the_payee_and_lines_in_both_languages() {
        let b = water_bill();
        let r = Receipt {
            payment_id: PaymentId::new_random(),
            bill_id: b.bill_id,
            tenant: b.tenant.clone(),
            tenant_name: b.tenant_name.clone(),
            account: b.account.clone(),
            terminal: b.terminal.clone(),
            lines: b.lines.clone(),
            total: b.total,
            settled_at: chrono::Utc::now(),
            tenant_name_zh: b.tenant_name_zh.clone(),
        };
        let text = receipt(Speech::Both, &r);
        assert!(text.contains("Payee 收款单位: City Water Supply Co. 市自来水公司\n"));
        assert!(text.contains("      污水处理费，第 1 档"), "{text}");
        assert!(text.contains(&format!(
            "Total 合计:    {}\n",
            Money::cny(b.total.fen.get())
        )));
    }
}
