//! Lines typed at the kiosk, read on a plain thread and handed over a channel, so the async
//! flow can wait for "c" (cancel) while it waits for the phone.

use tokio::sync::mpsc;

/// Lines buffered before the reader thread waits for the kiosk to take them.
pub const LINE_QUEUE: usize = 16;
/// A longer line is cut: nothing a payer types at a kiosk is longer.
pub const MAX_LINE_CHARS: usize = 256;

pub struct Console {
    lines: mpsc::Receiver<String>,
}

impl Console {
    /// Reads standard input until it closes.
    pub fn stdin() -> std::io::Result<Console> {
        let (tx, rx) = mpsc::channel(LINE_QUEUE);
        std::thread::Builder::new()
            .name("kiosk-input".into())
            .spawn(move || {
                use std::io::BufRead;
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    let line: String = line.trim().chars().take(MAX_LINE_CHARS).collect();
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Console { lines: rx })
    }

    /// A console fed by a channel (tests).
    pub fn from_channel(lines: mpsc::Receiver<String>) -> Console {
        Console { lines }
    }

    /// The next line; `None` once input has closed.
    pub async fn line(&mut self) -> Option<String> {
        self.lines.recv().await
    }
}
