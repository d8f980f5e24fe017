//! Paygate's journal entries and how each instance's sled view applies them.
//!
//! The journal (`POSFEE_PAYGATE`, replicated) is the payment platform's system of record: one
//! subject per payer, where holds, captures, voids and refund credits change the payer's
//! balance one at a time, and one subject for registrations, where a device key is
//! registered once ([`posfee_runtime::journal::Journal::write`] decides on the latest state
//! and appends only if nothing came first). No personal data is journaled: a payer's name,
//! identity card and bank account stay in the registering instance's own store. The instance
//! that wrote an entry publishes the event it implies when its view applies it.

use crate::store::{Payer, Payment, Refusal, Registration, Store};
use posfee_runtime::journal::Batch;
use posfee_runtime::outbox::Outbox;
use posfee_schemas::events::Event;
use posfee_schemas::ids::{PayerHandle, PaymentId};
use posfee_schemas::ledger::Receipt;
use posfee_schemas::money::Fen;
use posfee_schemas::paygate::PaymentState;
use posfee_schemas::{decode, encode, subjects};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

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
    },
    Authorized {
        id: PaymentId,
        payment: Box<Payment>,
        writer: u64,
        event: Event,
    },
    Captured {
        id: PaymentId,
        receipt: Receipt,
    },
    Voided {
        id: PaymentId,
        refusal: Refusal,
        writer: u64,
        event: Event,
    },
    /// The ledger's refunded total for a payment, credited to the payer up to it.
    Credited {
        id: PaymentId,
        total: Fen,
    },
}

/// The journal subject of a scope.
pub fn subject(scope: &str) -> String {
    subjects::paygate_journal(scope)
}

/// A payer's scope: the handle (an opaque token, already subject-safe).
pub fn payer_scope(handle: &PayerHandle) -> String {
    handle.as_str().to_string()
}

type Tx = ConflictableTransactionError<String>;

/// Applies a batch of entries, in order, in one transaction with the view's new position.
pub fn apply(store: &Store, outbox: &Outbox, me: u64, batch: &Batch<Entry>) -> anyhow::Result<()> {
    let staged = batch
        .entries
        .iter()
        .map(|_| outbox.next_key())
        .collect::<Result<Vec<_>, _>>()?;
    let s = store;
    (
        &s.payers,
        &s.devices,
        &s.device_keys,
        &s.registrations,
        &s.payments,
        &s.pending,
        &s.meta,
        outbox.tree(),
    )
        .transaction(
            |(payers, devices, device_keys, registrations, payments, pending, meta, out)| {
                let view = View {
                    payers,
                    devices,
                    device_keys,
                    registrations,
                    payments,
                    pending,
                    out,
                };
                for ((_, entry), staged) in batch.entries.iter().zip(&staged) {
                    view.apply_one(me, entry, *staged)?;
                }
                batch.record(meta)?;
                Ok::<_, Tx>(())
            },
        )
        .map_err(|e| anyhow::anyhow!("applying journal entries up to {}: {e:?}", batch.last))
}

/// The trees an entry's effects go to, inside the batch's transaction.
struct View<'a> {
    payers: &'a TransactionalTree,
    devices: &'a TransactionalTree,
    device_keys: &'a TransactionalTree,
    registrations: &'a TransactionalTree,
    payments: &'a TransactionalTree,
    pending: &'a TransactionalTree,
    out: &'a TransactionalTree,
}

