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
}
