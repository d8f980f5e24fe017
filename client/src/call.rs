//! Typed request/reply between posfee processes.

use posfee_schemas::{codec, DecodeError, WireError};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// Why a call did not produce an answer. `NoResponders` (nobody is serving the subject) is not
/// `TimedOut` (somebody is, but did not answer in time): the first is worth failing fast on,
/// the second worth a retry with the same idempotency key.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no responders on {0}")]
    NoResponders(String),
    #[error("request to {0} timed out")]
    TimedOut(String),
    #[error("payload for {0} is over the server's limit")]
    TooLarge(String),
    #[error(transparent)]
    Remote(#[from] WireError),
    #[error("undecodable reply from {subject}: {source}")]
    Decode {
        subject: String,
        source: DecodeError,
    },
    #[error("request to {subject} failed: {source}")]
    Bus {
        subject: String,
        source: async_nats::RequestError,
    },
    /// The connection could not carry a kiosk-phone request ([`crate::peer::ask`]): a
    /// subscription or publish failed, or the connection closed while waiting.
    #[error("request to {subject} failed: {reason}")]
    Link { subject: String, reason: String },
}

impl CallError {
    /// The wire error, when the other side answered with one.
    pub fn remote(&self) -> Option<&WireError> {
        match self {
            CallError::Remote(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads a micro-service error out of a reply's headers, if it carries one.
pub fn error_from_headers(msg: &async_nats::Message) -> Option<WireError> {
    let headers = msg.headers.as_ref()?;
    let text = headers.get(async_nats::service::NATS_SERVICE_ERROR)?;
    let status: u16 = headers
        .get(async_nats::service::NATS_SERVICE_ERROR_CODE)
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(500);
    Some(WireError::from_header(status, text.as_str()))
}

/// Sends `req` to `subject` and decodes the answer, or the error the service answered with.
///
/// A request whose connection went away while it waited (its server node died) is sent
/// again as soon as the connection is back, on whichever node it found, instead of waiting
/// out its timeout for an answer that cannot come: every posfee request is safe to send
/// twice (idempotency keys, reads). The whole call still ends by its timeout.
pub async fn call<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    req: &Req,
    timeout: Option<Duration>,
) -> Result<Rep, CallError> {
    call_with(client, subject, req, timeout, None).await
}

/// How long a request on the payment path waits for its answer before [`call_resending`]
/// sends it again (then twice as long before each next copy). An answer takes tens of
/// milliseconds; this is what a service instance that dies holding a request costs its asker,
/// kept under a second.
pub const RESEND_AFTER_MS: u64 = 750;

/// [`call`] for the payment path: a request not answered within [`RESEND_AFTER_MS`] is sent
/// again (then after twice as long each time), the copies racing the first for the one
/// answer, until the timeout. The service instance that took a request may have died with
/// its server node while the asker's own connection stayed up: nobody tells the asker, and
/// another instance answers the copy. Only for requests that are quick to serve and safe to
/// serve twice (an idempotency key, a payment id): a slow one would be served again and again.
pub async fn call_resending<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    req: &Req,
    timeout: Option<Duration>,
) -> Result<Rep, CallError> {
    let resend = Duration::from_millis(RESEND_AFTER_MS);
    call_with(client, subject, req, timeout, Some(resend)).await
}

async fn call_with<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    req: &Req,
    timeout: Option<Duration>,
    resend: Option<Duration>,
) -> Result<Rep, CallError> {
    let payload: bytes::Bytes = codec::encode(req).into();
    let limit = timeout.unwrap_or(Duration::from_millis(
        crate::bus::DEFAULT_REQUEST_TIMEOUT_MS,
    ));
    let deadline = tokio::time::Instant::now() + limit;
    let msg = ask(client, &subject, payload, deadline, resend).await?;
    if let Some(err) = error_from_headers(&msg) {
        return Err(CallError::Remote(err));
    }
    codec::decode(&msg.payload).map_err(|source| CallError::Decode { subject, source })
}

/// The first answer to `payload` on `subject` before `deadline`: sent once, again whenever
/// the connection comes back, and, with `resend`, again after each wait (doubling) without
/// an answer. Copies race; the first answer (or refusal) wins.
async fn ask(
    client: &async_nats::Client,
    subject: &str,
    payload: bytes::Bytes,
    deadline: tokio::time::Instant,
    resend: Option<Duration>,
) -> Result<async_nats::Message, CallError> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let send = || {
        let (client, subject, payload) = (client.clone(), subject.to_string(), payload.clone());
        async move {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut request = async_nats::Request::new()
                .payload(payload)
                .timeout(Some(left));
            if let Some(h) = crate::trace::headers() {
                request = request.headers(h);
            }
            client.send_request(subject, request).await
        }
    };
    let mut pending = FuturesUnordered::new();
    pending.push(Box::pin(send()));
    let mut wait = resend;
    let mut next_copy = wait.map(|w| tokio::time::Instant::now() + w);
    let mut back = Box::pin(reconnected(client));
    loop {
        let copy_due = next_copy.filter(|at| *at < deadline);
        tokio::select! {
            Some(answer) = pending.next() => match answer {
                // One copy ran out of time; another may still be answered.
                Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut && !pending.is_empty() => {}
                answer => return answer.map_err(|e| request_error(subject, e)),
            },
            () = async { tokio::time::sleep_until(copy_due.unwrap_or(deadline)).await }, if copy_due.is_some() => {
                tracing::debug!(%subject, "no answer yet: sending a copy");
                pending.push(Box::pin(send()));
                wait = wait.map(|w| w * 2);
                next_copy = wait.map(|w| tokio::time::Instant::now() + w);
            }
            () = &mut back => {
                tracing::debug!(%subject, "the connection came back: asking again");
                pending.push(Box::pin(send()));
                back = Box::pin(reconnected(client));
            }
        }
    }
}

