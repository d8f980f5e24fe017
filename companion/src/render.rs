//! What the phone shows: the verified bill, receipts, its own QR code; and JSON lines.

use crate::verify::VerifiedBill;
use posfee_schemas::fee::BillLine;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::PairCode;
use posfee_schemas::WireError;
use serde_json::json;

pub use posfee_client::screen::{local_time, qr, LOCAL_TZ};

fn lines(out: &mut String, lines: &[BillLine]) {
    for l in lines {
        out.push_str(&format!(
            "  {:<12} {:<18} {:>10}\n",
            l.kind.as_str(),
            l.period,
            l.amount
        ));
        if !l.explanation.is_empty() {
            out.push_str(&format!("      {}\n", l.explanation));
        }
    }
}

/// The bill as signed by the payee: the only source of what the payer is asked to pay.
pub fn bill(v: &VerifiedBill) -> String {
    let b = &v.bill;
    let mut out = format!(
        "Payee 收款单位: {}\nAccount 户号:  {}\n",
        b.tenant_name, b.account
    );
    if let Some(h) = &b.holder_masked {
        out.push_str(&format!("Holder 户主:   {h}\n"));
    }
    out.push_str(&format!("Terminal 终端: {}\n", b.terminal));
    lines(&mut out, &b.lines);
    out.push_str(&format!(
        "Total 合计:    {}\n(signature verified 已验签)\n",
        b.total
    ));
    out
}

pub fn receipt(r: &Receipt) -> String {
    let mut out = format!(
        "Receipt 缴费凭证  {}\nPayee 收款单位: {}\nAccount 户号:  {}\nTerminal 终端: {}\n",
        local_time(r.settled_at),
        r.tenant_name,
        r.account,
        r.terminal
    );
    lines(&mut out, &r.lines);
    out.push_str(&format!(
        "Total 合计:    {}\nPayment 支付编号: {}\n",
        r.total, r.payment_id
    ));
    out
}

pub fn code(code: &PairCode) -> String {
    format!("{}\nCode 付款码: {}\n", qr(&code.uri()), code.typed())
}

pub fn json_bill(v: &VerifiedBill) -> serde_json::Value {
    json!({ "bill": serde_json::to_value(&v.bill).unwrap_or_default() })
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
