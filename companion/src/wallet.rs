//! Mode B: the phone shows a code and listens on `posfee.wallet.<device>.<token>`; a kiosk sends the
//! signed bill there as a request. The phone verifies it, asks the payer, answers with the
//! payment id it will pay with (or refuses), and stops listening: the code is single use.

use crate::confirm::Confirm;
use crate::link::KioskLink;
use crate::pay::Decision;
use crate::verify::{self, VerifiedBill};
use crate::Companion;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_client::{peer, reply};
use posfee_schemas::ids::PairToken;
use posfee_schemas::pairing::{BillOffer, PairCode, WalletAnswer};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a wallet code stays open.
pub const WALLET_TTL_SECS: u64 = 120;

/// A code on the phone's screen, listening.
pub struct ShownCode {
    pub code: PairCode,
    pub expires_at: DateTime<Utc>,
    ttl: Duration,
    sub: async_nats::Subscriber,
}

/// Starts listening and returns the code to show. A round trip through the server after the
/// subscribe makes the code routable once it is shown.
pub async fn show(c: &Companion, ttl: Duration) -> crate::Result<ShownCode> {
    let token = PairToken::generate();
    let sub = c
        .client
        .subscribe(subjects::wallet(&c.device, &token))
        .await
        .map_err(|e| crate::unavailable("listening on the wallet code", e))?;
    let me = posfee_schemas::subjects::Identity::Device(c.device.clone());
    posfee_client::bus::round_trip(&c.client, &me)
        .await
        .map_err(|e| crate::unavailable("reaching the server", format!("{e:#}")))?;
    let expires_at = c.clock.now()
        + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(120));
    Ok(ShownCode {
        code: PairCode::wallet(c.device.clone(), token),
        expires_at,
        ttl,
        sub,
    })
}

impl ShownCode {
    /// Waits for one offer, verifies it, asks `confirm` (while listening for the kiosk to end
    /// the pairing), answers the kiosk, and keeps the code's subscription as the link on which
    /// the kiosk may still end the pairing. A malformed or unverifiable offer is answered with
    /// its error and does not use up the code. Returns the verified bill and the payment id
    /// promised to the kiosk.
    pub async fn wait_offer(
        mut self,
        c: &Companion,
        confirm: &mut dyn Confirm,
        cancel: &CancellationToken,
    ) -> crate::Result<(VerifiedBill, WalletAnswer)> {
        let expiry = tokio::time::sleep(self.ttl);
        tokio::pin!(expiry);
        let found = loop {
            let msg = tokio::select! {
                biased;
                _ = cancel.cancelled() => break Err(WireError::new(ErrorCode::PairingGone, "cancelled on the phone")),
                _ = &mut expiry => break Err(WireError::new(
                    ErrorCode::PairingGone,
                    format!("no kiosk sent a bill within {} s", self.ttl.as_secs()),
                )),
                m = self.sub.next() => match m {
                    Some(m) => m,
                    None => break Err(crate::unavailable("waiting for the kiosk", "connection closed")),
                },
            };
            // An offer names one of its kiosk's own pairing subjects as its reply, the only
            // kind of subject a phone may answer on.
            let Some(asking) = peer::kiosk_asking(&msg) else {
                continue;
            };
            match check(c, &msg).await {
                // The answer goes to a pairing subject of the offering kiosk or nowhere.
                Ok((offer, _)) if offer.terminal != asking => {
                    tracing::debug!("offer answered on another kiosk's subject ignored");
                }
                Ok((offer, verified)) => {
                    // The payment goes on in the kiosk's trace.
                    posfee_client::trace::adopt(msg.headers.as_ref());
                    break Ok((msg, offer, verified));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "offer refused; the code stays open");
                    let _ = reply::err(&c.client, &msg, &e).await;
                }
            }
        };
        let (msg, offer, verified) = match found {
            Ok(found) => found,
            Err(e) => {
                self.close(c).await;
                return Err(e);
            }
        };
        self.decide_and_answer(c, msg, offer, verified, confirm)
            .await
    }

    async fn decide_and_answer(
        self,
        c: &Companion,
        msg: async_nats::Message,
        offer: BillOffer,
        mut verified: VerifiedBill,
        confirm: &mut dyn Confirm,
    ) -> crate::Result<(VerifiedBill, WalletAnswer)> {
        let link = Arc::new(KioskLink::new(
            c,
            offer.terminal.clone(),
            offer.updates,
            self.sub,
            verified.bill.bill_id,
        ));
        verified.link = Some(link);
        let answer = match crate::pay::decide(&verified, confirm).await {
            Decision::Confirmed => Ok(WalletAnswer {
                payment_id: crate::pay::payment_id_for(c, verified.bill.bill_id).await?,
                bill_id: verified.bill.bill_id,
            }),
            Decision::Declined => Err(crate::pay::declined()),
            Decision::Ended(n) => return Err(crate::pay::ended(&n)),
        };
        match &answer {
            Ok(a) => reply::ok(&c.client, &msg, posfee_schemas::encode(a)).await,
            Err(e) => reply::err(&c.client, &msg, e).await,
        }
        .map_err(|e| crate::unavailable("answering the kiosk", e))?;
        // On the wire before the caller may drop the connection.
        c.client
            .flush()
            .await
            .map_err(|e| crate::unavailable("answering the kiosk", e))?;
        answer.map(|a| (verified, a))
    }
}

/// Decodes and verifies an offer. In mode B the phone learns the terminal from the offer; the
/// signed bill must agree.
async fn check(
    c: &Companion,
    msg: &async_nats::Message,
) -> crate::Result<(BillOffer, VerifiedBill)> {
    let offer: BillOffer = posfee_client::reply::decode_request(&msg.payload)?;
    let verified = verify::offer(c, &offer, &offer.terminal).await?;
    Ok((offer, verified))
}

impl ShownCode {
    async fn close(&mut self, c: &Companion) {
        let spent = WireError::new(
            ErrorCode::PairingConflict,
            "this wallet code was already used",
        );
        let kiosk = |m: &async_nats::Message| peer::kiosk_asking(m).is_some();
        peer::close_code(&c.client, &mut self.sub, kiosk, &spent).await;
    }
}