fn request_error(subject: &str, source: async_nats::RequestError) -> CallError {
    match source.kind() {
        async_nats::RequestErrorKind::NoResponders => CallError::NoResponders(subject.into()),
        async_nats::RequestErrorKind::TimedOut => CallError::TimedOut(subject.into()),
        async_nats::RequestErrorKind::MaxPayloadExceeded => CallError::TooLarge(subject.into()),
        _ => CallError::Bus {
            subject: subject.into(),
            source,
        },
    }
}

/// How often a waiting request looks whether its connection went away and came back.
const CONNECTION_LOOK_MS: u64 = 100;

/// Resolves once the connection has been away and is back (the client connected again): a
/// request sent before may have been lost with its server node. Never resolves while the
/// connection stays up.
async fn reconnected(client: &async_nats::Client) {
    use std::sync::atomic::Ordering;
    let stats = client.statistics();
    let connects = stats.connects.load(Ordering::Relaxed);
    let mut look = tokio::time::interval(Duration::from_millis(CONNECTION_LOOK_MS));
    look.tick().await;
    loop {
        look.tick().await;
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        if connected && stats.connects.load(Ordering::Relaxed) != connects {
            return;
        }
    }
}

/// How long [`call_fresh`] keeps asking while nobody is listening yet.
pub const FRESH_INTEREST_MS: u64 = 2_000;

/// [`call`] to a subscriber that may have only just appeared: a pairing's or a wallet's
/// short-lived inbox. On a cluster, a subscription made on one node reaches the other nodes
/// a moment later, and until then a request from a client on another node finds "no
/// responders". So that answer is asked again, with growing pauses, for up to
/// [`FRESH_INTEREST_MS`] before it is believed.
pub async fn call_fresh<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    req: &Req,
    timeout: Option<Duration>,
) -> Result<Rep, CallError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(FRESH_INTEREST_MS);
    let mut pause = Duration::from_millis(5);
    loop {
        match call(client, subject.clone(), req, timeout).await {
            Err(CallError::NoResponders(s)) => {
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(CallError::NoResponders(s));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// [`call`] whose answer comes on `reply`, a subject the caller may subscribe, instead of the
/// connection's inbox: a kiosk and a phone answer each other on their pairing subjects
/// ([`crate::peer`]), and a key's status is answered on the key's own status inbox
/// ([`crate::bus::key_status`]). "No responders" comes back on `reply` too.
pub async fn call_via<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    reply: String,
    req: &Req,
    timeout: Duration,
) -> Result<Rep, CallError> {
    use futures::StreamExt;
    let link = |e: &dyn std::fmt::Display| CallError::Link {
        subject: subject.clone(),
        reason: e.to_string(),
    };
    let mut answers = client
        .subscribe(reply.clone())
        .await
        .map_err(|e| link(&e))?;
    let payload = codec::encode(req).into();
    match crate::trace::headers() {
        Some(h) => {
            client
                .publish_with_reply_and_headers(subject.clone(), reply, h, payload)
                .await
        }
        None => {
            client
                .publish_with_reply(subject.clone(), reply, payload)
                .await
        }
    }
    .map_err(|e| link(&e))?;
    let got = tokio::time::timeout(timeout, answers.next()).await;
    let _ = answers.unsubscribe().await;
    let msg = match got {
        Err(_) => return Err(CallError::TimedOut(subject)),
        Ok(None) => return Err(link(&"the connection closed")),
        Ok(Some(msg)) => msg,
    };
    if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
        return Err(CallError::NoResponders(subject));
    }
    // A kiosk's answer to a phone's join carries the payment's trace.
    crate::trace::adopt(msg.headers.as_ref());
    if let Some(err) = error_from_headers(&msg) {
        return Err(CallError::Remote(err));
    }
    codec::decode(&msg.payload).map_err(|source| CallError::Decode { subject, source })
}
