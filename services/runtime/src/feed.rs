//! Following the event stream into a service's own view.
//!
//! The view keeps the stream sequence of the last event it applied, in the same store batch as
//! the effects of that event. On start the feed resumes right after it, through an ack-less,
//! ephemeral consumer ([`crate::consumer`]), and a consumer that fails (its node died) is
//! replaced by a new one after the last event applied; an empty view starts from the
//! beginning, which is how a lost view is rebuilt by replay.

use crate::consumer::Source;
use async_nats::jetstream::{self, stream::Stream};
use futures::StreamExt;
use posfee_client::keydir::{KeyDirectory, VerifyError};
use posfee_client::shutdown::Shutdown;
use posfee_schemas::events::{Carried, Event, EVENT_HEADER, EVENT_SEAL_HEADER};
use posfee_schemas::ids::KeyId;
use posfee_schemas::subjects::{self, Role, Subject};
use posfee_schemas::trust::{JournalLink, JournalSeal, SEAL_HEADER};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Events handed to `apply` at once: whatever has arrived, up to this many.
pub const FEED_BATCH: usize = 512;
/// How long to wait before recreating the consumer after an error.
pub const FEED_RETRY_MS: u64 = 500;

/// One event as delivered: its stream sequence and, if it decoded, the event.
pub struct Delivered {
    pub seq: u64,
    pub event: Option<Event>,
}

/// Applies events to the view and follows the stream until shutdown. `apply` gets each batch
/// in order and must record the last sequence with its effects; it returns that sequence.
/// `applied` publishes the sequence reached, for readers that want their own writes.
///
/// An event counts only with its writer's seal (`EventKind::writer`, checked through `seals`
/// against the root): one published by anyone else, or changed since, is skipped, so a view
/// never acts on an event because of where it was written.
pub async fn follow<F>(
    client: async_nats::Client,
    filters: Vec<String>,
    last_seq: u64,
    applied: watch::Sender<u64>,
    shutdown: Shutdown,
    seals: Arc<KeyDirectory>,
    mut apply: F,
) -> anyhow::Result<()>
where
    F: FnMut(Vec<Delivered>) -> anyhow::Result<u64> + Send,
{
    let from = Source {
        stream: subjects::EVENTS_STREAM.to_string(),
        filters,
        headers_only: false,
    };
    follow_raw(
        client,
        from,
        last_seq,
        applied,
        shutdown,
        Seals::Writers(seals),
        move |raw| {
            let batch = raw.into_iter().map(delivered).collect();
            apply(batch)
        },
    )
    .await
}

/// A stored message read as an event, if it is one and its writer sealed it.
fn delivered(m: Raw) -> Delivered {
    let event = match Event::read_on(&m.subject, &m.payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(seq = m.seq, error = %e, "undecodable or mislabelled event skipped");
            return Delivered {
                seq: m.seq,
                event: None,
            };
        }
    };
    if m.sealed_by.is_none() {
        tracing::warn!(
            seq = m.seq,
            kind = %event.kind(),
            writer = %event.kind().writer(),
            "event without its writer's seal skipped"
        );
        return Delivered {
            seq: m.seq,
            event: None,
        };
    }
    Delivered {
        seq: m.seq,
        event: Some(event),
    }
}

/// Follows the events the entries of a service's journal `stream` carry
/// ([`crate::journal::Carries`]) into a view, as [`follow`] does the event stream: each carried
/// event counts only with its writer's seal, checked as if it had been published on its kind's
/// subject. `apply` gets, for every entry, its carried events (or one `None` for an entry
/// that carries none, so its sequence still counts as applied); several may share a sequence.
pub async fn follow_carried<F>(
    client: async_nats::Client,
    stream: &str,
    last_seq: u64,
    applied: watch::Sender<u64>,
    shutdown: Shutdown,
    seals: Arc<KeyDirectory>,
    mut apply: F,
) -> anyhow::Result<()>
where
    F: FnMut(Vec<Delivered>) -> anyhow::Result<u64> + Send,
{
    let owner = subjects::journal_owner(stream)
        .ok_or_else(|| anyhow::anyhow!("{stream} is no journal that carries events"))?;
    let from = Source {
        stream: stream.to_string(),
        filters: Vec::new(),
        headers_only: true,
    };
    follow_raw(
        client,
        from,
        last_seq,
        applied,
        shutdown,
        Seals::Carried(seals, owner),
        move |raw| {
            let mut batch = Vec::with_capacity(raw.len());
            for m in raw {
                if m.carried.is_empty() {
                    batch.push(Delivered {
                        seq: m.seq,
                        event: None,
                    });
                }
                for event in m.carried {
                    batch.push(Delivered {
                        seq: m.seq,
                        event: Some(event),
                    });
                }
            }
            apply(batch)
        },
    )
    .await
}

