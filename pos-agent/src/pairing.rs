//! Mode A, the terminal presents: a single-use, short-lived subscription on
//! `posfee.pair.<terminal>.<token>` that the phone joins with a request. The first valid join
//! gets the signed bill. A malformed or foreign join (anyone can read the code off the
//! screen) is answered with its error and ignored, so it cannot take the pairing from the real
//! phone. After the pairing ends nobody listens on the subject any more, so a late join gets
//! "no responders", which the phone reports as `PAIRING_GONE`.

use crate::bill::ShownBill;
use crate::Agent;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_client::{peer, reply};
use posfee_schemas::ids::{BillId, PairToken};
use posfee_schemas::pairing::{
    BillOffer, PairCode, PairJoin, PairMode, PairingClosed, PairingEnd, PairingShown, PhoneChannel,
};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a pairing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingOutcome {
    /// The phone joined and has the bill; it listens for the kiosk's notices here, if it said.
    Joined(Option<PhoneChannel>),
    /// Nobody joined in time.
    Expired,
    /// The kiosk (or the payer at it) cancelled.
    Cancelled,
}

/// An open pairing: the code to show and the subscription that waits for the join.
pub struct OpenPairing {
    pub code: PairCode,
    pub expires_at: DateTime<Utc>,
    /// How it was shown: in the offer (the hold carries it) and, if it ends without a hold,
    /// in the bill's close.
    pub shown: PairingShown,
    ttl: Duration,
    bill_id: BillId,
    offer: BillOffer,
    sub: async_nats::Subscriber,
}

/// Opens a pairing for `bill`. Subscribe first, then a round trip through the server (a
/// request nobody can answer, to which the server says "no responders":
/// [`posfee_client::bus::round_trip`]) proves the subscription is in place, so once this
/// returns a join reaches us. The pairing is no write of its own: the offer tells the phone
/// how it was shown, the phone's pay request tells paygate, and the hold carries
/// `pairing.joined`; a pairing that ends without a hold is told in the bill's close
/// ([`ended`]).
/// `updates` is the kiosk's private subject for the phone's reports ([`crate::link`]).
pub async fn open(
    agent: &Agent,
    bills: &[ShownBill],
    updates: Option<PairToken>,
) -> crate::Result<OpenPairing> {
    let Some(bill) = bills.first() else {
        return Err(WireError::field("bills", "nothing to pay"));
    };
    let token = PairToken::generate();
    let ttl = agent.settings.pairing_ttl;
    let opened_at = agent.clock.now();
    let expires_at = opened_at
        + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(120));
    let sub = agent
        .client
        .subscribe(subjects::pair(agent.terminal(), &token))
        .await
        .map_err(|e| crate::unavailable("opening the pairing", e))?;
    let bill_id = bill.issued.bill_id;
    // A round trip through the server: the subscription is routed before the code is shown.
    let me = posfee_schemas::subjects::Identity::Terminal(agent.terminal().clone());
    if let Err(e) = posfee_client::bus::round_trip(&agent.client, &me).await {
        return Err(crate::unavailable("opening the pairing", e));
    }
    let shown = PairingShown {
        mode: PairMode::TerminalPresents,
        opened_at,
        expires_at,
    };
    Ok(OpenPairing {
        code: PairCode::terminal(agent.terminal().clone(), token, Some(bill_id)),
        expires_at,
        shown,
        ttl,
        bill_id,
        offer: BillOffer {
            terminal: agent.terminal().clone(),
            bill: bill.issued.clone(),
            pairing_expires_at: expires_at,
            updates,
            more_bills: bills[1..].iter().map(|b| b.issued.clone()).collect(),
            pairing: Some(shown),
        },
        sub,
    })
}

/// How a pairing of `bills` shown as `shown` ended, as the bill's close tells it.
pub fn ended(end: PairingEnd, shown: PairingShown, bills: &[ShownBill]) -> PairingClosed {
    PairingClosed {
        end,
        shown,
        more_bills: bills.iter().skip(1).map(|b| b.issued.bill_id).collect(),
    }
}

impl OpenPairing {
    /// Waits for the first join, expiry or `cancel`, ends the pairing (unsubscribes) and says
    /// how it ended.
    pub async fn wait(
        mut self,
        agent: &Agent,
        cancel: &CancellationToken,
    ) -> crate::Result<PairingOutcome> {
        let expiry = tokio::time::sleep(self.ttl);
        tokio::pin!(expiry);
        let outcome = loop {
            let msg = tokio::select! {
                biased;
                _ = cancel.cancelled() => break PairingOutcome::Cancelled,
                _ = &mut expiry => break PairingOutcome::Expired,
                m = self.sub.next() => match m {
                    Some(m) => m,
                    None => {
                        return Err(crate::unavailable("waiting for the phone", "connection closed"))
                    }
                },
            };
            // A join names one of the phone's own wallet subjects as its reply, the only kind
            // of subject a kiosk may answer on; anything else cannot be a join and does not
            // spend the code.
            if peer::phone_asking(&msg).is_none() {
                tracing::debug!(
                    "pairing message without a phone's wallet subject to answer on ignored"
                );
                continue;
            }
            match self.check_join(&msg) {
                Ok(join) => {
                    reply::ok(&agent.client, &msg, posfee_schemas::encode(&self.offer))
                        .await
                        .map_err(|e| crate::unavailable("answering a join", e))?;
                    break PairingOutcome::Joined(join.notify);
                }
                // The code stays open for the phone it was shown to.
                Err(e) => {
                    tracing::debug!(error = %e, "join refused; the pairing stays open");
                    if let Err(e) = reply::err(&agent.client, &msg, &e).await {
                        tracing::debug!(error = %e, "refused join not answered");
                    }
                }
            }
        };
        self.close(agent).await;
        Ok(outcome)
    }

    fn check_join(&self, msg: &async_nats::Message) -> Result<PairJoin, WireError> {
        let join: PairJoin = posfee_client::reply::decode_request(&msg.payload)?;
        if join.terminal != self.offer.terminal {
            return Err(WireError::new(
                ErrorCode::PairingConflict,
                format!(
                    "this code belongs to terminal {}, not {}",
                    self.offer.terminal, join.terminal
                ),
            ));
        }
        if let Some(b) = join.bill_id {
            if b != self.bill_id {
                return Err(WireError::new(
                    ErrorCode::PairingConflict,
                    format!("this code is for another bill than {b}"),
                ));
            }
        }
        Ok(join)
    }

    /// Unsubscribes, answering joins that were already on their way with a conflict, so the
    /// second phone learns at once that the code is spent.
    async fn close(&mut self, agent: &Agent) {
        let spent = WireError::new(
            ErrorCode::PairingConflict,
            "this code was already used or has ended",
        );
        let phone = |m: &async_nats::Message| peer::phone_asking(m).is_some();
        peer::close_code(&agent.client, &mut self.sub, phone, &spent).await;
    }
}
