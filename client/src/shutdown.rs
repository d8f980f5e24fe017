//! One shutdown signal for a whole process: every long-running loop selects on it and drains.

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn trigger(&self) {
        self.0.cancel();
    }
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }
    pub async fn wait(&self) {
        self.0.cancelled().await
    }

    /// Triggers on SIGINT, SIGTERM or SIGHUP, and, when `watch_stdin` is set, when standard input
    /// closes: the launcher holds the write end of each child's stdin, so a launcher that dies
    /// (even by SIGKILL) takes its services with it instead of leaving orphans.
    pub fn on_signals(&self, watch_stdin: bool) -> anyhow::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        // The terminal that started the process was closed: the same as being asked to stop,
        // so a launcher takes its server and services along instead of leaving them running.
        let mut hup = signal(SignalKind::hangup())?;
        let me = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                _ = hup.recv() => tracing::info!("SIGHUP: shutting down"),
                _ = me.wait() => {}
            }
            me.trigger();
        });
        if watch_stdin {
            // A plain thread, not tokio's stdin: tokio reads stdin on its blocking pool, and
            // a read that never returns would hold the runtime open at exit.
            let me = self.clone();
            std::thread::Builder::new()
                .name("stdin-watch".into())
                .spawn(move || {
                    use std::io::Read;
                    let mut buf = [0u8; 64];
                    let mut stdin = std::io::stdin();
                    while let Ok(n) = stdin.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                    tracing::info!("launcher gone: shutting down");
                    me.trigger();
                })?;
        }
        Ok(())
    }
}
