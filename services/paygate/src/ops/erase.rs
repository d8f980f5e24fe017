//! `posfee.paygate.erase.operator`: the operator erases a payer at their request. The key the
//! payer's identity is sealed under is deleted from the bucket ([`crate::vault`]), then one
//! journal entry records it: every instance drops the sealed identity from its view and
//! refuses the payer's payments. The books keep their amounts and
//! handles. Idempotent: a repeated request answers the first erasure's time.

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::Payer;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::paygate::{EraseReply, EraseRequest};
use posfee_schemas::subjects::{Identity, Role, Subject};
use posfee_schemas::{decode, ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    if !matches!(
        Subject::parse(&msg.subject),
        Ok(Subject::Paygate(_, Identity::Role(Role::Operator)))
    ) {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            "only the operator erases a payer",
        ));
    }
    let req: EraseRequest = decode_request(&msg.payload)?;
    record(Field::Caller, &req.payer);
    let scope = journal::payer_scope(&req.payer);
    app.journal.settled_view(&scope).await?;
    payer(&app, &req.payer)?;
    // The key first: from this moment every sealed copy is unreadable, journaled or not; the
    // entry then tells every instance, and a repeated request deletes it again.
    app.vault.erase(&req.payer).await.map_err(super::internal)?;
    let at = app.clock.now();
    let entry = Entry::Erased {
        handle: req.payer.clone(),
        at,
    };
    app.journal
        .write(&scope, &format!("erase:{}", req.payer), || {
            Ok(payer(&app, &req.payer)?
                .erased_at
                .is_none()
                .then(|| entry.clone()))
        })
        .await?;
    let erased_at = payer(&app, &req.payer)?
        .erased_at
        .ok_or_else(|| super::internal("an erasure the journal took is not in the view"))?;
    tracing::info!(payer = %req.payer, "payer erased at the operator's request");
    reply_ok(&EraseReply {
        payer: req.payer,
        erased_at,
    })
}

/// The payer's record in the view, or PAYER_NOT_FOUND.
fn payer(app: &App, handle: &PayerHandle) -> Result<Payer, WireError> {
    match app
        .store
        .payers
        .get(handle.as_str().as_bytes())
        .map_err(super::internal)?
    {
        Some(raw) => decode(&raw).map_err(super::internal),
        None => Err(WireError::field(
            "payer",
            format!("{handle}: no such payer (a handle paygate gave at registration, p-…)"),
        )),
    }
}
