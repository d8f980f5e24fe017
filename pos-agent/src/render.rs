//! What the kiosk prints: bills, quotes, receipts, the pairing QR code; and the JSON lines of
//! the scripted commands.

use crate::i18n::{t, Lang, Msg};
use chrono::{DateTime, Utc};
use posfee_schemas::fee::{Bill, BillLine, Quote};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::PairCode;
use posfee_schemas::WireError;
use serde_json::json;

pub use posfee_client::screen::{local_time, qr, LOCAL_TZ};

fn lines(out: &mut String, lines: &[BillLine]) {
    for l in lines {
        out.push_str(&format!(
            "  {:<12} {:<18} {:>10} {} × {:>8}  {:>10}\n",
            l.kind.as_str(),
            l.period,
            l.quantity,
            l.unit,
            l.unit_price,
            l.amount
        ));
        if !l.explanation.is_empty() {
            out.push_str(&format!("      {}\n", l.explanation));
        }
    }
}

/// The account line a kiosk shows before the amounts: holder masked, never in full.
pub fn account(lang: Lang, a: &posfee_schemas::query::AccountSummary) -> String {
    format!(
        "{}: {}  {}: {}\n",
        t(lang, Msg::Holder),
        a.holder_masked,
        t(lang, Msg::Class),
        a.class
    )
}

pub fn quote(lang: Lang, q: &Quote) -> String {
    let mut out = format!(
        "{}: {}\n{}: {}\n",
        t(lang, Msg::Payee),
        q.tenant_name,
        t(lang, Msg::Account),
        q.account
    );
    if q.lines.is_empty() {
        out.push_str(t(lang, Msg::NothingOwed));
        out.push('\n');
    }
    lines(&mut out, &q.lines);
    out.push_str(&format!(
        "{}: {} {}\n",
        t(lang, Msg::Total),
        q.total,
        q.currency
    ));
    out
}

pub fn bill(lang: Lang, b: &Bill) -> String {
    let mut out = format!(
        "{}: {}\n{}: {}\n",
        t(lang, Msg::Payee),
        b.tenant_name,
        t(lang, Msg::Account),
        b.account
    );
    lines(&mut out, &b.lines);
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Total), b.total));
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
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Payee), r.tenant_name));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Terminal), r.terminal));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Account), r.account));
    lines(&mut out, &r.lines);
    out.push_str(&format!("{}: {}\n", t(lang, Msg::Total), r.total));
    out.push_str(&format!("{}: {}\n", t(lang, Msg::PaymentId), r.payment_id));
    out.push_str(&format!(
        "{}: {}\n",
        t(lang, Msg::Time),
        local_time(r.settled_at)
    ));
    out
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

pub fn json_receipt(r: &Receipt) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("settled_at_local".into(), json!(local_time(r.settled_at)));
    }
    json!({ "receipt": v })
}

pub fn json_error(e: &WireError) -> serde_json::Value {
    json!({ "error": { "code": e.code.name(), "message": e.message } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use posfee_schemas::ids::{PairToken, TerminalId};

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
