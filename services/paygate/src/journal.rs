//! Paygate's journal entries and how each instance's view applies them.
//!
//! The journal (`POSFEE_PAYGATE`, replicated) is the payment platform's system of record: one
//! subject per payer, where holds, voids and refund credits change the payer's balance one at
//! a time, and one subject for registrations, where a device key is registered once
//! ([`posfee_runtime::journal::Journal::write`] decides on the latest state and appends only
//! if nothing came first). A capture is the ledger's settlement, which every view applies
//! from `payment.settled` ([`crate::feed`]); a `Captured` entry is journaled only when that
//! event is late. No personal data is journaled in plain: a payer's name, identity card and
//! bank account travel sealed under the payer's own data key ([`crate::vault`]), which an
//! erasure deletes. The instance that wrote an entry publishes the event it implies when its
//! view applies it.

use crate::store::{Payer, Payment, Refusal, Registration, Store};
use posfee_runtime::journal::Batch;
use posfee_runtime::journal::Carries;
use posfee_schemas::events::{Event, PaymentSettled};
use posfee_schemas::fee::Bill;
use posfee_schemas::ids::{PayerHandle, PaymentId};
use posfee_schemas::ledger::{Receipt, SignedReceipt};
use posfee_schemas::money::{Fen, MoneyError};
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::{decode, encode, subjects};
use posfee_store::transaction::{ConflictableTransactionError, TransactionalTree};
use posfee_store::Transactional;
use serde::{Deserialize, Serialize};

/// The scope every registration is decided in: one device key, one registration, whichever
/// instance is asked. Registrations are rare (one per phone), so one subject is no bottleneck.
pub const REGISTRATIONS: &str = "registrations";

/// One change to the payment platform's records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    Registered {
        handle: PayerHandle,
        payer: Payer,
        idempotency_key: String,
        registration: Registration,
        /// Who the payer is, sealed under their own data key (absent from paygates before
        /// identities were journaled: those journal them as [`Entry::Identity`]).
        #[serde(default)]
        identity: Option<Sealed>,
    },
    /// Who a payer is, sealed: a correction, or an identity a paygate kept only in its own
    /// store before identities were journaled.
    Identity {
        handle: PayerHandle,
        identity: Sealed,
    },
    Authorized {
        id: PaymentId,
        payment: Box<Payment>,
        writer: u64,
        event: Event,
        /// The kiosk's pairing that led to this hold (`pairing.joined`), as the phone handed
        /// it on; absent when it did not (a phone from before contract 0.5.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairing: Option<Event>,
    },
    /// A basket's bills held at once: one hold of their total, one payment per bill.
    AuthorizedAll {
        payments: Vec<(PaymentId, Payment)>,
        writer: u64,
        events: Vec<Event>,
        /// The basket's pairing, as [`Entry::Authorized`]'s.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairing: Option<Event>,
    },
    Captured {
        id: PaymentId,
        receipt: Receipt,
        /// The receipt as the ledger signed it (absent before contract 0.2).
        #[serde(default)]
        signed: Option<SignedReceipt>,
    },
    Voided {
        id: PaymentId,
        refusal: Refusal,
        writer: u64,
        event: Event,
    },
    /// A basket the ledger refused: every bill's hold released at once.
    VoidedAll {
        ids: Vec<PaymentId>,
        refusal: Refusal,
        writer: u64,
        events: Vec<Event>,
    },
    /// The ledger's refunded total for a payment, credited to the payer up to it.
    Credited { id: PaymentId, total: Fen },
    /// The payer was erased: every instance deletes the key who they are is sealed under.
    Erased {
        handle: PayerHandle,
        at: chrono::DateTime<chrono::Utc>,
    },
}

