//! `posfee.identity.enrol.<device>`: a phone enrols its own key.
//!
//! Only a connection holding the key whose fingerprint is `<device>` may publish there (the
//! callout grants exactly that to an unknown key), the key enrolled must be that one (one
//! connection cannot enrol other keys), and the body carries the key's signature over
//! [`enrol_proof_message`], so nobody enrols a key they do not hold, and a stamp of the bits
//! enrolling needs just now ([`crate::difficulty`]). Enrolling an enrolled key again answers the
//! first enrolment; a revoked key stays revoked.

use crate::app::App;
use crate::journal::{self, Entry};
use posfee_runtime::serve::{self, decode_request, record, Field, Handled};
use posfee_schemas::identity::{
    enrol_proof_message, stamp_bits, EnrolReply, EnrolRequest, Holder, IssuedKey,
};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::Subject;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let Ok(Subject::IdentityEnrol(asker)) = Subject::parse(&msg.subject) else {
        return serve::reply_err(ErrorCode::BadRequest, "not an enrolment subject");
    };
    record(Field::Caller, &asker);
    let req: EnrolRequest = decode_request(&msg.payload)?;
    let key = super::user_key(&req.nkey)?;
    if key
        .verify(&enrol_proof_message(&req.nkey), &req.proof)
        .is_err()
    {
        return serve::reply_err(
            ErrorCode::BadSignature,
            "proof: not this key's signature over \"posfee.enrol.v1:\" and the key; sign with the key being enrolled",
        );
    }
    let device = DeviceId::of_nkey(&req.nkey)
        .map_err(|e| WireError::new(ErrorCode::InvalidField, format!("nkey: {e}")))?;
    if device != asker {
        return serve::reply_err(
            ErrorCode::Forbidden,
            format!("nkey: a connection enrols only its own key ({asker}); this key is {device}'s"),
        );
    }
    let reply = enrol(&app, &req, &device).await?;
    serve::reply_ok(&reply)
}

async fn enrol(app: &App, req: &EnrolRequest, device: &DeviceId) -> Result<EnrolReply, WireError> {
    let nkey = req.nkey.as_str();
    let holder = Holder::Device(device.clone());
    let needed = app.difficulty.bits();
    let now = app.clock.now();
    let wrote = app
        .journal
        .write(&journal::scope(&holder), &format!("enrol:{nkey}"), || {
            decide(app, req, &holder, (needed, now))
        })
        .await?;
    if wrote {
        app.difficulty.enrolled();
        tracing::info!(device = %device, "phone enrolled");
    }
    // The journal's answer, whoever wrote it (this request or a copy of it).
    match app.store.key(nkey).map_err(super::internal)? {
        Some(k) if k.holder == holder => Ok(EnrolReply {
            device_id: device.clone(),
            enrolled_at: k.issued_at,
        }),
        Some(k) => Err(not_a_phone(&k.holder)),
        None => Err(WireError::new(
            ErrorCode::Internal,
            "the key enrolled is not in the view; enrol again",
        )),
    }
}

/// What an enrolment writes, decided on the view: nothing if the key is this phone's already,
/// a refusal if it is someone else's, revoked, or its device id is another key's, or if its
/// stamp is weaker than enrolling needs just now.
fn decide(
    app: &App,
    req: &EnrolRequest,
    holder: &Holder,
    (needed, now): (u32, chrono::DateTime<chrono::Utc>),
) -> Result<Option<Entry>, WireError> {
    let nkey = req.nkey.as_str();
    if let Some(known) = app.store.key(nkey).map_err(super::internal)? {
        if &known.holder != holder {
            return Err(not_a_phone(&known.holder));
        }
        if known.revoked_at.is_some() {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                "this key was revoked and cannot be enrolled again; make a new key on the phone and enrol that",
            ));
        }
        return Ok(None);
    }
    if app
        .store
        .current(holder)
        .map_err(super::internal)?
        .is_some()
    {
        return Err(WireError::new(
            ErrorCode::KeyConflict,
            "another key has this key's device id; make a new key on the phone and enrol that",
        ));
    }
    let has = req.stamp.map_or(0, |s| stamp_bits(nkey, s));
    if has < needed {
        return Err(WireError::new(
            ErrorCode::StampTooWeak,
            format!("stamp: needs at least {needed} leading zero bits (this one has {has}); compute a stronger stamp and enrol again"),
        ));
    }
    Ok(Some(Entry::Issued {
        key: IssuedKey {
            holder: holder.clone(),
            nkey: nkey.to_string(),
            issued_at: now,
            revoked_at: None,
        },
        replaces: None,
    }))
}

/// A kiosk's or clerk's key is theirs: it never becomes a phone's.
fn not_a_phone(owner: &Holder) -> WireError {
    WireError::new(
        ErrorCode::KeyConflict,
        format!(
            "nkey: this key is issued to {owner} and cannot be enrolled as a phone; make a new key on the phone and enrol that"
        ),
    )
}
