//! `posfee.paygate.audit.<asker>`: the operator asks paygate to walk its whole journal
//! ([`posfee_runtime::journal::Journal::audit`]). A broken link is named by its subject only:
//! paygate's scopes are payer handles, and no personal data leaves paygate.

use crate::app::App;
use posfee_runtime::serve::{reply_ok, Handled};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, _msg: async_nats::Message) -> Handled {
    let report = app.journal.audit().await?;
    if let Some(b) = &report.broken {
        tracing::error!(seq = b.seq, subject = %b.subject, why = %b.why, "paygate's journal chain is broken");
    }
    reply_ok(&report)
}
