//! What a service instance counts, for Prometheus: requests by endpoint and how they ended,
//! their latency, those in flight, how far each view is behind its stream, and when the
//! process started (a restart shows as a new start time and counters from zero).
//!
//! Recorded with the `metrics` facade and rendered in Prometheus' text format by
//! `metrics-exporter-prometheus`. A service opens no port of its own (everything it says, it
//! says on the bus): every instance answers [`subjects::METRICS`] with its text, only into
//! the operator's inbox, and `posfee up` serves what all instances answer over HTTP for a
//! Prometheus server to scrape.

use futures::StreamExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use posfee_client::shutdown::Shutdown;
use posfee_schemas::subjects::{self, Role};
use posfee_schemas::ErrorCode;
use std::sync::OnceLock;
use std::time::Duration;

/// Requests answered, by `endpoint`, `answer` (ok, outcome, refused, failed) and `code`
/// (`OK` or the error code). Every metric also carries `service` and `service_instance`.
pub const REQUESTS: &str = "posfee_requests_total";
/// How long requests took from arrival to answer, by `endpoint`.
pub const REQUEST_SECONDS: &str = "posfee_request_duration_seconds";
/// Requests being handled now, by `endpoint`.
pub const IN_FLIGHT: &str = "posfee_requests_in_flight";
/// The last stream sequence a view applied, by `stream`.
pub const FEED_APPLIED: &str = "posfee_feed_applied_sequence";
/// Messages on a view's stream (of those it follows) not yet delivered to it: its lag.
pub const FEED_PENDING: &str = "posfee_feed_pending_messages";
/// When this process started, in seconds since the epoch (the usual name).
pub const STARTED: &str = "process_start_time_seconds";
/// Times `posfee up` started a process again after it exited, by `process` (a service
/// instance's store folder, or a server node).
pub const RESTARTS: &str = "posfee_restarts_total";

/// The latency buckets, in seconds: a request answered from a view takes a millisecond or
/// two, a settlement waits for a replicated fsync, a node's death costs seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often the histograms' samples are folded into their buckets when nobody scrapes.
const UPKEEP_SECS: u64 = 5;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs this process's recorder, every metric labelled with `service` (its role) and
/// `service_instance` (stable across restarts: the host and the instance's store folder).
/// Once per process; later calls keep the first.
pub fn install(service: &str, instance: &str) -> Option<&'static PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Some(h);
    }
    let built = PrometheusBuilder::new()
        .add_global_label("service", service)
        .add_global_label("service_instance", instance)
        .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_string()), LATENCY_BUCKETS)
        .and_then(|b| b.install_recorder());
    match built {
        Ok(handle) => {
            let handle = HANDLE.get_or_init(|| handle);
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            metrics::gauge!(STARTED).set(started.as_secs_f64());
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed; this process reports none");
            None
        }
    }
}

/// The name an instance's metrics carry: `<host>:<store folder>`.
pub fn instance_name(store_dir: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    let folder = store_dir
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    format!("{host}:{folder}")
}

/// Answers every metrics request from the operator with this process's metrics until
/// shutdown, and keeps the histograms folded in between.
pub async fn answer_scrapes(client: async_nats::Client, shutdown: Shutdown) {
    let Some(handle) = HANDLE.get() else { return };
    let mut requests = match client.subscribe(subjects::METRICS).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for metrics requests");
            return;
        }
    };
    let operator = subjects::inbox_prefix(Role::Operator);
    let mut upkeep = tokio::time::interval(Duration::from_secs(UPKEEP_SECS));
    loop {
        let request = tokio::select! {
            _ = shutdown.wait() => return,
            _ = upkeep.tick() => { handle.run_upkeep(); continue }
            r = requests.next() => match r { Some(r) => r, None => return },
        };
        // Only into the operator's own inbox, as every answer of a service.
        let Some(reply) = request
            .reply
            .filter(|r| subjects::is_reply_for(r, Some(&operator)))
        else {
            continue;
        };
        handle.run_upkeep();
        if let Err(e) = client.publish(reply, handle.render().into()).await {
            tracing::debug!(error = %e, "could not send metrics");
        }
    }
}

/// How a request ended, as [`REQUESTS`] labels it.
fn answer_label(code: Option<ErrorCode>) -> (&'static str, &'static str) {
    match code {
        None => ("ok", "OK"),
        Some(c) if c.is_outcome() => ("outcome", c.name()),
        Some(c) if c.status() < 500 => ("refused", c.name()),
        Some(c) => ("failed", c.name()),
    }
}

/// One request of `endpoint` answered (`code`: `None` for a success) after `took`.
pub fn answered(endpoint: &str, code: Option<ErrorCode>, took: Duration) {
    let (answer, code) = answer_label(code);
    let endpoint = endpoint.to_string();
    metrics::counter!(REQUESTS, "endpoint" => endpoint.clone(), "answer" => answer, "code" => code)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "endpoint" => endpoint).record(took.as_secs_f64());
}

/// A request of `endpoint` began (`delta` 1) or ended (-1).
pub fn in_flight(endpoint: &str, delta: f64) {
    metrics::gauge!(IN_FLIGHT, "endpoint" => endpoint.to_string()).increment(delta);
}

/// `posfee up` started `process` again after it exited.
pub fn restarted(process: &str) {
    metrics::counter!(RESTARTS, "process" => process.to_string()).increment(1);
}

/// This process's metrics in Prometheus' text format (empty before [`install`]).
pub fn render() -> String {
    HANDLE.get().map(|h| h.render()).unwrap_or_default()
}

/// A view following `stream` applied up to `seq`, with `pending` more waiting for it.
pub fn fed(stream: &str, seq: u64, pending: u64) {
    metrics::gauge!(FEED_APPLIED, "stream" => stream.to_string()).set(seq as f64);
    metrics::gauge!(FEED_PENDING, "stream" => stream.to_string()).set(pending as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_falls_in_one_kind() {
        assert_eq!(answer_label(None), ("ok", "OK"));
        assert_eq!(
            answer_label(Some(ErrorCode::NothingOwed)).0,
            "outcome",
            "nothing owed is an answer the payer is shown, not an error"
        );
        assert_eq!(answer_label(Some(ErrorCode::BadRequest)).0, "refused");
        assert_eq!(answer_label(Some(ErrorCode::Unavailable)).0, "failed");
    }
}
