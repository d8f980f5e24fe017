//! What kiosks and phones need from JetStream, asked of this service instead, so no kiosk or
//! phone has any JetStream API right (whose answers the server would send to any reply subject
//! the asker chose): a kiosk's heartbeat into the `POSFEE_TERMINALS` bucket
//! (`posfee.terminal.seen.<terminal>`, only that kiosk, only its own record) and a public key
//! from the key directory (`posfee.keys.get`).

use crate::app::App;
use async_nats::jetstream;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::signed::{KeyRequest, PublicKeyRecord, Purpose, Signed};
use posfee_schemas::subjects::{self, Subject};
use posfee_schemas::terminal::{TerminalSeen, MAX_CLOCK_SKEW_SECS};
use posfee_schemas::trust::DirectoryEntry;
use posfee_schemas::{decode, encode, ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;

/// How long the bucket may take to store or find a record.
pub const BUCKET_TIMEOUT_MS: u64 = 2_000;

fn unavailable(doing: &str, e: impl std::fmt::Display) -> WireError {
    WireError::new(ErrorCode::Unavailable, format!("{doing}: {e}; try again"))
}

/// The bucket `name`, opened once (a stream-info round trip) and kept: heartbeats and key
/// look-ups come all day.
async fn bucket<'a>(
    app: &'a App,
    cell: &'a tokio::sync::OnceCell<jetstream::kv::Store>,
    name: &str,
) -> Result<&'a jetstream::kv::Store, WireError> {
    cell.get_or_try_init(|| async {
        jetstream::new(app.client.clone())
            .get_key_value(name)
            .await
            .map_err(|e| unavailable("opening the bucket", e))
    })
    .await
}

pub async fn seen(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let Ok(Subject::TerminalSeen(kiosk)) = Subject::parse(&msg.subject) else {
        return Err(WireError::field(
            "subject",
            "not a terminal heartbeat subject",
        ));
    };
    record(Field::Caller, &kiosk);
    let seen: TerminalSeen = decode_request(&msg.payload)?;
    if seen.terminal != kiosk {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "kiosk {kiosk} may record only its own heartbeat, not terminal {}'s",
                seen.terminal
            ),
        ));
    }
    seen.check()?;
    let (seen, skew) = seen.received(app.clock.now());
    if skew.num_seconds().abs() > MAX_CLOCK_SKEW_SECS {
        tracing::warn!(
            kiosk = %kiosk,
            skew_secs = skew.num_seconds(),
            "the kiosk's clock is off: its receipts and reports carry a wrong time"
        );
    }
    let store = bucket(&app, &app.terminals, subjects::TERMINALS_BUCKET).await?;
    let put = store.put(kiosk.as_str(), encode(&seen).into());
    match tokio::time::timeout(Duration::from_millis(BUCKET_TIMEOUT_MS), put).await {
        Ok(Ok(_)) => reply_ok(&seen),
        Ok(Err(e)) => Err(unavailable("recording the heartbeat", e)),
        Err(_) => Err(unavailable("recording the heartbeat", "timed out")),
    }
}

pub async fn key(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: KeyRequest = decode_request(&msg.payload)?;
    let Some(purpose) = Purpose::of_directory(&req.purpose) else {
        return Err(WireError::field(
            "purpose",
            "must be bill, settlement or authority",
        ));
    };
    let store = bucket(&app, &app.keys, subjects::KEYS_BUCKET).await?;
    let get = store.get(PublicKeyRecord::directory_key(purpose, &req.key_id));
    let raw = match tokio::time::timeout(Duration::from_millis(BUCKET_TIMEOUT_MS), get).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => return Err(unavailable("reading the key directory", e)),
        Err(_) => return Err(unavailable("reading the key directory", "timed out")),
    };
    let unknown = || {
        WireError::new(
            ErrorCode::BadSignature,
            format!(
                "{} {} is not in the key directory: the signature cannot be trusted",
                req.purpose, req.key_id
            ),
        )
    };
    let Some(raw) = raw else {
        return Err(unknown());
    };
    // Passed on as stored, for the asker to believe or not through the root it pins; what
    // does not even read as a directory value is not answered at all.
    match purpose {
        Purpose::Authority => reply_ok(&decode::<Signed>(&raw).map_err(|_| unknown())?),
        _ => reply_ok(&decode::<DirectoryEntry>(&raw).map_err(|_| unknown())?),
    }
}
