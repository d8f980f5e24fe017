//! The terminal's own events (pairing and presence) into the `POSFEE_EVENTS` stream.

use crate::Agent;
use async_nats::jetstream::message::PublishMessage;
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::EventId;
use std::time::Duration;

/// Attempts per event. Every attempt carries the same event id, so the stream stores it once.
pub const PUBLISH_ATTEMPTS: usize = 3;
/// How long one attempt waits for the stream's ack.
pub const PUBLISH_ACK_TIMEOUT_MS: u64 = 2_000;

/// Publishes one event and waits until the stream has stored it. The ack is also a round
/// trip through the server, so every subscription made before this call is routed by the
/// time it returns.
pub async fn publish(agent: &Agent, body: EventBody) -> crate::Result<Event> {
    let event = Event::new(EventId::new_random(), agent.clock.now(), body);
    let js = agent.js();
    let payload = posfee_schemas::encode(&event);
    let mut last = String::new();
    for _ in 0..PUBLISH_ATTEMPTS {
        let msg = PublishMessage::build()
            .payload(payload.clone().into())
            .message_id(event.id.to_string());
        let sent = async {
            let ack = js
                .send_publish(event.subject(), msg)
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_millis(PUBLISH_ACK_TIMEOUT_MS), sent).await {
            Ok(Ok(_)) => return Ok(event),
            Ok(Err(e)) => last = e,
            Err(_) => last = "no ack in time".into(),
        }
        tracing::debug!(kind = %event.kind(), error = %last, "event publish retry");
    }
    Err(crate::unavailable(
        &format!("publishing event {}", event.kind()),
        last,
    ))
}

/// Publishes `pairing.opened` (or any event) while the kiosk goes on: the code goes on the
/// screen without waiting for the stream's fsync. The caller awaits the handle before the
/// pairing's closing event, so the stream still holds them in order and the flow never ends
/// with an event in flight.
pub fn spawn_publish(
    agent: &Agent,
    body: EventBody,
) -> tokio::task::JoinHandle<crate::Result<Event>> {
    let agent = agent.clone();
    tokio::spawn(async move { publish(&agent, body).await })
}

/// Waits for an event started with [`spawn_publish`]. A failure is reported, not returned:
/// the payment does not depend on the operator's view of it.
pub async fn settle(pending: tokio::task::JoinHandle<crate::Result<Event>>) {
    match pending.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "an event of this pairing was not stored"),
        Err(e) => tracing::warn!(error = %e, "publishing an event of this pairing stopped"),
    }
}
