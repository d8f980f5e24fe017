//! A service's journal: its system of record in a replicated JetStream stream, one subject per
//! scope (what must change one at a time: a tenant account's books), written with optimistic
//! concurrency.
//!
//! A writer reads the scope's last sequence, brings its own view up to it, decides, and
//! appends with `Nats-Expected-Last-Subject-Sequence` set to that sequence. If another
//! instance (on this host or another) appended to the scope meanwhile, the server refuses and
//! the writer decides again on the newer state, so two instances can never both take the
//! same bill. The append is acknowledged once the entry is fsynced on a majority of the
//! stream's replicas; only then does the service answer. Each instance's sled store is a view
//! of the journal ([`Journal::follow`]) that can be rebuilt from it.

use crate::outbox::Outbox;
use crate::tasks::Tasks;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use posfee_client::shutdown::Shutdown;
use posfee_schemas::trust::{JournalSeal, Signer, JOURNAL_SEAL_HEADER};
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a writer waits for its own view to reach a sequence before it says "ask again".
pub const CATCH_UP_MS: u64 = 5_000;

#[derive(Clone)]
pub struct Journal {
    js: jetstream::Context,
    stream: Stream<()>,
    name: String,
    subject: fn(&str) -> String,
    /// The sequence this instance's view has applied.
    applied: watch::Receiver<u64>,
    /// The view's `meta` tree, where [`Batch::record`] notes each scope's last applied entry.
    meta: sled::Tree,
    /// Seals every entry with a key of the service's authority: the view believes an entry
    /// only with it, never because it is in the stream (where a leaked seed of the service's
    /// role could also write).
    seal: Arc<JournalSeal>,
}

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Appended {
    /// Stored (or stored before, by this entry's id) at this stream sequence.
    At(u64),
    /// Someone appended to the scope first: decide again.
    Moved,
}

impl Journal {
    /// Follows the journal in `stream` (whose scope subjects `subject` builds) into this
    /// instance's view, from where the view's `meta` says it stopped, as a task of `tasks`:
    /// `apply` records the effects of a batch of entries, in order, in one transaction with
    /// [`Batch::record`]; the outbox is woken after each batch for what the entries staged.
    /// One transaction per batch rather than per entry: each sled transaction writes and
    /// syncs its own log buffer, so under load the entries that arrived together share one.
    /// Entries are sealed with a key of `signer` ([`JournalSeal`]) and an entry without its
    /// seal is passed over, reported.
    /// Returns the journal to write through.
    pub async fn follow<E, F>(
        client: &async_nats::Client,
        (stream, subject): (&str, fn(&str) -> String),
        meta: sled::Tree,
        (outbox, tasks, shutdown): (Outbox, &mut Tasks, Shutdown),
        signer: &Signer,
        mut apply: F,
    ) -> anyhow::Result<Journal>
    where
        E: serde::de::DeserializeOwned,
        F: FnMut(&Batch<E>) -> anyhow::Result<()> + Send + 'static,
    {
        let start = applied(&meta)?;
        let (applied_tx, applied_rx) = watch::channel(start);
        tasks.spawn_fallible(
            "journal",
            crate::feed::follow_raw(
                client.clone(),
                crate::feed::Source {
                    stream: stream.to_string(),
                    filters: Vec::new(),
                },
                start,
                applied_tx,
                shutdown,
                crate::feed::Seals::Own(JournalSeal::of(signer), signer.name().clone()),
                move |raw| {
                    let batch = Batch::decode(raw);
                    apply(&batch)?;
                    outbox.notify();
                    Ok(batch.last)
                },
            ),
        );
        let seal = Arc::new(JournalSeal::of(signer));
        Journal::open(client, (stream, subject), (applied_rx, meta), seal).await
    }

    /// The journal in `stream`, whose scope subjects `subject` builds, and the view's applied
    /// sequence.
    async fn open(
        client: &async_nats::Client,
        (stream, subject): (&str, fn(&str) -> String),
        (applied, meta): (watch::Receiver<u64>, sled::Tree),
        seal: Arc<JournalSeal>,
    ) -> anyhow::Result<Journal> {
        let js = jetstream::new(client.clone());
        let name = stream.to_string();
        let stream = js.get_stream_no_info(stream).await?;
        Ok(Journal {
            js,
            stream,
            name,
            subject,
            applied,
            meta,
            seal,
        })
    }

