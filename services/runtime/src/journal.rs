//! A service's journal: its system of record in a replicated JetStream stream, one subject per
//! scope (what must change one at a time: a tenant account's books), written with optimistic
//! concurrency.
//!
//! A writer reads the scope's last sequence, brings its own view up to it, decides, and
//! appends with `Nats-Expected-Last-Subject-Sequence` set to that sequence. If another
//! instance (on this host or another) appended to the scope meanwhile, the server refuses and
//! the writer decides again on the newer state, so two instances can never both take the
//! same bill. The append is acknowledged once the entry is fsynced on a majority of the
//! stream's replicas; only then does the service answer. Each instance's store is a view
//! of the journal ([`Journal::follow`]) that can be rebuilt from it.

use crate::outbox::Outbox;
use crate::tasks::Tasks;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use posfee_client::shutdown::Shutdown;
use posfee_schemas::events::{Carried, Event, EVENT_HEADER, EVENT_SEAL_HEADER};
use posfee_schemas::ids::KeyId;
use posfee_schemas::trust::{
    JournalLink, JournalSeal, Signer, JOURNAL_PREV_HEADER, JOURNAL_SEAL_HEADER,
};
use posfee_schemas::{ErrorCode, WireError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a writer waits for its own view to reach a sequence before it says "ask again".
pub const CATCH_UP_MS: u64 = 5_000;

#[derive(Clone)]
pub struct Journal {
    pub(crate) js: jetstream::Context,
    stream: Stream<()>,
    pub(crate) name: String,
    subject: fn(&str) -> String,
    /// The sequence this instance's view has applied.
    applied: watch::Receiver<u64>,
    /// The view's `meta` tree, where [`Batch::record`] notes each scope's last applied entry.
    pub(crate) meta: posfee_store::Tree,
    /// Seals every entry with a key of the service's authority: the view believes an entry
    /// only with it, never because it is in the stream (where a leaked seed of the service's
    /// role could also write).
    pub(crate) seal: Arc<JournalSeal>,
    /// Seals the events an entry carries ([`Carries`]) as the service's authority, so that
    /// every reader believes them as it would the same event published by the service.
    events_sealer: Option<Arc<Signer>>,
}

/// What a journal entry tells everyone else: the events it implies (`payment.settled` for a
/// settlement). They travel on the entry itself, sealed by the service's authority
/// ([`posfee_schemas::events::EVENT_HEADER`]), instead of as a second fsynced write to the
/// event stream; readers follow the journal for them ([`crate::feed::follow_carried`]).
pub trait Carries {
    fn carried(&self) -> Vec<&Event> {
        Vec::new()
    }
}

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Appended {
    /// Stored (or stored before, by this entry's id) at this stream sequence.
    At(u64),
    /// Someone appended to the scope first: decide again.
    Moved,
    /// An entry with this id (this one, sent again) is being stored on a clustered stream
    /// right now: ask again shortly, and the answer will be that it is stored.
    InFlight,
}

/// What a clustered stream's refusal means for an append. A single server answers a lost race
/// with 10071 (its sequence named); a clustered stream answers 10164 when the refusal comes
/// from an entry of the same scope still being proposed, 10158 when an entry with the same
/// message id is, and 10163 while it cannot yet check the scope's sequence. None of them is
/// the journal being unreachable.
fn refusal(e: &async_nats::jetstream::context::PublishError) -> Option<Appended> {
    use async_nats::jetstream::ErrorCode as Code;
    if e.kind() == PublishErrorKind::WrongLastSequence {
        return Some(Appended::Moved);
    }
    let source = std::error::Error::source(e)?;
    let code = source.downcast_ref::<jetstream::Error>()?.error_code();
    match code {
        Code::STREAM_WRONG_LAST_SEQUENCE_CONSTANT => Some(Appended::Moved),
        Code::STREAM_DUPLICATE_MESSAGE_CONFLICT
        | Code::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY => Some(Appended::InFlight),
        _ => None,
    }
}

/// How long a journal append waits for the stream's ack before it sends the entry again.
/// A clustered stream whose leader died with its node stores nothing until its other peers
/// elect a leader (4 to 9 s in nats-server); sent again each [`ACK_WAIT_MS`], the entry is
/// stored within that of the election rather than after the whole JetStream timeout.
pub const ACK_WAIT_MS: u64 = 1_000;

/// Publishes `msg` (which carries a message id, so the stream stores it once however often
/// it is sent) and waits for its ack, sending it again each [`ACK_WAIT_MS`] without one,
/// until the JetStream context's timeout.
pub async fn publish_resending(
    js: &jetstream::Context,
    subject: String,
    msg: PublishMessage,
) -> Result<jetstream::publish::PublishAck, jetstream::context::PublishError> {
    use jetstream::context::traits::TimeoutProvider;
    let deadline = tokio::time::Instant::now() + js.timeout();
    let mut resent = false;
    loop {
        let ack = async { js.send_publish(subject.clone(), msg.clone()).await?.await };
        let wait = tokio::time::Instant::now() + Duration::from_millis(ACK_WAIT_MS);
        match tokio::time::timeout_at(wait.min(deadline), ack).await {
            // A copy sent while the first is still being stored on a clustered stream: the
            // first's fate is the answer, asked again shortly.
            Ok(Err(e))
                if resent
                    && matches!(refusal(&e), Some(Appended::InFlight))
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(IN_FLIGHT_PAUSE_MS)).await;
            }
            Ok(answer) => return answer,
            Err(_) if wait < deadline => {
                resent = true;
                tracing::debug!(%subject, "no ack yet: sending the entry again");
            }
            Err(_) => {
                return Err(jetstream::context::PublishError::new(
                    PublishErrorKind::TimedOut,
                ))
            }
        }
    }
}

