//! Mode B: the phone shows a code and listens on `posfee.wallet.<device>.<token>`; a kiosk sends the
//! signed bill there as a request. The phone verifies it, asks the payer, answers with the
//! payment id it will pay with (or refuses), and stops listening: the code is single use.

use crate::verify::{self, VerifiedBill};
use crate::Companion;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use posfee_runtime::reply;
use posfee_schemas::ids::PairToken;
use posfee_schemas::pairing::{BillOffer, PairCode, WalletAnswer};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a wallet code stays open.
pub const WALLET_TTL_SECS: u64 = 120;
/// How long, after the code was used, offers already on their way get a conflict answer.
pub const DRAIN_TIMEOUT_MS: u64 = 500;

/// Does the payer agree to pay this bill?
pub trait Confirm: Send {
    fn confirm(&mut self, bill: &VerifiedBill) -> bool;
}

/// A fixed answer (`--yes`, tests).
pub struct Always(pub bool);

impl Confirm for Always {
    fn confirm(&mut self, _bill: &VerifiedBill) -> bool {
        self.0
    }
}

/// A code on the phone's screen, listening.
pub struct ShownCode {
    pub code: PairCode,
    pub expires_at: DateTime<Utc>,
    ttl: Duration,
    sub: async_nats::Subscriber,
}

/// Starts listening and returns the code to show. A JetStream info request after the
/// subscribe is a round trip through the server, so the code is routable once it is shown.
pub async fn show(c: &Companion, ttl: Duration) -> crate::Result<ShownCode> {
    let token = PairToken::generate();
    let sub = c
        .client
        .subscribe(subjects::wallet(&c.device, &token))
        .await
        .map_err(|e| crate::unavailable("listening on the wallet code", e))?;
    async_nats::jetstream::new(c.client.clone())
        .query_account()
        .await
        .map_err(|e| crate::unavailable("reaching the server", e))?;
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
    /// Waits for one offer, verifies it, asks `confirm`, answers, and stops listening.
    /// Returns the verified bill and the payment id promised to the kiosk.
    pub async fn wait_offer(
        mut self,
        c: &Companion,
        confirm: &mut dyn Confirm,
        cancel: &CancellationToken,
    ) -> crate::Result<(VerifiedBill, WalletAnswer)> {
        let expiry = tokio::time::sleep(self.ttl);
        tokio::pin!(expiry);
        let result = loop {
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
            if msg.reply.is_none() {
                continue;
            }
            let answer = self.answer(c, &msg, confirm).await;
            match &answer {
                Ok((_, a)) => reply::ok(&c.client, &msg, posfee_schemas::encode(a))
                    .await
                    .map_err(|e| crate::unavailable("answering an offer", e))?,
                Err(e) => reply::err(&c.client, &msg, e)
                    .await
                    .map_err(|e| crate::unavailable("answering an offer", e))?,
            }
            break answer;
        };
        self.close(c).await;
        result
    }

    async fn answer(
        &self,
        c: &Companion,
        msg: &async_nats::Message,
        confirm: &mut dyn Confirm,
    ) -> crate::Result<(VerifiedBill, WalletAnswer)> {
        let offer: BillOffer = posfee_runtime::decode_request(&msg.payload)?;
        // In mode B the phone learns the terminal from the offer; the signed bill must agree.
        let verified = verify::offer(c, &offer, &offer.terminal).await?;
        if !confirm.confirm(&verified) {
            return Err(WireError::new(ErrorCode::Forbidden, "payer declined"));
        }
        let payment_id = crate::pay::payment_id_for(c, verified.bill.bill_id).await?;
        let answer = WalletAnswer {
            payment_id,
            bill_id: verified.bill.bill_id,
        };
        Ok((verified, answer))
    }

    async fn close(&mut self, c: &Companion) {
        if let Err(e) = self.sub.drain().await {
            tracing::warn!(error = %e, "could not drain the wallet subscription");
            return;
        }
        let spent = WireError::new(
            ErrorCode::PairingConflict,
            "this wallet code was already used",
        );
        let deadline = tokio::time::sleep(Duration::from_millis(DRAIN_TIMEOUT_MS));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                m = self.sub.next() => match m {
                    Some(m) => {
                        let _ = reply::err(&c.client, &m, &spent).await;
                    }
                    None => break,
                },
            }
        }
    }
}
