//! `posfee.query.payments`: payment history by settlement date (Asia/Shanghai days), paged
//! oldest first with an opaque cursor.

use crate::app::{App, DEFAULT_PAGE, MAX_PAGE};
use crate::view::account_prefix;
use chrono::NaiveDate;
use posfee_runtime::serve::{decode_request, reply_ok, Handled, PAGE_BYTES_BUDGET};
use posfee_schemas::decode;
use posfee_schemas::query::{PaymentItem, PaymentsPage, PaymentsQuery};
use posfee_schemas::WireError;
use std::ops::Bound;
use std::sync::Arc;

/// The billing time zone the history's dates are read in.
pub const HISTORY_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let q: PaymentsQuery = decode_request(&msg.payload)?;
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(WireError::field("from", format!("{from} is after to {to}")));
        }
    }
    let size = q.page_size.unwrap_or(DEFAULT_PAGE);
    if size == 0 || size > MAX_PAGE {
        return Err(WireError::field(
            "page_size",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    super::find_account(&app, &q.tenant, &q.account).await?;
    let prefix = account_prefix(q.tenant.as_str(), q.account.as_str());
    let start = match super::cursor_key(&q.cursor)? {
        Some(k) if k.starts_with(&prefix) => Bound::Excluded(k),
        Some(_) => return Err(WireError::field("cursor", "belongs to another account")),
        None => Bound::Included(prefix.clone()),
    };
    let in_range = |d: NaiveDate| q.from.is_none_or(|f| d >= f) && q.to.is_none_or(|t| d <= t);
    let mut items = Vec::new();
    let mut last_key = None;
    let mut more = false;
    let mut used = 0;
    for item in app.view.payments.range((start, Bound::Unbounded)) {
        let (k, raw) = item.map_err(super::internal)?;
        if !k.starts_with(&prefix) {
            break;
        }
        let p: PaymentItem = decode(&raw).map_err(super::internal)?;
        let day = p.settled_at.with_timezone(&HISTORY_TZ).date_naive();
        if q.to.is_some_and(|t| day > t) {
            break;
        }
        if !in_range(day) {
            continue;
        }
        // Bounded by bytes as well as by count: the answer must fit the payload limit.
        let bytes = posfee_schemas::encode(&p).len();
        if items.len() == size as usize || used + bytes > PAGE_BYTES_BUDGET {
            more = true;
            break;
        }
        used += bytes;
        last_key = Some(k.to_vec());
        items.push(p);
    }
    let next_cursor = if more {
        last_key.map(hex::encode)
    } else {
        None
    };
    reply_ok(&PaymentsPage { items, next_cursor })
}
