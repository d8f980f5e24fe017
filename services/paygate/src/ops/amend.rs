//! `posfee.paygate.amend`: a registered payer corrects their name or bank card, signed with
//! the device key they registered (the payer is found by it, as for a payment, so a phone that
//! made a new bus key still may). Paygate decides what may change: the name and the bank
//! card; never the national id, which is who the payer is (a different person registers on
//! their own phone). The correction is journaled sealed under the payer's data key, as the
//! registration was; the handle, balance and payments stay as they are.

use crate::app::App;
use crate::identity::{check_bank_account, check_name};
use crate::journal::{self, Entry};
use crate::store::PayerIdentity;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::paygate::{AmendReply, AmendRequest};
use posfee_schemas::signed::public_key;
use posfee_schemas::subjects::{Identity, Subject};
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: AmendRequest = decode_request(&msg.payload)?;
    if !matches!(
        Subject::parse(&msg.subject),
        Ok(Subject::Paygate(_, Identity::Device(_)))
    ) {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            "a registration is corrected from the payer's phone",
        ));
    }
    record(Field::Caller, &req.device_key_id);
    check(&req)?;
    let payer = payer_of(&app, &req).await?;
    let (read, before) = stored(&app, &payer).await?;
    let (identity, changed) = amended(before, &req);
    if !changed.is_empty() {
        let sealed = app
            .vault
            .seal_existing(&payer, &identity)
            .await
            .map_err(super::internal)?
            .ok_or_else(|| erased(&payer))?;
        let entry = Entry::Identity {
            handle: payer.clone(),
            identity: sealed,
        };
        // An id of its own: nothing about who the payer is may be read off the stream.
        let id = format!("identity:{}", uuid::Uuid::new_v4());
        app.journal
            .write(&journal::payer_scope(&payer), &id, || {
                // Decided on what was read: a correction that came first, or an erasure, is
                // not overwritten.
                if app.vault.sealed(&payer).map_err(super::internal)? != Some(read.clone()) {
                    return Err(WireError::new(
                        ErrorCode::PaymentStateConflict,
                        "the registration changed meanwhile (corrected or erased); send the correction again",
                    ));
                }
                Ok(Some(entry.clone()))
            })
            .await?;
    }
    // The handle and the fields' names only: never what they say.
    tracing::info!(payer = %payer, changed = ?changed, "registration corrected");
    reply_ok(&AmendReply { payer, changed })
}

/// The same checks as a registration, on the fields sent.
fn check(req: &AmendRequest) -> Result<(), WireError> {
    if req.name.is_none() && req.bank_account.is_none() {
        return Err(WireError::field(
            "name",
            "send the corrected name or bank_account (the national id cannot be changed)",
        ));
    }
    if let Some(name) = &req.name {
        check_name(name)?;
    }
    if let Some(card) = &req.bank_account {
        check_bank_account(card)?;
    }
    Ok(())
}

/// The payer whose registered device key signed the correction.
async fn payer_of(app: &App, req: &AmendRequest) -> Result<PayerHandle, WireError> {
    let (handle, payer) = super::device_owner(app, &req.device_key_id)
        .await?
        .ok_or_else(|| {
            WireError::new(
                ErrorCode::PayerNotFound,
                format!(
                    "device key {} is not registered; register first",
                    req.device_key_id
                ),
            )
        })?;
    let signer = public_key(&payer.device_public_key)
        .ok_or_else(|| super::internal("a registered device key that is not one"))?;
    if !req.proves_possession(&signer) {
        return Err(WireError::new(
            ErrorCode::BadSignature,
            "device_proof: not signed by the registered device key",
        ));
    }
    Ok(handle)
}

/// Who the payer is, as their latest registration or correction in the journal says, with
/// the sealed bytes it was read from.
async fn stored(app: &App, payer: &PayerHandle) -> Result<(Vec<u8>, PayerIdentity), WireError> {
    app.journal
        .settled_view(&journal::payer_scope(payer))
        .await?;
    let sealed = app.vault.sealed(payer).map_err(super::internal)?;
    let identity = app.vault.get(payer).await.map_err(super::internal)?;
    match (sealed, identity) {
        (Some(raw), Some(identity)) => Ok((raw, identity)),
        _ => Err(erased(payer)),
    }
}

fn erased(payer: &PayerHandle) -> WireError {
    WireError::new(
        ErrorCode::PayerNotFound,
        format!("{payer}: no identity on record (erased, or not yet moved by the paygate that registered it); register again, or ask again later"),
    )
}

/// The identity with the request's fields put in, and the names of those that changed.
fn amended(mut identity: PayerIdentity, req: &AmendRequest) -> (PayerIdentity, Vec<String>) {
    let mut changed = Vec::new();
    if let Some(name) = req.name.as_deref().map(str::trim) {
        if identity.name != name {
            identity.name = name.to_string();
            changed.push("name".to_string());
        }
    }
    if let Some(card) = req.bank_account.as_deref().map(str::trim) {
        if identity.bank_account != card {
            identity.bank_account = card.to_string();
            changed.push("bank_account".to_string());
        }
    }
    (identity, changed)
}
