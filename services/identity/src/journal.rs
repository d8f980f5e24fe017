//! The identity service's journal entries and how each instance's view applies them.
//!
//! The journal (`POSFEE_IDENTITY`, replicated) is the record of who holds which key: one
//! subject per holder (a kiosk, a clerk's tenant, a phone), where a key is issued or enrolled
//! and revoked one change at a time ([`posfee_runtime::journal::Journal::write`] decides on the
//! latest state and appends only if nothing came first). So two operators issuing a key to one
//! kiosk at once leave one live key, and any number of instances answer the server's auth
//! callout from their own view. Only public keys are journaled.

use crate::store::Store;
use chrono::{DateTime, Utc};
use posfee_runtime::journal::Batch;
use posfee_schemas::identity::{Holder, IssuedKey};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::{decode, encode, subjects};
use posfee_store::transaction::{ConflictableTransactionError, TransactionalTree};
use posfee_store::Transactional;
use serde::{Deserialize, Serialize};

/// One change to who holds which key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// The key becomes its holder's current one: a phone enrolled it or the operator issued
    /// it. `replaces`, the holder's key until now, is revoked by the same entry (at the new
    /// key's issue time), so a holder never has two live keys, not even for a moment.
    Issued {
        key: IssuedKey,
        replaces: Option<String>,
    },
    /// The key stops working (the first revocation's time stays).
    Revoked { nkey: String, at: DateTime<Utc> },
}

/// Keys and enrolments tell no one else anything: their entries carry no events.
impl posfee_runtime::journal::Carries for Entry {}

/// The journal subject of a scope.
pub fn subject(scope: &str) -> String {
    subjects::identity_journal(scope)
}

/// A holder's scope: a hashed token of its key (`terminal/kiosk-07`), subject-safe whatever
/// the ids hold.
pub fn scope(holder: &Holder) -> String {
    scope_of_key(&holder.key())
}

/// The scope of a holder's key as the view stores it ([`Holder::key`]).
pub fn scope_of_key(holder: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, holder.as_bytes())
        .simple()
        .to_string()
}

/// How long a look at the journal for a phone the view does not know may take: well inside
/// the time the server gives a connection to be admitted.
const FRESH_LOOK: std::time::Duration = std::time::Duration::from_millis(500);

/// Brings the view up to the phone's last journal entry, for at most [`FRESH_LOOK`]: perhaps
/// it enrolled a moment ago through another instance. If the journal cannot be read now, the
/// view answers as it stands (the key may then only enrol, which answers the truth).
pub async fn look_for_phone(journal: &posfee_runtime::journal::Journal, device: DeviceId) {
    let scope = scope(&Holder::Device(device));
    let _ = tokio::time::timeout(FRESH_LOOK, journal.settled_view(&scope)).await;
}

type Tx = ConflictableTransactionError<()>;

/// A key the view has just marked revoked: its holder and when it was revoked.
pub type Revoked = (Holder, DateTime<Utc>);

/// Applies a batch of entries, in order, in one transaction with the view's new position.
/// Returns the keys this batch revoked, so the instance closes their connections too
/// (whichever instance took the revocation, every one applies it: one that admitted the key
/// while its view was behind cuts it as soon as its view catches up).
pub fn apply(store: &Store, batch: &Batch<Entry>) -> anyhow::Result<Vec<Revoked>> {
    (&store.keys, &store.holders, &store.meta)
        .transaction(|(keys, holders, meta)| {
            let mut revoked = Vec::new();
            for (seq, entry) in &batch.entries {
                revoked.extend(apply_one(keys, holders, *seq, entry)?);
            }
            batch.record(meta)?;
            Ok::<_, Tx>(revoked)
        })
        .map_err(|e| anyhow::anyhow!("applying journal entries up to {}: {e:?}", batch.last))
}

fn apply_one(
    keys: &TransactionalTree,
    holders: &TransactionalTree,
    seq: u64,
    entry: &Entry,
) -> Result<Option<Revoked>, Tx> {
    match entry {
        Entry::Issued { key, replaces } => {
            if let Some(owner) = read(keys, &key.nkey)? {
                if owner.holder != key.holder {
                    // Two holders claimed one key at once: the first in the journal keeps it.
                    tracing::error!(seq, holder = %key.holder, owner = %owner.holder, "a key issued to two holders: the second is passed over");
                }
                return Ok(None);
            }
            let replaced = match replaces {
                Some(old) => revoke(keys, old, key.issued_at)?,
                None => None,
            };
            keys.insert(key.nkey.as_bytes(), encode(key))?;
            holders.insert(key.holder.key().as_bytes(), key.nkey.as_bytes())?;
            Ok(replaced)
        }
        Entry::Revoked { nkey, at } => revoke(keys, nkey, *at),
    }
}

/// Marks the key revoked at `at`, unless it already was; says whose key it revoked.
fn revoke(keys: &TransactionalTree, nkey: &str, at: DateTime<Utc>) -> Result<Option<Revoked>, Tx> {
    let Some(mut key) = read(keys, nkey)? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    key.revoked_at = Some(at);
    keys.insert(nkey.as_bytes(), encode(&key))?;
    Ok(Some((key.holder, at)))
}

fn read(keys: &TransactionalTree, nkey: &str) -> Result<Option<IssuedKey>, Tx> {
    match keys.get(nkey.as_bytes())? {
        Some(v) => decode(&v).map(Some).map_err(|e| {
            tracing::error!(error = %e, "an unreadable key record in the view");
            ConflictableTransactionError::Abort(())
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
pub(crate) fn apply_for_test(store: &Store, entries: Vec<Entry>) {
    let batch = Batch::new(
        entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, subject("test"), e))
            .collect(),
    );
    apply(store, &batch).unwrap();
}