impl Carries for Entry {
    fn carried(&self) -> Vec<&Event> {
        match self {
            Entry::Authorized { event, pairing, .. } => {
                std::iter::once(event).chain(pairing).collect()
            }
            Entry::AuthorizedAll {
                events, pairing, ..
            } => events.iter().chain(pairing).collect(),
            Entry::Voided { event, .. } => vec![event],
            Entry::VoidedAll { events, .. } => events.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The journal subject of a scope.
pub fn subject(scope: &str) -> String {
    subjects::paygate_journal(scope)
}

/// A payer's scope: the handle (an opaque token, already subject-safe).
pub fn payer_scope(handle: &PayerHandle) -> String {
    handle.as_str().to_string()
}

use crate::vault::Sealed;

pub(crate) type Tx = ConflictableTransactionError<String>;

/// Applies a batch of entries, in order, in one transaction with the view's new position.
pub fn apply(store: &Store, batch: &Batch<Entry>) -> anyhow::Result<()> {
    let s = store;
    (
        &s.payers,
        &s.payments,
        &s.pending,
        &s.settled_early,
        &s.devices,
        &s.device_keys,
        &s.registrations,
        &s.identities,
        &s.meta,
    )
        .transaction(
            |(
                payers,
                payments,
                pending,
                settled_early,
                devices,
                device_keys,
                registrations,
                identities,
                meta,
            )| {
                let view = View {
                    money: Payments {
                        payers,
                        payments,
                        pending,
                        settled_early,
                    },
                    devices,
                    device_keys,
                    registrations,
                    identities,
                };
                for (_, entry) in &batch.entries {
                    view.apply_one(entry)?;
                }
                batch.record(meta)?;
                Ok::<_, Tx>(())
            },
        )
        .map_err(|e| anyhow::anyhow!("applying journal entries up to {}: {e:?}", batch.last))
}

/// The trees an entry's effects go to, inside the batch's transaction.
struct View<'a> {
    money: Payments<'a>,
    devices: &'a TransactionalTree,
    device_keys: &'a TransactionalTree,
    registrations: &'a TransactionalTree,
    identities: &'a TransactionalTree,
}

impl View<'_> {
    /// Records one entry. The events it implies are carried by the entry itself
    /// ([`Carries`]), stored with it.
    fn apply_one(&self, entry: &Entry) -> Result<(), Tx> {
        let money = &self.money;
        match entry {
            Entry::Registered {
                handle,
                payer,
                idempotency_key,
                registration,
                identity,
            } => {
                if let Some(sealed) = identity {
                    self.identities
                        .insert(handle.as_str().as_bytes(), encode(sealed))?;
                }
                let key_id = payer.device_key_id.as_str().as_bytes();
                self.registrations
                    .insert(idempotency_key.as_bytes(), encode(registration))?;
                self.devices.insert(key_id, handle.as_str().as_bytes())?;
                self.device_keys
                    .insert(payer.device_public_key.as_slice(), key_id)?;
                money
                    .payers
                    .insert(handle.as_str().as_bytes(), encode(payer))?;
            }
            Entry::Authorized { id, payment, .. } => {
                money.hold(*id, payment)?;
            }
            Entry::AuthorizedAll { payments, .. } => {
                // All or nothing: a bill's payment id another payment took first (an entry
                // of another payer's scope, earlier in the stream) holds none of the basket,
                // in every view alike; the request sees the id is not its own and refuses.
                if money.none_taken(payments.iter().map(|(id, _)| id))? {
                    for (id, payment) in payments {
                        money.hold(*id, payment)?;
                    }
                } else {
                    tracing::warn!("a basket whose payment ids are taken held nothing");
                }
            }
            Entry::Captured {
                id,
                receipt,
                signed,
            } => {
                money.finish(id, |payment, payer| {
                    payment.state = PaymentState::Captured;
                    payment.receipt = Some(receipt.clone());
                    payment.signed_receipt = signed.clone();
                    payer.held = payer.held.checked_sub(payment.amount.fen)?;
                    Ok(())
                })?;
            }
            Entry::Voided { id, refusal, .. } => {
                money.void(id, refusal)?;
            }
            Entry::VoidedAll { ids, refusal, .. } => {
                for id in ids {
                    money.void(id, refusal)?;
                }
            }
            Entry::Credited { id, total } => money.credit(id, *total)?,
            Entry::Identity { handle, identity } => match money.known(handle)? {
                Some(payer) if payer.erased_at.is_none() => {
                    self.identities
                        .insert(handle.as_str().as_bytes(), encode(identity))?;
                }
                // Erased, or a payer this journal never registered: nothing to keep.
                _ => tracing::warn!(payer = %handle, "an identity of no live payer passed over"),
            },
            Entry::Erased { handle, at } => {
                money.change_payer(handle, |p| {
                    p.erased_at.get_or_insert(*at);
                    Ok(())
                })?;
                self.identities.remove(handle.as_str().as_bytes())?;
            }
        }
        Ok(())
    }
}

/// The payers a batch erased.
pub fn erased(batch: &Batch<Entry>) -> Vec<PayerHandle> {
    batch
        .entries
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Erased { handle, .. } => Some(handle.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn abort(e: impl std::fmt::Display) -> Tx {
    Tx::Abort(e.to_string())
}

/// The trees a payment and its payer's money live in, inside a transaction: changed by the
/// journal's entries and, for captures, by the ledger's `payment.settled` events
/// ([`crate::feed`]).
pub(crate) struct Payments<'a> {
    pub payers: &'a TransactionalTree,
    pub payments: &'a TransactionalTree,
    pub pending: &'a TransactionalTree,
    pub settled_early: &'a TransactionalTree,
}

impl Payments<'_> {
    /// Holds the payment's amount on the payer's balance and records it authorized; a
    /// settlement that reached the view first captures it at once. Whether it was new.
    fn hold(&self, id: PaymentId, payment: &Payment) -> Result<bool, Tx> {
        let key = id.0.as_bytes();
        if self.payments.get(key)?.is_some() {
            return Ok(false);
        }
        let amount = payment.amount.fen;
        self.change_payer(&payment.payer, |p| {
            p.balance = p.balance.checked_sub(amount)?;
            p.held = p.held.checked_add(amount)?;
            Ok(())
        })?;
        self.payments.insert(key, encode(payment))?;
        self.pending.insert(key, &[])?;
        if let Some(raw) = self.settled_early.remove(key)? {
            match decode::<PaymentSettled>(&raw) {
                Ok(settled) => left_for_recovery(id, self.capture_settled(&settled))?,
                Err(e) => left_for_recovery(id, Err(abort(e)))?,
            };
        }
        Ok(true)
    }

    /// Whether none of `ids` is a payment this view holds.
    fn none_taken<'a>(&self, mut ids: impl Iterator<Item = &'a PaymentId>) -> Result<bool, Tx> {
        ids.try_fold(true, |free, id| {
            Ok(free && self.payments.get(id.0.as_bytes())?.is_none())
        })
    }

