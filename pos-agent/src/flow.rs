//! One payment at the kiosk, start to receipt: issue the bill, listen for its receipt and the
//! phone's reports, pair with the phone (mode A or B), wait for the receipt or the phone's
//! word that nothing will be paid, and close the bill at the ledger on any other ending. The screen (interactive or JSON) is a
//! [`PayView`], so the same flow runs in the kiosk UI, in scripts and in tests.

use crate::bill::{self, ShownBill};
use crate::close::{self, Closed};
use crate::link::{self, PhoneLink};
use crate::pairing::{self, PairingOutcome};
use crate::receipt::ReceiptWatch;
use crate::wallet::{self, Offered};
use crate::Agent;
use chrono::{DateTime, Utc};
use posfee_client::trace::TraceContext;
use posfee_schemas::fee::QuoteRequest;
use posfee_schemas::ids::BillId;
use posfee_schemas::ledger::Receipt;
use posfee_schemas::pairing::{
    CloseReason, KioskNotice, PairCode, PairingClosed, PairingEnd, PayerStep, PayerUpdate,
    PhoneChannel, WalletAnswer,
};
use posfee_schemas::{ErrorCode, WireError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What the payer asked for.
#[derive(Debug, Clone)]
pub struct PaySpec {
    pub quote: QuoteRequest,
    /// A basket's other accounts (one bill each), paid with `quote`'s in one confirmation;
    /// empty for one bill.
    pub more: Vec<QuoteRequest>,
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
    /// Mode B: the bill is on its way to the phone showing `code`; the kiosk now waits for
    /// the payer's answer.
    fn offered(&mut self, _code: &PairCode) {}
    /// Mode B: the payer confirmed on the phone.
    fn wallet_answered(&mut self, answer: &WalletAnswer);
    /// The payer confirmed on the phone and the payment is on its way.
    fn paying(&mut self) {}
    /// The payment settled.
    fn receipt(&mut self, receipt: &Receipt);
}

/// One payment at the kiosk. `Ok` is the receipt; every other ending is an error whose code
/// says what happened: an ordinary outcome ([`ErrorCode::is_outcome`]: nothing owed,
/// declined, cancelled, expired, not enough money), `OUTCOME_UNKNOWN` when the ledger could
/// not confirm the bill is closed, or a failure. Whatever the ending, the bill is closed at
/// the ledger first, so the phone can no longer pay what the kiosk reports as not paid.
///
/// Each payment is a trace of its own ([`posfee_client::trace`]): every request the flow
/// sends, and the phone's after it takes the bill, carry it, and the kiosk's log names it.
pub async fn pay(
    agent: &Agent,
    spec: PaySpec,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Receipt> {
    let mut receipts = pay_all(agent, spec, view, cancel).await?;
    Ok(receipts.remove(0))
}

/// [`pay`] for one bill or a basket (`spec.more`): every bill's receipt, in the order asked,
/// or one ending for all of them. A basket is all or nothing: its bills are issued together,
/// offered in one pairing, paid in one order and closed together.
pub async fn pay_all(
    agent: &Agent,
    spec: PaySpec,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Vec<Receipt>> {
    let trace = TraceContext::root();
    let span = tracing::info_span!("payment", trace = %trace.trace_id());
    let flow = async {
        tracing::info!(tenant = %spec.quote.tenant, "serving a payer");
        pay_in_trace(agent, spec, view, cancel).await
    };
    posfee_client::trace::scope(Some(trace), flow.instrument(span)).await
}

async fn pay_in_trace(
    agent: &Agent,
    spec: PaySpec,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Vec<Receipt>> {
    let quotes = std::iter::once(spec.quote).chain(spec.more).collect();
    let shown = bill::issue_all(agent, quotes).await?;
    for b in &shown {
        view.bill(b);
    }
    // Listen for the receipt and the phone's reports before the phone can have the bill.
    let mut receipts = ReceiptWatch::subscribe(agent).await?;
    let mut link = PhoneLink::open(agent).await?;
    let handed = match &spec.wallet {
        None => present(agent, &shown, &link, view, cancel).await,
        Some(code) => offer(agent, code, &shown, &link, view, cancel).await,
    };
    let (reason, why, phone, told) = match handed {
        Ok(Handover::Taken(phone, joined)) => {
            match wait_payment(agent, &shown, &mut receipts, &mut link, view, cancel).await {
                Waited::Receipts(receipts) => {
                    for r in &receipts {
                        view.receipt(r);
                    }
                    return Ok(receipts);
                }
                Waited::Ended(reason, why) => (reason, why, phone, Some(joined)),
            }
        }
        Ok(Handover::Ended(reason, why, phone, told)) => (reason, why, phone, Some(told)),
        Err(e) => (CloseReason::NotPaid, e, None, None),
    };
    let ending = Ending {
        reason,
        why,
        phone,
        told,
    };
    end_unpaid(agent, &shown, ending, view).await
}

/// Whether the phone took the bill, and how the pairing ended.
enum Handover {
    /// It has it; the phone hears the kiosk's notices on this channel, if it gave one.
    Taken(Option<PhoneChannel>, PairingClosed),
    Ended(CloseReason, WireError, Option<PhoneChannel>, PairingClosed),
}

/// How a payment at the kiosk ended without receipts: the close's reason, what the payer is
/// told, the phone to tell, and the pairing, told in the first bill's close (a hold tells it
/// otherwise).
struct Ending {
    reason: CloseReason,
    why: WireError,
    phone: Option<PhoneChannel>,
    told: Option<PairingClosed>,
}

/// Mode A: show a code and wait for the phone to join.
async fn present(
    agent: &Agent,
    shown: &[ShownBill],
    link: &PhoneLink,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Handover> {
    let open = pairing::open(agent, shown, Some(link.token.clone())).await?;
    view.pairing(&open.code, open.expires_at);
    let gone = |m: String| WireError::new(ErrorCode::PairingGone, m);
    let shown_as = open.shown;
    let told = |end| pairing::ended(end, shown_as, shown);
    Ok(match open.wait(agent, cancel).await? {
        PairingOutcome::Joined(phone) => {
            view.joined();
            Handover::Taken(phone, told(PairingEnd::Joined))
        }
        PairingOutcome::Expired => Handover::Ended(
            CloseReason::Expired,
            gone(format!(
                "no phone joined within {} s",
                agent.settings.pairing_ttl.as_secs()
            )),
            None,
            told(PairingEnd::Expired),
        ),
        PairingOutcome::Cancelled => Handover::Ended(
            CloseReason::Cancelled,
            gone("cancelled at the kiosk".into()),
            None,
            told(PairingEnd::Cancelled),
        ),
    })
}

/// Mode B: offer the bill to the code the phone shows and wait for the payer's decision.
async fn offer(
    agent: &Agent,
    code: &PairCode,
    shown: &[ShownBill],
    link: &PhoneLink,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> crate::Result<Handover> {
    let phone = wallet::channel(code);
    view.offered(code);
    let (offered, told) =
        wallet::offer(agent, code, shown, Some(link.token.clone()), cancel).await?;
    Ok(match offered {
        Offered::Accepted(answer) => {
            view.wallet_answered(&answer);
            Handover::Taken(phone, told)
        }
        Offered::Ended(reason, why) => Handover::Ended(reason, why, phone, told),
    })
}

enum Waited {
    /// Every bill's receipt, in the order asked.
    Receipts(Vec<Receipt>),
    Ended(CloseReason, WireError),
}

/// Once the phone has the bill: the receipt, the phone's report that nothing will be paid,
/// a cancel at the kiosk, or the end of the wait.
async fn wait_payment(
    agent: &Agent,
    shown: &[ShownBill],
    receipts: &mut ReceiptWatch,
    link: &mut PhoneLink,
    view: &mut dyn PayView,
    cancel: &CancellationToken,
) -> Waited {
    let lead = shown[0].issued.bill_id;
    let mut waiting: Vec<BillId> = shown.iter().map(|b| b.issued.bill_id).collect();
    let mut got: Vec<Receipt> = Vec::with_capacity(shown.len());
    let wait = agent.settings.receipt_wait;
    let deadline = tokio::time::sleep(wait);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = receipts.next_of(agent, &waiting) => match r {
                Ok(r) => {
                    waiting.retain(|b| *b != r.bill_id);
                    got.push(r);
                    if waiting.is_empty() {
                        return Waited::Receipts(in_order(shown, got));
                    }
                }
                Err(e) => return Waited::Ended(CloseReason::NotPaid, e),
            },
            u = link.next(agent, lead) => match u {
                Some(u) => match u.step {
                    PayerStep::Paying => view.paying(),
                    PayerStep::Declined => return Waited::Ended(
                        CloseReason::Declined,
                        WireError::new(ErrorCode::PayerDeclined, "the payer declined on the phone"),
                    ),
                    PayerStep::NotPaid => return Waited::Ended(CloseReason::NotPaid, not_paid(&u)),
                },
                None => return Waited::Ended(
                    CloseReason::NotPaid,
                    crate::unavailable("waiting for the payment", "connection closed"),
                ),
            },
            _ = cancel.cancelled() => return Waited::Ended(
                CloseReason::Cancelled,
                WireError::new(ErrorCode::PairingGone, "cancelled at the kiosk"),
            ),
            _ = &mut deadline => return Waited::Ended(
                CloseReason::NoReceipt,
                WireError::new(
                    ErrorCode::PairingGone,
                    format!("no payment within {} s", wait.as_secs()),
                ),
            ),
        }
    }
}

/// The phone's report of a refused payment, as the kiosk shows it.
fn not_paid(u: &PayerUpdate) -> WireError {
    let code = u
        .code
        .as_deref()
        .and_then(ErrorCode::from_name)
        .unwrap_or(ErrorCode::PaymentStateConflict);
    let message = u.message.clone().unwrap_or_else(|| "not paid".into());
    WireError::new(code, format!("the payment was refused: {message}"))
}

/// Closes the bills and reports how the payment ended: the receipts if the phone paid after
/// all, `why` if it did not, `OUTCOME_UNKNOWN` if the ledger could not be asked after the
/// phone may have had the bills. A basket settles whole or not at all, so its bills close
/// the same way; if they did not, the kiosk says it cannot tell.
async fn end_unpaid(
    agent: &Agent,
    shown: &[ShownBill],
    ending: Ending,
    view: &mut dyn PayView,
) -> crate::Result<Vec<Receipt>> {
    let Ending {
        reason,
        why,
        phone,
        told,
    } = ending;
    // Every bill is closed, whatever the answer about the one before: a bill left open
    // could still be paid after the kiosk said it was not.
    let mut paid = Vec::new();
    let mut unpaid = 0;
    let mut failed: Option<WireError> = None;
    for (i, bill) in shown.iter().enumerate() {
        let told = if i == 0 { told.as_ref() } else { None };
        match close::close(agent, bill, (reason, Some(why.code)), told).await {
            Ok(Closed::Paid(r)) => paid.push(r),
            Ok(Closed::Unpaid) => unpaid += 1,
            Err(e) => {
                if e.code != ErrorCode::OutcomeUnknown {
                    tracing::warn!(error = %e, bill = %bill.issued.bill_id, "closing the bill was refused");
                }
                failed.get_or_insert(match e.code {
                    ErrorCode::OutcomeUnknown => e,
                    _ => close::unknown(bill),
                });
            }
        }
    }
    if let Some(e) = failed {
        // Nobody joined: no phone ever had these bills, so nothing can have been paid.
        if reason == CloseReason::Expired && phone.is_none() {
            return Err(why);
        }
        return Err(e);
    }
    if unpaid == shown.len() {
        if let Some(phone) = &phone {
            let notice = KioskNotice {
                bill_id: shown[0].issued.bill_id,
                reason,
            };
            link::notify_phone(agent, phone, &notice).await;
        }
        return Err(why);
    }
    if paid.len() == shown.len() {
        for r in &paid {
            view.receipt(r);
        }
        return Ok(in_order(shown, paid));
    }
    tracing::error!(
        paid = paid.len(),
        bills = shown.len(),
        "a basket closed part paid"
    );
    Err(close::unknown(&shown[0]))
}

/// Receipts in the order the bills were asked for.
fn in_order(shown: &[ShownBill], mut receipts: Vec<Receipt>) -> Vec<Receipt> {
    let place = |r: &Receipt| shown.iter().position(|b| b.issued.bill_id == r.bill_id);
    receipts.sort_by_key(place);
    receipts
}