/// Runs [`follow_carried`] over `stream` as a task of `tasks`, for a view that records its
/// position under [`carried_seq_key`]: `apply` gets that key with each batch. Returns how
/// far the view has applied the stream.
pub fn spawn_carried<F>(
    tasks: &mut crate::tasks::Tasks,
    (client, stream, meta): (&async_nats::Client, &'static str, &posfee_store::Tree),
    (shutdown, seals): (&Shutdown, Arc<KeyDirectory>),
    mut apply: F,
) -> anyhow::Result<watch::Receiver<u64>>
where
    F: FnMut(&[u8], Vec<Delivered>) -> anyhow::Result<u64> + Send + 'static,
{
    let key = carried_seq_key(stream);
    let start = seq_at(meta, &key)?;
    let (applied, reached) = watch::channel(start);
    tasks.spawn_fallible(
        "journal events",
        follow_carried(
            client.clone(),
            stream,
            start,
            applied,
            shutdown.clone(),
            seals,
            move |batch| apply(&key, batch),
        ),
    );
    Ok(reached)
}

/// The events a journal entry's headers carry, each with its seal, in order, unchecked.
pub fn carried_in(headers: Option<&async_nats::HeaderMap>) -> Vec<Carried> {
    let Some(headers) = headers else {
        return Vec::new();
    };
    let values = |name| headers.get_all(name).map(|v| v.as_str());
    Carried::read(values(EVENT_HEADER), values(EVENT_SEAL_HEADER))
}

/// The events an entry of `owner`'s journal carries that `owner` sealed and may carry
/// ([`posfee_schemas::subjects::EventKind::carried_by`]), in order; the others are passed over,
/// reported. An error when a seal cannot be checked now.
pub async fn carried_events(
    keys: &KeyDirectory,
    (owner, seq): (Role, u64),
    headers: Option<&async_nats::HeaderMap>,
) -> Result<Vec<Event>, VerifyError> {
    let carried = carried_in(headers);
    let Ok(sealer) = KeyId::parse(owner.as_str()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(carried.len());
    for c in carried {
        let event: Event = match posfee_schemas::decode(&c.payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(seq, error = %e, "undecodable carried event skipped");
                continue;
            }
        };
        if !event.kind().carried_by(owner) {
            tracing::warn!(seq, kind = %event.kind(), journal = %owner.as_str(), "an event this journal may not carry skipped");
            continue;
        }
        let sealed = keys
            .sealed_by(&sealer, &event.subject(), &c.payload, Some(c.seal.as_str()))
            .await?;
        if !sealed {
            tracing::warn!(seq, kind = %event.kind(), journal = %owner.as_str(), "carried event without its journal's seal skipped");
            continue;
        }
        out.push(event);
    }
    Ok(out)
}

/// Whose seals a feed believes.
#[derive(Clone)]
pub enum Seals {
    /// The event stream: each event's kind has one writer ([`posfee_schemas::subjects::EventKind::writer`]),
    /// whose certificate the key directory holds and the root vouches for.
    Writers(Arc<KeyDirectory>),
    /// A service's own journal: only the service (its authority's holders) writes it, named
    /// here as the authority.
    Own(JournalSeal, KeyId),
    /// Another service's journal (`owner`'s), read for the events its entries carry: the
    /// entries themselves are not checked (only their writer can), each carried event is
    /// ([`carried_events`]).
    Carried(Arc<KeyDirectory>, Role),
}

impl Seals {
    /// The authority that sealed `payload` on `subject` (`seal`: the header's value), if the
    /// one that must have did; an error when that cannot be told now.
    async fn sealer(
        &self,
        subject: &str,
        payload: &[u8],
        headers: Option<&async_nats::HeaderMap>,
    ) -> Result<Option<KeyId>, VerifyError> {
        let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
        match self {
            Seals::Writers(keys) => {
                let Ok(Subject::Event(kind)) = Subject::parse(subject) else {
                    return Ok(None);
                };
                let Ok(writer) = KeyId::parse(kind.writer().as_str()) else {
                    return Ok(None);
                };
                let sealed = keys
                    .sealed_by(&writer, subject, payload, header(SEAL_HEADER))
                    .await?;
                Ok(sealed.then_some(writer))
            }
            Seals::Own(seal, name) => {
                Ok(crate::journal::sealed_link(seal, subject, payload, headers)
                    .map(|_| name.clone()))
            }
            Seals::Carried(..) => Ok(None),
        }
    }
}

/// One stored message as delivered.
pub struct Raw {
    pub seq: u64,
    pub subject: String,
    pub payload: bytes::Bytes,
    /// The authority whose seal verified: the one [`Seals`] expects, or none.
    pub sealed_by: Option<KeyId>,
    /// A journal entry's link to the entry before it on its subject, as its header says.
    pub prev: Option<JournalLink>,
    /// The events the entry carries that their writers sealed (read only by a feed of
    /// [`Seals::Carried`]).
    pub carried: Vec<Event>,
}

/// [`follow`] for any stream, handing over the messages as stored, each with the authority
/// that sealed it if it is the one `seals` expects.
pub async fn follow_raw<F>(
    client: async_nats::Client,
    from: Source,
    mut last_seq: u64,
    applied: watch::Sender<u64>,
    shutdown: Shutdown,
    seals: Seals,
    mut apply: F,
) -> anyhow::Result<()>
where
    F: FnMut(Vec<Raw>) -> anyhow::Result<u64> + Send,
{
    let js = jetstream::new(client);
    let _ = applied.send(last_seq);
    let feed = (from.stream.as_str(), &applied, &seals);
    loop {
        if shutdown.is_triggered() {
            return Ok(());
        }
        let reopen_after = match crate::consumer::open(&js, &from, last_seq).await {
            Ok(messages) => read(messages, feed, (&mut last_seq, &mut apply), &shutdown).await,
            Err(e) => {
                tracing::warn!(stream = %from.stream, error = %e, "cannot open the feed; retrying");
                Some(crate::consumer::OPEN_RETRY_MS)
            }
        };
        let Some(ms) = reopen_after else {
            return Ok(());
        };
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        }
    }
}

