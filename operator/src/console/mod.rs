//! The operator's console in the browser, which `posfee up` serves on a port of its own: the
//! built files of `operator/console` (its `dist/`) and a JSON API over the same views the
//! commands print (events, kiosks, a day's totals, reconcile, statements), answered with the
//! operator's bus connection. Only a signed-in operator gets data ([`session`]).
//!
//! Its own origin, apart from the phone's app: the phone app keeps payers' keys in its
//! origin's storage, and the console's session cookie has no business there.

pub mod alerts;
pub mod api;
pub mod session;

use crate::web::{security_headers, spawn, Served};
use anyhow::Context;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono_tz::Tz;
use posfee_client::keydir::KeyDirectory;
use posfee_schemas::ids::TenantId;
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The console's Content-Security-Policy: everything from this origin only; charts draw on
/// canvases, tables style their cells from script (CSSOM, not inline style attributes).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// A biller as the console names it.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub time_zone: String,
    #[serde(skip)]
    pub tz: Tz,
}

/// What the console's handlers share.
pub struct Console {
    pub client: async_nats::Client,
    pub keys: KeyDirectory,
    pub tenants: Vec<Tenant>,
    /// The operator's public key (`U…`): the one key that signs in.
    pub operator_key: String,
    sessions: Mutex<session::Sessions>,
    error_rates: Mutex<alerts::ErrorRates>,
    /// The last alerts checked, and when.
    last_alerts: tokio::sync::Mutex<Option<(std::time::Instant, api::Alerts)>>,
}

impl Console {
    pub fn new(
        client: async_nats::Client,
        keys: KeyDirectory,
        tenants: Vec<Tenant>,
        operator_key: String,
    ) -> Console {
        Console {
            client,
            keys,
            tenants,
            operator_key,
            sessions: Mutex::default(),
            error_rates: Mutex::default(),
            last_alerts: tokio::sync::Mutex::new(None),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, session::Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error_rates(&self) -> MutexGuard<'_, alerts::ErrorRates> {
        self.error_rates.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every refusal and failure of the API: what went wrong, which field, and what to do.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    pub reason: String,
    pub next: String,
}

impl ApiError {
    pub fn refused(
        code: &'static str,
        field: &'static str,
        reason: impl Into<String>,
        next: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            field: Some(field),
            reason: reason.into(),
            next: next.into(),
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "SIGN_IN",
            field: None,
            reason: "not signed in, or the session ended".into(),
            next: "sign in with the operator's key".into(),
        }
    }

    /// The system did not answer as it should: worth trying again.
    pub fn unavailable(e: anyhow::Error) -> ApiError {
        tracing::warn!(error = %format!("{e:#}"), "a console request failed");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "UNAVAILABLE",
            field: None,
            reason: format!("{e:#}"),
            next: "try again in a moment; `posfee status` shows what runs".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

/// Serves the console from `dist` on 127.0.0.1:`port` (0 picks a free port).
pub async fn serve(console: Console, dist: &Path, port: u16) -> anyhow::Result<Served> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("opening the console's HTTP port {port} on 127.0.0.1"))?;
    let mut app = router(Arc::new(console)).fallback_service(ServeDir::new(dist));
    for (name, value) in security_headers(CSP)? {
        app = app.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    spawn("the operator console", listener, app)
}

fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/api/challenge", get(session::challenge))
        .route("/api/session", post(session::sign_in))
        .route("/api/sign-out", post(session::sign_out))
        .route("/api/overview", get(api::overview))
        .route("/api/events", get(api::events))
        .route("/api/kiosks", get(api::kiosks))
        .route("/api/collections", get(api::collections))
        .route("/api/alerts", get(api::alerts))
        .route("/api/statement", get(api::statement))
        .with_state(console)
}
