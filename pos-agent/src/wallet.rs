//! Mode B, the phone presents: the kiosk sends the signed bill as a request to the code the
//! phone shows (`posfee.wallet.<device>.<token>`) and gets the payment id the phone will pay with. The
//! kiosk reports the pairing with the same events as mode A (mode `phone_presents`).

use crate::bill::ShownBill;
use crate::{events, Agent};
use posfee_runtime::{call, CallError};
use posfee_schemas::events::{EventBody, PairingEnded, PairingOpened};
use posfee_schemas::pairing::{BillOffer, PairCode, PairMode, WalletAnswer};
use posfee_schemas::{subjects, ErrorCode, WireError};
use tokio_util::sync::CancellationToken;

/// Offers `bill` to the wallet `code`; returns the phone's answer once the payer confirmed.
pub async fn offer(
    agent: &Agent,
    code: &PairCode,
    bill: &ShownBill,
    cancel: &CancellationToken,
) -> crate::Result<WalletAnswer> {
    if code.mode != PairMode::PhonePresents {
        return Err(WireError::field(
            "wallet",
            "this is a terminal pairing code, not a phone wallet code",
        ));
    }
    let Some(device) = &code.device else {
        return Err(WireError::field("wallet", "the code names no phone"));
    };
    let ttl = agent.settings.pairing_ttl;
    let expires_at = agent.clock.now()
        + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(120));
    let bill_id = bill.issued.bill_id;
    let opened = events::spawn_publish(
        agent,
        EventBody::PairingOpened(PairingOpened {
            terminal: agent.terminal().clone(),
            mode: PairMode::PhonePresents,
            bill_id,
            expires_at,
        }),
    );
    let offer = BillOffer {
        terminal: agent.terminal().clone(),
        bill: bill.issued.clone(),
        pairing_expires_at: expires_at,
    };
    // The payer reads and confirms on the phone while we wait, so the request may take up
    // to the whole pairing time.
    let asked = call::<_, WalletAnswer>(
        &agent.client,
        subjects::wallet(device, &code.token),
        &offer,
        Some(ttl),
    );
    let gone = |m: String| WireError::new(ErrorCode::PairingGone, m);
    // How the pairing ended decides the event; the error says why to the person at the kiosk.
    let (result, expired) = tokio::select! {
        _ = cancel.cancelled() => (Err(gone("cancelled at the kiosk".into())), false),
        r = asked => match r {
            Ok(answer) if answer.bill_id == bill_id => (Ok(answer), false),
            Ok(answer) => (Err(WireError::new(
                ErrorCode::PairingConflict,
                format!("the phone answered for bill {}, not {bill_id}", answer.bill_id),
            )), false),
            Err(CallError::NoResponders(_)) => (Err(gone(
                "no phone is showing this code: it was already used, cancelled or has expired".into(),
            )), false),
            Err(CallError::TimedOut(_)) => (Err(gone(
                format!("the phone did not answer within {} s", ttl.as_secs()),
            )), true),
            Err(e) => (Err(crate::from_call(e)), false),
        },
    };
    let ended = PairingEnded {
        terminal: agent.terminal().clone(),
        bill_id,
    };
    let body = match &result {
        Ok(_) => EventBody::PairingJoined(ended),
        Err(_) if expired => EventBody::PairingExpired(ended),
        Err(_) => EventBody::PairingCancelled(ended),
    };
    events::settle(opened).await;
    events::publish(agent, body).await?;
    result
}
