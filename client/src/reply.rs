//! Answering a raw request (a phone's join, a kiosk's bill offer) the way micro services
//! answer: a payload, or an error in the `Nats-Service-Error-Code` / `Nats-Service-Error`
//! headers with an empty body, so `call` on the other side reads it back as a `WireError`.
//! Whether a kiosk or phone may answer at all is [`crate::peer`]'s to say.

use async_nats::service::{NATS_SERVICE_ERROR, NATS_SERVICE_ERROR_CODE};
use posfee_schemas::{codec, DecodeError, ErrorCode, WireError};
use serde::de::DeserializeOwned;

/// Sends `payload` to the request's reply inbox. A request without one cannot be answered.
pub async fn ok(
    client: &async_nats::Client,
    request: &async_nats::Message,
    payload: Vec<u8>,
) -> Result<(), async_nats::PublishError> {
    match request.reply.clone() {
        Some(reply) => match crate::trace::headers() {
            Some(h) => client.publish_with_headers(reply, h, payload.into()).await,
            None => client.publish(reply, payload.into()).await,
        },
        None => Ok(()),
    }
}

/// Sends `err` to the request's reply inbox in the micro error headers.
pub async fn err(
    client: &async_nats::Client,
    request: &async_nats::Message,
    err: &WireError,
) -> Result<(), async_nats::PublishError> {
    match request.reply.clone() {
        Some(reply) => {
            client
                .publish_with_headers(reply, headers(err), bytes::Bytes::new())
                .await
        }
        None => Ok(()),
    }
}

/// The micro error headers for `err`.
pub fn headers(err: &WireError) -> async_nats::HeaderMap {
    let mut h = crate::trace::headers().unwrap_or_default();
    h.insert(NATS_SERVICE_ERROR_CODE, err.code.status().to_string());
    // Header values end at a line break; our messages are one line, but never trust that.
    h.insert(
        NATS_SERVICE_ERROR,
        err.header_text().replace(['\r', '\n'], " "),
    );
    h
}

/// Decodes a request payload, mapping decoder failures to 400/413.
pub fn decode_request<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    codec::decode(payload).map_err(|e| match e {
        DecodeError::TooLarge { .. } => WireError::new(ErrorCode::PayloadTooLarge, e.to_string()),
        _ => WireError::new(ErrorCode::BadRequest, e.to_string()),
    })
}
