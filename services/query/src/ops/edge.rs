//! What kiosks and phones need from JetStream, asked of this service instead, so no kiosk or
//! phone has any JetStream API right (whose answers the server would send to any reply subject
//! the asker chose): a kiosk's heartbeat into the `POSFEE_TERMINALS` bucket
//! (`posfee.terminal.seen.<terminal>`, only that kiosk, only its own record). Key look-ups
//! (`posfee.keys.get`) are `posfee_runtime::directory`'s, answered by every service.

use crate::app::App;
use async_nats::jetstream;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::subjects::{self, Subject};
use posfee_schemas::terminal::{TerminalSeen, MAX_CLOCK_SKEW_SECS};
use posfee_schemas::{encode, ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;

/// How long the bucket may take to store or find a record.
pub const BUCKET_TIMEOUT_MS: u64 = 2_000;

use posfee_runtime::serve::unavailable;

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
