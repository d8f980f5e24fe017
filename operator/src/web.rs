//! The phone's web app, served by `posfee up`: the built files of `companion/web` (its `dist/`)
//! and `/config.json`, which tells the app where the server's WebSocket listener is and which
//! root key to pin. Every answer carries a strict Content-Security-Policy (scripts, styles and
//! everything else from this origin only; connections only to it and the WebSocket listener;
//! never framed) and `nosniff`: the app keeps the payer's keys and identity in the origin's
//! storage, so nothing foreign may run there.
//!
//! axum with tower-http's `ServeDir`: the launcher already runs on tokio, and `ServeDir`
//! gets the details of static files right (no path escapes the folder, content types,
//! conditional requests, `index.html` for folders), which hand-written serving would not.

use anyhow::Context;
use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// What the app reads at start: where to connect, and the root to pin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppConfig {
    pub ws_url: String,
    /// The system's root key (`O…`), which the app pins the first time it sees one.
    pub root_key: String,
}

/// The Content-Security-Policy of everything served: this origin only, plus the WebSocket
/// listener at `ws_url` for the bus; images also from `data:` and `blob:` (QR codes, receipt
/// images); no plugins, no framing, no form posts elsewhere.
pub fn content_security_policy(ws_url: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self' {ws_url}; worker-src 'self'; manifest-src 'self'; media-src 'self' blob:; \
         object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The headers every answer carries, with its Content-Security-Policy.
pub fn security_headers(csp: &str) -> anyhow::Result<Vec<(HeaderName, HeaderValue)>> {
    Ok(vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(csp).context("the Content-Security-Policy")?,
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ])
}

/// An HTTP server `posfee up` runs (the phone's app, the metrics), until [`Served::stop`] or
/// Drop.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Serves `app` on `listener` in a task of its own; `what` names it in the log.
pub fn spawn(what: &'static str, listener: TcpListener, app: Router) -> anyhow::Result<Served> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, what, "an HTTP server stopped");
        }
    });
    Ok(Served {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

impl Served {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The web app's HTTP server and the folder it serves.
pub struct WebApp {
    pub served: Served,
    pub dist: PathBuf,
}

/// Whether `dist` holds a built app.
pub fn is_built(dist: &Path) -> bool {
    dist.join("index.html").is_file()
}

/// Serves `dist` and `/config.json` on 127.0.0.1:`port` (0 picks a free port).
pub async fn serve(dist: &Path, config: AppConfig, port: u16) -> anyhow::Result<WebApp> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("opening the phone app's HTTP port {port} on 127.0.0.1"))?;
    let headers = security_headers(&content_security_policy(&config.ws_url))?;
    let mut app = Router::new()
        .route(
            "/config.json",
            get(move || {
                let config = config.clone();
                async move { Json(config) }
            }),
        )
        .fallback_service(ServeDir::new(dist));
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    Ok(WebApp {
        served: spawn("the phone app", listener, app)?,
        dist: dist.to_path_buf(),
    })
}

impl WebApp {
    pub fn url(&self) -> String {
        self.served.url()
    }

    pub async fn stop(&mut self) {
        self.served.stop().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_the_app_its_config_and_nothing_outside_its_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<!doctype html>phone").unwrap();
        std::fs::write(tmp.path().join("secret"), "seed").unwrap();
        let mut web = serve(
            &dist,
            AppConfig {
                ws_url: "ws://127.0.0.1:1234".into(),
                root_key: "OROOT".into(),
            },
            0,
        )
        .await
        .unwrap();
        let index = get_path(web.served.addr, "/").await;
        assert!(index.contains("phone"));
        let config = get_path(web.served.addr, "/config.json").await;
        assert!(
            config.contains(r#"{"ws_url":"ws://127.0.0.1:1234","root_key":"OROOT"}"#),
            "{config}"
        );
        // Every answer carries the policy that keeps foreign script out of the app's origin.
        for answer in [&index, &config] {
            let lower = answer.to_lowercase();
            assert!(
                lower.contains("content-security-policy: default-src 'self'; script-src 'self'"),
                "{answer}"
            );
            assert!(
                lower.contains("connect-src 'self' ws://127.0.0.1:1234;"),
                "{answer}"
            );
            assert!(lower.contains("frame-ancestors 'none'"), "{answer}");
            assert!(
                lower.contains("x-content-type-options: nosniff"),
                "{answer}"
            );
            assert!(lower.contains("x-frame-options: deny"), "{answer}");
        }
        let escape = get_path(web.served.addr, "/../secret").await;
        assert!(!escape.contains("seed"), "{escape}");
        assert!(get_path(web.served.addr, "/%2e%2e/secret")
            .await
            .starts_with("HTTP/1.1 404"));
        web.stop().await;
    }
}
