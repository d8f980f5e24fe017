//! The kiosk's half of the temporary connection once the phone has the bill: a private
//! subject `posfee.pair.<terminal>.<token>` whose token travels only inside the bill offer, on
//! which the phone reports the payer's decision and a payment that failed. Without it the
//! kiosk could only wait for a receipt that never comes.

use crate::Agent;
use futures::StreamExt;
use posfee_client::{peer, reply};
use posfee_schemas::ids::{BillId, PairToken};
use posfee_schemas::pairing::{KioskNotice, PayerUpdate, PhoneChannel};
use posfee_schemas::{subjects, WireError};

pub struct PhoneLink {
    pub token: PairToken,
    sub: async_nats::Subscriber,
}

impl PhoneLink {
    /// Subscribes the private subject. Its first use is inside an offer that travels through
    /// the server after this subscription, so the subscription is routed before the phone can
    /// know the subject.
    pub async fn open(agent: &Agent) -> crate::Result<PhoneLink> {
        let token = PairToken::generate();
        let sub = agent
            .client
            .subscribe(subjects::pair(agent.terminal(), &token))
            .await
            .map_err(|e| crate::unavailable("opening the link to the phone", e))?;
        Ok(PhoneLink { token, sub })
    }

    /// The next update about `bill`; each is acknowledged so the phone knows we heard it.
    /// Anything else on the subject is answered with an error and skipped. `None` when the
    /// connection closed.
    pub async fn next(&mut self, agent: &Agent, bill: BillId) -> Option<PayerUpdate> {
        loop {
            let msg = self.sub.next().await?;
            if peer::phone_asking(&msg).is_none() {
                tracing::debug!(
                    "phone update without a phone's wallet subject to answer on ignored"
                );
                continue;
            }
            let update = posfee_client::reply::decode_request::<PayerUpdate>(&msg.payload)
                .and_then(|u| match u.bill_id == bill {
                    true => Ok(u),
                    false => Err(WireError::field("bill_id", "not the bill of this pairing")),
                });
            let answered = match &update {
                Ok(_) => reply::ok(&agent.client, &msg, posfee_schemas::encode(&())).await,
                Err(e) => reply::err(&agent.client, &msg, e).await,
            };
            if let Err(e) = answered {
                tracing::debug!(error = %e, "phone update not acknowledged");
            }
            match update {
                Ok(u) => return Some(u),
                Err(e) => tracing::debug!(error = %e, "phone update ignored"),
            }
        }
    }
}

/// Tells the phone the kiosk closed the bill, so it stops offering to pay it. Best effort:
/// the ledger already refuses the bill, which is what keeps kiosk and phone in agreement.
pub async fn notify_phone(agent: &Agent, to: &PhoneChannel, notice: &KioskNotice) {
    let subject = subjects::wallet(&to.device, &to.token);
    if let Err(e) = agent
        .client
        .publish(subject, posfee_schemas::encode(notice).into())
        .await
    {
        tracing::debug!(error = %e, "phone not told the pairing ended");
    }
}
