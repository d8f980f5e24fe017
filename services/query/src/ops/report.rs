//! `posfee.terminal.report.<terminal>`: a kiosk's own pairing or presence event, recorded in
//! the event stream on its behalf.
//!
//! Only that kiosk may publish on its subject (the server's permissions), and the event must
//! be about it: a kiosk can neither speak for another nor write anything else into the stream.
//! The stored id is derived from the kiosk and its report id under this service's secret key
//! (`EventId::keyed`), so a retried report is stored once and nobody can compute, and so
//! pre-empt, another event's id. The service seals the event as its writer.

use crate::app::App;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::EventId;
use posfee_schemas::subjects::Subject;
use posfee_schemas::terminal::TerminalReport;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;

/// How long the stream may take to store the event.
pub const STORE_TIMEOUT_MS: u64 = 3_000;

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let report: TerminalReport = decode_request(&msg.payload)?;
    let Ok(Subject::TerminalReport(kiosk)) = Subject::parse(&msg.subject) else {
        return Err(WireError::field("subject", "not a terminal report subject"));
    };
    record(Field::Caller, &kiosk);
    let about = match &report.body {
        EventBody::PairingJoined(e)
        | EventBody::PairingExpired(e)
        | EventBody::PairingCancelled(e) => &e.terminal,
        EventBody::TerminalOnline(e) | EventBody::TerminalOffline(e) => {
            posfee_schemas::terminal::check_version(&e.version)?;
            &e.terminal
        }
        other => {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "a kiosk reports only pairing and terminal events, not {}",
                    other.kind()
                ),
            ))
        }
    };
    if about != &kiosk {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!("kiosk {kiosk} may report only its own events, not terminal {about}'s"),
        ));
    }
    let mut id_source = kiosk.as_str().as_bytes().to_vec();
    id_source.push(0);
    id_source.extend_from_slice(report.report_id.0.as_bytes());
    let event = Event::new(
        EventId::keyed(&app.event_key, "terminal.report", &id_source),
        report.at,
        report.body,
    );
    store(&app, &event).await?;
    reply_ok(&event)
}

async fn store(app: &App, event: &Event) -> Result<(), WireError> {
    let js = async_nats::jetstream::new(app.client.clone());
    let (subject, msg) = posfee_client::sealed::message(event, &app.signer);
    let stored = async {
        js.send_publish(subject, msg)
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_millis(STORE_TIMEOUT_MS), stored).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(WireError::new(
            ErrorCode::Unavailable,
            format!("storing the event: {e}"),
        )),
        Err(_) => Err(WireError::new(
            ErrorCode::Unavailable,
            "storing the event timed out",
        )),
    }
}
