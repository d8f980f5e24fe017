//! One payment at the kiosk, start to receipt: issue the bill, listen for its receipt, pair
//! with the phone (mode A or B), wait for the receipt. The screen (interactive or JSON) is a
//! [`PayView`], so the same flow runs in the kiosk UI, in scripts and in tests.

use crate::bill::{self, ShownBill};
use crate::pairing::{self, PairingOutcome};
use crate::receipt::ReceiptWatch;
use crate::{wallet, Agent};
use chrono::{DateTime, Utc};
use posfee_schemas::fee::QuoteRequest;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::{PairCode, WalletAnswer};
use posfee_schemas::{ErrorCode, WireError};
use tokio_util::sync::CancellationToken;

/// What the payer asked for.
#[derive(Debug, Clone)]
pub struct PaySpec {
    pub quote: QuoteRequest,
    /// Mode B: the code the phone shows. `None`: mode A, the kiosk shows a code.
    pub wallet: Option<PairCode>,
}

/// Where the flow reports progress.
pub trait PayView: Send {
    /// The bill was issued.
    fn bill(&mut self, bill: &ShownBill);
    /// Mode A: the pairing is open and routed; show the code until `expires_at`.
    fn pairing(&mut self, code: &PairCode, expires_at: DateTime<Utc>);
    /// Mode A: the phone joined and has the bill.
    fn joined(&mut self);
    /// Mode B: the payer confirmed on the phone.
    fn wallet_answered(&mut self, answer: &WalletAnswer);
    /// The payment settled.
    fn receipt(&mut self, receipt: &Receipt);
}

pub async fn pay(
    agent: &Agent,
    spec: PaySpec,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Receipt> {
    let shown = bill::issue(agent, spec.quote).await?;
    view.bill(&shown);
    // Listen for the receipt before the phone can have the bill.
    let mut receipts = ReceiptWatch::subscribe(agent).await?;
    match &spec.wallet {
        None => {
            let open = pairing::open(agent, &shown).await?;
            view.pairing(&open.code, open.expires_at);
            match open.wait(agent, cancel).await? {
                PairingOutcome::Joined => view.joined(),
                PairingOutcome::Expired => {
                    return Err(WireError::new(
                        ErrorCode::PairingGone,
                        format!(
                            "the pairing expired: no phone joined within {} s",
                            agent.settings.pairing_ttl.as_secs()
                        ),
                    ))
                }
                PairingOutcome::Cancelled => {
                    return Err(WireError::new(
                        ErrorCode::PairingGone,
                        "cancelled at the kiosk",
                    ))
                }
                PairingOutcome::Refused(e) => return Err(e),
            }
        }
        Some(code) => {
            let answer = wallet::offer(agent, code, &shown, cancel).await?;
            view.wallet_answered(&answer);
        }
    }
    let receipt = receipts
        .wait_for(shown.bill.bill_id, agent.settings.receipt_wait, cancel)
        .await?;
    view.receipt(&receipt);
    Ok(receipt)
}
