//! `posfee.query.readings`: meter-reading history, by meter and date.

use crate::app::App;
use crate::view::account_prefix;
use chrono::NaiveDate;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::query::{ReadingItem, ReadingsQuery, ReadingsReply};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;

/// Most readings one answer carries: several years of monthly reads of a few meters, and
/// (at about 70 bytes each) well inside the 64 KiB payload limit.
pub const MAX_READINGS: usize = 500;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: ReadingsQuery = decode_request(&msg.payload)?;
    super::find_account(&app, &q.tenant, &q.account).await?;
    let prefix = account_prefix(q.tenant.as_str(), q.account.as_str());
    let mut readings = Vec::new();
    for item in app.view.readings.scan_prefix(&prefix) {
        let (k, v) = item.map_err(super::internal)?;
        let rest = String::from_utf8_lossy(&k[prefix.len()..]).to_string();
        let parts: Vec<&str> = rest.split('\0').collect();
        let [meter, register, day] = parts[..] else {
            continue;
        };
        if q.meter.as_deref().is_some_and(|m| m != meter) {
            continue;
        }
        let (Ok(read_on), Ok(value)) = (
            NaiveDate::from_str(day),
            Decimal::from_str(&String::from_utf8_lossy(&v)),
        ) else {
            continue;
        };
        if q.from.is_some_and(|f| read_on < f) || q.to.is_some_and(|t| read_on > t) {
            continue;
        }
        readings.push(ReadingItem {
            meter: meter.to_string(),
            register: (!register.is_empty()).then(|| register.to_string()),
            read_on,
            value,
        });
        if readings.len() == MAX_READINGS {
            break;
        }
    }
    readings.sort_by(|a, b| {
        (a.read_on, &a.meter, &a.register).cmp(&(b.read_on, &b.meter, &b.register))
    });
    reply_ok(&ReadingsReply { readings })
}
