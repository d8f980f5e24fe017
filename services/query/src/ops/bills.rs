//! `posfee.query.bills`: the bills issued for an account (paid or not) and the live amount.

use crate::app::App;
use crate::view::account_prefix;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::decode;
use posfee_schemas::query::{AccountRef, BillSummary, BillsReply};
use std::sync::Arc;

/// Most bills one answer lists, newest first.
pub const MAX_BILLS: usize = 100;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: AccountRef = decode_request(&msg.payload)?;
    super::find_account(&app, &req.tenant, &req.account).await?;
    let prefix = account_prefix(req.tenant.as_str(), req.account.as_str());
    let mut bills = Vec::new();
    for item in app.view.bills.scan_prefix(&prefix).rev().take(MAX_BILLS) {
        let (_, raw) = item.map_err(super::internal)?;
        bills.push(decode::<BillSummary>(&raw).map_err(super::internal)?);
    }
    let live_total = super::live_total(&app, &req.tenant, &req.account)
        .await
        .ok();
    reply_ok(&BillsReply { bills, live_total })
}
