//! One payment, one trace: W3C trace context (`traceparent`) in NATS headers, across the
//! kiosk, the fee-engine, the phone, paygate and the ledger.
//!
//! A trace begins where a payment begins (the kiosk, for each payer it serves) or at a request
//! that arrives without one. Inside a [`scope`], every request the task sends carries the trace
//! in a `traceparent` header with a span id of its own ([`crate::call`]); a service handles a
//! request inside the trace it carried (`posfee_runtime::serve`), so what it asks in turn (paygate
//! asking the ledger to settle) stays in it; the phone takes up the trace of the kiosk that
//! offered it a bill or answered its join ([`adopt`]), and so does the kiosk's answer to it. Every
//! process logs the trace id as `trace`, so searching all logs for one id follows one payment.
//! The format is the W3C's (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`), so a
//! collector that reads trace context reads ours.

use std::cell::Cell;
use std::future::Future;

/// The header's name, as the W3C recommendation spells it.
pub const HEADER: &str = "traceparent";

/// A trace and the span within it that a message was sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

/// Random bytes that are not all zero (the W3C's invalid value), from the thread's
/// generator: ids need to be unique, not secret, and a system call per request would cost
/// more than the rest of this module.
fn random<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    while out.iter().all(|b| *b == 0) {
        rand::thread_rng().fill_bytes(&mut out);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from exactly `2 × N` lower-case hex digits, not all zero.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    out.iter().any(|b| *b != 0).then_some(out)
}

impl TraceContext {
    /// A new trace, recorded (sampled).
    pub fn root() -> TraceContext {
        TraceContext {
            trace_id: random(),
            span_id: random(),
            flags: 0x01,
        }
    }

    /// The same trace, from a new span (a message sent, a request handled).
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: random(),
            ..*self
        }
    }

    /// The trace id as 32 hex digits: what the logs carry.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The id of the span the message was sent from.
    pub fn span_id_bytes(&self) -> [u8; 8] {
        self.span_id
    }

    /// The header's value.
    pub fn render(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }

    /// A header's value read back; `None` for anything the W3C calls invalid (a version of
    /// `ff`, ids all zero or not lower-case hex, extra fields in version `00`). Later versions
    /// may add fields after the flags, which are ignored.
    pub fn parse(value: &str) -> Option<TraceContext> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let (trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?);
        let version: [u8; 1] = unhex(version).or_else(|| (version == "00").then_some([0]))?;
        if version[0] == 0xff || (version[0] == 0 && parts.next().is_some()) {
            return None;
        }
        let flags = match flags {
            "00" => 0,
            f => unhex::<1>(f)?[0],
        };
        Some(TraceContext {
            trace_id: unhex(trace)?,
            span_id: unhex(span)?,
            flags,
        })
    }

    /// The trace a message carries, if its header holds a valid one.
    pub fn of(headers: Option<&async_nats::HeaderMap>) -> Option<TraceContext> {
        TraceContext::parse(headers?.get(HEADER)?.as_str())
    }
}

tokio::task_local! {
    static CURRENT: Cell<Option<TraceContext>>;
}

/// Runs `f` in `trace` (or in none yet, for a task that will [`adopt`] one): what it sends
/// carries the trace, what it logs can name it ([`current`]).
pub async fn scope<F: Future>(trace: Option<TraceContext>, f: F) -> F::Output {
    CURRENT.scope(Cell::new(trace), f).await
}

/// The trace this task runs in, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Cell::get).ok().flatten()
}

/// Takes up the trace a message carries (a kiosk's offer or its answer to a join), for the
/// rest of this task's [`scope`]. Whether there was one to take up.
pub fn adopt(headers: Option<&async_nats::HeaderMap>) -> bool {
    let Some(trace) = TraceContext::of(headers) else {
        return false;
    };
    let taken = CURRENT.try_with(|c| c.set(Some(trace))).is_ok();
    if taken {
        tracing::info!(trace = %trace.trace_id(), "in the kiosk's trace");
    }
    taken
}

/// Where the span id of a message sent now comes from when spans are exported (the current
/// exported span's, so the receiver's span names it as its parent); a fresh one otherwise.
static SPAN_IDS: std::sync::OnceLock<fn() -> Option<[u8; 8]>> = std::sync::OnceLock::new();

/// Names the current exported span as the sender of what is sent from now on.
pub fn use_span_ids(source: fn() -> Option<[u8; 8]>) {
    let _ = SPAN_IDS.set(source);
}

/// The headers a message sent now carries: the current trace from the current span; `None`
/// outside a trace, so the message goes without a header block at all.
pub fn headers() -> Option<async_nats::HeaderMap> {
    let t = current()?;
    let sent = match SPAN_IDS.get().and_then(|source| source()) {
        Some(span_id) => TraceContext { span_id, ..t },
        None => t.child(),
    };
    let mut h = async_nats::HeaderMap::new();
    h.insert(HEADER, sent.render().as_str());
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_w3c_example_reads_back_and_renders_the_same() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::parse(text).unwrap();
        assert_eq!(t.render(), text);
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = t.child();
        assert_eq!(child.trace_id(), t.trace_id());
        assert_ne!(child.render(), t.render());
    }

    #[test]
    fn invalid_values_are_not_taken_up() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        // A later version may add fields after the flags.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert!(TraceContext::parse(later).is_some());
    }

    #[tokio::test]
    async fn a_scope_carries_its_trace_and_a_message_can_start_one() {
        assert!(current().is_none());
        assert!(headers().is_none(), "no trace, no header");
        let root = TraceContext::root();
        scope(Some(root), async move {
            let sent = TraceContext::of(headers().as_ref()).unwrap();
            assert_eq!(sent.trace_id(), root.trace_id());
        })
        .await;
        scope(None, async move {
            let mut h = async_nats::HeaderMap::new();
            h.insert(HEADER, root.render().as_str());
            assert!(adopt(Some(&h)));
            assert_eq!(current().map(|t| t.trace_id()), Some(root.trace_id()));
        })
        .await;
    }
}
