//! Each service's own sled database under `<data-dir>/<service>/`.
//!
//! sled's flush is a blocking fsync; it runs on the blocking pool so it never stalls the
//! async workers that answer requests.

use anyhow::Context;
use std::path::Path;

/// The storage engine's types the stores use. This crate is the only one that names the
/// engine (sled, patched in `vendor/sled`: see vendor/README.md); everything else says
/// `posfee_store::Tree`, so what the system needs of an engine is listed here.
pub use sled::{Db, Error, IVec, Transactional, Tree};

/// Atomic writes over several trees of one store.
pub mod transaction {
    pub use sled::transaction::{
        ConflictableTransactionError, TransactionError, TransactionResult, TransactionalTree,
        UnabortableTransactionError,
    };
}

/// sled's page cache per database. Services keep small working sets; the cap keeps resident
/// memory predictable on a kiosk-sized server. sled counts a node by its size on disk, and a
/// node in memory takes three to four times that: at 32 MiB the fee-engine's and query's
/// views of 100,000 accounts grew to 130-180 MiB resident; at 8 MiB they stay under 90 MiB
/// through the import and the query bench, whose p99 stays at 11-12 ms (BENCHMARKS.md).
pub const SLED_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// Writes whose ack rests on this store (a bill issued, a key enrolled) flush explicitly before
/// it (group commit); money rests on the replicated journals, of which the ledger's and
/// paygate's stores are views. This background flush only bounds how much of a rebuildable
/// view a crash can cost.
pub const BACKGROUND_FLUSH_MS: u64 = 500;

pub fn open(dir: &Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .flush_every_ms(Some(BACKGROUND_FLUSH_MS))
            .open();
        match opened {
            Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(LOCK_POLL)
            }
            other => return other.with_context(|| format!("opening store {}", dir.display())),
        }
    }
}

/// How long [`open`] waits for a store's lock. sled's I/O threads finish a closed handle's
/// last log write after the handle is dropped and hold the file lock until then, so a store
/// closed and opened again in one process (a phone command, a test) can find it held for a
/// few milliseconds. Another process that really holds the store still gets the error.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(10);

fn is_locked(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// A store that lives only as long as its handle, for tests.
pub fn temporary() -> anyhow::Result<Db> {
    Ok(sled::Config::new().temporary(true).open()?)
}

/// Flushes the database to disk on the blocking pool, carrying the caller's span.
pub async fn flush(db: &sled::Db) -> anyhow::Result<()> {
    let db = db.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        db.flush().map(|_| ())
    })
    .await
    .context("flush task")?
    .context("flushing store")
}

/// Group commit: callers that need their writes on disk before they answer ask here, and
/// every caller waiting while one flush runs is served by the next single flush. Under load
/// many commits share one fsync; alone, a commit costs one.
#[derive(Clone)]
pub struct GroupCommit {
    tx: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// Waiters queued for the next flush before callers feel back pressure.
pub const GROUP_COMMIT_QUEUE: usize = 4096;

impl GroupCommit {
    /// Starts the flusher task for `db`. It ends when every handle is dropped.
    pub fn start(db: &sled::Db) -> GroupCommit {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<
            tokio::sync::oneshot::Sender<Result<(), String>>,
        >(GROUP_COMMIT_QUEUE);
        let db = db.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let result = flush(&db).await.map_err(|e| format!("{e:#}"));
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        GroupCommit { tx }
    }

    /// Returns once everything written before this call is on disk.
    pub async fn commit(&self) -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(tx)
            .await
            .map_err(|_| anyhow::anyhow!("group commit stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("group commit stopped"))?
            .map_err(|e| anyhow::anyhow!(e))
    }
}
