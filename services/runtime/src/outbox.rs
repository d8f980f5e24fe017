//! The transactional outbox: an event is staged in the same store transaction as the state
//! change it reports, and a publisher task moves it to JetStream afterwards.
//!
//! A crash between commit and publish leaves the event in the outbox, and the publisher sends
//! it on the next start; JetStream stores it once because the `Nats-Msg-Id` is the event id.
//! So an event is never lost and never stored twice, whatever fails when.

use async_nats::jetstream::{self, message::PublishMessage};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use posfee_client::shutdown::Shutdown;
use posfee_schemas::events::Event;
use posfee_schemas::trust::Signer;
use posfee_schemas::{codec, decode};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The store tree holding staged events, keyed by a big-endian sequence from `generate_id`.
pub const OUTBOX_TREE: &str = "outbox";
/// Events sent and not yet acknowledged, at most; bounded so a slow server is felt as back
/// pressure rather than memory.
pub const PUBLISH_BATCH: usize = 256;

/// One event's stream acknowledgement, with the outbox key it clears.
type AckFuture = Pin<Box<dyn Future<Output = (posfee_store::IVec, Result<(), String>)> + Send>>;
/// How long the publisher waits before retrying after the server refused or did not answer.
pub const RETRY_DELAY_MS: u64 = 500;
/// How long the outbox waits after the stream refused an event before sending again: short,
/// since the stream is back as soon as its new leader is elected.
const REFUSED_ACK_PAUSE_MS: u64 = 100;

/// What the outbox sends: an event into the stream, or a plain message (a receipt to a
/// terminal) that needs no storage on the server but must still leave after the commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Outgoing {
    Event(Event),
    Message {
        subject: String,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
}

/// The stream had not stored a write's events within the wait (no quorum, or the server is
/// away): the write is on this service's disk and will be published, but is not yet
/// acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct NotYetReplicated;

#[derive(Clone)]
pub struct Outbox {
    db: posfee_store::Db,
    tree: posfee_store::Tree,
    wake: Arc<Notify>,
    /// Keys whose transactions the handlers have already flushed (group commit): these can
    /// leave without the publisher flushing again.
    committed: Arc<std::sync::Mutex<HashSet<[u8; 8]>>>,
    /// Woken whenever entries leave the outbox (stored by the stream, or sent).
    left: Arc<Notify>,
    /// Whether an entry must be on this service's disk before it leaves. Not for an outbox
    /// whose entries a journal's view stages as it applies entries the journal already holds
    /// (fsynced on a majority): a crash that loses one loses the view's record of applying
    /// the entry with it, in the same transaction, and the restarted view stages it again.
    flush_first: bool,
    /// The service's authority, which seals every event it publishes ([`Signer::seal`]):
    /// readers believe an event only with its writer's seal.
    sealer: Option<Arc<Signer>>,
}

/// Committed keys remembered at most; past this, keys no longer in the outbox are dropped
/// (a handler that staged nothing under a key it took still reports it).
const COMMITTED_MAX: usize = 4096;

impl Outbox {
    /// The outbox of a service whose writes are its own store's: nothing leaves before the
    /// transaction that staged it is on disk.
    pub fn open(db: &posfee_store::Db) -> anyhow::Result<Outbox> {
        Self::opened(db, true)
    }

    /// The outbox of a journal's view ([`crate::journal::Journal::follow`]): what it stages
    /// reports entries the journal already holds, so it leaves without waiting for a flush
    /// of the view (the view's background flush suffices; a lost apply is applied again).
    pub fn of_journal(db: &posfee_store::Db) -> anyhow::Result<Outbox> {
        Self::opened(db, false)
    }

    fn opened(db: &posfee_store::Db, flush_first: bool) -> anyhow::Result<Outbox> {
        Ok(Outbox {
            db: db.clone(),
            tree: db.open_tree(OUTBOX_TREE)?,
            wake: Arc::new(Notify::new()),
            committed: Arc::new(std::sync::Mutex::new(HashSet::new())),
            left: Arc::new(Notify::new()),
            flush_first,
            sealer: None,
        })
    }

    /// Seals every event it publishes with `signer`, the writing service's authority.
    pub fn sealed_by(mut self, signer: &Signer) -> Outbox {
        self.sealer = Some(Arc::new(signer.clone()));
        self
    }

