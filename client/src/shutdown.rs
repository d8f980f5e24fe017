//! One shutdown signal for a whole process: every long-running loop selects on it and drains.

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Shutdown(CancellationToken);

/// How long a person's Ctrl-C leaves a kiosk or phone to end in order (close the bill, say
/// goodbye) before it exits anyway: a person pressing Ctrl-C expects the program gone now,
/// whatever the bus is doing.
pub const INTERRUPT_GRACE_MS: u64 = 800;

/// The exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Exits the process [`INTERRUPT_GRACE_MS`] from now if it has not ended by then, saying
/// `why` (in the person's language) on stderr; a second Ctrl-C exits at once. What was left
/// undone is what a crash leaves, which the system makes good (a bill nobody closed expires;
/// a payment under way is finished by the phone and the ledger).
pub fn exit_soon(why: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let again = signal(SignalKind::interrupt());
    tokio::spawn(async move {
        let grace = tokio::time::sleep(std::time::Duration::from_millis(INTERRUPT_GRACE_MS));
        match again {
            Ok(mut again) => {
                tokio::select! {
                    _ = grace => {}
                    _ = again.recv() => {}
                }
            }
            Err(_) => grace.await,
        }
        eprintln!("{why}");
        std::process::exit(EXIT_INTERRUPTED);
    });
}

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
