//! `posfee.identity.status.<nkey>`: what the system takes a key for, asked by a connection
//! made with that key (the only one the server lets publish there) and answered on the key's
//! own status inbox. How a refused kiosk or phone learns why and what to do: a revoked key's
//! holder needs a new key, a phone whose device id another key holds makes a new key, a key
//! nobody enrolled yet may enrol (with a stamp of so many bits).

use crate::app::App;
use crate::store::Lookup;
use posfee_runtime::serve::{self, record, Field, Handled};
use posfee_schemas::identity::{Holder, KeyState, KeyStatus};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::Subject;
use posfee_schemas::ErrorCode;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let Ok(Subject::IdentityStatus(key)) = Subject::parse(&msg.subject) else {
        return serve::reply_err(ErrorCode::BadRequest, "not a key status subject");
    };
    let nkey = key.as_str();
    let stamp_bits = app.difficulty.bits();
    let status = |state, holder, since, message: String| KeyStatus {
        nkey: nkey.to_string(),
        state,
        holder,
        since,
        stamp_bits,
        message,
    };
    if let (Ok(Lookup::Unknown), Ok(d)) = (app.store.lookup(nkey), DeviceId::of_nkey(nkey)) {
        // Not "unenrolled" before looking.
        crate::journal::look_for_phone(&app.journal, d).await;
    }
    let answer = match app.store.lookup(nkey).map_err(super::internal)? {
        Lookup::Active(holder) => {
            record(Field::Caller, &holder);
            let since = app.store.key(nkey).map_err(super::internal)?.map(|k| k.issued_at);
            status(KeyState::Active, Some(holder), since, "in use".into())
        }
        Lookup::Revoked(holder) => {
            let since = app
                .store
                .key(nkey)
                .map_err(super::internal)?
                .and_then(|k| k.revoked_at);
            let remedy = remedy(&holder);
            status(KeyState::Revoked, Some(holder), since, remedy)
        }
        Lookup::Unknown => match DeviceId::of_nkey(nkey) {
            Ok(d) => match app
                .store
                .current(&Holder::Device(d.clone()))
                .map_err(super::internal)?
            {
                Some(_) => status(
                    KeyState::Conflict,
                    None,
                    None,
                    format!("device id {d} belongs to another key: make a new key on the phone and enrol that"),
                ),
                None => status(
                    KeyState::Unenrolled,
                    None,
                    None,
                    format!("nobody issued or enrolled this key: a phone enrols it (posfee.identity.enrol.{d}) with a stamp of {stamp_bits} bits; a kiosk or clerk key is issued by the operator (posfee keys)"),
                ),
            },
            Err(_) => status(
                KeyState::Unenrolled,
                None,
                None,
                "nobody issued this key".into(),
            ),
        },
    };
    serve::reply_ok(&answer)
}

/// What the holder of a revoked key does next.
fn remedy(holder: &Holder) -> String {
    match holder {
        Holder::Terminal(t) => format!(
            "the key of kiosk {t} was revoked: the operator issues a new one with `posfee keys terminal {t} --replace`"
        ),
        Holder::Device(_) => {
            "this phone's key was revoked: make a new key on the phone (the CLI: a new --home, or remove its bus.nk; the web app: Me, new key) and enrol it".into()
        }
        Holder::Clerk(t) => format!(
            "the clerk key of {t} was revoked: the operator issues a new one with `posfee keys clerk {t} --replace`"
        ),
    }
}