    /// The ledger settled a payment (its `payment.settled` event): the payment is captured
    /// with the receipt the ledger gave, rebuilt from the bill; a payment already captured is
    /// left as it is, and one whose hold the view has not applied yet is kept aside for it.
    /// Whether it was captured now.
    pub fn settled(&self, settled: &PaymentSettled) -> Result<bool, Tx> {
        let key = settled.payment_id.0.as_bytes();
        if self.payments.get(key)?.is_none() {
            self.settled_early.insert(key, encode(settled))?;
            return Ok(false);
        }
        self.capture_settled(settled)
    }

    fn capture_settled(&self, settled: &PaymentSettled) -> Result<bool, Tx> {
        let id = settled.payment_id;
        let key = id.0.as_bytes();
        let mut payment = self.payment(&id)?;
        let bill: Bill = match payment.bill.signed.peek() {
            Ok(bill) if matches(settled, &payment, &bill) => bill,
            // Not the payment this view holds: left as it is; an authorized one is finished
            // by the recovery loop with the ledger's own answer.
            Ok(_) => return Ok(false),
            Err(e) => {
                tracing::error!(payment = %id, error = %e, "the stored bill does not read; capture left to the recovery loop");
                return Ok(false);
            }
        };
        let amount = payment.amount.fen;
        match payment.state {
            PaymentState::Captured => return Ok(false),
            PaymentState::Authorized => self.change_payer(&payment.payer, |p| {
                p.held = p.held.checked_sub(amount)?;
                Ok(())
            })?,
            // Paygate voids only on the ledger's final refusal, so this never happens; if it
            // did, the settlement is what became of the money, and it wins in every view
            // whichever stream the view read first: the void's release is taken back.
            PaymentState::Voided => {
                tracing::error!(payment = %id, "the ledger settled a payment paygate voided; captured, reconcile it");
                self.change_payer(&payment.payer, |p| {
                    p.balance = p.balance.checked_sub(amount)?;
                    Ok(())
                })?
            }
        }
        payment.state = PaymentState::Captured;
        payment.receipt = Some(Receipt::of_bill(id, &bill, settled.settled_at));
        payment.signed_receipt = settled.receipt.as_deref().cloned();
        payment.refusal = None;
        self.payments.insert(key, encode(&payment))?;
        self.pending.remove(key)?;
        Ok(true)
    }

