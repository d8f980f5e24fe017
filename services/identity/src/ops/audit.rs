//! `posfee.identity.audit`: the operator asks the identity service to walk its whole journal
//! ([`posfee_runtime::journal::Journal::audit`]); a broken link is named by the holder whose
//! keys it is in.

use crate::app::App;
use posfee_runtime::serve::{reply_ok, Handled};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, _msg: async_nats::Message) -> Handled {
    let mut report = app.journal.audit().await?;
    if let Some(broken) = report.broken.as_mut() {
        broken.names = holder_of(&app, &broken.subject);
        tracing::error!(seq = broken.seq, subject = %broken.subject, names = ?broken.names, why = %broken.why, "the identity journal's chain is broken");
    }
    reply_ok(&report)
}

/// The holder (`terminal/kiosk-07`) whose journal subject is `subject`, if the view knows it
/// (a scope is a one-way token of the holder).
fn holder_of(app: &App, subject: &str) -> Option<String> {
    app.store.holders.iter().keys().find_map(|k| {
        let holder = String::from_utf8(k.ok()?.to_vec()).ok()?;
        let scope = crate::journal::scope_of_key(&holder);
        (crate::journal::subject(&scope) == subject).then_some(holder)
    })
}
