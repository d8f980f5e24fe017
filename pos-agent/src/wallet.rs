//! Mode B, the phone presents: the kiosk sends the signed bill as a request to the code the
//! phone shows (`posfee.wallet.<device>.<token>`) and gets, once the payer confirmed, the
//! payment id the phone will pay with: the answer comes before the payment, whose receipt the
//! ledger sends later. The pairing is told as in mode A (mode `phone_presents`): in the
//! offer, so that the hold carries it, or in the bill's close.

use crate::bill::ShownBill;
use crate::Agent;
use posfee_client::{peer, CallError};
use posfee_schemas::ids::PairToken;
use posfee_schemas::pairing::{
    BillOffer, CloseReason, PairCode, PairMode, PairingClosed, PairingEnd, PairingShown,
    PhoneChannel, WalletAnswer,
};
use posfee_schemas::{subjects, ErrorCode, WireError};
use tokio_util::sync::CancellationToken;

/// How an offer to a phone ended.
#[derive(Debug)]
pub enum Offered {
    /// The payer confirmed; the phone will pay with this payment id.
    Accepted(WalletAnswer),
    /// The phone does not have the bill to pay (declined, cancelled, expired, refused).
    Ended(CloseReason, WireError),
}

/// Where a wallet code's phone hears the kiosk: the code's own subject.
pub fn channel(code: &PairCode) -> Option<PhoneChannel> {
    Some(PhoneChannel {
        device: code.device_id()?.clone(),
        token: code.token().clone(),
    })
}

/// Offers `bill` to the wallet `code` and waits for the payer's decision. `updates` is the
/// kiosk's private subject for the phone's later reports ([`crate::link`]). Also says how the
/// pairing ended, for the bill's close if it ends unpaid.
pub async fn offer(
    agent: &Agent,
    code: &PairCode,
    bills: &[ShownBill],
    updates: Option<PairToken>,
    cancel: &CancellationToken,
) -> crate::Result<(Offered, PairingClosed)> {
    let Some(bill) = bills.first() else {
        return Err(WireError::field("bills", "nothing to pay"));
    };
    if code.mode() != PairMode::PhonePresents {
        return Err(WireError::field(
            "wallet",
            "this is a terminal pairing code, not a phone wallet code",
        ));
    }
    let Some(device) = code.device_id() else {
        return Err(WireError::field("wallet", "the code names no phone"));
    };
    let ttl = agent.settings.pairing_ttl;
    let opened_at = agent.clock.now();
    let expires_at = opened_at
        + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(120));
    let bill_id = bill.issued.bill_id;
    let shown = PairingShown {
        mode: PairMode::PhonePresents,
        opened_at,
        expires_at,
    };
    let offer = BillOffer {
        terminal: agent.terminal().clone(),
        bill: bill.issued.clone(),
        pairing_expires_at: expires_at,
        updates,
        more_bills: bills[1..].iter().map(|b| b.issued.clone()).collect(),
        pairing: Some(shown),
    };
    // The payer reads and confirms on the phone while we wait, so the request may take up
    // to the whole pairing time. The phone answers on a pairing subject of this kiosk's.
    let me = subjects::Identity::Terminal(agent.terminal().clone());
    let asked = peer::ask_fresh::<_, WalletAnswer>(
        &agent.client,
        &me,
        subjects::wallet(device, code.token()),
        &offer,
        ttl,
    );
    let gone = |m: String| WireError::new(ErrorCode::PairingGone, m);
    let result = tokio::select! {
        _ = cancel.cancelled() => Offered::Ended(CloseReason::Cancelled, gone("cancelled at the kiosk".into())),
        r = asked => match r {
            Ok(answer) if answer.bill_id == bill_id => Offered::Accepted(answer),
            Ok(answer) => Offered::Ended(CloseReason::NotPaid, WireError::new(
                ErrorCode::PairingConflict,
                format!("the phone answered for bill {}, not {bill_id}", answer.bill_id),
            )),
            Err(CallError::NoResponders(_)) => Offered::Ended(CloseReason::Expired, gone(
                "no phone is showing this code: it was already used, cancelled or has expired".into(),
            )),
            Err(CallError::TimedOut(_)) => Offered::Ended(CloseReason::Expired, gone(
                format!("the phone did not answer within {} s", ttl.as_secs()),
            )),
            Err(CallError::Remote(e)) if e.code == ErrorCode::PayerDeclined => {
                Offered::Ended(CloseReason::Declined, e)
            }
            Err(CallError::Remote(e)) => Offered::Ended(CloseReason::NotPaid, e),
            Err(e) => return Err(crate::from_call(e)),
        },
    };
    let end = match &result {
        Offered::Accepted(_) => PairingEnd::Joined,
        Offered::Ended(CloseReason::Expired, _) => PairingEnd::Expired,
        Offered::Ended(..) => PairingEnd::Cancelled,
    };
    let told = crate::pairing::ended(end, shown, bills);
    Ok((result, told))
}
