//! `posfee.fee.quote`: what an account owes, as of a day (today by default).

use crate::app::App;
use posfee_runtime::serve::{decode_request, reply_ok, Handled};
use posfee_schemas::fee::QuoteRequest;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: QuoteRequest = decode_request(&msg.payload)?;
    let tenant = super::tenant(&app, &req)?;
    let as_of = req.as_of.unwrap_or_else(|| tenant.today(app.clock.now()));
    let (quote, _) = super::price(&app, &req, as_of).await?;
    reply_ok(&quote)
}
