//! `posfee.query.account`: the account summary a kiosk shows before paying.

use crate::app::App;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::query::{AccountRef, AccountSummary};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: AccountRef = decode_request(&msg.payload)?;
    let view = super::find_account(&app, &req.tenant, &req.account).await?;
    let (outstanding, outstanding_error) =
        match super::live_total(&app, &req.tenant, &req.account).await {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        };
    reply_ok(&AccountSummary {
        tenant: req.tenant,
        account: req.account,
        class: view.class,
        attributes: view.attributes,
        holder_masked: view.holder_masked,
        outstanding,
        outstanding_error,
    })
}
