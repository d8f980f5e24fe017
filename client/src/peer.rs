//! The kiosk and the phone talking to each other: requests whose answers come back on the
//! asker's own pairing subjects, never into an inbox.
//!
//! Neither a kiosk nor a phone may answer "whatever reply subject the request carried"
//! (NATS `allow_responses`): with that right a stolen kiosk and a phone its thief enrolled
//! could relay each other's messages onto any subject at all (the key bucket, the event
//! stream, the ledger's settle). So each side answers only on subjects it may publish
//! anyway: a kiosk answers a phone on one of that phone's wallet subjects
//! (`posfee.wallet.<device>.<token>`), a phone answers a kiosk on one of that kiosk's pairing
//! subjects (`posfee.pair.<terminal>.<token>`). The asker picks a fresh token for each
//! request, subscribes that subject first, and names it as the request's reply.

use crate::call::{call_via, CallError, FRESH_INTEREST_MS};
use posfee_schemas::ids::{DeviceId, PairToken, TerminalId};
use posfee_schemas::subjects::{self, Identity, Subject};
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// A fresh subject in `me`'s own pairing namespace for one answer: a kiosk's pairing subject
/// or a phone's wallet subject. Only kiosks and phones talk this way.
pub fn answer_subject(me: &Identity) -> Option<String> {
    let token = PairToken::generate();
    match me {
        Identity::Terminal(t) => Some(subjects::pair(t, &token)),
        Identity::Device(d) => Some(subjects::wallet(d, &token)),
        Identity::Role(_) | Identity::Clerk(_) => None,
    }
}

/// Sends `req` to the other side on `subject` and waits for its answer on a fresh subject of
/// `me`'s own ([`answer_subject`]). "No responders" (nobody listens on `subject`) comes back
/// from the server on that subject too.
pub async fn ask<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    me: &Identity,
    subject: String,
    req: &Req,
    timeout: Duration,
) -> Result<Rep, CallError> {
    let Some(reply) = answer_subject(me) else {
        return Err(CallError::Link {
            subject,
            reason: format!("{me} has no pairing subjects to be answered on"),
        });
    };
    call_via(client, subject, reply, req, timeout).await
}

/// [`ask`] a subscriber that may have only just appeared (a pairing code, a wallet code): on
/// a cluster "no responders" is asked again for up to [`FRESH_INTEREST_MS`] before it is
/// believed, as [`crate::call_fresh`] does.
pub async fn ask_fresh<Req: Serialize + ?Sized, Rep: DeserializeOwned>(
    client: &async_nats::Client,
    me: &Identity,
    subject: String,
    req: &Req,
    timeout: Duration,
) -> Result<Rep, CallError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(FRESH_INTEREST_MS);
    let mut pause = Duration::from_millis(5);
    loop {
        match ask(client, me, subject.clone(), req, timeout).await {
            Err(CallError::NoResponders(s)) => {
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(CallError::NoResponders(s));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// The phone a kiosk may answer `request` to: its reply is one of that phone's wallet
/// subjects. Anything else (no reply, an inbox, any other subject) is not a phone asking
/// through its pairing, and is not answered.
pub fn phone_asking(request: &async_nats::Message) -> Option<DeviceId> {
    match Subject::parse(request.reply.as_deref()?) {
        Ok(Subject::Wallet(device, _)) => Some(device),
        _ => None,
    }
}

/// The kiosk a phone may answer `request` to: its reply is one of that kiosk's pairing
/// subjects.
pub fn kiosk_asking(request: &async_nats::Message) -> Option<TerminalId> {
    match Subject::parse(request.reply.as_deref()?) {
        Ok(Subject::Pair(terminal, _)) => Some(terminal),
        _ => None,
    }
}

/// How long, after a pairing code ended, requests already on their way to it are answered
/// with `PAIRING_CONFLICT` before its subscription is gone for good.
pub const DRAIN_TIMEOUT_MS: u64 = 500;

/// Ends a pairing code's subscription (a kiosk's pairing subject or a phone's wallet code):
/// it takes nothing new, and requests already on their way from a peer (`peer_asking`:
/// [`phone_asking`] on a kiosk, [`kiosk_asking`] on a phone) are answered with `spent` for up
/// to [`DRAIN_TIMEOUT_MS`], so a second phone or kiosk learns at once that the code is spent
/// instead of waiting out its request. Anything else arriving is not answered.
pub async fn close_code(
    client: &async_nats::Client,
    sub: &mut async_nats::Subscriber,
    peer_asking: fn(&async_nats::Message) -> bool,
    spent: &posfee_schemas::WireError,
) {
    use futures::StreamExt;
    if let Err(e) = sub.drain().await {
        tracing::warn!(error = %e, "could not drain a pairing code's subscription");
        return;
    }
    let deadline = tokio::time::sleep(Duration::from_millis(DRAIN_TIMEOUT_MS));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            m = sub.next() => match m {
                Some(m) if !peer_asking(&m) => {}
                Some(m) => {
                    if let Err(e) = crate::reply::err(client, &m, spent).await {
                        tracing::debug!(error = %e, "late request to a spent code not answered");
                    }
                }
                None => break,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_reply(reply: Option<&str>) -> async_nats::Message {
        async_nats::Message {
            subject: "posfee.pair.kiosk-01.00112233445566778899aabbccddeeff".into(),
            reply: reply.map(Into::into),
            payload: bytes::Bytes::new(),
            headers: None,
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn a_kiosk_answers_only_on_a_phones_wallet_subject() {
        let wallet = "posfee.wallet.phabcd2345.00112233445566778899aabbccddeeff";
        assert_eq!(
            phone_asking(&with_reply(Some(wallet))),
            Some(DeviceId::parse("phabcd2345").unwrap())
        );
        for bad in [
            None,
            Some("_INBOX.device.phabcd2345.abc"),
            Some("$KV.POSFEE_KEYS.bill.x"),
            Some("posfee.events.payment.settled"),
            Some("posfee.pair.kiosk-01.00112233445566778899aabbccddeeff"),
            Some("posfee.wallet.phabcd2345.*"),
        ] {
            assert_eq!(phone_asking(&with_reply(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn a_phone_answers_only_on_a_kiosks_pairing_subject() {
        let pair = "posfee.pair.kiosk-01.00112233445566778899aabbccddeeff";
        assert_eq!(
            kiosk_asking(&with_reply(Some(pair))),
            Some(TerminalId::parse("kiosk-01").unwrap())
        );
        for bad in [
            None,
            Some("_INBOX.terminal.kiosk-01.abc"),
            Some("posfee.ledger.settle"),
            Some("posfee.wallet.phabcd2345.00112233445566778899aabbccddeeff"),
        ] {
            assert_eq!(kiosk_asking(&with_reply(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn answers_come_on_the_askers_own_pairing_subjects() {
        let t = Identity::Terminal(TerminalId::parse("kiosk-01").unwrap());
        assert!(answer_subject(&t)
            .unwrap()
            .starts_with("posfee.pair.kiosk-01."));
        let d = Identity::Device(DeviceId::parse("phabcd2345").unwrap());
        assert!(answer_subject(&d)
            .unwrap()
            .starts_with("posfee.wallet.phabcd2345."));
        assert!(answer_subject(&Identity::Role(subjects::Role::Ledger)).is_none());
    }
}