/// Applies what one consumer delivers until it fails: how long to wait before opening the
/// next one (`None` at shutdown). Nothing of a delivery that could not be read whole is
/// applied: it is read again from the last applied sequence, through a new consumer.
async fn read<F>(
    messages: crate::consumer::Delivery,
    (stream, applied, seals): (&str, &watch::Sender<u64>, &Seals),
    (last_seq, apply): (&mut u64, &mut F),
    shutdown: &Shutdown,
) -> Option<u64>
where
    F: FnMut(Vec<Raw>) -> anyhow::Result<u64> + Send,
{
    let opened = tokio::time::Instant::now();
    let mut chunks = messages.ready_chunks(FEED_BATCH);
    loop {
        let chunk = tokio::select! {
            _ = shutdown.wait() => return None,
            c = chunks.next() => c,
        };
        // A delivery that ended (the client gave the consumer up) is replaced.
        let Some(chunk) = chunk else {
            return Some(crate::consumer::OPEN_RETRY_MS);
        };
        let (batch, pending) = match read_chunk(chunk, *last_seq, seals).await {
            Ok(read) => read,
            // A consumer that failed (its node died) is replaced at once; one that fails as
            // soon as it is made is not made again in a tight loop.
            Err(Unread::Consumer(e)) => {
                tracing::warn!(stream, error = %e, "feed error; reopening");
                let soon = opened.elapsed() < OPENED_FOR;
                return Some(if soon {
                    crate::consumer::OPEN_RETRY_MS
                } else {
                    0
                });
            }
            Err(Unread::Seals) => return Some(FEED_RETRY_MS),
        };
        if batch.is_empty() {
            continue;
        }
        match apply(batch) {
            Ok(seq) => {
                *last_seq = seq;
                let _ = applied.send(seq);
                crate::metrics::fed(stream, seq, pending);
            }
            Err(e) => {
                // Effects are idempotent: reopen from the last recorded sequence and apply
                // again, rather than leave the view frozen behind a live service.
                tracing::error!(error = %format!("{e:#}"), "applying the feed failed; retrying");
                return Some(FEED_RETRY_MS);
            }
        }
    }
}

/// A consumer that fails sooner than this after it was made is made again after a pause.
const OPENED_FOR: Duration = Duration::from_millis(crate::consumer::PULL_EXPIRES_MS);

/// Why a delivery was not read: the consumer failed, or a seal could not be checked now.
enum Unread {
    Consumer(anyhow::Error),
    Seals,
}

/// The messages of one delivery after `last_seq`, each with who sealed it, and how many more
/// the stream holds for this feed after the last; why not, when the consumer failed or a seal
/// could not be checked now (the feed is reopened).
async fn read_chunk(
    chunk: Vec<anyhow::Result<jetstream::Message>>,
    last_seq: u64,
    seals: &Seals,
) -> Result<(Vec<Raw>, u64), Unread> {
    let mut batch = Vec::with_capacity(chunk.len());
    let mut pending = 0;
    for m in chunk {
        let m = match m {
            Ok(m) => m,
            Err(e) => return Err(Unread::Consumer(e)),
        };
        let Ok(info) = m.info() else { continue };
        let seq = info.stream_sequence;
        pending = info.pending;
        if seq <= last_seq {
            continue;
        }
        let mut raw = Raw {
            seq,
            subject: m.subject.to_string(),
            payload: m.payload.clone(),
            sealed_by: None,
            prev: crate::journal::prev_link(m.headers.as_ref()),
            carried: Vec::new(),
        };
        let checked = match seals {
            Seals::Carried(keys, owner) => carried_events(keys, (*owner, seq), m.headers.as_ref())
                .await
                .map(|events| raw.carried = events),
            _ => seals
                .sealer(&raw.subject, &raw.payload, m.headers.as_ref())
                .await
                .map(|by| raw.sealed_by = by),
        };
        if let Err(e) = checked {
            tracing::warn!(seq, error = %e, "cannot check a seal now; reading again");
            return Err(Unread::Seals);
        }
        batch.push(raw);
    }
    Ok((batch, pending))
}

