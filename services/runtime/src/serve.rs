//! Serving a NATS micro service: bounded concurrency, stable error codes, drain on shutdown.
//!
//! A service lists its endpoints; each request is decoded and handled by the endpoint's
//! operation and answered with `request.respond`, so `$SRV.PING/INFO/STATS` and the error
//! headers come from async-nats. A payload that does not decode gets a 400 with the decoder's
//! reason and never reaches the operation.

use crate::limit::{Limiter, Rate};
use async_nats::service::{Service, ServiceExt};
use futures::StreamExt;
pub use posfee_client::reply::decode_request;
use posfee_client::shutdown::Shutdown;
use posfee_client::trace::TraceContext;
use posfee_schemas::{codec, subjects, ErrorCode, WireError};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Requests one endpoint handles at once; more wait in the subscription's buffer, which
/// async-nats bounds in turn.
pub const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 256;
/// How long shutdown waits for in-flight requests before giving up on them.
pub const DRAIN_TIMEOUT_MS: u64 = 10_000;
/// How long deregistering and the final flush may take on the way out.
pub const STOP_TIMEOUT_MS: u64 = 2_000;
/// How long a new service waits for its own `$SRV.PING` to come back through the server.
pub const READY_TIMEOUT_MS: u64 = 5_000;
/// Requests per second one kiosk, phone, clerk or key may make of one service, whatever
/// they ask, unless configured otherwise (thirty seconds' worth at once): a kiosk serving a
/// payer asks a few a minute; a stolen one cannot keep a service busy or fill the stream with
/// reports.
pub const DEFAULT_EDGE_REQUESTS_PER_SEC: f64 = 10.0;

/// What a handler returns: the encoded answer or a wire error.
pub type Handled = Result<Vec<u8>, WireError>;

/// Encodes a successful answer.
pub fn reply_ok<T: Serialize>(value: &T) -> Handled {
    Ok(codec::encode(value))
}

/// An error answer.
pub fn reply_err(code: ErrorCode, message: impl Into<String>) -> Handled {
    Err(WireError::new(code, message))
}

/// 500: something inside this service failed (its store, a bug). The detail goes to the log,
/// in the request's span; the caller learns only that asking again may help. Every service's
/// handlers map their own failures through this one.
pub fn internal(e: impl std::fmt::Display) -> WireError {
    tracing::error!(error = %format!("{e:#}"), "internal error");
    WireError::new(
        ErrorCode::Internal,
        "the service failed inside while answering; try again",
    )
}

/// 503: something this service needs (a bucket, the key directory) cannot be reached now;
/// `doing` says what it was doing.
pub fn unavailable(doing: &str, e: impl std::fmt::Display) -> WireError {
    tracing::warn!(error = %e, doing, "unavailable");
    WireError::new(ErrorCode::Unavailable, format!("{doing}: {e}; try again"))
}

/// A micro service's identity.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The micro service name, e.g. `posfee-ledger`.
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
}

/// How one endpoint's requests ended, as `$SRV.STATS` carries them in each endpoint's `data`
/// (the micro service's own `num_errors` counts an ordinary outcome like "nothing owed" as an
/// error): outcomes the payer or kiosk is shown as results ([`ErrorCode::is_outcome`]),
/// other refusals (4xx, the asker's to fix), and failures (5xx, the system's).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnswerCounts {
    pub outcomes: u64,
    pub refused: u64,
    pub failed: u64,
}

/// Every endpoint's [`AnswerCounts`] of one service.
#[derive(Debug, Default)]
pub struct Answers(std::sync::Mutex<std::collections::HashMap<String, AnswerCounts>>);

impl Answers {
    fn note(&self, endpoint: &str, code: ErrorCode) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let c = map.entry(endpoint.to_string()).or_default();
        match code {
            c2 if c2.is_outcome() => c.outcomes += 1,
            c2 if c2.status() < 500 => c.refused += 1,
            _ => c.failed += 1,
        }
    }

    pub fn of(&self, endpoint: &str) -> AnswerCounts {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(endpoint).copied().unwrap_or_default()
    }
}