    /// The tree to include in a store transaction that stages events.
    pub fn tree(&self) -> &posfee_store::Tree {
        &self.tree
    }

    /// A fresh outbox key, to be used inside the caller's transaction.
    pub fn next_key(&self) -> anyhow::Result<[u8; 8]> {
        Ok(self.db.generate_id()?.to_be_bytes())
    }

    /// Stages `event` in the caller's transaction on the outbox tree.
    pub fn stage(
        tx: &posfee_store::transaction::TransactionalTree,
        key: [u8; 8],
        event: &Event,
    ) -> Result<(), posfee_store::transaction::UnabortableTransactionError> {
        tx.insert(&key, codec::encode(&Outgoing::Event(event.clone())))?;
        Ok(())
    }

    /// Stages a plain message in the caller's transaction.
    pub fn stage_message(
        tx: &posfee_store::transaction::TransactionalTree,
        key: [u8; 8],
        subject: String,
        payload: Vec<u8>,
    ) -> Result<(), posfee_store::transaction::UnabortableTransactionError> {
        tx.insert(&key, codec::encode(&Outgoing::Message { subject, payload }))?;
        Ok(())
    }

    /// Tells the publisher there is something to send.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Wakes the publisher for entries whose transaction the caller has flushed itself, so
    /// they leave at once, without a second flush.
    pub fn committed(&self, keys: &[[u8; 8]]) {
        if let Ok(mut c) = self.committed.lock() {
            if c.len() >= COMMITTED_MAX {
                c.retain(|k| self.tree.contains_key(k).unwrap_or(false));
            }
            c.extend(keys.iter().copied());
        }
        self.notify();
    }

    /// Whether every key is known flushed, forgetting them (they are being sent).
    fn take_committed(&self, keys: &[posfee_store::IVec]) -> bool {
        let Ok(mut c) = self.committed.lock() else {
            return false;
        };
        let mut all = true;
        for k in keys {
            let known = <[u8; 8]>::try_from(k.as_ref())
                .map(|k| c.remove(&k))
                .unwrap_or(false);
            all &= known;
        }
        all
    }

    /// Events still waiting to be published.
    pub fn pending(&self) -> usize {
        self.tree.len()
    }

    /// The newest entry staged so far, if any is still waiting.
    pub fn newest(&self) -> Option<[u8; 8]> {
        self.tree
            .last()
            .ok()
            .flatten()
            .and_then(|(k, _)| <[u8; 8]>::try_from(k.as_ref()).ok())
    }

