//! `posfee.query.readings`: meter-reading history, paged oldest first (by day, then meter,
//! then register) with an opaque cursor, like `posfee.query.payments`.

use crate::app::{App, MAX_PAGE};
use crate::view::{account_prefix, reading_from_key};
use posfee_runtime::serve::{decode_request, reply_ok, Handled, PAGE_BYTES_BUDGET};
use posfee_schemas::query::{ReadingsQuery, ReadingsReply};
use posfee_schemas::WireError;
use std::ops::Bound;
use std::sync::Arc;

/// Readings in a page when the request names no `page_size`: the most a page may hold, so a
/// reader that predates paging gets as much as it did before.
pub const DEFAULT_READINGS_PAGE: u32 = MAX_PAGE;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: ReadingsQuery = decode_request(&msg.payload)?;
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(WireError::field("from", format!("{from} is after to {to}")));
        }
    }
    let size = q.page_size.unwrap_or(DEFAULT_READINGS_PAGE);
    if size == 0 || size > MAX_PAGE {
        return Err(WireError::field(
            "page_size",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    super::find_account(&app, &q.tenant, &q.account).await?;
    let prefix = account_prefix(q.tenant.as_str(), q.account.as_str());
    // Keys sort by day first, so `from` is where the scan starts and `to` where it ends.
    let start = match super::cursor_key(&q.cursor)? {
        Some(k) if k.starts_with(&prefix) => Bound::Excluded(k),
        Some(_) => return Err(WireError::field("cursor", "belongs to another account")),
        None => {
            let mut k = prefix.clone();
            if let Some(from) = q.from {
                k.extend_from_slice(from.to_string().as_bytes());
            }
            Bound::Included(k)
        }
    };
    let mut readings = Vec::new();
    let mut last_key = None;
    let mut more = false;
    let mut used = 0;
    for item in app.view.readings_by_day.range((start, Bound::Unbounded)) {
        let (k, v) = item.map_err(super::internal)?;
        if !k.starts_with(&prefix) {
            break;
        }
        let Some(r) = reading_from_key(&k[prefix.len()..], &v) else {
            continue;
        };
        if q.to.is_some_and(|t| r.read_on > t) {
            break;
        }
        if q.from.is_some_and(|f| r.read_on < f) || q.meter.as_deref().is_some_and(|m| m != r.meter)
        {
            continue;
        }
        // Bounded by bytes as well as by count: the answer must fit the payload limit.
        let bytes = posfee_schemas::encode(&r).len();
        if readings.len() == size as usize || used + bytes > PAGE_BYTES_BUDGET {
            more = true;
            break;
        }
        used += bytes;
        last_key = Some(k.to_vec());
        readings.push(r);
    }
    let next_cursor = if more {
        last_key.map(hex::encode)
    } else {
        None
    };
    reply_ok(&ReadingsReply {
        readings,
        next_cursor,
    })
}
