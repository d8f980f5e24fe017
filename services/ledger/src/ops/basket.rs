//! `posfee.ledger.settle_basket`: every bill of a basket settles, each in its own tenant
//! account's books, or none does. A subject of its own, not `settle` with more notices: a
//! ledger from before baskets answers nobody there, where on `settle` it would have settled
//! the first bill alone.
//!
//! Paygate sends one signed notice per bill (the first in `notice`, the others in `more`),
//! each a payment of its own ([`PaymentId::part`] of the basket's payment). The checks are
//! the single settlement's, bill by bill, plus the basket's own: every bill carries the same
//! basket tag, the notices are all of it, one bill per account. The decision is made on the
//! view of every account, and the settlements go to the journal as one atomic batch, each
//! after its account's last entry: if any account moved, the whole batch is refused and
//! decided again. A refusal names the bill that cannot be settled; the others stay unpaid.
//! A retry gets the first answer, as a single settlement's does.

use super::settle::{admissible, conflicts, replay};
use crate::app::App;
use crate::journal::{self, Entry};
use posfee_runtime::journal::Part;
use posfee_runtime::serve::{decode_request, record, reply_ok, Field, Handled};
use posfee_schemas::basket::{MAX_BILLS, MIN_BILLS};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::ledger::{Receipt, SettleRequest, SettlementNotice, SignedReceipt};
use posfee_schemas::signed::Signed;
use posfee_schemas::{ErrorCode, WireError};
use std::collections::HashSet;
use std::sync::Arc;

/// One bill of the basket as the request claims it (read, not yet verified).
struct Claimed {
    signed: Signed,
    notice: SettlementNotice,
    bill: Bill,
    scope: String,
}

pub async fn handle(app: Arc<App>, msg: async_nats::Message) -> Handled {
    let req: SettleRequest = decode_request(&msg.payload)?;
    let claimed = claims(&req)?;
    if let Some(basket) = claimed[0].notice.basket {
        record(Field::Payment, &basket);
    }
    let scopes: Vec<String> = claimed.iter().map(|c| c.scope.clone()).collect();
    if let Some(done) = replayed(&app, &claimed, &scopes).await? {
        return reply_ok(&done);
    }
    let entries = match admitted(&app, &claimed).await {
        Ok(entries) => entries,
        // Refused on this view: refused only if the latest state has not settled it already.
        Err(e) => {
            return match settled_on_latest(&app, &claimed, &scopes).await? {
                Some(done) => reply_ok(&done),
                None => Err(e),
            };
        }
    };
    app.journal
        .write_all(&scopes, || {
            if all_settled(&app, &claimed)?.is_some() {
                return Ok(None);
            }
            let mut parts = Vec::with_capacity(claimed.len());
            for (c, entry) in claimed.iter().zip(&entries) {
                conflicts(&app, c.bill.bill_id, entry).map_err(|e| named(&c.bill, e))?;
                parts.push(Part {
                    scope: c.scope.clone(),
                    id: journal::settle_id(c.notice.payment_id),
                    entry: entry.clone(),
                });
            }
            Ok(Some(parts))
        })
        .await?;
    let done = all_settled(&app, &claimed)?
        .ok_or_else(|| super::internal("a basket the journal took is not in the view"))?;
    tracing::info!(bills = done.len(), "basket settled");
    reply_ok(&done)
}

/// The request's notices and bills as they read, and the basket's shape: 2 to 10 bills, all
/// tagged with one basket of that size, each notice a part of one basket payment, one bill
/// per tenant account.
fn claims(req: &SettleRequest) -> Result<Vec<Claimed>, WireError> {
    let signed: Vec<&Signed> = std::iter::once(&req.notice).chain(&req.more).collect();
    if !(MIN_BILLS..=MAX_BILLS).contains(&signed.len()) {
        return Err(WireError::field(
            "more",
            format!(
                "a basket has {MIN_BILLS} to {MAX_BILLS} bills, not {}",
                signed.len()
            ),
        ));
    }
    let mut claimed = Vec::with_capacity(signed.len());
    for (i, s) in signed.into_iter().enumerate() {
        let notice: SettlementNotice = s
            .peek()
            .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("notice {i}: {e}")))?;
        let bill: Bill =
            notice.bill.signed.peek().map_err(|e| {
                WireError::new(ErrorCode::BadRequest, format!("notice {i}.bill: {e}"))
            })?;
        claimed.push(Claimed {
            signed: s.clone(),
            scope: journal::scope(&bill.tenant, &bill.account),
            notice,
            bill,
        });
    }
    shape(&claimed)?;
    Ok(claimed)
}

