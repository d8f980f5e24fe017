//! The skeleton of every write that must happen exactly once per idempotency key (a bill
//! issued, a settlement, a refund, a registration): an answer given before is given again,
//! but only once it is on disk; the write is one sled transaction that aborts if a concurrent
//! twin took the key first, whose answer is then given instead; the write is flushed (group
//! commit) before the answer, and only then do its staged outbox entries leave. The answer
//! waits until the stream has stored them (fsynced, on a majority of a cluster's nodes), so
//! an acknowledged write survives the loss of this service's disk.

use crate::outbox::Outbox;

/// How long an answer waits for its write's events to be stored by the stream (on a majority
/// of a cluster's nodes) before it says "ask again".
pub const REPLICATION_WAIT_MS: u64 = 5_000;
use posfee_schemas::{ErrorCode, WireError};
use posfee_store::GroupCommit;
use sled::transaction::TransactionError;

/// Why a write's transaction aborted.
#[derive(Debug)]
pub enum Abort<E> {
    /// Its idempotency key (or the thing it creates) is already there: replay that answer.
    Taken,
    /// The write is refused for a reason of its own.
    Refused(E),
}

/// Where a service writes once.
pub struct Once<'a> {
    pub commit: &'a GroupCommit,
    /// The service's outbox, if the writes stage messages in it.
    pub outbox: Option<&'a Outbox>,
}

impl Once<'_> {
    /// The answer `replay` found, handed out only after the write that made it is durable
    /// (it may still be waiting for its group commit).
    pub async fn replayed<R>(
        &self,
        replay: Result<Option<R>, WireError>,
    ) -> Result<Option<R>, WireError> {
        match replay? {
            Some(answer) => {
                self.durable().await?;
                // What made it may still be on its way to the stream (the first attempt's
                // publisher, or a restart's): everything staged so far must be stored first.
                if let Some(newest) = self.outbox.and_then(Outbox::newest) {
                    self.replicated(newest).await?;
                }
                Ok(Some(answer))
            }
            None => Ok(None),
        }
    }

    /// Finishes a write: the transaction's answer once flushed, with `staged` outbox entries
    /// released; a concurrent twin's answer if it took the key first; `refused` for the
    /// write's own refusals.
    pub async fn finish<R, E>(
        &self,
        written: Result<R, TransactionError<Abort<E>>>,
        staged: &[[u8; 8]],
        replay: impl FnOnce() -> Result<Option<R>, WireError>,
        refused: impl FnOnce(E) -> WireError,
    ) -> Result<R, WireError> {
        let answer = match written {
            Ok(answer) => answer,
            Err(TransactionError::Abort(Abort::Taken)) => {
                return self
                    .replayed(replay())
                    .await?
                    .ok_or_else(|| internal("the first answer for this key vanished"))
            }
            Err(TransactionError::Abort(Abort::Refused(e))) => return Err(refused(e)),
            Err(TransactionError::Storage(e)) => return Err(internal(e)),
        };
        self.durable().await?;
        if let Some(outbox) = self.outbox {
            if let Some(newest) = staged.iter().max() {
                outbox.committed(staged);
                self.replicated(*newest).await?;
            }
        }
        Ok(answer)
    }

    /// Waits until the stream has stored everything staged up to `upto`; answers 503 (ask
    /// again: the write is kept and will be published) if it cannot within
    /// [`REPLICATION_WAIT_MS`].
    async fn replicated(&self, upto: [u8; 8]) -> Result<(), WireError> {
        let Some(outbox) = self.outbox else {
            return Ok(());
        };
        outbox
            .replicated(upto, std::time::Duration::from_millis(REPLICATION_WAIT_MS))
            .await
            .map_err(|_| {
                tracing::warn!("a write's events were not stored by the stream in time");
                WireError::new(
                    ErrorCode::Unavailable,
                    "recorded, but not yet stored by the event stream (no quorum?): ask again with the same id",
                )
            })
    }

    async fn durable(&self) -> Result<(), WireError> {
        self.commit
            .commit()
            .await
            .map_err(|e| internal(format!("{e:#}")))
    }
}

/// A storage failure: logged (inside the request's span, which names the operation) and
/// answered without details.
pub fn internal(e: impl std::fmt::Display) -> WireError {
    tracing::error!(error = %e, "write failed");
    WireError::new(ErrorCode::Internal, "the write could not be completed")
}
