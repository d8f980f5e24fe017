//! Moving what a paygate from before the journal kept only in its own store onto the
//! journal, once: the identities it held (sealed under its own key files, or in plain from
//! before sealing). They are set aside before the view follows the journal (which from now on
//! writes the same tree), then, once the view has every entry, each payer's identity is
//! opened and sealed again under the payer's key in the bucket and journaled: only for a payer
//! the journal knows, has not erased, and has no identity for yet (the journal's wins), and
//! only a whole one (a correction an older instance kept for a payer it did not register
//! holds no identity card). The key files are deleted as their identities are done; a payer
//! erased meanwhile gets nothing back.

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::{Payer, Store};
use posfee_schemas::ids::PayerHandle;
use posfee_schemas::{decode, WireError};
use std::path::Path;
use std::time::Duration;

/// Where a view notes that it has set its own identities aside (or had none).
const SET_ASIDE_KEY: &[u8] = b"identities_set_aside";
/// The identities set aside, until each is journaled or dropped.
const KEPT_TREE: &str = "identities_kept";

/// Sets this store's own identities aside, before the view follows the journal. A store that
/// has applied nothing yet is new: nothing of its own to set aside.
pub fn set_aside(store: &Store) -> anyhow::Result<()> {
    if store.meta.get(SET_ASIDE_KEY)?.is_some() {
        return Ok(());
    }
    if store
        .meta
        .get(posfee_runtime::journal::APPLIED_KEY)?
        .is_some()
    {
        let kept = store.db.open_tree(KEPT_TREE)?;
        for item in store.identities.iter() {
            let (handle, raw) = item?;
            kept.insert(handle, raw)?;
        }
        store.identities.clear()?;
    }
    store.meta.insert(SET_ASIDE_KEY, &[1])?;
    store.db.flush()?;
    Ok(())
}

/// Journals what was set aside (see the module), then deletes the old key files in `dir`.
pub async fn journal_kept(app: &App, dir: &Path) -> anyhow::Result<()> {
    let kept = app.store.db.open_tree(KEPT_TREE)?;
    if kept.is_empty() && crate::vault::key_files(dir)?.is_empty() {
        return Ok(());
    }
    caught_up(app).await;
    let mut moved = 0;
    for item in kept.iter() {
        let (handle, raw) = item?;
        let payer = PayerHandle::parse(String::from_utf8_lossy(&handle).to_string())
            .map_err(|e| anyhow::anyhow!("an identity under a bad handle: {e}"))?;
        if move_one(app, dir, &payer, &raw).await? {
            moved += 1;
        }
        kept.remove(&handle)?;
    }
    for (_, file) in crate::vault::key_files(dir)? {
        std::fs::remove_file(file)?;
    }
    app.store.db.flush()?;
    if moved > 0 {
        tracing::info!(
            moved,
            "identities kept in this store are on the journal now"
        );
    }
    Ok(())
}

/// Waits, without a limit, until the view has every entry the journal holds.
async fn caught_up(app: &App) {
    loop {
        match app.journal.caught_up_with_all().await {
            Ok(()) => return,
            Err(e) => {
                tracing::info!(error = %e, "waiting for the journal before moving identities");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Journals one kept identity if it is due; whether it was.
async fn move_one(app: &App, dir: &Path, payer: &PayerHandle, raw: &[u8]) -> anyhow::Result<bool> {
    if !due(app, payer)? {
        return Ok(false);
    }
    let Some(plain) = app.vault.open_kept(dir, payer, raw)? else {
        return Ok(false);
    };
    if plain.national_id.is_empty() {
        return Ok(false);
    }
    let identity = app.vault.seal(payer, &plain).await?;
    let entry = Entry::Identity {
        handle: payer.clone(),
        identity,
    };
    let written = app
        .journal
        .write(
            &journal::payer_scope(payer),
            &format!("identity-moved:{payer}"),
            || {
                Ok(due(app, payer)
                    .map_err(crate::ops::internal)?
                    .then(|| entry.clone()))
            },
        )
        .await
        .map_err(|e: WireError| anyhow::anyhow!("moving {payer}'s identity to the journal: {e}"))?;
    Ok(written)
}

/// A payer the journal knows, has not erased, and holds no identity of.
fn due(app: &App, payer: &PayerHandle) -> anyhow::Result<bool> {
    let Some(raw) = app.store.payers.get(payer.as_str().as_bytes())? else {
        return Ok(false);
    };
    let known: Payer = decode(&raw)?;
    Ok(known.erased_at.is_none() && app.vault.sealed(payer)?.is_none())
}