/// The stream sequence of the newest event on any of `subjects` (exact subjects, no
/// wildcards): what a view following them must have applied to have seen everything
/// published so far. Events on other subjects do not count, so a view is never made to wait
/// for something it will not receive.
pub async fn last_seq_of(client: &async_nats::Client, subjects: &[String]) -> anyhow::Result<u64> {
    let js = jetstream::new(client.clone());
    let stream: Stream<()> = js.get_stream_no_info(subjects::EVENTS_STREAM).await?;
    let mut last = 0;
    for subject in subjects {
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => last = last.max(m.sequence),
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(last)
}

/// Waits until a view following `subjects` has applied everything the stream holds on them
/// now, for up to `wait`. Whether it got there: a view that did not (the stream could not be
/// read, or the view is still behind) must not answer "there is no such thing".
pub async fn caught_up(
    client: &async_nats::Client,
    subjects: &[String],
    applied: &watch::Receiver<u64>,
    wait: Duration,
) -> bool {
    reached(last_seq_of(client, subjects).await, applied, wait).await
}

/// Whether `applied` reaches `target` (the stream's end, as read) within `wait`.
async fn reached(
    target: anyhow::Result<u64>,
    applied: &watch::Receiver<u64>,
    wait: Duration,
) -> bool {
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "cannot read how far the stream is");
            return false;
        }
    };
    let mut applied = applied.clone();
    let waited = tokio::time::timeout(wait, applied.wait_for(|seq| *seq >= target)).await;
    matches!(waited, Ok(Ok(_)))
}

/// The last sequence of `stream`: what a view following all of it must have applied to have
/// seen everything stored so far.
pub async fn last_seq_of_stream(js: &jetstream::Context, stream: &str) -> anyhow::Result<u64> {
    Ok(js
        .get_stream(stream)
        .await?
        .cached_info()
        .state
        .last_sequence)
}

/// [`caught_up`] for a view following all of `stream` (a journal's carried events).
pub async fn caught_up_with_stream(
    client: &async_nats::Client,
    stream: &str,
    applied: &watch::Receiver<u64>,
    wait: Duration,
) -> bool {
    let js = jetstream::new(client.clone());
    reached(last_seq_of_stream(&js, stream).await, applied, wait).await
}

/// [`caught_up`] for a view fed by the event stream's `subjects` and by the events the
/// journal `stream` carries: whether it reached both ends, waited for together.
pub async fn caught_up_with_journal(
    client: &async_nats::Client,
    (subjects, applied): (&[String], &watch::Receiver<u64>),
    (stream, stream_applied): (&str, &watch::Receiver<u64>),
    wait: Duration,
) -> bool {
    let (events, journal) = tokio::join!(
        caught_up(client, subjects, applied, wait),
        caught_up_with_stream(client, stream, stream_applied, wait),
    );
    events && journal
}

/// Where a view records the last sequence it applied of the events `stream` (a service's
/// journal) carries, in its `meta` tree.
pub fn carried_seq_key(stream: &str) -> Vec<u8> {
    [b"feed_seq:".as_slice(), stream.as_bytes()].concat()
}

/// What a view answers when it cannot tell yet whether something exists: 503, ask again.
pub fn behind() -> posfee_schemas::WireError {
    posfee_schemas::WireError::new(
        posfee_schemas::ErrorCode::Unavailable,
        "still reading the latest records; ask again in a moment",
    )
}

/// Where a view records the last stream sequence it applied, in its `meta` tree.
pub const FEED_SEQ_KEY: &[u8] = b"feed_seq";

/// The last applied sequence a view recorded under [`FEED_SEQ_KEY`]; 0 for an empty view,
/// which makes the feed replay from the start.
pub fn recorded_seq(meta: &posfee_store::Tree) -> anyhow::Result<u64> {
    seq_at(meta, FEED_SEQ_KEY)
}

/// A stream sequence a view recorded under `key` (eight big-endian bytes); 0 if none.
pub fn seq_at(meta: &posfee_store::Tree, key: &[u8]) -> anyhow::Result<u64> {
    Ok(meta
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}
