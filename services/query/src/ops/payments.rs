//! `posfee.query.payments`: payment history by settlement date (Asia/Shanghai days), paged
//! oldest first with an opaque cursor.

use crate::app::{App, DEFAULT_PAGE, MAX_PAGE};
use crate::view::account_prefix;
use chrono::NaiveDate;
use posfee_runtime::page::{self, Step};
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::decode;
use posfee_schemas::query::{PaymentItem, PaymentsPage, PaymentsQuery};
use posfee_schemas::WireError;
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
    let size = page::size(q.page_size, DEFAULT_PAGE, MAX_PAGE)?;
    super::find_account(&app, &q.tenant, &q.account).await?;
    let prefix = account_prefix(q.tenant.as_str(), q.account.as_str());
    let start = page::start(&q.cursor, &prefix)?;
    let in_range = |d: NaiveDate| q.from.is_none_or(|f| d >= f) && q.to.is_none_or(|t| d <= t);
    let (items, next_cursor) = page::cut(&app.view.payments, start, size, |k, raw| {
        if !k.starts_with(&prefix) {
            return Ok(Step::End);
        }
        let p: PaymentItem = decode(raw).map_err(super::internal)?;
        let day = p.settled_at.with_timezone(&HISTORY_TZ).date_naive();
        if q.to.is_some_and(|t| day > t) {
            return Ok(Step::End);
        }
        Ok(match in_range(day) {
            true => Step::Take(p),
            false => Step::Skip,
        })
    })?;
    reply_ok(&PaymentsPage { items, next_cursor })
}
