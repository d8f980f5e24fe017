//! Mode A: the phone joins the pairing a kiosk shows. The join is a request on the kiosk's
//! pairing subject; the kiosk answers the first valid join with the signed bill.

use crate::link::{self, KioskLink};
use crate::verify::{self, VerifiedBill};
use crate::Companion;
use posfee_client::{peer, CallError};
use posfee_schemas::pairing::{BillOffer, PairCode, PairJoin, PairMode};
use posfee_schemas::{subjects, ErrorCode, WireError};
use std::sync::Arc;
use std::time::Duration;

/// How long the phone waits for the kiosk to answer a join.
pub const JOIN_TIMEOUT_MS: u64 = 5_000;

/// What the phone says when nobody listens on a code any more.
pub const GONE_MESSAGE: &str = "this code was already used, cancelled or has expired";

pub async fn join(c: &Companion, code: &PairCode) -> crate::Result<VerifiedBill> {
    let (PairMode::TerminalPresents, Some(terminal)) = (code.mode(), code.terminal_id()) else {
        return Err(WireError::field(
            "code",
            "this is a phone wallet code, not a kiosk pairing code",
        ));
    };
    let (channel, notices) = link::listen(c).await?;
    let join = PairJoin {
        terminal: terminal.clone(),
        bill_id: code.bill_id(),
        notify: Some(channel),
    };
    // The kiosk answers on a wallet subject of this phone's own.
    let me = subjects::Identity::Device(c.device.clone());
    let offer: BillOffer = peer::ask_fresh(
        &c.client,
        &me,
        subjects::pair(terminal, code.token()),
        &join,
        Duration::from_millis(JOIN_TIMEOUT_MS),
    )
    .await
    .map_err(|e| match e {
        // A pairing that ended has no subscriber left: the one clear reason for "no responders".
        CallError::NoResponders(_) => WireError::new(ErrorCode::PairingGone, GONE_MESSAGE),
        CallError::TimedOut(_) => {
            WireError::new(ErrorCode::Unavailable, "the kiosk did not answer in time")
        }
        other => crate::from_call(other),
    })?;
    let mut verified = verify::offer(c, &offer, terminal).await?;
    if let Some(b) = code.bill_id() {
        if b != verified.bill.bill_id {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "the code was shown for bill {b}, the kiosk sent {}",
                    verified.bill.bill_id
                ),
            ));
        }
    }
    verified.link = Some(Arc::new(KioskLink::new(
        c,
        terminal.clone(),
        offer.updates.clone(),
        notices,
        verified.bill.bill_id,
    )));
    Ok(verified)
}