    /// Waits until every entry staged up to `upto` has left: each event stored by the
    /// stream (on a majority of a cluster's nodes, fsynced), each message sent. An answer
    /// that reports a write waits for this, so nothing is acknowledged that one lost disk
    /// could take away. Gives up after `wait` and says so.
    pub async fn replicated(&self, upto: [u8; 8], wait: Duration) -> Result<(), NotYetReplicated> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = self.left.notified();
            tokio::pin!(left);
            left.as_mut().enable();
            match self.tree.range(..=upto).next() {
                None => return Ok(()),
                Some(Err(_)) => return Err(NotYetReplicated),
                Some(Ok(_)) => {}
            }
            if tokio::time::timeout_at(deadline, left).await.is_err() {
                return Err(NotYetReplicated);
            }
        }
    }

    /// Publishes staged events in order until shutdown; after shutdown, one last pass so a
    /// clean stop leaves nothing behind when the server is there to take it.
    pub async fn run(self, client: async_nats::Client, shutdown: Shutdown) {
        let js = jetstream::new(client);
        // Entries sent whose acks are still to come, and those acks. The publisher keeps
        // sending while acks are outstanding, so a receipt staged now leaves now instead of
        // after the stream has acknowledged (fsynced) every event sent before it.
        let mut in_flight: HashSet<posfee_store::IVec> = HashSet::new();
        let mut acks = FuturesUnordered::new();
        loop {
            if let Err(e) = self.send_pending(&js, &mut in_flight, &mut acks).await {
                tracing::warn!(error = %e, pending = self.pending(), "outbox publish failed; will retry");
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tokio::time::sleep(Duration::from_millis(RETRY_DELAY_MS)) => {}
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = self.wake.notified() => {}
                Some((key, acked)) = acks.next(), if !acks.is_empty() => {
                    let mut refused = self.settle(&mut in_flight, key, acked);
                    // Take every other ack that is already in before sending again.
                    while let Some(Some((key, acked))) = acks.next().now_or_never() {
                        refused |= self.settle(&mut in_flight, key, acked);
                    }
                    // A refused ack comes back at once while the stream elects a leader
                    // ("no stream found"): pause before sending again instead of spinning.
                    if refused {
                        tokio::select! {
                            _ = shutdown.wait() => break,
                            _ = tokio::time::sleep(Duration::from_millis(REFUSED_ACK_PAUSE_MS)) => {}
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        // Stopping: let what is in flight be acknowledged, then try once more for the rest.
        let drain = async {
            while let Some((key, acked)) = acks.next().await {
                self.settle(&mut in_flight, key, acked);
            }
            let mut acks = FuturesUnordered::new();
            let _ = self.send_pending(&js, &mut in_flight, &mut acks).await;
            while let Some((key, acked)) = acks.next().await {
                self.settle(&mut in_flight, key, acked);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    }

    /// An ack came back (the entry is stored and leaves the outbox) or failed (the entry is
    /// sent again; the stream keeps one copy by its message id). Says whether it failed.
    fn settle(
        &self,
        in_flight: &mut HashSet<posfee_store::IVec>,
        key: posfee_store::IVec,
        acked: Result<(), String>,
    ) -> bool {
        in_flight.remove(&key);
        match acked {
            Ok(()) => {
                if let Err(e) = self.tree.remove(&key) {
                    tracing::warn!(error = %e, "could not clear a published outbox entry");
                }
                self.left.notify_waiters();
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "event not acknowledged; it will be sent again");
                true
            }
        }
    }

    /// Sends staged entries that are not in flight, up to the window, after making sure they
    /// are on disk. Plain messages leave the outbox once sent; events when acknowledged.
    async fn send_pending(
        &self,
        js: &jetstream::Context,
        in_flight: &mut HashSet<posfee_store::IVec>,
        acks: &mut FuturesUnordered<AckFuture>,
    ) -> anyhow::Result<usize> {
        let room = PUBLISH_BATCH.saturating_sub(in_flight.len());
        let mut batch = Vec::new();
        for item in self.tree.iter() {
            if batch.len() >= room {
                break;
            }
            let (key, value) = item?;
            if !in_flight.contains(&key) {
                batch.push((key, value));
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        // Whatever is staged may belong to a transaction its handler has not flushed yet:
        // nothing leaves before it is on disk, so a crash cannot report what did not happen.
        // Entries the handlers reported committed are on disk already.
        let keys: Vec<posfee_store::IVec> = batch.iter().map(|(k, _)| k.clone()).collect();
        if self.flush_first && !self.take_committed(&keys) {
            posfee_store::flush(&self.db).await?;
        }
        let mut sent_plain = Vec::new();
        let n = batch.len();
        for (key, value) in batch {
            let event: Event = match decode::<Outgoing>(&value) {
                Ok(Outgoing::Event(e)) => e,
                Ok(Outgoing::Message { subject, payload }) => {
                    self.client_publish(js, subject, payload).await?;
                    sent_plain.push(key);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "undecodable outbox entry moved aside");
                    self.db
                        .open_tree("outbox-corrupt")?
                        .insert(&key, value.clone())?;
                    self.tree.remove(&key)?;
                    continue;
                }
            };
            let (subject, msg) = match &self.sealer {
                Some(sealer) => posfee_client::sealed::message(&event, sealer),
                None => (
                    event.subject(),
                    PublishMessage::build()
                        .message_id(event.id.to_string())
                        .payload(codec::encode(&event).into()),
                ),
            };
            let ack = js.send_publish(subject, msg).await?;
            in_flight.insert(key.clone());
            acks.push(Box::pin(async move {
                (key, ack.await.map(|_| ()).map_err(|e| e.to_string()))
            }));
        }
        if !sent_plain.is_empty() {
            js.client().flush().await?;
            for key in &sent_plain {
                self.tree.remove(key)?;
            }
            self.left.notify_waiters();
        }
        Ok(n)
    }

    async fn client_publish(
        &self,
        js: &jetstream::Context,
        subject: String,
        payload: Vec<u8>,
    ) -> anyhow::Result<()> {
        js.client().publish(subject, payload.into()).await?;
        Ok(())
    }
}
