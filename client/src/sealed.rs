//! An event as its writer publishes it: the payload, `Nats-Msg-Id` = the event id (the stream
//! stores it once), and the writer's seal (`Posfee-Seal`), without which no reader believes
//! it. The one place that builds such a message: the services' outboxes, the query service's
//! kiosk reports and `posfee import` all publish through it.

use async_nats::jetstream::message::PublishMessage;
use posfee_schemas::events::Event;
use posfee_schemas::trust::{Signer, SEAL_HEADER};

/// The subject and the message that publish `event`, sealed by `signer`.
pub fn message(event: &Event, signer: &Signer) -> (String, PublishMessage) {
    let subject = event.subject();
    let payload = posfee_schemas::encode(event);
    let seal = signer.seal(&subject, &payload).render();
    let msg = PublishMessage::build()
        .message_id(event.id.to_string())
        .header(SEAL_HEADER, seal.as_str())
        .payload(payload.into());
    (subject, msg)
}
