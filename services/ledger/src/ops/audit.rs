//! `posfee.ledger.audit`: the operator asks the ledger to walk its whole journal
//! ([`posfee_runtime::journal::Journal::audit`]); a broken link is named by the tenant
//! account whose books it is in.

use crate::app::App;
use crate::store::Settlement;
use posfee_runtime::serve::{reply_ok, Handled};
use posfee_schemas::decode;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, _msg: async_nats::Message) -> Handled {
    let mut report = app.journal.audit().await?;
    if let Some(broken) = report.broken.as_mut() {
        broken.names = account_of(&app, &broken.subject);
    }
    if let Some(b) = &report.broken {
        tracing::error!(seq = b.seq, subject = %b.subject, names = ?b.names, why = %b.why, "the ledger's journal chain is broken");
    }
    reply_ok(&report)
}

/// The `tenant/account` whose journal subject is `subject`, if a settlement of it is in the
/// view (a scope is a one-way token of both).
fn account_of(app: &App, subject: &str) -> Option<String> {
    app.store.settlements.iter().values().find_map(|raw| {
        let s: Settlement = decode(&raw.ok()?).ok()?;
        let r = &s.receipt;
        let scope = crate::journal::scope(&r.tenant, &r.account);
        (crate::journal::subject(&scope) == subject).then(|| format!("{}/{}", r.tenant, r.account))
    })
}
