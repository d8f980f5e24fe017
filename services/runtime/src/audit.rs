//! Walking a whole journal to check that every entry is the service's own and in its place:
//! sealed with the service's journal key, chained to the entry before it on its subject
//! ([`JournalLink`]), and, where this instance's view applied a subject's last entry, still
//! there as the view applied it. JetStream is then not the only witness of what was written:
//! an entry lost (a node's bit flips, a corrupted snapshot, a delete through the admin
//! credential), altered, forged or put back out of place is found and named.

use crate::journal::{note, sealed_link, unavailable, Journal, SCOPE_PREFIX};
use futures::StreamExt;
use posfee_schemas::audit::{BrokenLink, ChainReport};
use posfee_schemas::trust::JournalLink;
use posfee_schemas::WireError;
use std::collections::HashMap;
use std::time::Duration;

/// How long the walk waits for the next entry before it reads again from there, and how
/// many times it does before it says the journal cannot be read.
const NEXT_ENTRY_MS: u64 = 3_000;
const MAX_STALLS: u32 = 3;

/// Each subject's last entry believed so far: its sequence and link.
type Heads = HashMap<String, (u64, JournalLink)>;

impl Journal {
    /// Walks the journal from its first entry to its last at the start, then compares what
    /// this instance's view applied. Says where the chain first breaks, if it does.
    pub async fn audit(&self) -> Result<ChainReport, WireError> {
        let last_seq = self.last_of_all().await?;
        let (heads, entries, mut broken) = self.walk(last_seq).await?;
        self.caught_up(last_seq).await?;
        if broken.is_none() {
            broken = self.view_disagrees(&heads, last_seq);
        }
        Ok(ChainReport {
            journal: self.name.clone(),
            entries,
            subjects: heads.len() as u64,
            last_seq,
            broken,
        })
    }

    /// Every entry up to `last_seq`, checked in order: the heads reached, the entries
    /// walked, and the first entry found wrong. A read that stalls (a clustered consumer
    /// moving to another node) starts again after the last entry read, a few times.
    async fn walk(&self, last_seq: u64) -> Result<(Heads, u64, Option<BrokenLink>), WireError> {
        let mut heads = Heads::new();
        let (mut entries, mut broken) = (0, None);
        let (mut next, mut stalls) = (1, 0);
        while next <= last_seq {
            let mut messages = self.read_from(next).await?;
            loop {
                let wait = Duration::from_millis(NEXT_ENTRY_MS);
                let msg = match tokio::time::timeout(wait, messages.next()).await {
                    Ok(Some(Ok(m))) => m,
                    stalled => {
                        stalls += 1;
                        tracing::warn!(
                            next,
                            stalls,
                            ?stalled,
                            "the journal walk stalled; reading again"
                        );
                        if stalls > MAX_STALLS {
                            return Err(unavailable(format!(
                                "walking the journal: stalled at {next}"
                            )));
                        }
                        break;
                    }
                };
                let seq = msg.info().map_or(0, |i| i.stream_sequence);
                if seq < next {
                    continue;
                }
                if seq > last_seq {
                    return Ok((heads, entries, broken));
                }
                entries += 1;
                next = seq + 1;
                if let Err(why) = self.check(&mut heads, seq, &msg) {
                    broken.get_or_insert(BrokenLink {
                        seq,
                        subject: msg.subject.to_string(),
                        names: None,
                        why,
                    });
                }
                if seq == last_seq {
                    return Ok((heads, entries, broken));
                }
            }
        }
        Ok((heads, entries, broken))
    }

    /// The journal's entries from sequence `from` on, in order, read the way a view's feed
    /// reads them (short pulls: a consumer whose node died is noticed within seconds).
    async fn read_from(&self, from: u64) -> Result<crate::consumer::Delivery, WireError> {
        let source = crate::consumer::Source {
            stream: self.name.clone(),
            filters: Vec::new(),
            headers_only: false,
        };
        crate::consumer::open(&self.js, &source, from.saturating_sub(1))
            .await
            .map_err(|e| unavailable(format!("walking the journal: {e:#}")))
    }

    /// Whether one entry is sealed by this service and chained to its subject's last entry;
    /// if it is, it becomes that subject's head.
    fn check(&self, heads: &mut Heads, seq: u64, msg: &async_nats::Message) -> Result<(), String> {
        let subject = msg.subject.as_str();
        let sealed = sealed_link(&self.seal, subject, &msg.payload, msg.headers.as_ref());
        let Some(prev) = sealed else {
            return Err("not sealed by this service: written by someone else".into());
        };
        let head = heads.get(subject).map_or(JournalLink::START, |(_, l)| *l);
        if prev != head {
            return Err(
                "not chained to the entry before it on its subject: an entry before it is missing or was changed, or this one was put back out of its place"
                    .into(),
            );
        }
        heads.insert(subject.to_string(), (seq, prev.next(subject, &msg.payload)));
        Ok(())
    }

    /// The first subject whose last entry, as this instance's view applied it (at or before
    /// `last_seq`), is not the journal's: that entry is gone or was changed since.
    fn view_disagrees(&self, heads: &Heads, last_seq: u64) -> Option<BrokenLink> {
        let mut first: Option<BrokenLink> = None;
        for item in self.meta.scan_prefix(SCOPE_PREFIX) {
            let Ok((k, v)) = item else { continue };
            let subject = String::from_utf8_lossy(&k[SCOPE_PREFIX.len()..]).to_string();
            let Ok((seq, link)) = note(&subject, &v) else {
                continue;
            };
            if seq > last_seq || heads.get(&subject) == Some(&(seq, link)) {
                continue;
            }
            if first.as_ref().is_none_or(|f| seq < f.seq) {
                first = Some(BrokenLink {
                    seq,
                    subject,
                    names: None,
                    why: "the view applied this entry as the subject's last, and the journal no longer holds it as written".into(),
                });
            }
        }
        first
    }
}
