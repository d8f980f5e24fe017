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
    /// A basket's other bills, each verified as `bill` is: paid with it in one order.
    pub more: Vec<(Bill, IssuedBill)>,
    /// How the kiosk showed the pairing, handed on to paygate in the pay request.
    pub pairing: Option<posfee_schemas::pairing::PairingShown>,
}

impl VerifiedBill {
    /// Every bill offered, the first one first.
    pub fn bills(&self) -> impl Iterator<Item = &Bill> {
        std::iter::once(&self.bill).chain(self.more.iter().map(|(b, _)| b))
    }

    /// What the payer is asked to pay: the bill's total, or the basket's.
    pub fn total(&self) -> posfee_schemas::money::Money {
        let fen = self.bills().map(|b| b.total.fen.get()).sum::<i64>();
        posfee_schemas::money::Money {
            fen: posfee_schemas::money::Fen::new(fen),
            currency: self.bill.total.currency,
        }
    }
}

pub async fn offer(
    c: &Companion,
    offer: &BillOffer,
    paired_with: &TerminalId,
) -> crate::Result<VerifiedBill> {
    let bill = one(c, &offer.bill, paired_with).await?;
    if &offer.terminal != paired_with {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "the offer comes from terminal {}, not {paired_with}",
                offer.terminal
            ),
        ));
    }
    let mut more = Vec::with_capacity(offer.more_bills.len());
    for issued in &offer.more_bills {
        more.push((one(c, issued, paired_with).await?, issued.clone()));
    }
    whole_basket(&bill, &more)?;
    Ok(VerifiedBill {
        bill,
        issued: offer.bill.clone(),
        pairing_expires_at: offer.pairing_expires_at,
        link: None,
        pairing: offer.pairing,
        more,
    })
}

/// A basket is offered whole: every bill of the basket the first bill was issued in, once
/// each, all in one currency (one total); a bill issued alone is offered alone.
fn whole_basket(first: &Bill, more: &[(Bill, IssuedBill)]) -> crate::Result<()> {
    let size = first.basket.map_or(1, |t| usize::from(t.size));
    let mut ids: Vec<_> = more.iter().map(|(b, _)| b.bill_id).collect();
    ids.push(first.bill_id);
    ids.sort();
    ids.dedup();
    let same = more
        .iter()
        .all(|(b, _)| b.basket == first.basket && b.total.currency == first.total.currency);
    if !same || ids.len() != size || more.len() + 1 != size {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "the kiosk offered {} bills of a basket of {size}; nothing was paid",
                more.len() + 1
            ),
        ));
    }
    Ok(())
}

/// One offered bill: signed by its payee, for the terminal the phone paired with, not expired.
async fn one(c: &Companion, issued: &IssuedBill, paired_with: &TerminalId) -> crate::Result<Bill> {
    let bill: Bill = c
        .keys()
        .verify_bill(&issued.signed)
        .await
        .map_err(|e| match e {
            VerifyError::Sign(e) => WireError::new(
                ErrorCode::BadSignature,
                format!("the bill is not signed by its payee: {e}"),
            ),
            VerifyError::Directory(e) => crate::unavailable("reading the key directory", e),
        })?;
    if bill.bill_id != issued.bill_id {
        return Err(WireError::new(
            ErrorCode::Forbidden,
            format!(
                "the offer names bill {} but carries bill {}",
                issued.bill_id, bill.bill_id
            ),
        ));
    }
    if &bill.terminal != paired_with {
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
    Ok(bill)
}
