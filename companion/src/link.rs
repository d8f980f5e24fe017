//! The phone's half of the temporary connection once it has the bill: it reports the payer's
//! decision and a refused payment on the kiosk's private subject (from the offer), and hears
//! the kiosk end the pairing (cancel, expiry) on a wallet subject of its own.

use crate::Companion;
use futures::StreamExt;
use posfee_client::{peer, reply};
use posfee_schemas::ids::{BillId, PairToken, PaymentId, TerminalId};
use posfee_schemas::pairing::{KioskNotice, PayerStep, PayerUpdate, PhoneChannel};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::time::Duration;
use tokio::sync::watch;

/// How long the phone waits for the kiosk to acknowledge a report.
pub const REPORT_TIMEOUT_MS: u64 = 3_000;

pub struct KioskLink {
    terminal: TerminalId,
    /// The kiosk's private subject for reports; older kiosks give none.
    updates: Option<PairToken>,
    /// The kiosk's notice, once it came.
    ended: watch::Receiver<Option<KioskNotice>>,
    listening: tokio::task::JoinHandle<()>,
}

impl Drop for KioskLink {
    fn drop(&mut self) {
        self.listening.abort();
    }
}

/// A fresh wallet subject of this phone's own, subscribed, for the kiosk's notices. The join
/// that names it travels through the server after the subscription, so it is routed first.
pub async fn listen(c: &Companion) -> crate::Result<(PhoneChannel, async_nats::Subscriber)> {
    let token = PairToken::generate();
    let sub = c
        .client
        .subscribe(subjects::wallet(&c.device, &token))
        .await
        .map_err(|e| crate::unavailable("listening for the kiosk", e))?;
    let channel = PhoneChannel {
        device: c.device.clone(),
        token,
    };
    Ok((channel, sub))
}

impl std::fmt::Debug for KioskLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskLink")
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl KioskLink {
    /// Starts listening on `notices` for the kiosk's word about `bill_id`. Offers that still
    /// arrive there (a used wallet code) are told at once that the code is spent.
    pub fn new(
        c: &Companion,
        terminal: TerminalId,
        updates: Option<PairToken>,
        notices: async_nats::Subscriber,
        bill_id: BillId,
    ) -> KioskLink {
        let (tx, ended) = watch::channel(None);
        let listening = tokio::spawn(listen_for_notice(c.client.clone(), notices, bill_id, tx));
        KioskLink {
            terminal,
            updates,
            ended,
            listening,
        }
    }

    /// Tells the kiosk how things stand. Best effort: the kiosk closes the bill at the
    /// ledger when it hears nothing, which keeps both sides in agreement anyway.
    pub async fn report(
        &self,
        c: &Companion,
        bill_id: BillId,
        step: PayerStep,
        payment_id: Option<PaymentId>,
        refusal: Option<&WireError>,
    ) {
        let Some(token) = &self.updates else {
            return;
        };
        let update = PayerUpdate {
            bill_id,
            step,
            payment_id,
            code: refusal.map(|e| e.code.name().to_string()),
            message: refusal.map(|e| e.message.clone()),
        };
        let me = subjects::Identity::Device(c.device.clone());
        let sent: Result<(), _> = peer::ask(
            &c.client,
            &me,
            subjects::pair(&self.terminal, token),
            &update,
            Duration::from_millis(REPORT_TIMEOUT_MS),
        )
        .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "the kiosk did not hear the phone's report");
        }
    }

    /// Resolves once the kiosk said it ended the pairing; pending for ever if it never does.
    pub async fn ended(&self) -> KioskNotice {
        let mut rx = self.ended.clone();
        let notice = match rx.wait_for(Option::is_some).await {
            Ok(n) => n.clone(),
            Err(_) => None,
        };
        match notice {
            Some(n) => n,
            None => futures::future::pending().await,
        }
    }
}

async fn listen_for_notice(
    client: async_nats::Client,
    mut notices: async_nats::Subscriber,
    bill_id: BillId,
    tx: watch::Sender<Option<KioskNotice>>,
) {
    let spent = WireError::new(
        ErrorCode::PairingConflict,
        "this wallet code was already used",
    );
    while let Some(msg) = notices.next().await {
        if msg.reply.is_some() {
            if peer::kiosk_asking(&msg).is_some() {
                let _ = reply::err(&client, &msg, &spent).await;
            }
            continue;
        }
        match posfee_schemas::decode::<KioskNotice>(&msg.payload) {
            Ok(n) if n.bill_id == bill_id => {
                let _ = tx.send(Some(n));
            }
            Ok(_) => tracing::debug!("notice about another bill ignored"),
            Err(e) => tracing::debug!(error = %e, "undecodable notice ignored"),
        }
    }
}

/// What the phone shows when the kiosk ended the pairing.
pub fn ended_error(n: &KioskNotice) -> WireError {
    WireError::new(
        ErrorCode::PairingGone,
        format!(
            "the kiosk ended this payment ({}); nothing was paid",
            n.reason.as_str().replace('_', " ")
        ),
    )
}
