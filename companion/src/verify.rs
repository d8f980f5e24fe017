//! Checking a bill offer before anything is shown or paid: the fee-engine's signature (key
//! from the key directory), the bill is the one offered, for the terminal the phone paired
//! with, and not expired. What the payer sees comes from the signed bill only.

use crate::link::KioskLink;
use crate::Companion;
use chrono::{DateTime, Utc};
use posfee_client::keydir::VerifyError;
use posfee_schemas::fee::{Bill, IssuedBill};
use posfee_schemas::ids::TerminalId;
use posfee_schemas::pairing::BillOffer;
use posfee_schemas::{ErrorCode, WireError};
use std::sync::Arc;

/// A bill whose signature verified and whose content the phone may show and pay.
#[derive(Debug, Clone)]
pub struct VerifiedBill {
    pub bill: Bill,
    pub issued: IssuedBill,
    pub pairing_expires_at: DateTime<Utc>,
    /// The connection to the kiosk that offered it, while the payment goes on.
    pub link: Option<Arc<KioskLink>>,
}

pub async fn offer(
    c: &Companion,
    offer: &BillOffer,
    paired_with: &TerminalId,
) -> crate::Result<VerifiedBill> {
    let bill: Bill = c
        .keys()
        .verify_bill(&offer.bill.signed)
        .await
        .map_err(|e| match e {
            VerifyError::Sign(e) => WireError::new(
                ErrorCode::BadSignature,
                format!("the bill is not signed by its payee: {e}"),
            ),
            VerifyError::Directory(e) => crate::unavailable("reading the key directory", e),
        })?;
    if bill.bill_id != offer.bill.bill_id {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "the offer names bill {} but carries bill {}",
                offer.bill.bill_id, bill.bill_id
            ),
        ));
    }
    if &bill.terminal != paired_with || &offer.terminal != paired_with {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "the bill is for terminal {}, but this phone paired with {paired_with}",
                bill.terminal
            ),
        ));
    }
    if bill.expires_at <= c.clock.now() {
        return Err(WireError::new(
            ErrorCode::BillExpired,
            format!("bill {} expired at {}", bill.bill_id, bill.expires_at),
        ));
    }
    Ok(VerifiedBill {
        bill,
        issued: offer.bill.clone(),
        pairing_expires_at: offer.pairing_expires_at,
        link: None,
    })
}