/// How long a writer waits before sending an entry again whose id is in flight, and how many
/// times it does (about [`CATCH_UP_MS`] in all).
const IN_FLIGHT_PAUSE_MS: u64 = 20;
const IN_FLIGHT_TRIES: u32 = (CATCH_UP_MS / IN_FLIGHT_PAUSE_MS) as u32;

impl Journal {
    /// Follows the journal in `stream` (whose scope subjects `subject` builds) into this
    /// instance's view, from where the view's `meta` says it stopped, as a task of `tasks`:
    /// `apply` records the effects of a batch of entries, in order, in one transaction with
    /// [`Batch::record`]; the outbox, if the view stages events, is woken after each batch.
    /// One transaction per batch rather than per entry: each store transaction writes and
    /// syncs its own log buffer, so under load the entries that arrived together share one.
    /// Entries are sealed with the service's journal key `seal` ([`JournalSeal`], the
    /// service named `writer`) and chained per subject ([`JournalLink`]); an entry without its
    /// seal, or one whose link is not its subject's last (a copy put back), is passed over,
    /// reported. Returns the journal to write through.
    pub async fn follow<E, F>(
        client: &async_nats::Client,
        (stream, subject): (&str, fn(&str) -> String),
        meta: posfee_store::Tree,
        (outbox, tasks, shutdown): (Option<Outbox>, &mut Tasks, Shutdown),
        (seal, writer): (JournalSeal, KeyId),
        mut apply: F,
    ) -> anyhow::Result<Journal>
    where
        E: serde::de::DeserializeOwned,
        F: FnMut(&Batch<E>) -> anyhow::Result<()> + Send + 'static,
    {
        let start = applied(&meta)?;
        let (applied_tx, applied_rx) = watch::channel(start);
        let view = meta.clone();
        tasks.spawn_fallible(
            "journal",
            crate::feed::follow_raw(
                client.clone(),
                crate::consumer::Source {
                    stream: stream.to_string(),
                    filters: Vec::new(),
                    headers_only: false,
                },
                start,
                applied_tx,
                shutdown,
                crate::feed::Seals::Own(seal.clone(), writer),
                move |raw| {
                    let batch = Batch::decode(raw, &view)?;
                    apply(&batch)?;
                    if let Some(outbox) = &outbox {
                        outbox.notify();
                    }
                    Ok(batch.last)
                },
            ),
        );
        Journal::open(
            client,
            (stream, subject),
            (applied_rx, meta),
            Arc::new(seal),
        )
        .await
    }