    /// The scope's last entry as far as this instance's view has applied it: no round trip,
    /// and usually the scope's last entry indeed (an account or a payer is written by one
    /// request at a time). Appending after it fails if another instance wrote since, so it is
    /// a safe first guess, never a decision.
    pub fn known_last(&self, scope: &str) -> u64 {
        crate::feed::seq_at(&self.meta, &scope_key(&(self.subject)(scope))).unwrap_or(0)
    }

    /// The stream sequence of the scope's last entry; 0 if it has none.
    pub async fn last(&self, scope: &str) -> Result<u64, WireError> {
        match self
            .stream
            .get_last_raw_message_by_subject(&(self.subject)(scope))
            .await
        {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(unavailable(format!("reading the journal: {e}"))),
        }
    }

    /// Waits until the view has every entry the journal holds now, whatever its scope: for
    /// a look-up by a key the scope is not known from (a payment id), before saying "none".
    pub async fn caught_up_with_all(&self) -> Result<(), WireError> {
        let last = match self.js.get_stream(&self.name).await {
            Ok(stream) => stream.cached_info().state.last_sequence,
            Err(e) => return Err(unavailable(format!("reading the journal's state: {e}"))),
        };
        self.caught_up(last).await
    }

    /// Waits until this instance's view has applied `seq`.
    pub async fn caught_up(&self, seq: u64) -> Result<(), WireError> {
        let started = std::time::Instant::now();
        let _slow = SlowWait(started, seq);
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(
            Duration::from_millis(CATCH_UP_MS),
            applied.wait_for(|s| *s >= seq),
        )
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
        if reached {
            return Ok(());
        }
        Err(unavailable(format!(
            "this instance's view has not reached journal entry {seq} yet"
        )))
    }

    /// Reads the scope's last sequence and waits until the view has it: what a decision about
    /// the scope must start from. Returns that sequence, to append after.
    pub async fn settled_view(&self, scope: &str) -> Result<u64, WireError> {
        let last = self.last(scope).await?;
        self.caught_up(last).await?;
        Ok(last)
    }

    /// Appends `payload` to the scope if its last entry is still `after`. `id` makes a retried
    /// append of the same entry store it once.
    async fn append(
        &self,
        scope: &str,
        after: u64,
        id: &str,
        payload: Vec<u8>,
    ) -> Result<Appended, WireError> {
        let subject = (self.subject)(scope);
        let seal = self.seal.render(&subject, &payload);
        let msg = PublishMessage::build()
            .header(JOURNAL_SEAL_HEADER, seal.as_str())
            .payload(payload.into())
            .message_id(id)
            .expected_last_subject_sequence(after);
        let ack = async { self.js.send_publish(subject, msg).await?.await };
        match ack.await {
            Ok(ack) => Ok(Appended::At(ack.sequence)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Appended::Moved),
            Err(e) => Err(unavailable(format!("appending to the journal: {e}"))),
        }
    }
}

impl Journal {
    /// The whole write loop: let `decide` look at this instance's view of the scope and name
    /// the entry to append (`None`: nothing to write, it is done already), append it after
    /// the scope's last entry the view has, and, if another instance wrote since, bring the
    /// view up to the scope's last entry and decide again. A refusal is only given once
    /// decided on the scope's latest state. Returns whether an entry was appended; the view
    /// has it when this returns.
    pub async fn write<E>(
        &self,
        scope: &str,
        id: &str,
        mut decide: impl FnMut() -> Result<Option<E>, WireError>,
    ) -> Result<bool, WireError>
    where
        E: serde::Serialize,
    {
        let mut after = self.known_last(scope);
        let mut latest = false;
        loop {
            let entry = match decide() {
                Ok(Some(entry)) => entry,
                // Done is done: entries are never taken back, so a view that is behind
                // cannot wrongly see something as done.
                Ok(None) => return Ok(false),
                Err(e) if latest => return Err(e),
                Err(_) => {
                    after = self.settled_view(scope).await?;
                    latest = true;
                    continue;
                }
            };
            match self
                .append(scope, after, id, posfee_schemas::encode(&entry))
                .await?
            {
                Appended::At(seq) => {
                    self.caught_up(seq).await?;
                    return Ok(true);
                }
                Appended::Moved => {
                    after = self.settled_view(scope).await?;
                    latest = true;
                }
            }
        }
    }
}

/// Where a view keeps its place in its journal and the instance's id, in its `meta` tree.
pub const APPLIED_KEY: &[u8] = b"journal_seq";
const INSTANCE_KEY: &[u8] = b"instance";

