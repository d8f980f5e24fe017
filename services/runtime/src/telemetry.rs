//! Logging set-up for binaries, and span export over OTLP when configured. Logs carry ids and
//! codes, never payer data.
//!
//! Spans are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set, over
//! OTLP/HTTP with protobuf, batched, named by the service (`service.name`). Each request's span
//! is in the payment's trace: its parent is the span that sent the request, as its
//! `traceparent` header names it ([`in_trace`]), and what the handler sends in turn names the
//! handler's span as its parent. Without the variable nothing is exported and the trace id
//! is only logged.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry::KeyValue;
use posfee_client::trace::TraceContext;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();

/// Whether spans are to be exported: an OTLP endpoint is configured.
fn exporting() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|e| !e.trim().is_empty()))
}

/// Structured logs to stderr, level from `RUST_LOG` (default `info`); spans exported over
/// OTLP as `service` when an endpoint is configured.
pub fn init(service: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,async_nats=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let otel = exporting().then(|| tracer(service)).flatten();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel.map(|t| tracing_opentelemetry::layer().with_tracer(t)))
        .try_init();
}

/// The tracer that exports `service`'s spans, if the exporter can be built.
fn tracer(service: &str) -> Option<opentelemetry_sdk::trace::Tracer> {
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("spans are not exported: the OTLP exporter failed to start: {e}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_string())
        .with_attribute(KeyValue::new("service.namespace", "posfee"))
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("posfee");
    let _ = PROVIDER.set(provider);
    posfee_client::trace::use_span_ids(current_span_id);
    Some(tracer)
}

/// The current span's exported id, so a message sent now names it as its parent.
fn current_span_id() -> Option<[u8; 8]> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let id = span.span_context().span_id();
    (id != SpanId::INVALID).then(|| id.to_bytes())
}

/// Puts `span` in `trace`, under the span that sent the request (when spans are exported).
pub fn in_trace(span: &tracing::Span, trace: &TraceContext) {
    if PROVIDER.get().is_none() {
        return;
    }
    let parent = SpanContext::new(
        TraceId::from_bytes(trace.trace_id_bytes()),
        SpanId::from_bytes(trace.span_id_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(parent);
    let _ = span.set_parent(cx);
}

/// Sends the spans not yet exported, before the process ends.
pub fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.force_flush();
        let _ = p.shutdown();
    }
}
