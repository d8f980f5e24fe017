//! Moving what a paygate from before the journal kept only in its own store onto the
//! journal, once: the identities it registered (sealed now if they were in plain). The
//! wrapped data keys it kept as files are moved into the bucket by [`crate::vault::Vault::open`].

use crate::app::App;
use crate::journal::{self, Entry};
use crate::store::Store;
use crate::vault::{Sealed, Vault};
use posfee_schemas::ids::PayerHandle;

/// Where a view notes that its identities are on the journal.
const MOVED_KEY: &[u8] = b"identities_on_journal";

/// The identities this store kept only for itself, read before the view follows the journal
/// (which from now on writes the same tree). A store that has applied nothing yet is new:
/// nothing of its own to move.
pub async fn kept(store: &Store, vault: &Vault) -> anyhow::Result<Vec<(PayerHandle, Sealed)>> {
    if store.meta.get(MOVED_KEY)?.is_some() {
        return Ok(Vec::new());
    }
    let applied = store
        .meta
        .get(posfee_runtime::journal::APPLIED_KEY)?
        .is_some();
    if !applied {
        store.meta.insert(MOVED_KEY, &[1])?;
        return Ok(Vec::new());
    }
    vault.kept_here().await
}

/// Journals each kept identity of a payer the journal knows and has not erased, then notes
/// that it is done.
pub async fn journal_kept(app: &App, kept: Vec<(PayerHandle, Sealed)>) -> anyhow::Result<()> {
    let moving = kept.len();
    if moving > 0 {
        // Each payer is looked up in the view: it must have every registration first.
        app.journal.caught_up_with_all().await.map_err(|e| {
            anyhow::anyhow!("waiting for the journal before moving identities: {e}")
        })?;
    }
    for (handle, identity) in kept {
        let entry = Entry::Identity {
            handle: handle.clone(),
            identity,
        };
        let known = |app: &App| -> Result<bool, posfee_schemas::WireError> {
            let raw = app
                .store
                .payers
                .get(handle.as_str().as_bytes())
                .map_err(crate::ops::internal)?;
            Ok(match raw {
                Some(raw) => posfee_schemas::decode::<crate::store::Payer>(&raw)
                    .map_err(crate::ops::internal)?
                    .erased_at
                    .is_none(),
                None => false,
            })
        };
        app.journal
            .write(
                &journal::payer_scope(&handle),
                &format!("identity-moved:{handle}"),
                || Ok(known(app)?.then(|| entry.clone())),
            )
            .await
            .map_err(|e| anyhow::anyhow!("moving {handle}'s identity to the journal: {e}"))?;
    }
    app.store.meta.insert(MOVED_KEY, &[1])?;
    if moving > 0 {
        tracing::info!(
            moving,
            "identities kept in this store are on the journal now"
        );
    }
    Ok(())
}
