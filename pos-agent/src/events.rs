//! The terminal's own events (pairing and presence), reported to the query service, which
//! records them in the `POSFEE_EVENTS` stream on the kiosk's behalf: a kiosk cannot write into
//! the stream itself (`posfee.terminal.report.<terminal>`).

use crate::Agent;
use posfee_client::{call, CallError};
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::EventId;
use posfee_schemas::subjects;
use posfee_schemas::terminal::TerminalReport;
use std::time::Duration;

/// Attempts per event. Every attempt carries the same report id, so the stream stores it once.
pub const PUBLISH_ATTEMPTS: usize = 3;
/// How long one attempt waits for the event to be stored.
pub const PUBLISH_ACK_TIMEOUT_MS: u64 = 4_000;

/// Reports one event and waits until the stream has stored it. The answer is also a round
/// trip through the server, so every subscription made before this call is routed by the
/// time it returns.
pub async fn publish(agent: &Agent, body: EventBody) -> crate::Result<Event> {
    let report = TerminalReport {
        report_id: EventId::new_random(),
        at: agent.clock.now(),
        body,
    };
    let kind = report.body.kind();
    let subject = subjects::terminal_report(agent.terminal());
    let mut last = String::new();
    for _ in 0..PUBLISH_ATTEMPTS {
        let stored: Result<Event, CallError> = call(
            &agent.client,
            subject.clone(),
            &report,
            Some(Duration::from_millis(PUBLISH_ACK_TIMEOUT_MS)),
        )
        .await;
        match stored {
            Ok(event) => return Ok(event),
            Err(CallError::Remote(e)) if e.code.status() < 500 => return Err(e),
            Err(e) => last = e.to_string(),
        }
        tracing::debug!(%kind, error = %last, "event report retry");
    }
    Err(crate::unavailable(&format!("reporting event {kind}"), last))
}