/// Registers the micro service in the `posfee` queue group and returns it once a round trip
/// through the server proves it reachable (a subscription flushed is not yet a subscription
/// the server routes to). Its stats carry `answers`.
pub async fn start(
    client: &async_nats::Client,
    spec: &ServiceSpec,
    answers: Arc<Answers>,
) -> anyhow::Result<Service> {
    let service = client
        .service_builder()
        .description(spec.description)
        .queue_group(subjects::QUEUE_GROUP)
        .stats_handler(move |endpoint, _| {
            serde_json::to_value(answers.of(&endpoint)).unwrap_or_default()
        })
        .start(spec.name, spec.version)
        .await
        .map_err(|e| anyhow::anyhow!("starting service {}: {e}", spec.name))?;
    Ok(service)
}

/// Waits until the service answers its own `$SRV.PING.<name>.<id>` through the server.
pub async fn await_ready(client: &async_nats::Client, service: &Service) -> anyhow::Result<()> {
    let info = service.info().await;
    let subject = format!("{}.{}", subjects::srv::ping_service(&info.name), info.id);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
    loop {
        match client.request(subject.clone(), bytes::Bytes::new()).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "service not routed yet");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => anyhow::bail!("service {} never answered its own ping: {e}", info.name),
        }
    }
}

