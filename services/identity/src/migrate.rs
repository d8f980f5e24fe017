//! Moving the keys an identity service kept before its journal into the journal, once.
//!
//! Before the journal, an instance's own store was the record of every key (trees `keys` and
//! `holders`). At start those keys are journaled, each holder's in the order they were
//! issued, each as it stands (revoked or not, never live for a moment); then the old trees
//! are dropped.
//! Every write is idempotent (an entry the journal has is not written again), so a start that
//! stops half way through finishes on the next.

use crate::journal::{self, Entry};
use crate::store::Store;
use futures::StreamExt;
use posfee_runtime::journal::Journal;
use posfee_schemas::decode;
use posfee_schemas::identity::IssuedKey;
use std::collections::BTreeMap;

/// Holders moved at once.
const CONCURRENCY: usize = 64;

/// Journals every key of the old store, if there is one; returns how many keys it moved.
pub async fn legacy_keys(
    db: &posfee_store::Db,
    store: &Store,
    journal: &Journal,
) -> anyhow::Result<usize> {
    if store.legacy.is_empty() {
        return Ok(0);
    }
    let mut by_holder: BTreeMap<String, Vec<IssuedKey>> = BTreeMap::new();
    for item in store.legacy.iter() {
        let (_, v) = item?;
        let key: IssuedKey = decode(&v)?;
        by_holder.entry(key.holder.key()).or_default().push(key);
    }
    let moved = by_holder.values().map(Vec::len).sum();
    tracing::info!(
        keys = moved,
        "moving the keys of the store into the journal"
    );
    let mut moving = futures::stream::iter(by_holder.into_values())
        .map(|keys| holder(store, journal, keys))
        .buffer_unordered(CONCURRENCY);
    while let Some(done) = moving.next().await {
        done?;
    }
    db.drop_tree("keys")?;
    db.drop_tree("holders")?;
    tracing::info!(keys = moved, "every key of the store is in the journal");
    Ok(moved)
}

/// One holder's keys, oldest first, each as one entry as it stands (a revoked key is
/// journaled revoked, never live for a moment), so the holder's current key is its newest.
async fn holder(store: &Store, journal: &Journal, mut keys: Vec<IssuedKey>) -> anyhow::Result<()> {
    keys.sort_by_key(|k| k.issued_at);
    for key in keys {
        let scope = journal::scope(&key.holder);
        let entry = Entry::Issued {
            key: key.clone(),
            replaces: None,
        };
        journal
            .write(&scope, &format!("migrate:{}", key.nkey), || {
                let known = store.key(&key.nkey).map_err(crate::ops::internal)?;
                Ok(known.is_none().then(|| entry.clone()))
            })
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", key.holder, e.message))?;
    }
    Ok(())
}
