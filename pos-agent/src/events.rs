//! The terminal's own presence events (`terminal.online`, `terminal.offline`), reported to
//! the query service, which records them in the `POSFEE_EVENTS` stream on the kiosk's behalf: a
//! kiosk cannot write into the stream itself (`posfee.terminal.report.<terminal>`). A pairing
//! is no report since contract 0.5.0: the hold or the bill's close tells it
//! ([`crate::pairing`]).
//!
//! These events are what operators watch, not money: a payment never waits for one. They are
//! sent in the background ([`Reports`]), asked again with a pause while the query service is
//! restarting, and given up only after the report's own deadline.

use crate::Agent;
use posfee_client::{call, CallError};
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::EventId;
use posfee_schemas::subjects;
use posfee_schemas::terminal::TerminalReport;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Attempts per event. Every attempt carries the same report id, so the stream stores it once.
pub const PUBLISH_ATTEMPTS: usize = 3;
/// How long one attempt waits for the event to be stored.
pub const PUBLISH_ACK_TIMEOUT_MS: u64 = 4_000;

/// Reports one event and waits until the stream has stored it. The answer is also a round
/// trip through the server, so every subscription made before this call is routed by the
/// time it returns.
pub async fn publish(agent: &Agent, body: EventBody) -> crate::Result<Event> {
    let report = report(agent, body);
    let kind = report.body.kind();
    let mut last = String::new();
    for _ in 0..PUBLISH_ATTEMPTS {
        match attempt(agent, &report).await {
            Ok(event) => return Ok(event),
            Err(CallError::Remote(e)) if e.code.status() < 500 => return Err(e),
            Err(e) => last = e.to_string(),
        }
        tracing::debug!(%kind, error = %last, "event report retry");
    }
    Err(crate::unavailable(&format!("reporting event {kind}"), last))
}

fn report(agent: &Agent, body: EventBody) -> TerminalReport {
    TerminalReport {
        report_id: EventId::new_random(),
        at: agent.clock.now(),
        body,
    }
}

/// One try at having `report` stored.
async fn attempt(agent: &Agent, report: &TerminalReport) -> Result<Event, CallError> {
    call(
        &agent.client,
        subjects::terminal_report(agent.terminal()),
        report,
        Some(Duration::from_millis(PUBLISH_ACK_TIMEOUT_MS)),
    )
    .await
}

/// The first pause before a background report is sent again; it doubles up to
/// [`REPORT_PAUSE_MAX_MS`].
pub const REPORT_PAUSE_MS: u64 = 200;
pub const REPORT_PAUSE_MAX_MS: u64 = 2_000;

/// The terminal's reports on their way in the background.
#[derive(Clone, Default)]
pub struct Reports(Arc<Mutex<Vec<JoinHandle<()>>>>);

impl Reports {
    /// Sends `body` in the background, asking again with a growing pause until it is stored,
    /// refused (4xx), or `within` has passed.
    pub fn send(&self, agent: &Agent, body: EventBody, within: Duration) {
        let (agent, report) = (agent.clone(), report(agent, body));
        let task = tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + within;
            let mut pause = Duration::from_millis(REPORT_PAUSE_MS);
            let kind = report.body.kind();
            loop {
                let error = match attempt(&agent, &report).await {
                    Ok(_) => return,
                    Err(CallError::Remote(e)) if e.code.status() < 500 => {
                        return tracing::warn!(%kind, error = %e, "event report refused")
                    }
                    Err(e) => e,
                };
                if tokio::time::Instant::now() + pause >= deadline {
                    return tracing::warn!(%kind, %error, "event report given up at its deadline");
                }
                tracing::debug!(%kind, %error, "event report: asking again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(REPORT_PAUSE_MAX_MS));
            }
        });
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
    }

    /// Waits up to `limit` for the reports on their way (before the terminal leaves); those
    /// still unsent then are dropped, logged.
    pub async fn sent(&self, limit: Duration) {
        let pending: Vec<_> =
            std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let n = pending.len();
        let all = futures::future::join_all(pending);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(reports = n, "leaving with event reports unsent");
        }
    }
}
