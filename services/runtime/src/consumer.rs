//! The consumer a feed reads a stream through: ephemeral, ack-less, one replica, delivering
//! in stream order from a given sequence, as async-nats' ordered consumer does, except that it
//! never repairs itself. A consumer that goes quiet (its node died), skips a message or is
//! deleted ends in an error at once, and the feed makes a new one after the last entry it
//! applied ([`crate::feed`]), at once and then every [`OPEN_RETRY_MS`] until one is made.
//!
//! Why not the ordered consumer: it noticed a dead consumer only after two missed heartbeats
//! and then made it again on its own schedule (pauses of 0.5 s growing to 10 s, each try
//! allowed the context's 5 s), so a view whose consumer had lived on a killed node stayed
//! frozen for 10 s and more while the cluster could already serve it, and every writer waiting
//! for that view waited with it. Its best-effort delete of the old consumer was also refused
//! by the services' permissions, an error line in the server's log at every failover; a
//! consumer left behind here is removed by the server once nobody pulls from it.

use async_nats::jetstream::{self, consumer, stream::Stream as JsStream};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long one pull waits on the server. Its idle heartbeat comes at half that, and a
/// consumer silent for two heartbeats is given up: a dead one is noticed within a second.
pub const PULL_EXPIRES_MS: u64 = 1_000;
/// How long making a consumer may take before the feed tries again: a request sent while
/// the cluster has no meta leader (it died with its node) is never answered, and the next try
/// should go soon after one is elected. A healthy cluster answers in milliseconds.
pub const OPEN_TIMEOUT_MS: u64 = 1_000;
/// The pause between two tries.
pub const OPEN_RETRY_MS: u64 = 250;
/// How long the server keeps a consumer nobody pulls from: one a feed gave up goes after it.
pub const INACTIVE_MS: u64 = 30_000;

/// The stream a view follows, and which of its subjects.
pub struct Source {
    pub stream: String,
    pub filters: Vec<String>,
    /// Deliver the messages' headers only (a journal followed for the events its entries
    /// carry: the entries are not read).
    pub headers_only: bool,
}

/// Makes a consumer of `from` delivering every message after `last_seq` (all of them for 0),
/// and starts pulling.
pub async fn open(
    js: &jetstream::Context,
    from: &Source,
    last_seq: u64,
) -> anyhow::Result<Delivery> {
    let mut js = js.clone();
    js.set_timeout(Duration::from_millis(OPEN_TIMEOUT_MS));
    let stream: JsStream<()> = js.get_stream_no_info(&from.stream).await?;
    let deliver_policy = if last_seq == 0 {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::ByStartSequence {
            start_sequence: last_seq + 1,
        }
    };
    let expires = Duration::from_millis(PULL_EXPIRES_MS);
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subjects: from.filters.clone(),
            headers_only: from.headers_only,
            deliver_policy,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_millis(INACTIVE_MS),
            num_replicas: 1,
            memory_storage: true,
            max_expires: expires,
            ..Default::default()
        })
        .await?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(crate::feed::FEED_BATCH)
        .expires(expires)
        .heartbeat(expires / 2)
        .messages()
        .await?;
    Ok(Delivery { messages, next: 1 })
}

/// A consumer's messages in order. Each is the one after the last (the consumer's own
/// sequence counts them): a gap, a missed heartbeat or any other trouble is an error, after
/// which the reader drops this and opens a new one.
pub struct Delivery {
    messages: consumer::pull::Stream,
    /// The consumer sequence the next message must have.
    next: u64,
}

impl Stream for Delivery {
    type Item = anyhow::Result<jetstream::Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let message = match futures::ready!(self.messages.poll_next_unpin(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => {
                let e = anyhow::anyhow!("the consumer stopped delivering: {e}");
                return Poll::Ready(Some(Err(e)));
            }
            Some(Ok(m)) => m,
        };
        let delivered = match message.info() {
            Ok(info) => info.consumer_sequence,
            Err(e) => {
                let e = anyhow::anyhow!("a delivered message has no sequence: {e}");
                return Poll::Ready(Some(Err(e)));
            }
        };
        if delivered != self.next {
            let e = anyhow::anyhow!(
                "the consumer skipped from message {} to {delivered}",
                self.next
            );
            return Poll::Ready(Some(Err(e)));
        }
        self.next += 1;
        Poll::Ready(Some(Ok(message)))
    }
}
