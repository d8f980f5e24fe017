//! The phone's web app, served by `posfee up`: the built files of `companion/web` (its `dist/`)
//! and `/config.json`, which tells the app where the server's WebSocket listener is.
//!
//! axum with tower-http's `ServeDir`: the launcher already runs on tokio, and `ServeDir`
//! gets the details of static files right (no path escapes the folder, content types,
//! conditional requests, `index.html` for folders), which hand-written serving would not.

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;
use tower_http::services::ServeDir;

/// What the app reads at start: where to connect.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppConfig {
    pub ws_url: String,
}

/// The web app's HTTP server, running until [`WebApp::stop`] or Drop.
pub struct WebApp {
    pub addr: SocketAddr,
    pub dist: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Whether `dist` holds a built app.
pub fn is_built(dist: &Path) -> bool {
    dist.join("index.html").is_file()
}

/// Serves `dist` and `/config.json` on 127.0.0.1:`port` (0 picks a free port).
pub async fn serve(dist: &Path, config: AppConfig, port: u16) -> anyhow::Result<WebApp> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("opening the phone app's HTTP port {port} on 127.0.0.1"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/config.json",
            get(move || {
                let config = config.clone();
                async move { Json(config) }
            }),
        )
        .fallback_service(ServeDir::new(dist));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the phone app's HTTP server stopped");
        }
    });
    Ok(WebApp {
        addr,
        dist: dist.to_path_buf(),
        stop: Some(stop),
        task: Some(task),
    })
}

impl WebApp {
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

impl Drop for WebApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
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
            },
            0,
        )
        .await
        .unwrap();
        assert!(get_path(web.addr, "/").await.contains("phone"));
        let config = get_path(web.addr, "/config.json").await;
        assert!(
            config.contains(r#"{"ws_url":"ws://127.0.0.1:1234"}"#),
            "{config}"
        );
        let escape = get_path(web.addr, "/../secret").await;
        assert!(!escape.contains("seed"), "{escape}");
        assert!(get_path(web.addr, "/%2e%2e/secret")
            .await
            .starts_with("HTTP/1.1 404"));
        web.stop().await;
    }
}