    /// Voids an authorized payment: the hold goes back to the payer's balance. Whether it
    /// moved.
    fn void(&self, id: &PaymentId, refusal: &Refusal) -> Result<bool, Tx> {
        self.finish(id, |payment, payer| {
            payment.state = PaymentState::Voided;
            payment.refusal = Some(refusal.clone());
            payer.held = payer.held.checked_sub(payment.amount.fen)?;
            payer.balance = payer.balance.checked_add(payment.amount.fen)?;
            Ok(())
        })
    }

    /// Moves an authorized payment to its final state; a payment already final is left as
    /// it is. Whether it moved.
    fn finish(
        &self,
        id: &PaymentId,
        change: impl FnOnce(&mut Payment, &mut Payer) -> Result<(), MoneyError>,
    ) -> Result<bool, Tx> {
        let key = id.0.as_bytes();
        let mut payment = self.payment(id)?;
        if payment.state != PaymentState::Authorized {
            return Ok(false);
        }
        let handle = payment.payer.clone();
        self.change_payer(&handle, |payer| change(&mut payment, payer))?;
        self.payments.insert(key, encode(&payment))?;
        self.pending.remove(key)?;
        Ok(true)
    }

    /// A payment the view holds.
    fn payment(&self, id: &PaymentId) -> Result<Payment, Tx> {
        let raw = self
            .payments
            .get(id.0.as_bytes())?
            .ok_or_else(|| abort(format!("no payment {id} in the view")))?;
        decode(&raw).map_err(abort)
    }

    /// A payer's record in the view, if it has one.
    fn known(&self, handle: &PayerHandle) -> Result<Option<Payer>, Tx> {
        match self.payers.get(handle.as_str().as_bytes())? {
            Some(raw) => Ok(Some(decode(&raw).map_err(abort)?)),
            None => Ok(None),
        }
    }

    /// Reads, changes and writes back a payer's record.
    fn change_payer(
        &self,
        handle: &PayerHandle,
        change: impl FnOnce(&mut Payer) -> Result<(), MoneyError>,
    ) -> Result<(), Tx> {
        let key = handle.as_str().as_bytes();
        let raw = self
            .payers
            .get(key)?
            .ok_or_else(|| abort(format!("no payer {handle} in the view")))?;
        let mut payer: Payer = decode(&raw).map_err(abort)?;
        change(&mut payer).map_err(abort)?;
        self.payers.insert(key, encode(&payer))?;
        Ok(())
    }

    /// Credits the payer with what the ledger refunded beyond what was credited before: the
    /// total only grows, so an entry applied twice credits nothing twice. The entry was
    /// written on a view that had the payment captured; this view may learn of the
    /// settlement later, from the event stream, and credits it all the same.
    fn credit(&self, id: &PaymentId, total: Fen) -> Result<(), Tx> {
        let key = id.0.as_bytes();
        let Some(raw) = self.payments.get(key)? else {
            return Ok(());
        };
        let mut payment: Payment = decode(&raw).map_err(abort)?;
        if payment.state == PaymentState::Voided {
            return Ok(());
        }
        let due = total.checked_sub(payment.refunded).map_err(abort)?;
        if due <= Fen::ZERO {
            return Ok(());
        }
        self.change_payer(&payment.payer, |p| {
            p.balance = p.balance.checked_add(due)?;
            Ok(())
        })?;
        payment.refunded = total;
        self.payments.insert(key, encode(&payment))?;
        Ok(())
    }
}

/// A settlement that could not be applied (a record this view cannot read) must not stop the
/// feed or the journal for every other payment: it is logged, and the hold stays authorized
/// for the recovery loop, which asks the ledger itself. Storage errors still fail the batch.
pub(crate) fn left_for_recovery(id: PaymentId, applied: Result<bool, Tx>) -> Result<bool, Tx> {
    match applied {
        Err(Tx::Abort(why)) => {
            tracing::error!(payment = %id, %why, "settlement not applied; left to the recovery loop");
            Ok(false)
        }
        other => other,
    }
}

/// Whether a settlement is of the payment this view holds under its id.
fn matches(settled: &PaymentSettled, payment: &Payment, bill: &Bill) -> bool {
    let ok = settled.bill_id == payment.bill_id
        && bill.bill_id == payment.bill_id
        && settled.amount == payment.amount
        && settled.payer == *payment.payer_at_biller();
    if !ok {
        tracing::error!(payment = %settled.payment_id, "payment.settled does not match the payment held; left to the recovery loop");
    }
    ok
}