fn shape(claimed: &[Claimed]) -> Result<(), WireError> {
    let first = &claimed[0];
    let Some(basket) = first.notice.basket else {
        return Err(WireError::field(
            "notice.basket",
            "a basket's notices name its payment",
        ));
    };
    let Some(tag) = first.bill.basket else {
        return Err(WireError::field(
            "notice.bill.basket",
            format!("bill {} was not issued in a basket", first.bill.bill_id),
        ));
    };
    if usize::from(tag.size) != claimed.len() {
        return Err(WireError::field(
            "more",
            format!(
                "the basket has {} bills; {} were sent",
                tag.size,
                claimed.len()
            ),
        ));
    }
    let mut accounts = HashSet::new();
    for c in claimed {
        let bill = &c.bill;
        if bill.basket != Some(tag) {
            return Err(named(
                bill,
                WireError::field("bill.basket", "is not of this basket"),
            ));
        }
        if c.notice.basket != Some(basket)
            || c.notice.payment_id != PaymentId::part(basket, bill.bill_id)
        {
            return Err(named(
                bill,
                WireError::field("notice.payment_id", "is not this bill's part of the basket"),
            ));
        }
        if !accounts.insert(c.scope.clone()) {
            return Err(named(
                bill,
                WireError::field("bill.account", "a basket pays one bill per account"),
            ));
        }
    }
    Ok(())
}

/// Every bill's entry, each verified and checked as a single settlement is.
async fn admitted(app: &App, claimed: &[Claimed]) -> Result<Vec<Entry>, WireError> {
    let mut entries = Vec::with_capacity(claimed.len());
    for c in claimed {
        let entry = admissible(app, &c.signed, &c.bill)
            .await
            .map_err(|e| named(&c.bill, e))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The receipts, if this view has every bill settled by these notices; 503 if only some are
/// (a view that has applied part of the batch's entries: an atomic batch never leaves part),
/// 409 if a notice differs from the one settled.
fn all_settled(app: &App, claimed: &[Claimed]) -> Result<Option<Vec<SignedReceipt>>, WireError> {
    let mut done: Vec<Receipt> = Vec::with_capacity(claimed.len());
    for c in claimed {
        if let Some(r) = replay(app, &c.notice, &c.signed.body)? {
            done.push(r);
        }
    }
    match done.len() {
        0 => Ok(None),
        n if n == claimed.len() => Ok(Some(done.iter().map(|r| app.signed(r)).collect())),
        // A view part way through the batch's entries: ask again once it has them all.
        n => Err(WireError::new(
            ErrorCode::Unavailable,
            format!(
                "{n} of the basket's {} bills are settled in this view so far",
                claimed.len()
            ),
        )),
    }
}

/// The first answer, if the basket was settled: on this view, or once every account's view
/// is brought up to its latest entry (a view that is behind sees some of a settled basket).
async fn replayed(
    app: &App,
    claimed: &[Claimed],
    scopes: &[String],
) -> Result<Option<Vec<SignedReceipt>>, WireError> {
    match all_settled(app, claimed) {
        Ok(done) => Ok(done),
        Err(e) if e.code == ErrorCode::Unavailable => settled_on_latest(app, claimed, scopes).await,
        Err(e) => Err(e),
    }
}

/// [`all_settled`] once every account's view has its account's latest entry.
async fn settled_on_latest(
    app: &App,
    claimed: &[Claimed],
    scopes: &[String],
) -> Result<Option<Vec<SignedReceipt>>, WireError> {
    for scope in scopes {
        app.journal.settled_view(scope).await?;
    }
    all_settled(app, claimed)
}

/// `e` about one bill of the basket, named so the phone and the kiosk can say which.
fn named(bill: &Bill, e: WireError) -> WireError {
    WireError::new(
        e.code,
        format!(
            "{}, account {} (bill {}): {}",
            bill.tenant_name, bill.account, bill.bill_id, e.message
        ),
    )
}
