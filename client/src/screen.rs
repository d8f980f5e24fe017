//! What the kiosk and the phone draw the same way: local times with their zone, QR codes.

use chrono::{DateTime, Utc};

/// Receipts and bills show local time where the kiosks stand, always with the UTC offset so a
/// time read next to the operator's UTC event log is never ambiguous.
pub const LOCAL_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&LOCAL_TZ)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// A receipt as a script reads it: `{"receipt": …}` with `settled_at` in UTC and
/// `settled_at_local`, the same instant in local time, both RFC 3339.
pub fn json_receipt(r: &posfee_schemas::ledger::Receipt) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "settled_at_local".into(),
            serde_json::json!(r.settled_at.with_timezone(&LOCAL_TZ).to_rfc3339()),
        );
    }
    serde_json::json!({ "receipt": v })
}

/// What a basket's receipts came to, in their currency.
pub fn basket_total(receipts: &[posfee_schemas::ledger::Receipt]) -> posfee_schemas::Money {
    posfee_schemas::Money {
        fen: posfee_schemas::Fen::new(receipts.iter().map(|r| r.total.fen.get()).sum()),
        currency: receipts
            .first()
            .map(|r| r.total.currency)
            .unwrap_or_default(),
    }
}

/// A basket's line for scripts, after its receipts: how many bills, their total, and each
/// bill's payment id (the same line on the kiosk and the phone).
pub fn json_basket(receipts: &[posfee_schemas::ledger::Receipt]) -> serde_json::Value {
    serde_json::json!({ "basket": {
        "bills": receipts.len(),
        "total_fen": basket_total(receipts).fen.get(),
        "payment_ids": receipts.iter().map(|r| r.payment_id.to_string()).collect::<Vec<_>>(),
    }})
}

/// The URI as a QR code drawn with Unicode half blocks; empty if it does not fit a QR code
/// (it always does: our URIs are about 100 bytes).
pub fn qr(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(e) => {
            tracing::warn!(error = %e, "QR code not drawn");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_times_are_shanghai_with_their_offset() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 2, 0, 0).unwrap();
        assert_eq!(local_time(at), "2026-11-25 10:00:00 +08:00");
    }

    #[test]
    fn a_receipt_in_json_carries_its_time_in_utc_and_local_both_rfc3339() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 2, 0, 0).unwrap();
        let r = posfee_schemas::ledger::Receipt {
            payment_id: posfee_schemas::ids::PaymentId::new_random(),
            bill_id: posfee_schemas::ids::BillId::new_random(),
            tenant: posfee_schemas::ids::TenantId::parse("city-water").unwrap(),
            tenant_name: "City Water".into(),
            tenant_name_zh: String::new(),
            account: posfee_schemas::ids::AccountNo::parse("3-1-1202").unwrap(),
            terminal: posfee_schemas::ids::TerminalId::parse("kiosk-01").unwrap(),
            lines: vec![],
            total: posfee_schemas::money::Money::cny(100),
            settled_at: at,
        };
        let v = json_receipt(&r);
        let local = v["receipt"]["settled_at_local"].as_str().unwrap();
        assert_eq!(local, "2026-11-25T10:00:00+08:00");
        let parsed = chrono::DateTime::parse_from_rfc3339(local).unwrap();
        assert_eq!(parsed, at);
    }
}