impl View<'_> {
    /// Records one entry; here, where it was written, stages the event it publishes.
    fn apply_one(&self, me: u64, entry: &Entry, staged: [u8; 8]) -> Result<(), Tx> {
        match entry {
            Entry::Registered {
                handle,
                payer,
                idempotency_key,
                registration,
            } => {
                let key_id = payer.device_key_id.as_str().as_bytes();
                self.registrations
                    .insert(idempotency_key.as_bytes(), encode(registration))?;
                self.devices.insert(key_id, handle.as_str().as_bytes())?;
                self.device_keys
                    .insert(payer.device_public_key.as_slice(), key_id)?;
                self.payers
                    .insert(handle.as_str().as_bytes(), encode(payer))?;
            }
            Entry::Authorized {
                id,
                payment,
                writer,
                event,
            } => {
                if self.payments.get(id.0.as_bytes())?.is_none() {
                    let amount = payment.amount.fen;
                    change_payer(self.payers, &payment.payer, |p| {
                        p.balance = p.balance.checked_sub(amount)?;
                        p.held = p.held.checked_add(amount)?;
                        Ok(())
                    })?;
                    self.payments
                        .insert(id.0.as_bytes(), encode(payment.as_ref()))?;
                    self.pending.insert(id.0.as_bytes(), &[])?;
                    if *writer == me {
                        Outbox::stage(self.out, staged, event)?;
                    }
                }
            }
            Entry::Captured { id, receipt } => {
                self.finish(id, |payment, payer| {
                    payment.state = PaymentState::Captured;
                    payment.receipt = Some(receipt.clone());
                    payer.held = payer.held.checked_sub(payment.amount.fen)?;
                    Ok(())
                })?;
            }
            Entry::Voided {
                id,
                refusal,
                writer,
                event,
            } => {
                let voided = self.finish(id, |payment, payer| {
                    payment.state = PaymentState::Voided;
                    payment.refusal = Some(refusal.clone());
                    payer.held = payer.held.checked_sub(payment.amount.fen)?;
                    payer.balance = payer.balance.checked_add(payment.amount.fen)?;
                    Ok(())
                })?;
                if voided && *writer == me {
                    Outbox::stage(self.out, staged, event)?;
                }
            }
            Entry::Credited { id, total } => credit(self.payers, self.payments, id, *total)?,
        }
        Ok(())
    }
}

fn abort(e: impl std::fmt::Display) -> Tx {
    Tx::Abort(e.to_string())
}

/// Reads, changes and writes back a payer's record.
fn change_payer(
    payers: &TransactionalTree,
    handle: &PayerHandle,
    change: impl FnOnce(&mut Payer) -> Result<(), posfee_schemas::money::MoneyError>,
) -> Result<(), Tx> {
    let key = handle.as_str().as_bytes();
    let raw = payers
        .get(key)?
        .ok_or_else(|| abort(format!("no payer {handle} in the view")))?;
    let mut payer: Payer = decode(&raw).map_err(abort)?;
    change(&mut payer).map_err(abort)?;
    payers.insert(key, encode(&payer))?;
    Ok(())
}

impl View<'_> {
    /// Moves an authorized payment to its final state; a payment already final is left as
    /// it is. Whether it moved.
    fn finish(
        &self,
        id: &PaymentId,
        change: impl FnOnce(&mut Payment, &mut Payer) -> Result<(), posfee_schemas::money::MoneyError>,
    ) -> Result<bool, Tx> {
        let key = id.0.as_bytes();
        let raw = self
            .payments
            .get(key)?
            .ok_or_else(|| abort(format!("no payment {id} in the view")))?;
        let mut payment: Payment = decode(&raw).map_err(abort)?;
        if payment.state != PaymentState::Authorized {
            return Ok(false);
        }
        let handle = payment.payer.clone();
        change_payer(self.payers, &handle, |payer| change(&mut payment, payer))?;
        self.payments.insert(key, encode(&payment))?;
        self.pending.remove(key)?;
        Ok(true)
    }
}

/// Credits the payer with what the ledger refunded beyond what was credited before: the
/// total only grows, so an entry applied twice credits nothing twice.
fn credit(
    payers: &TransactionalTree,
    payments: &TransactionalTree,
    id: &PaymentId,
    total: Fen,
) -> Result<(), Tx> {
    let key = id.0.as_bytes();
    let Some(raw) = payments.get(key)? else {
        return Ok(());
    };
    let mut payment: Payment = decode(&raw).map_err(abort)?;
    if payment.state != PaymentState::Captured {
        return Ok(());
    }
    let due = total.checked_sub(payment.refunded).map_err(abort)?;
    if due <= Fen::ZERO {
        return Ok(());
    }
    change_payer(payers, &payment.payer, |p| {
        p.balance = p.balance.checked_add(due)?;
        Ok(())
    })?;
    payment.refunded = total;
    payments.insert(key, encode(&payment))?;
    Ok(())
}
