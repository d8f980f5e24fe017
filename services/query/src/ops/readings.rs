//! `posfee.query.readings`: meter-reading history, paged oldest first (by day, then meter,
//! then register) with an opaque cursor, like `posfee.query.payments`.

use crate::app::{App, MAX_PAGE};
use crate::view::{account_prefix, reading_from_key};
use posfee_runtime::page::{self, Step};
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
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
    let size = page::size(q.page_size, DEFAULT_READINGS_PAGE, MAX_PAGE)?;
    super::find_account(&app, &q.tenant, &q.account).await?;
    let prefix = account_prefix(q.tenant.as_str(), q.account.as_str());
    // Keys sort by day first, so `from` is where the scan starts and `to` where it ends.
    let start = match (page::start(&q.cursor, &prefix)?, q.from) {
        (Bound::Included(mut k), Some(from)) => {
            k.extend_from_slice(from.to_string().as_bytes());
            Bound::Included(k)
        }
        (start, _) => start,
    };
    let (readings, next_cursor) = page::cut(&app.view.readings_by_day, start, size, |k, v| {
        if !k.starts_with(&prefix) {
            return Ok(Step::End);
        }
        let Some(r) = reading_from_key(&k[prefix.len()..], v) else {
            return Ok(Step::Skip);
        };
        if q.to.is_some_and(|t| r.read_on > t) {
            return Ok(Step::End);
        }
        let before = q.from.is_some_and(|f| r.read_on < f);
        if before || q.meter.as_deref().is_some_and(|m| m != r.meter) {
            return Ok(Step::Skip);
        }
        Ok(Step::Take(r))
    })?;
    reply_ok(&ReadingsReply {
        readings,
        next_cursor,
    })
}
