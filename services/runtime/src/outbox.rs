//! The transactional outbox: an event is staged in the same sled transaction as the state
//! change it reports, and a publisher task moves it to JetStream afterwards.
//!
//! A crash between commit and publish leaves the event in the outbox, and the publisher sends
//! it on the next start; JetStream stores it once because the `Nats-Msg-Id` is the event id.
//! So an event is never lost and never stored twice, whatever fails when.

use crate::shutdown::Shutdown;
use async_nats::jetstream::{self, message::PublishMessage};
use posfee_schemas::events::Event;
use posfee_schemas::{codec, decode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The sled tree holding staged events, keyed by a big-endian sequence from `generate_id`.
pub const OUTBOX_TREE: &str = "outbox";
/// Events published before waiting for their acks; bounded so a slow server is felt as back
/// pressure rather than memory.
pub const PUBLISH_BATCH: usize = 256;
/// How long the publisher waits before retrying after the server refused or did not answer.
pub const RETRY_DELAY_MS: u64 = 500;

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

#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    tree: sled::Tree,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn open(db: &sled::Db) -> anyhow::Result<Outbox> {
        Ok(Outbox {
            db: db.clone(),
            tree: db.open_tree(OUTBOX_TREE)?,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The tree to include in a sled transaction that stages events.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// A fresh outbox key, to be used inside the caller's transaction.
    pub fn next_key(&self) -> anyhow::Result<[u8; 8]> {
        Ok(self.db.generate_id()?.to_be_bytes())
    }

    /// Stages `event` in the caller's transaction on the outbox tree.
    pub fn stage(
        tx: &sled::transaction::TransactionalTree,
        key: [u8; 8],
        event: &Event,
    ) -> Result<(), sled::transaction::UnabortableTransactionError> {
        tx.insert(&key, codec::encode(&Outgoing::Event(event.clone())))?;
        Ok(())
    }

    /// Stages a plain message in the caller's transaction.
    pub fn stage_message(
        tx: &sled::transaction::TransactionalTree,
        key: [u8; 8],
        subject: String,
        payload: Vec<u8>,
    ) -> Result<(), sled::transaction::UnabortableTransactionError> {
        tx.insert(&key, codec::encode(&Outgoing::Message { subject, payload }))?;
        Ok(())
    }

    /// Tells the publisher there is something to send.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Events still waiting to be published.
    pub fn pending(&self) -> usize {
        self.tree.len()
    }

    /// Publishes staged events in order until shutdown; after shutdown, one last pass so a
    /// clean stop leaves nothing behind when the server is there to take it.
    pub async fn run(self, client: async_nats::Client, shutdown: Shutdown) {
        let js = jetstream::new(client);
        loop {
            match self.publish_pending(&js).await {
                Ok(0) => {
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = self.wake.notified() => {}
                        // A safety net: a missed notify costs at most this much delay.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, pending = self.pending(), "outbox publish failed; will retry");
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = tokio::time::sleep(Duration::from_millis(RETRY_DELAY_MS)) => {}
                    }
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.publish_pending(&js)).await;
    }

    /// Sends up to one batch; returns how many were published and removed.
    async fn publish_pending(&self, js: &jetstream::Context) -> anyhow::Result<usize> {
        let mut batch = Vec::new();
        for item in self.tree.iter().take(PUBLISH_BATCH) {
            let (key, value) = item?;
            batch.push((key, value));
        }
        if batch.is_empty() {
            return Ok(0);
        }
        // An entry is visible here as soon as its transaction commits in memory, which may be
        // before the writer's flush. Nothing leaves before it is on disk: a crash must never
        // leave the bus knowing of a settlement the store forgot. Under load this flush finds
        // the group commit's work already done.
        crate::store::flush(&self.db).await?;
        let mut acks = Vec::with_capacity(batch.len());
        let mut sent_plain = Vec::new();
        for (key, value) in &batch {
            let event: Event = match decode::<Outgoing>(value) {
                Ok(Outgoing::Event(e)) => e,
                Ok(Outgoing::Message { subject, payload }) => {
                    // Plain messages are fire-and-forget on the bus; they leave the outbox once
                    // the connection has flushed them to the server.
                    self.client_publish(js, subject, payload).await?;
                    sent_plain.push(key.clone());
                    continue;
                }
                Err(e) => {
                    // Written by this same code; an undecodable entry is corruption. Keep it
                    // for inspection but do not let it block everything behind it.
                    tracing::error!(error = %e, "undecodable outbox entry moved aside");
                    self.db
                        .open_tree("outbox-corrupt")?
                        .insert(key, value.clone())?;
                    self.tree.remove(key)?;
                    continue;
                }
            };
            let msg = PublishMessage::build()
                .payload(codec::encode(&event).into())
                .message_id(event.id.to_string());
            let ack = js.send_publish(event.subject(), msg).await?;
            acks.push((key.clone(), ack));
        }
        if !sent_plain.is_empty() {
            js.client().flush().await?;
            for key in &sent_plain {
                self.tree.remove(key)?;
            }
        }
        let n = acks.len() + sent_plain.len();
        for (key, ack) in acks {
            ack.await?;
            self.tree.remove(key)?;
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