/// This instance's id, made on first use and kept in its store: the entries it wrote, it
/// publishes (a restarted instance is the same one; one whose store was lost is a new one).
pub fn instance_id(db: &sled::Db, meta: &sled::Tree) -> anyhow::Result<u64> {
    if let Some(v) = meta.get(INSTANCE_KEY)? {
        if let Ok(b) = <[u8; 8]>::try_from(v.as_ref()) {
            return Ok(u64::from_be_bytes(b));
        }
    }
    let id = uuid::Uuid::new_v4().as_u64_pair().0;
    meta.insert(INSTANCE_KEY, &id.to_be_bytes())?;
    db.flush()?;
    Ok(id)
}

/// The last journal sequence the view applied; 0 for an empty view (rebuilt from the start).
fn applied(meta: &sled::Tree) -> anyhow::Result<u64> {
    crate::feed::seq_at(meta, APPLIED_KEY)
}

/// Entries delivered together, decoded, for a view to apply in one transaction.
pub struct Batch<E> {
    /// Each readable entry with its stream sequence, in order.
    pub entries: Vec<(u64, E)>,
    /// The scope subject of each entry, in the same order.
    subjects: Vec<String>,
    /// The last sequence delivered, readable or not: where the view stands once applied.
    pub last: u64,
}

impl<E: serde::de::DeserializeOwned> Batch<E> {
    /// Decodes a delivery. An entry without the service's seal (written by someone else
    /// holding the role's seed) or one that does not decode (a bug) is reported loudly and
    /// passed over, so the view keeps up with the rest; its sequence still counts as applied,
    /// and a writer that meets it as its scope's last entry appends after it.
    fn decode(raw: Vec<crate::feed::Raw>) -> Batch<E> {
        let mut batch = Batch {
            entries: Vec::with_capacity(raw.len()),
            subjects: Vec::with_capacity(raw.len()),
            last: 0,
        };
        for m in raw {
            batch.last = m.seq;
            if m.sealed_by.is_none() {
                tracing::error!(
                    seq = m.seq,
                    subject = %m.subject,
                    "journal entry without this service's seal skipped: someone else wrote it"
                );
                continue;
            }
            match posfee_schemas::decode::<E>(&m.payload) {
                Ok(entry) => {
                    batch.entries.push((m.seq, entry));
                    batch.subjects.push(m.subject);
                }
                Err(e) => {
                    tracing::error!(seq = m.seq, error = %e, "unreadable journal entry skipped")
                }
            }
        }
        batch
    }
}

impl<E> Batch<E> {
    /// A batch of entries read elsewhere, each with its stream sequence and scope subject, in
    /// order: for a view's own tests.
    pub fn new(entries: Vec<(u64, String, E)>) -> Batch<E> {
        let last = entries.last().map_or(0, |(seq, _, _)| *seq);
        let (entries, subjects) = entries
            .into_iter()
            .map(|(seq, subject, e)| ((seq, e), subject))
            .unzip();
        Batch {
            entries,
            subjects,
            last,
        }
    }

    /// Notes, in the view's transaction on its `meta` tree, the batch applied: each scope's
    /// last entry (a writer's first guess, [`Journal::known_last`]) and the journal position.
    pub fn record(
        &self,
        meta: &sled::transaction::TransactionalTree,
    ) -> Result<(), sled::transaction::UnabortableTransactionError> {
        for ((seq, _), subject) in self.entries.iter().zip(&self.subjects) {
            meta.insert(scope_key(subject), &seq.to_be_bytes())?;
        }
        meta.insert(APPLIED_KEY, &self.last.to_be_bytes())?;
        Ok(())
    }
}

/// Where the view notes the last entry it applied on one journal subject.
fn scope_key(subject: &str) -> Vec<u8> {
    [b"last:".as_slice(), subject.as_bytes()].concat()
}

/// Says when a view took long to reach an entry: the sign of a stalled feed.
struct SlowWait(std::time::Instant, u64);

impl Drop for SlowWait {
    fn drop(&mut self) {
        let waited = self.0.elapsed();
        if waited > Duration::from_millis(SLOW_VIEW_MS) {
            tracing::warn!(
                seq = self.1,
                waited_ms = waited.as_millis() as u64,
                "the view was slow to reach a journal entry"
            );
        }
    }
}

/// A view slower than this to reach an entry is reported.
const SLOW_VIEW_MS: u64 = 250;

/// 503: the journal (or this instance's view of it) cannot be reached now; asking again with
/// the same id is safe.
fn unavailable(why: String) -> WireError {
    tracing::warn!(%why, "journal unavailable");
    WireError::new(
        ErrorCode::Unavailable,
        "the books cannot be reached right now: ask again with the same id",
    )
}
