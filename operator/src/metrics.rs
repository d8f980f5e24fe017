//! The system's metrics over HTTP, for a Prometheus server: `posfee up` serves them on a
//! loopback port (`--metrics-port`, recorded in `<data-dir>/run/metrics.url`).
//!
//! No service opens a port of its own; each instance answers the operator's request on the
//! bus with its metrics (`posfee_runtime::metrics`), wherever it runs. A scrape asks them
//! all and joins their answers into one exposition, each family once, every sample labelled
//! with its `service` and `service_instance`: `/metrics` is every service and `posfee up`
//! itself (its restarts), `/metrics/<service>` one service's instances.

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use posfee_schemas::subjects::{self, ServiceName};
use std::time::Duration;

/// How long a scrape waits for the first instance's answer, and then for each next one.
const FIRST_ANSWER_MS: u64 = 2_000;
const NEXT_ANSWER_MS: u64 = 200;
/// The content type of Prometheus' text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What every instance of every service answers now, each answer one instance's text.
pub async fn ask_all(client: &async_nats::Client) -> anyhow::Result<Vec<String>> {
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subjects::METRICS, inbox, bytes::Bytes::new())
        .await?;
    client.flush().await?;
    let mut texts = Vec::new();
    let mut wait = Duration::from_millis(FIRST_ANSWER_MS);
    while let Ok(Some(m)) = tokio::time::timeout(wait, answers.next()).await {
        // The server's "no responders" status has no payload.
        if m.payload.is_empty() {
            break;
        }
        texts.push(String::from_utf8_lossy(&m.payload).into_owned());
        wait = Duration::from_millis(NEXT_ANSWER_MS);
    }
    Ok(texts)
}

/// One metric family of an exposition: its comment lines and its samples.
#[derive(Default)]
struct Family {
    comments: Vec<String>,
    samples: Vec<String>,
}

/// The family a sample line belongs to: its name, less a histogram's or summary's suffix
/// when that family was declared.
fn family_of<'a>(sample: &'a str, declared: &[(String, Family)]) -> &'a str {
    let name = sample.split(['{', ' ']).next().unwrap_or(sample);
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if declared.iter().any(|(n, _)| n == base) {
                return base;
            }
        }
    }
    name
}

/// Joins several expositions into one in which each family appears once (its `# HELP` and
/// `# TYPE` from the first that has them, then every sample of it), as the text format asks.
pub fn join(texts: &[String]) -> String {
    let mut families: Vec<(String, Family)> = Vec::new();
    let index = |families: &mut Vec<(String, Family)>, name: &str| match families
        .iter()
        .position(|(n, _)| n == name)
    {
        Some(i) => i,
        None => {
            families.push((name.to_string(), Family::default()));
            families.len() - 1
        }
    };
    for text in texts {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                let name = rest.split(' ').next().unwrap_or(rest);
                let i = index(&mut families, name);
                let kind = &line[..6];
                if !families[i].1.comments.iter().any(|c| c.starts_with(kind)) {
                    families[i].1.comments.push(line.to_string());
                }
            } else if !line.starts_with('#') {
                let name = family_of(line, &families).to_string();
                let i = index(&mut families, &name);
                families[i].1.samples.push(line.to_string());
            }
        }
    }
    let mut out = String::new();
    for (_, f) in families {
        for line in f.comments.iter().chain(&f.samples) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Whether an instance's exposition is `service`'s (its samples carry the label).
fn is_of(text: &str, service: &str) -> bool {
    text.contains(&format!("service=\"{service}\""))
}

/// The HTTP server of the metrics, running until [`crate::web::Served::stop`].
pub async fn serve(client: async_nats::Client, port: u16) -> anyhow::Result<crate::web::Served> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("opening the metrics port {port} on 127.0.0.1"))?;
    let app = Router::new()
        .route("/metrics", get(all))
        .route("/metrics/{service}", get(one))
        .with_state(client);
    crate::web::spawn("metrics", listener, app)
}

async fn all(State(client): State<async_nats::Client>) -> axum::response::Response {
    match ask_all(&client).await {
        Ok(mut texts) => {
            texts.push(posfee_runtime::metrics::render());
            exposition(&texts)
        }
        Err(e) => unreachable_bus(e),
    }
}

async fn one(
    State(client): State<async_nats::Client>,
    Path(service): Path<String>,
) -> axum::response::Response {
    let names: Vec<&str> = ServiceName::ALL.iter().map(|s| s.role().as_str()).collect();
    if !names.contains(&service.as_str()) {
        let body = format!(
            "no service is called {service:?}; one of: {}\n",
            names.join(", ")
        );
        return (StatusCode::NOT_FOUND, body).into_response();
    }
    match ask_all(&client).await {
        Ok(texts) => {
            let texts: Vec<String> = texts.into_iter().filter(|t| is_of(t, &service)).collect();
            exposition(&texts)
        }
        Err(e) => unreachable_bus(e),
    }
}

fn exposition(texts: &[String]) -> axum::response::Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], join(texts)).into_response()
}

fn unreachable_bus(e: anyhow::Error) -> axum::response::Response {
    let body = format!("cannot ask the services for their metrics: {e:#}\n");
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_join_into_one_family_each() {
        let a = "# TYPE posfee_requests_total counter\nposfee_requests_total{service=\"ledger\",service_instance=\"h:ledger\"} 3\n\n# TYPE posfee_request_duration_seconds histogram\nposfee_request_duration_seconds_bucket{le=\"0.001\"} 1\nposfee_request_duration_seconds_sum 0.1\nposfee_request_duration_seconds_count 3\n".to_string();
        let b = "# TYPE posfee_requests_total counter\nposfee_requests_total{service=\"ledger\",service_instance=\"h:ledger-2\"} 4\n\n# TYPE posfee_request_duration_seconds histogram\nposfee_request_duration_seconds_bucket{le=\"0.001\"} 2\nposfee_request_duration_seconds_sum 0.2\nposfee_request_duration_seconds_count 4\n".to_string();
        let joined = join(&[a, b]);
        assert_eq!(
            joined
                .matches("# TYPE posfee_requests_total counter")
                .count(),
            1,
            "{joined}"
        );
        assert_eq!(
            joined
                .matches("# TYPE posfee_request_duration_seconds histogram")
                .count(),
            1
        );
        let lines: Vec<&str> = joined.lines().collect();
        let requests = lines
            .iter()
            .position(|l| l.starts_with("# TYPE posfee_requests_total"))
            .unwrap_or(usize::MAX);
        assert!(lines[requests + 1].ends_with(" 3") && lines[requests + 2].ends_with(" 4"));
        let histogram = lines
            .iter()
            .position(|l| l.starts_with("# TYPE posfee_request_duration_seconds"))
            .unwrap_or(usize::MAX);
        assert_eq!(
            lines.len() - histogram - 1,
            6,
            "every bucket, sum and count under the one TYPE line: {joined}"
        );
    }
}
