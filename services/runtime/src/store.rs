//! Each service's own sled database under `<data-dir>/<service>/`.
//!
//! sled's flush is a blocking fsync; it runs on the blocking pool so it never stalls the
//! async workers that answer requests.

use anyhow::Context;
use std::path::Path;

/// sled's page cache per database. Services keep small working sets; the cap keeps resident
/// memory predictable on a kiosk-sized server.
pub const SLED_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Writes that move money flush explicitly before their ack; this background flush only bounds
/// how much of a rebuildable view a crash can cost.
pub const BACKGROUND_FLUSH_MS: u64 = 500;

pub fn open(dir: &Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    sled::Config::new()
        .path(dir)
        .cache_capacity(SLED_CACHE_BYTES)
        .flush_every_ms(Some(BACKGROUND_FLUSH_MS))
        .open()
        .with_context(|| format!("opening store {}", dir.display()))
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
