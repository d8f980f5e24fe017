//! `posfee.identity.{issue,revoke,list}`: the operator's requests (`posfee keys`).

use crate::app::App;
use crate::journal::{self, Entry};
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
    let scope = journal::scope(&req.holder);
    // Decided on the holder's latest entry: a view that is behind must not answer "issued"
    // for a key revoked since, nor keep a replaced key.
    app.journal.settled_view(&scope).await?;
    let id = format!("issue:{}:{}", req.holder.key(), req.nkey);
    let now = app.clock.now();
    let mut replaces = None;
    app.journal
        .write(&scope, &id, || {
            let decided = decide_issue(&app, &req, now)?;
            if let Some(Entry::Issued { replaces: r, .. }) = &decided {
                replaces.clone_from(r);
            }
            Ok(decided)
        })
        .await?;
    // What the journal holds is the answer, whoever wrote it: this request, a retry of it
    // or another holder's issue of the same key that came first.
    let key = match app.store.key(&req.nkey).map_err(super::internal)? {
        Some(k) if k.holder == req.holder => k,
        Some(k) => return serve::reply_err(ErrorCode::KeyConflict, issued_before(&k)),
        None => return serve::reply_err(ErrorCode::Internal, "the key issued is not in the view"),
    };
    let replaced = match replaces {
        Some(old) => match app.store.key(&old).map_err(super::internal)? {
            Some(old) => Some(disconnect(&app, old).await?),
            None => None,
        },
        None => None,
    };
    tracing::info!(holder = %key.holder, "key issued");
    serve::reply_ok(&IssueReply { key, replaced })
}

/// What an issue writes, decided on the view: nothing if the key is the holder's already, a
/// refusal if it is another's or the holder has a live key and replacing was not asked for.
fn decide_issue(
    app: &App,
    req: &IssueRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Entry>, WireError> {
    if let Some(owner) = app.store.key(&req.nkey).map_err(super::internal)? {
        if owner.holder == req.holder && owner.revoked_at.is_none() {
            return Ok(None);
        }
        return Err(WireError::new(
            ErrorCode::KeyConflict,
            issued_before(&owner),
        ));
    }
    let replaces = match app.store.current(&req.holder).map_err(super::internal)? {
        Some(old) if old.revoked_at.is_none() && !req.replace => {
            return Err(WireError::new(
                ErrorCode::KeyConflict,
                format!(
                    "{} already has a key; pass --replace to issue a new one (the old one stops working at once)",
                    req.holder
                ),
            ))
        }
        Some(old) if old.revoked_at.is_none() => Some(old.nkey),
        _ => None,
    };
    Ok(Some(Entry::Issued {
        key: IssuedKey {
            holder: req.holder.clone(),
            nkey: req.nkey.clone(),
            issued_at: now,
            revoked_at: None,
        },
        replaces,
    }))
}

fn issued_before(owner: &IssuedKey) -> String {
    format!(
        "nkey: this key was issued to {} before; make a new key",
        owner.holder
    )
}

pub async fn revoke_holder(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: RevokeRequest = decode_request(&msg.payload)?;
    record(Field::Caller, &req.holder);
    let not_found = || {
        WireError::new(
            ErrorCode::KeyNotFound,
            format!(
                "no key is issued to {}; `posfee keys list` shows who has one",
                req.holder
            ),
        )
    };
    let scope = journal::scope(&req.holder);
    // Decided on the holder's latest entry: a view that is behind could take an old, revoked
    // key for the current one and answer "revoked" while a newer key stays live.
    app.journal.settled_view(&scope).await?;
    let mut revoked = None;
    let now = app.clock.now();
    let decide = || {
        let key = app
            .store
            .current(&req.holder)
            .map_err(super::internal)?
            .ok_or_else(not_found)?;
        revoked = Some(key.nkey.clone());
        Ok(key.revoked_at.is_none().then_some(Entry::Revoked {
            nkey: key.nkey,
            at: now,
        }))
    };
    // Which key is revoked is decided on the latest state, so the id is this request's own.
    let id = format!("revoke:{}", uuid::Uuid::new_v4().simple());
    app.journal.write(&scope, &id, decide).await?;
    let key = revoked
        .map(|nkey| app.store.key(&nkey))
        .transpose()
        .map_err(super::internal)?
        .flatten()
        .ok_or_else(not_found)?;
    serve::reply_ok(&disconnect(&app, key).await?)
}

/// How long after a revocation its connections are listed and closed a second time: longer
/// than a client may take to finish connecting after the callout admitted it (an instance
/// whose view had not yet applied the revocation included).
const LATE_CUT: std::time::Duration =
    std::time::Duration::from_secs(posfee_authz::AUTH_TIMEOUT_SECS as u64 + 1);

/// Closes a revoked key's live connections, now and once more after [`LATE_CUT`].
async fn disconnect(app: &App, key: IssuedKey) -> Result<RevokeReply, WireError> {
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
            .map_err(super::internal)?
            .map_err(super::internal)?;
    serve::reply_ok(&ListReply {
        keys,
        devices_enrolled,
        devices_revoked,
    })
}