    /// The journal in `stream`, whose scope subjects `subject` builds, and the view's applied
    /// sequence.
    async fn open(
        client: &async_nats::Client,
        (stream, subject): (&str, fn(&str) -> String),
        (applied, meta): (watch::Receiver<u64>, posfee_store::Tree),
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
            events_sealer: None,
        })
    }

    /// Seals the events entries carry with `signer`, the service's authority.
    pub fn carrying(mut self, signer: &Signer) -> Journal {
        self.events_sealer = Some(Arc::new(signer.clone()));
        self
    }

    /// The headers of an entry on `subject` after `prev`: its seal, its link, and each event
    /// it carries with the event's seal.
    fn headers(
        &self,
        subject: &str,
        prev: &JournalLink,
        payload: &[u8],
        events: &[&Event],
    ) -> Result<async_nats::HeaderMap, WireError> {
        let mut headers = async_nats::HeaderMap::new();
        let seal = self.seal.render(subject, prev, payload);
        headers.insert(JOURNAL_SEAL_HEADER, seal.as_str());
        headers.insert(JOURNAL_PREV_HEADER, prev.to_hex().as_str());
        if events.is_empty() {
            return Ok(headers);
        }
        let Some(signer) = &self.events_sealer else {
            return Err(WireError::new(
                ErrorCode::Internal,
                "a journal entry carries events but the journal has no key to seal them",
            ));
        };
        for event in events {
            let payload = posfee_schemas::encode(*event);
            let seal = signer.seal(&event.subject(), &payload).render();
            let carried = Carried { payload, seal };
            headers.append(EVENT_HEADER, carried.header_value().as_str());
            headers.append(EVENT_SEAL_HEADER, carried.seal.as_str());
        }
        Ok(headers)
    }

    /// The scope's last entry as far as this instance's view has applied it: no round trip,
    /// and usually the scope's last entry indeed (an account or a payer is written by one
    /// request at a time). Appending after it fails if another instance wrote since, so it is
    /// a safe first guess, never a decision.
    pub fn known_last(&self, scope: &str) -> u64 {
        self.known(scope).0
    }

    /// The scope's last entry this instance's view applied, with its link: what the next
    /// entry of the scope chains to.
    fn known(&self, scope: &str) -> (u64, JournalLink) {
        last_applied(&self.meta, &(self.subject)(scope))
            .ok()
            .flatten()
            .unwrap_or((0, JournalLink::START))
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
        let last = self.last_of_all().await?;
        self.caught_up(last).await
    }

    /// The journal's last sequence, whatever its scope.
    pub async fn last_of_all(&self) -> Result<u64, WireError> {
        crate::feed::last_seq_of_stream(&self.js, &self.name)
            .await
            .map_err(|e| unavailable(format!("reading the journal's state: {e}")))
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

    /// The scope's last sequence in the stream, with the view brought up to it, and the link
    /// the next entry chains to: that of the last entry the view believed (an entry nobody
    /// sealed is in the stream but not in the chain).
    async fn latest(&self, scope: &str) -> Result<(u64, JournalLink), WireError> {
        let last = self.settled_view(scope).await?;
        Ok((last, self.known(scope).1))
    }

    /// Appends `payload` to the scope if its last entry is still `after`. `id` makes a retried
    /// append of the same entry store it once.
    async fn append(
        &self,
        scope: &str,
        (after, prev): (u64, JournalLink),
        id: &str,
        (payload, events): (Vec<u8>, &[&Event]),
    ) -> Result<Appended, WireError> {
        let subject = (self.subject)(scope);
        let headers = self.headers(&subject, &prev, &payload, events)?;
        let msg = PublishMessage::build()
            .headers(headers)
            .payload(payload.into())
            .message_id(id)
            .expected_last_subject_sequence(after);
        match publish_resending(&self.js, subject, msg).await {
            Ok(ack) => Ok(Appended::At(ack.sequence)),
            Err(e) => {
                refusal(&e).ok_or_else(|| unavailable(format!("appending to the journal: {e}")))
            }
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
        E: serde::Serialize + Carries,
    {
        let mut after = self.known(scope);
        let mut latest = false;
        let mut in_flight = 0;
        loop {
            let entry = match decide() {
                Ok(Some(entry)) => entry,
                // Done is done: entries are never taken back, so a view that is behind
                // cannot wrongly see something as done.
                Ok(None) => return Ok(false),
                Err(e) if latest => return Err(e),
                Err(_) => {
                    after = self.latest(scope).await?;
                    latest = true;
                    continue;
                }
            };
            match self
                .append(
                    scope,
                    after,
                    id,
                    (posfee_schemas::encode(&entry), &entry.carried()),
                )
                .await?
            {
                Appended::At(seq) => {
                    self.caught_up(seq).await?;
                    return Ok(true);
                }
                Appended::Moved => {
                    after = self.latest(scope).await?;
                    latest = true;
                }
                Appended::InFlight if in_flight < IN_FLIGHT_TRIES => {
                    in_flight += 1;
                    tokio::time::sleep(Duration::from_millis(IN_FLIGHT_PAUSE_MS)).await;
                }
                Appended::InFlight => {
                    return Err(unavailable(format!(
                        "entry {id} stayed in flight on the stream"
                    )))
                }
            }
        }
    }
}

/// One entry of an atomic write ([`Journal::write_all`]): its scope, its id (as
/// [`Journal::write`]'s) and the entry.
pub struct Part<E> {
    pub scope: String,
    pub id: String,
    pub entry: E,
}

/// JetStream's answers to an atomic batch that mean "decide again on the latest state": a
/// scope moved (10071, or 10164 while another write of it is proposed), the batch was dropped
/// before its commit (10176, incomplete), one of its entries is stored already (10201: a
/// batch whose acknowledgement was lost, sent again), or too many batches are in flight on
/// the stream just now (10210).
fn batch_refusal(e: &async_nats::jetstream::context::PublishError) -> bool {
    use async_nats::jetstream::ErrorCode as Code;
    if e.kind() == PublishErrorKind::WrongLastSequence {
        return true;
    }
    let Some(source) = std::error::Error::source(e) else {
        return false;
    };
    let Some(code) = source
        .downcast_ref::<jetstream::Error>()
        .map(|e| e.error_code())
    else {
        return false;
    };
    matches!(
        code,
        Code::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            | Code::STREAM_DUPLICATE_MESSAGE_CONFLICT
            | Code::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY
            | Code(ATOMIC_PUBLISH_INCOMPLETE_BATCH)
            | Code(ATOMIC_PUBLISH_CONTAINS_DUPLICATE)
            | Code(ATOMIC_PUBLISH_TOO_MANY_INFLIGHT)
    )
}

/// The JetStream error code of a refused publish, if the stream answered one.
fn jetstream_code(e: &async_nats::jetstream::context::PublishError) -> Option<u64> {
    let source = std::error::Error::source(e)?;
    Some(source.downcast_ref::<jetstream::Error>()?.error_code().0)
}

/// Whether the stream refused the batch for a reason that holds for every batch like it:
/// atomic publish not allowed (10174), the batch malformed (10175 sequence missing, 10177 a
/// header it does not take, 10179 id, 10200 commit) or too large (10199).
fn never_taken(e: &async_nats::jetstream::context::PublishError) -> bool {
    matches!(
        jetstream_code(e),
        Some(10174 | 10175 | 10177 | 10179 | 10199 | 10200)
    )
}

/// nats-server's `JSAtomicPublishIncompleteBatchErr`,
/// `JSAtomicPublishContainsDuplicateMessageErr` and `JSAtomicPublishTooManyInflight` (the
/// stream's limit of batches in flight at once; server/errors.json).
const ATOMIC_PUBLISH_INCOMPLETE_BATCH: u64 = 10176;
const ATOMIC_PUBLISH_CONTAINS_DUPLICATE: u64 = 10201;
const ATOMIC_PUBLISH_TOO_MANY_INFLIGHT: u64 = 10210;

/// How many times an atomic write decides again after the stream refused its batch.
const ATOMIC_TRIES: u32 = 50;

impl Journal {
    /// [`Journal::write`] for entries of several scopes that must all be appended or none
    /// (a basket's settlements, one per tenant account): `decide` names them on this
    /// instance's view (`None`: done already); they go to the stream as one atomic batch
    /// (`Nats-Batch-*`, the stream allows atomic publish), each after its scope's last
    /// entry. If the stream refuses (a scope moved, the batch was lost), every scope's view
    /// is brought up to its latest entry and `decide` runs again; a refusal of `decide` is
    /// only given once decided on the latest state. Scopes must differ (the server checks
    /// each scope's sequence once per batch). Returns whether the entries were appended; the
    /// view has them when this returns.
    pub async fn write_all<E>(
        &self,
        scopes: &[String],
        mut decide: impl FnMut() -> Result<Option<Vec<Part<E>>>, WireError>,
    ) -> Result<bool, WireError>
    where
        E: serde::Serialize + Carries,
    {
        // Where each scope's next entry goes: first after what this view has applied (no
        // round trip), then, once the stream refused, after each scope's real last entry (an
        // entry the view passed over, unsealed, still counts as the scope's last).
        let mut after: HashMap<String, (u64, JournalLink)> = HashMap::new();
        let mut latest = false;
        for _ in 0..ATOMIC_TRIES {
            let parts = match decide() {
                Ok(Some(parts)) => parts,
                Ok(None) => return Ok(false),
                Err(e) if latest => return Err(e),
                Err(_) => {
                    after = self.all_latest(scopes).await?;
                    latest = true;
                    continue;
                }
            };
            match self.append_all(&parts, &after).await? {
                Some(seq) => {
                    self.caught_up(seq).await?;
                    return Ok(true);
                }
                None => {
                    tokio::time::sleep(Duration::from_millis(IN_FLIGHT_PAUSE_MS)).await;
                    after = self.all_latest(scopes).await?;
                    latest = true;
                }
            }
        }
        Err(unavailable(format!(
            "the journal refused an atomic write {ATOMIC_TRIES} times"
        )))
    }

    /// Each scope's last sequence in the stream and the link its next entry chains to, with
    /// the view brought up to it.
    async fn all_latest(
        &self,
        scopes: &[String],
    ) -> Result<HashMap<String, (u64, JournalLink)>, WireError> {
        let mut out = HashMap::with_capacity(scopes.len());
        for scope in scopes {
            out.insert(scope.clone(), self.latest(scope).await?);
        }
        Ok(out)
    }

    /// Sends `parts` as one atomic batch, each after its scope's entry in `after` (or, for a
    /// scope not there, the last this view has): the stream sequence of the last if the
    /// stream took them, `None` if it refused the batch as a whole (decide again).
    async fn append_all<E: serde::Serialize + Carries>(
        &self,
        parts: &[Part<E>],
        after: &HashMap<String, (u64, JournalLink)>,
    ) -> Result<Option<u64>, WireError> {
        let batch = uuid::Uuid::new_v4().simple().to_string();
        let client = self.js.client();
        let last = parts.len();
        for (i, part) in parts.iter().enumerate() {
            let subject = (self.subject)(&part.scope);
            let (after, prev) = after
                .get(&part.scope)
                .cloned()
                .unwrap_or_else(|| self.known(&part.scope));
            let payload = posfee_schemas::encode(&part.entry);
            let mut headers = self.headers(&subject, &prev, &payload, &part.entry.carried())?;
            headers.insert("Nats-Msg-Id", part.id.as_str());
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                after.to_string().as_str(),
            );
            headers.insert("Nats-Batch-Id", batch.as_str());
            headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            if i + 1 < last {
                client
                    .publish_with_headers(subject, headers, payload.into())
                    .await
                    .map_err(|e| unavailable(format!("appending to the journal: {e}")))?;
                continue;
            }
            headers.insert("Nats-Batch-Commit", "1");
            let msg = PublishMessage::build()
                .headers(headers)
                .payload(payload.into());
            let ack = async { self.js.send_publish(subject, msg).await?.await };
            return match ack.await {
                Ok(ack) => Ok(Some(ack.sequence)),
                Err(e) if batch_refusal(&e) => {
                    tracing::debug!(error = %e, "atomic batch refused; deciding again");
                    Ok(None)
                }
                // The stream will never take this batch (atomic publish not allowed, a header
                // it does not take, too many entries): a fault to fix, not a wait.
                Err(e) if never_taken(&e) => {
                    tracing::error!(error = %e, "the journal refuses atomic batches");
                    Err(WireError::new(
                        ErrorCode::Internal,
                        format!("the journal refuses this atomic write: {e}"),
                    ))
                }
                Err(e) => Err(unavailable(format!("appending to the journal: {e}"))),
            };
        }
        Err(unavailable("an atomic write of no entries".to_string()))
    }
}

/// Where a view keeps its place in its journal and the instance's id, in its `meta` tree.
pub const APPLIED_KEY: &[u8] = b"journal_seq";
const INSTANCE_KEY: &[u8] = b"instance";

/// This instance's id, made on first use and kept in its store: the entries it wrote, it
/// publishes (a restarted instance is the same one; one whose store was lost is a new one).
pub fn instance_id(db: &posfee_store::Db, meta: &posfee_store::Tree) -> anyhow::Result<u64> {
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
fn applied(meta: &posfee_store::Tree) -> anyhow::Result<u64> {
    crate::feed::seq_at(meta, APPLIED_KEY)
}

/// Entries delivered together, decoded, for a view to apply in one transaction.
pub struct Batch<E> {
    /// Each readable entry with its stream sequence, in order.
    pub entries: Vec<(u64, E)>,
    /// The scope subject of each entry, in the same order.
    subjects: Vec<String>,
    /// The link of each entry, in the same order: what the next entry of its scope chains to.
    links: Vec<JournalLink>,
    /// The last sequence delivered, readable or not: where the view stands once applied.
    pub last: u64,
}

impl<E: serde::de::DeserializeOwned> Batch<E> {
    /// Decodes a delivery, against the view's `meta` (each scope's last link). Passed over,
    /// loudly, so the view keeps up with the rest: an entry without the service's seal
    /// (written by someone else holding the role's seed), one whose link is not its scope's
    /// last (a sealed entry published again out of its place), and one that does not decode
    /// (a bug). Its sequence still counts as applied, and a writer that meets it as its
    /// scope's last entry appends after it, chained to the last entry believed.
    fn decode(raw: Vec<crate::feed::Raw>, meta: &posfee_store::Tree) -> anyhow::Result<Batch<E>> {
        let mut batch = Batch {
            entries: Vec::with_capacity(raw.len()),
            subjects: Vec::with_capacity(raw.len()),
            links: Vec::with_capacity(raw.len()),
            last: 0,
        };
        let mut heads: std::collections::HashMap<String, JournalLink> = Default::default();
        for m in raw {
            batch.last = m.seq;
            let (seq, subject) = (m.seq, m.subject.as_str());
            let (Some(_), Some(prev)) = (&m.sealed_by, m.prev) else {
                tracing::error!(seq, %subject, "journal entry without this service's seal skipped: someone else wrote it");
                continue;
            };
            let head = match heads.get(subject) {
                Some(link) => *link,
                None => last_applied(meta, subject)?.map_or(JournalLink::START, |(_, l)| l),
            };
            if prev != head {
                tracing::error!(seq, %subject, "journal entry out of its place skipped: a copy of an earlier entry, put back");
                continue;
            }
            match posfee_schemas::decode::<E>(&m.payload) {
                Ok(entry) => {
                    let link = prev.next(subject, &m.payload);
                    heads.insert(m.subject.clone(), link);
                    batch.entries.push((seq, entry));
                    batch.links.push(link);
                    batch.subjects.push(m.subject);
                }
                Err(e) => {
                    tracing::error!(seq, error = %e, "unreadable journal entry skipped")
                }
            }
        }
        Ok(batch)
    }
}

impl<E> Batch<E> {
    /// A batch of entries read elsewhere, each with its stream sequence and scope subject, in
    /// order: for a view's own tests.
    pub fn new(entries: Vec<(u64, String, E)>) -> Batch<E> {
        let last = entries.last().map_or(0, |(seq, _, _)| *seq);
        let links = entries
            .iter()
            .map(|(seq, subject, _)| JournalLink::START.next(subject, &seq.to_be_bytes()))
            .collect();
        let (entries, subjects) = entries
            .into_iter()
            .map(|(seq, subject, e)| ((seq, e), subject))
            .unzip();
        Batch {
            entries,
            subjects,
            links,
            last,
        }
    }

    /// Notes, in the view's transaction on its `meta` tree, the batch applied: each scope's
    /// last entry and its link (a writer's first guess, [`Journal::known_last`], and what its
    /// entry chains to) and the journal position.
    pub fn record(
        &self,
        meta: &posfee_store::transaction::TransactionalTree,
    ) -> Result<(), posfee_store::transaction::UnabortableTransactionError> {
        let entries = self.entries.iter().zip(&self.subjects).zip(&self.links);
        for (((seq, _), subject), link) in entries {
            meta.insert(
                scope_key(subject),
                [seq.to_be_bytes().as_slice(), &link.0].concat(),
            )?;
        }
        meta.insert(APPLIED_KEY, &self.last.to_be_bytes())?;
        Ok(())
    }
}

/// Where the view notes the last entry it applied on one journal subject, with its link.
pub(crate) const SCOPE_PREFIX: &[u8] = b"last:";

fn scope_key(subject: &str) -> Vec<u8> {
    [SCOPE_PREFIX, subject.as_bytes()].concat()
}

/// The link a stored journal entry names as the entry before it on its subject.
pub(crate) fn prev_link(headers: Option<&async_nats::HeaderMap>) -> Option<JournalLink> {
    let value = headers?.get(JOURNAL_PREV_HEADER)?;
    JournalLink::from_hex(value.as_str())
}

/// That link, if the entry's seal under `seal` holds over subject, link and payload: what
/// every reader of a journal checks (the view's feed, the audit walk).
pub(crate) fn sealed_link(
    seal: &JournalSeal,
    subject: &str,
    payload: &[u8],
    headers: Option<&async_nats::HeaderMap>,
) -> Option<JournalLink> {
    let prev = prev_link(headers)?;
    let value = headers?.get(JOURNAL_SEAL_HEADER)?;
    seal.check(subject, &prev, payload, value.as_str())
        .then_some(prev)
}

/// The last entry the view applied on `subject` and its link, if any.
fn last_applied(
    meta: &posfee_store::Tree,
    subject: &str,
) -> anyhow::Result<Option<(u64, JournalLink)>> {
    match meta.get(scope_key(subject))? {
        Some(v) => note(subject, &v).map(Some),
        None => Ok(None),
    }
}

/// A view's note of a subject's last entry: its sequence and link.
pub(crate) fn note(subject: &str, v: &[u8]) -> anyhow::Result<(u64, JournalLink)> {
    let seq = <[u8; 8]>::try_from(v.get(..8).unwrap_or_default()).map(u64::from_be_bytes);
    // A note from before journals were chained has no link: the chain starts after it.
    let link = match v.get(8..) {
        Some([]) => Ok(JournalLink::START),
        rest => <[u8; 32]>::try_from(rest.unwrap_or_default()).map(JournalLink),
    };
    match (seq, link) {
        (Ok(seq), Ok(link)) => Ok((seq, link)),
        _ => {
            anyhow::bail!("the view's note of {subject}'s last entry is not a sequence and a link")
        }
    }
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
pub(crate) fn unavailable(why: String) -> WireError {
    tracing::warn!(%why, "journal unavailable");
    WireError::new(
        ErrorCode::Unavailable,
        "the books cannot be reached right now: ask again with the same id",
    )
}