/// How many instances of service `name` answer one `$SRV.PING.<name>` within half a second,
/// told apart by their ids; it stops listening once `want` have answered. A start-up waits
/// until every instance it started answers, not only the first.
pub async fn instances_answering(
    client: &async_nats::Client,
    name: &str,
    want: usize,
) -> anyhow::Result<usize> {
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(
            subjects::srv::ping_service(name),
            inbox,
            bytes::Bytes::new(),
        )
        .await?;
    let mut seen = std::collections::HashSet::new();
    let until = tokio::time::Instant::now() + Duration::from_millis(500);
    while seen.len() < want {
        match tokio::time::timeout_at(until, answers.next()).await {
            // The server's "no responders" status has no payload: nobody answered yet.
            Ok(Some(m)) => match serde_json::from_slice::<serde_json::Value>(&m.payload) {
                Ok(ping) => {
                    seen.insert(ping["id"].to_string());
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    Ok(seen.len())
}

/// The span a request runs in, so one payment can be followed across processes in the logs:
/// service, endpoint and subject from the start; caller, bill and payment once the operation
/// knows them ([`record`]).
fn request_span(service: &str, endpoint: &str, subject: &str, trace: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        service,
        endpoint,
        subject,
        // Bare, as every process logs it, so one search finds the payment everywhere.
        trace = %trace,
        caller = tracing::field::Empty,
        bill = tracing::field::Empty,
        payment = tracing::field::Empty,
    )
}

/// What a request's span can learn from its operation.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The terminal, phone or role that asked, as the subject or the signed body names it.
    Caller,
    Bill,
    Payment,
}

/// Records `value` on the current request's span.
pub fn record(field: Field, value: &dyn std::fmt::Display) {
    let name = match field {
        Field::Caller => "caller",
        Field::Bill => "bill",
        Field::Payment => "payment",
    };
    tracing::Span::current().record(name, tracing::field::display(value));
}

/// Serves one endpoint until shutdown: at most `max_in_flight` handlers run at once, each
/// request gets exactly one answer, and on shutdown the endpoint stops taking requests and
/// waits for those in flight. Each request runs in its own span ([`request_span`]).
pub async fn serve_endpoint<H, Fut>(
    mut endpoint: async_nats::service::endpoint::Endpoint,
    names: (&'static str, String),
    (max_in_flight, edges, answers): (usize, Option<Arc<Limiter>>, Arc<Answers>),
    shutdown: Shutdown,
    handler: H,
) where
    H: Fn(async_nats::Message) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Handled> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut tasks = JoinSet::new();
    loop {
        let request = tokio::select! {
            _ = shutdown.wait() => break,
            r = endpoint.next() => match r { Some(r) => r, None => break },
        };
        // A request without a reply subject cannot be answered; acting on it would change
        // state the sender can never learn about, so it is dropped unprocessed. So is one whose
        // reply subject is not the asker's own inbox: the server lets a responder publish on
        // any reply subject, so a caller could otherwise aim the answer at a subject of its
        // choosing (another kiosk's receipts, the ledger's settle, the event stream).
        let asker = subjects::inbox_of(&request.message.subject);
        match &request.message.reply {
            None => {
                tracing::warn!(subject = %request.message.subject, "request without reply subject dropped");
                continue;
            }
            Some(reply) if !subjects::answers_asker(&request.message.subject, reply) => {
                tracing::warn!(subject = %request.message.subject, reply = %reply, "request whose reply is not the asker's inbox dropped");
                continue;
            }
            Some(_) => {}
        }
        if let (Some(limit), Some(edge)) = (&edges, asker.as_deref().filter(|a| is_edge(a))) {
            if !limit.allow(edge) {
                let e = WireError::new(
                    ErrorCode::RateLimited,
                    "too many requests from this kiosk or phone; wait a few seconds and ask again",
                );
                answers.note(&names.1, e.code);
                crate::metrics::answered(&names.1, Some(e.code), Duration::ZERO);
                let answer = Err(async_nats::service::error::Error {
                    status: e.header_text(),
                    code: usize::from(e.code.status()),
                });
                if let Err(e) = request.respond(answer).await {
                    tracing::warn!(error = %e, "could not send answer");
                }
                continue;
            }
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let handler = handler.clone();
        let (answers, endpoint_name) = (answers.clone(), names.1.clone());
        // In the trace the request carries (a new one if none): what the handler asks in
        // turn carries it on.
        let sent = TraceContext::of(request.message.headers.as_ref());
        let trace = sent.map(|t| t.child()).unwrap_or_else(TraceContext::root);
        let span = request_span(
            names.0,
            &names.1,
            &request.message.subject,
            &trace.trace_id(),
        );
        crate::telemetry::in_trace(&span, &sent.unwrap_or(trace));
        tasks.spawn(tracing::Instrument::instrument(async move {
            let started = std::time::Instant::now();
            crate::metrics::in_flight(&endpoint_name, 1.0);
            let result = posfee_client::trace::scope(Some(trace), handler(request.message.clone())).await;
            tracing::debug!(
                code = result.as_ref().err().map_or("OK", |e| e.code.name()),
                micros = started.elapsed().as_micros() as u64,
                "answered"
            );
            crate::metrics::answered(
                &endpoint_name,
                result.as_ref().err().map(|e| e.code),
                started.elapsed(),
            );
            crate::metrics::in_flight(&endpoint_name, -1.0);
            let answer = match result {
                // An answer the caller would refuse to decode is a bug in the page bounds;
                // say so instead of sending it.
                Ok(bytes) if bytes.len() > posfee_schemas::MAX_PAYLOAD_BYTES => {
                    tracing::error!(bytes = bytes.len(), "answer over the payload limit");
                    Err(async_nats::service::error::Error {
                        status: WireError::new(ErrorCode::Internal, "the answer is over the payload limit").header_text(),
                        code: 500,
                    })
                }
                Ok(bytes) => Ok(bytes.into()),
                Err(e) => {
                    answers.note(&endpoint_name, e.code);
                    if e.code.status() >= 500 {
                        tracing::error!(code = e.code.name(), message = %e.message, "request failed");
                    } else {
                        tracing::debug!(code = e.code.name(), message = %e.message, "request refused");
                    }
                    Err(async_nats::service::error::Error {
                        status: e.header_text(),
                        code: usize::from(e.code.status()),
                    })
                }
            };
            if let Err(e) = request.respond(answer).await {
                tracing::warn!(error = %e, "could not send answer");
            }
            drop(permit);
        }, span));
        // Reap finished tasks so the set stays as small as the in-flight bound.
        while tasks.try_join_next().is_some() {}
    }
    let _ = endpoint.stop().await;
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_millis(DRAIN_TIMEOUT_MS), drain)
        .await
        .is_err()
    {
        tracing::warn!("drain timed out; abandoning in-flight requests");
    }
}

/// Adds an endpoint on `subject` with a short name for `$SRV.INFO`.
pub async fn add_endpoint(
    service: &Service,
    name: &str,
    subject: String,
) -> anyhow::Result<async_nats::service::endpoint::Endpoint> {
    service
        .endpoint_builder()
        .name(name)
        .add(subject.clone())
        .await
        .map_err(|e| anyhow::anyhow!("adding endpoint {subject}: {e}"))
}

type BoxHandler =
    Arc<dyn Fn(async_nats::Message) -> futures::future::BoxFuture<'static, Handled> + Send + Sync>;

/// Whether an asker's inbox is a kiosk's, phone's, clerk's or key's (not a service's or
/// tool's).
fn is_edge(inbox: &str) -> bool {
    ["terminal", "device", "clerk", "key"].iter().any(|kind| {
        inbox
            .strip_prefix("_INBOX.")
            .is_some_and(|r| r.starts_with(&format!("{kind}.")))
    })
}

/// A service's endpoints: name (for `$SRV.INFO`), subject and operation, and how often one
/// kiosk, phone, clerk or key may ask any of them.
#[derive(Default)]
pub struct Endpoints {
    list: Vec<(String, String, BoxHandler)>,
    edges: Option<Arc<Limiter>>,
}

impl Endpoints {
    pub fn new() -> Self {
        Self::default()
    }

    /// One budget per kiosk, phone, clerk or key across every endpoint: past it, a request
    /// is answered `429 RATE_LIMITED` without reaching its operation.
    pub fn limit_edges(mut self, rate: Rate) -> Self {
        self.edges = Some(Arc::new(Limiter::new(rate)));
        self
    }

    pub fn add<H, Fut>(mut self, name: &str, subject: String, handler: H) -> Self
    where
        H: Fn(async_nats::Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Handled> + Send + 'static,
    {
        let h: BoxHandler = Arc::new(move |m| Box::pin(handler(m)));
        self.list.push((name.to_string(), subject, h));
        self
    }
}

/// How every service's `run` ends: serves `endpoints` until shutdown (a signal, or the
/// launcher closing stdin), then stops the service's background tasks and flushes its store.
pub async fn run_to_the_end(
    client: &async_nats::Client,
    spec: &ServiceSpec,
    endpoints: Endpoints,
    (shutdown, tasks, db): (Shutdown, crate::tasks::Tasks, &posfee_store::Db),
) -> anyhow::Result<()> {
    let served = run(client, spec, endpoints, shutdown.clone()).await;
    shutdown.trigger();
    tasks.join().await;
    posfee_store::flush(db).await?;
    crate::telemetry::shutdown();
    served
}

/// Registers the service and its endpoints, announces readiness once its own ping has come
/// back through the server, serves until shutdown, then drains and deregisters.
pub async fn run(
    client: &async_nats::Client,
    spec: &ServiceSpec,
    mut endpoints: Endpoints,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let answers = Arc::new(Answers::default());
    let service = start(client, spec, answers.clone()).await?;
    let mut serving = JoinSet::new();
    for (name, subject, handler) in std::mem::take(&mut endpoints.list) {
        let endpoint = add_endpoint(&service, &name, subject).await?;
        let shutdown = shutdown.clone();
        serving.spawn(serve_endpoint(
            endpoint,
            (spec.name, name),
            (
                MAX_IN_FLIGHT_PER_ENDPOINT,
                endpoints.edges.clone(),
                answers.clone(),
            ),
            shutdown,
            move |m| handler(m),
        ));
    }
    await_ready(client, &service).await?;
    tracing::info!(service = spec.name, version = spec.version, "ready");
    shutdown.wait().await;
    while serving.join_next().await.is_some() {}
    // With the server gone these would wait for a reconnect that may never come.
    let stop = Duration::from_millis(STOP_TIMEOUT_MS);
    if let Ok(Err(e)) = tokio::time::timeout(stop, service.stop()).await {
        tracing::warn!(error = %e, "deregistering service");
    }
    let _ = tokio::time::timeout(stop, client.flush()).await;
    tracing::info!(service = spec.name, "stopped");
    Ok(())
}
