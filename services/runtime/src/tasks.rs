//! A service's background tasks (outbox, event feed, recovery, pruning), started by name and
//! joined on shutdown, so every service reports a task that failed or panicked the same way.

use std::future::Future;
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Tasks {
    running: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// A task that cannot fail (it logs its own trouble and goes on).
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn_fallible(name, async move {
            task.await;
            Ok(())
        });
    }

    /// A task whose error ends it; the error is logged when the tasks are joined.
    pub fn spawn_fallible<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.running.push((name, tokio::spawn(task)));
    }

    /// Waits for every task (they end on the service's shutdown) and logs how each that did
    /// not end well ended.
    pub async fn join(self) {
        for (name, handle) in self.running {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(task = name, error = %format!("{e:#}"), "task stopped")
                }
                Err(e) => tracing::error!(task = name, error = %e, "task panicked"),
            }
        }
    }
}
