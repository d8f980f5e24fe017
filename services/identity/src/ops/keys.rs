//! `posfee.identity.{issue,revoke,list}`: the operator's requests (`posfee keys`).

use crate::app::App;
use posfee_runtime::serve::{self, decode_request, record, Field, Handled};
use posfee_schemas::identity::{
    Holder, IssueReply, IssueRequest, IssuedKey, ListReply, ListRequest, RevokeReply, RevokeRequest,
};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

/// Phones one list answer may carry.
pub const MAX_LISTED_DEVICES: u32 = 200;

pub async fn issue(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: IssueRequest = decode_request(&msg.payload)?;
    record(Field::Caller, &req.holder);
    super::user_key(&req.nkey)?;
    if let Holder::Device(d) = &req.holder {
        if DeviceId::of_nkey(&req.nkey).ok().as_ref() != Some(d) {
            return serve::reply_err(
                ErrorCode::InvalidField,
                "holder: a phone's device id is its key's fingerprint; this key belongs to another id",
            );
        }
    }
    // Decided on the store's state and claimed only if that state still holds: a request
    // that lost a race to another issue for the same holder decides again.
    for _ in 0..CLAIM_TRIES {
        if let Some(reply) = issue_once(&app, &req).await? {
            return serve::reply_ok(&reply);
        }
    }
    serve::reply_err(
        ErrorCode::Unavailable,
        "other keys for this holder are being issued at the same time; ask again",
    )
}

/// Times an issue is decided again after another request changed the holder's key meanwhile.
const CLAIM_TRIES: usize = 4;

/// One decision on an issue; `None` when another request changed the holder's key first.
async fn issue_once(app: &App, req: &IssueRequest) -> Result<Option<IssueReply>, WireError> {
    if let Some(owner) = app.store.key(&req.nkey).map_err(super::internal)? {
        if owner.holder == req.holder && owner.revoked_at.is_none() {
            return Ok(Some(IssueReply {
                key: owner,
                replaced: None,
            }));
        }
        return Err(WireError::new(
            ErrorCode::KeyConflict,
            format!(
                "nkey: this key was issued to {} before; make a new key",
                owner.holder
            ),
        ));
    }
    let current = app.store.current(&req.holder).map_err(super::internal)?;
    let replaced = match &current {
        Some(old) if old.revoked_at.is_none() && !req.replace => {
            return Err(WireError::new(
                ErrorCode::KeyConflict,
                format!(
                    "{} already has a key; pass --replace to issue a new one (the old one stops working at once)",
                    req.holder
                ),
            ))
        }
        Some(old) if old.revoked_at.is_none() => Some(revoke(app, old.clone()).await?),
        _ => None,
    };
    let key = IssuedKey {
        holder: req.holder.clone(),
        nkey: req.nkey.clone(),
        issued_at: app.clock.now(),
        revoked_at: None,
    };
    let expected = current.as_ref().map(|k| k.nkey.as_str());
    if !app.store.claim(&key, expected).map_err(super::internal)? {
        return Ok(None);
    }
    app.commit.commit().await.map_err(super::internal)?;
    tracing::info!(holder = %key.holder, "key issued");
    Ok(Some(IssueReply { key, replaced }))
}

pub async fn revoke_holder(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RevokeRequest = decode_request(&msg.payload)?;
    record(Field::Caller, &req.holder);
    let Some(key) = app.store.current(&req.holder).map_err(super::internal)? else {
        return serve::reply_err(
            ErrorCode::KeyNotFound,
            format!(
                "no key is issued to {}; `posfee keys list` shows who has one",
                req.holder
            ),
        );
    };
    serve::reply_ok(&revoke(&app, key).await?)
}

/// How long after a revocation its connections are listed and closed a second time: longer
/// than a client may take to finish connecting after the callout admitted it.
const LATE_CUT: std::time::Duration =
    std::time::Duration::from_secs(posfee_deploy::authz::AUTH_TIMEOUT_SECS as u64 + 1);

/// Marks the key revoked (durably, before anything else) and closes its live connections.
async fn revoke(app: &App, key: IssuedKey) -> Result<RevokeReply, WireError> {
    let key = app
        .store
        .revoke(&key.nkey, app.clock.now())
        .map_err(super::internal)?
        .unwrap_or(key);
    app.commit.commit().await.map_err(super::internal)?;
    let disconnected = app
        .cutter
        .cut(&key.holder.connection_name())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "closing a revoked key's connections");
            WireError::new(
                ErrorCode::Unavailable,
                "the key is revoked, but its live connections could not be listed; revoke again to retry closing them",
            )
        })?;
    tracing::info!(holder = %key.holder, disconnected, "key revoked");
    // A connection the callout admitted just before the revocation may not have been listed
    // yet: once every such connection has had its time to finish connecting, cut again.
    let (cutter, name) = (app.cutter.clone(), key.holder.connection_name());
    tokio::spawn(async move {
        tokio::time::sleep(LATE_CUT).await;
        match cutter.cut(&name).await {
            Ok(0) => {}
            Ok(late) => {
                tracing::info!(holder = %name, late, "late connections of a revoked key closed")
            }
            Err(e) => tracing::warn!(error = %e, holder = %name, "second cut of a revoked key"),
        }
    });
    Ok(RevokeReply { key, disconnected })
}

pub async fn list(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: ListRequest = decode_request(&msg.payload)?;
    let devices = req.devices.min(MAX_LISTED_DEVICES) as usize;
    let store = app.store.clone();
    let (keys, devices_enrolled, devices_revoked) =
        tokio::task::spawn_blocking(move || store.list(devices))
            .await
            .map_err(|e| super::internal(e.into()))?
            .map_err(super::internal)?;
    serve::reply_ok(&ListReply {
        keys,
        devices_enrolled,
        devices_revoked,
    })
}
