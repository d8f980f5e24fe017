//! The ledger's journal entries and how each instance's view applies them.
//!
//! The journal (`POSFEE_LEDGER`, replicated) is the books' system of record: one subject per
//! tenant account, so every decision about an account (a bill paid once, a month paid once, a
//! closed bill never paid, refunds never above the payment) is made on the account's latest
//! state and appended only if nobody appended to it meanwhile
//! ([`posfee_runtime::journal::Journal`]). The store trees of [`crate::store`] are this
//! instance's view, rebuilt from the journal if lost. The events an entry implies
//! (`payment.settled`, `payment.refunded`, `bill.closed`) travel on the entry itself, sealed
//! by the ledger's authority ([`Carries`]): they are stored when the entry is, with no second
//! write. The instance that wrote a settlement sends the kiosk's receipt when its view applies
//! it, through the outbox: a crash between the append and that apply is made good when the
//! restarted view applies the entry again.

use crate::store::{
    row_key, statement_key, tenant_account, IssuedStatement, Posting, RefundRecord, Row,
    Settlement, Store, CLEARING_ACCOUNT,
};
use posfee_runtime::journal::{Batch, Carries};
use posfee_runtime::outbox::Outbox;
use posfee_schemas::events::{Event, EventBody};
use posfee_schemas::ids::{AccountNo, BillId, PaymentId, TenantId};
use posfee_schemas::money::Fen;
use posfee_schemas::trust::Signer;
use posfee_schemas::{decode, encode, subjects};
use posfee_store::transaction::{ConflictableTransactionError, TransactionalTree};
use posfee_store::Transactional;
use serde::{Deserialize, Serialize};

/// One change to the books.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// A bill settled by a payment, and the months it pays.
    Settled {
        settlement: Settlement,
        periods: Vec<serde_bytes::ByteBuf>,
        writer: u64,
        event: Event,
    },
    /// The kiosk closed a bill unpaid: it is never settled after this. Entries from before
    /// `bill.closed` carry no event (writer 0).
    Closed {
        bill: BillId,
        why: String,
        #[serde(default)]
        writer: u64,
        #[serde(default)]
        event: Option<Event>,
        /// How the bill's pairing ended, as the kiosk told it (`pairing.*`; since contract
        /// 0.5.0, when the kiosk told it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairing: Option<Event>,
    },
    /// A tenant's daily statement, decided: what it covers and the hashes of its files
    /// ([`crate::statement`]).
    StatementIssued {
        tenant: TenantId,
        date: chrono::NaiveDate,
        statement: IssuedStatement,
    },
    /// Part or all of a payment given back.
    Refunded {
        payment: PaymentId,
        key: String,
        record: RefundRecord,
        amount: Fen,
        tenant: TenantId,
        writer: u64,
        event: Event,
    },
}

impl Carries for Entry {
    fn carried(&self) -> Vec<&Event> {
        match self {
            Entry::Settled { event, .. } | Entry::Refunded { event, .. } => vec![event],
            Entry::Closed { event, pairing, .. } => event.iter().chain(pairing).collect(),
            Entry::StatementIssued { .. } => Vec::new(),
        }
    }
}

/// The journal scope of a tenant account: a fixed-length token of both (account numbers may
/// hold characters a subject may not).
pub fn scope(tenant: &TenantId, account: &AccountNo) -> String {
    let name = format!("{}\0{}", tenant.as_str(), account.as_str());
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
        .simple()
        .to_string()
}

/// The journal scope of a tenant's statements: they are decided one after the other.
pub fn statement_scope(tenant: &TenantId) -> String {
    let name = format!("statement\0{}", tenant.as_str());
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
        .simple()
        .to_string()
}

/// The journal subject of a scope.
pub fn subject(scope: &str) -> String {
    subjects::ledger_journal(scope)
}

/// The id that makes a retried append of the same entry stored once.
pub fn settle_id(payment: PaymentId) -> String {
    format!("settle:{payment}")
}

type Tx = ConflictableTransactionError<String>;

/// Applies a batch of entries, in order, in one transaction with the view's new position.
pub fn apply(
    store: &Store,
    (outbox, signer): (&Outbox, &Signer),
    me: u64,
    batch: &Batch<Entry>,
) -> anyhow::Result<()> {
    let mut prepared = Vec::with_capacity(batch.entries.len());
    for (seq, entry) in &batch.entries {
        let staged = outbox.next_key()?;
        prepared.push((*seq, entry, legs(store, entry)?, staged));
    }
    let s = store;
    (
        &s.settlements,
        &s.bills_paid,
        &s.bills_closed,
        &s.periods,
        &s.refunds,
        &s.postings,
        &s.balances,
        &s.meta,
        outbox.tree(),
        &s.rows,
        &s.row_tenants,
        &s.statements,
    )
        .transaction(
            |(
                settlements,
                bills_paid,
                bills_closed,
                periods,
                refunds,
                postings,
                balances,
                meta,
                out,
                rows,
                row_tenants,
                statements,
            )| {
                let view = View {
                    settlements,
                    bills_paid,
                    bills_closed,
                    periods,
                    refunds,
                    out,
                    signer,
                };
                let days = Days {
                    rows,
                    row_tenants,
                    statements,
                };
                for (seq, entry, legs, staged) in &prepared {
                    view.apply_one(me, entry, *staged)?;
                    days.apply_one(*seq, entry, settlements)?;
                    crate::store::post(postings, balances, legs)?;
                }
                batch.record(meta)?;
                Ok::<_, Tx>(())
            },
        )
        .map_err(|e| anyhow::anyhow!("applying journal entries up to {}: {e:?}", batch.last))
}

/// The trees one entry's own effects go to, inside the batch's transaction.
struct View<'a> {
    settlements: &'a TransactionalTree,
    bills_paid: &'a TransactionalTree,
    bills_closed: &'a TransactionalTree,
    periods: &'a TransactionalTree,
    refunds: &'a TransactionalTree,
    out: &'a TransactionalTree,
    /// Signs the kiosk's receipt.
    signer: &'a Signer,
}

impl View<'_> {
    /// Records one entry; here, where it was written, stages the receipt it sends.
    fn apply_one(&self, me: u64, entry: &Entry, staged: [u8; 8]) -> Result<(), Tx> {
        match entry {
            Entry::Settled {
                settlement,
                periods: months,
                writer,
                event,
            } => {
                let r = &settlement.receipt;
                let payment = r.payment_id.0.as_bytes();
                self.settlements.insert(payment, encode(settlement))?;
                self.bills_paid.insert(r.bill_id.0.as_bytes(), payment)?;
                for m in months {
                    self.periods.insert(m.as_slice(), r.bill_id.0.as_bytes())?;
                }
                if *writer == me {
                    // The receipt the settlement's event carries, signed when it was decided
                    // (signed here for an entry from before events carried it).
                    let signed = match &event.body {
                        EventBody::PaymentSettled(p) => p.receipt.as_deref().cloned(),
                        _ => None,
                    }
                    .unwrap_or_else(|| crate::app::sign_receipt(self.signer, r));
                    Outbox::stage_message(
                        self.out,
                        staged,
                        subjects::receipt(&r.terminal),
                        encode(&signed),
                    )?;
                }
            }
            Entry::Closed { bill, why, .. } => {
                if self.bills_closed.get(bill.0.as_bytes())?.is_none() {
                    self.bills_closed
                        .insert(bill.0.as_bytes(), why.as_bytes())?;
                }
            }
            // Its trees are the statements' (`Days`).
            Entry::StatementIssued { .. } => {}
            Entry::Refunded {
                payment,
                key,
                record,
                amount,
                ..
            } => {
                refunded(self.settlements, payment, *amount)?;
                self.refunds.insert(key.as_bytes(), encode(record))?;
            }
        }
        Ok(())
    }
}

/// The trees of the daily statements, inside the batch's transaction.
struct Days<'a> {
    rows: &'a TransactionalTree,
    row_tenants: &'a TransactionalTree,
    statements: &'a TransactionalTree,
}

impl Days<'_> {
    /// Records the statement row an entry makes (after the entry's own effects, so a refund
    /// finds its settlement), or the statement it issues.
    fn apply_one(
        &self,
        seq: u64,
        entry: &Entry,
        settlements: &TransactionalTree,
    ) -> Result<(), Tx> {
        let row = match entry {
            Entry::Settled { settlement, .. } => Row::payment(settlement),
            Entry::Refunded {
                payment,
                record,
                amount,
                ..
            } => {
                let Some(raw) = settlements.get(payment.0.as_bytes())? else {
                    return Ok(());
                };
                let s: Settlement = decode(&raw).map_err(|e| Tx::Abort(e.to_string()))?;
                Row::refund(&s, *amount, record.reply.refunded_at)
            }
            Entry::StatementIssued {
                tenant,
                date,
                statement,
            } => {
                self.statements
                    .insert(statement_key(tenant, *date), encode(statement))?;
                return Ok(());
            }
            Entry::Closed { .. } => return Ok(()),
        };
        let tenant = match entry {
            Entry::Settled { settlement, .. } => settlement.receipt.tenant.clone(),
            Entry::Refunded { tenant, .. } => tenant.clone(),
            _ => return Ok(()),
        };
        self.rows.insert(row_key(&tenant, seq), encode(&row))?;
        let first = self.row_tenants.get(tenant.as_str().as_bytes())?;
        let earlier = match first {
            Some(raw) => decode::<chrono::DateTime<chrono::Utc>>(&raw)
                .map(|at| row.at < at)
                .unwrap_or(true),
            None => true,
        };
        if earlier {
            self.row_tenants
                .insert(tenant.as_str().as_bytes(), encode(&row.at))?;
        }
        Ok(())
    }
}

/// Adds a refund to the settlement it returns money from.
fn refunded(settlements: &TransactionalTree, payment: &PaymentId, amount: Fen) -> Result<(), Tx> {
    let key = payment.0.as_bytes();
    let Some(raw) = settlements.get(key)? else {
        return Err(Tx::Abort(format!(
            "refund of {payment}, which the view has not settled"
        )));
    };
    let mut s: Settlement = decode(&raw).map_err(|e| Tx::Abort(e.to_string()))?;
    s.refunded = s
        .refunded
        .checked_add(amount)
        .map_err(|e| Tx::Abort(e.to_string()))?;
    settlements.insert(key, encode(&s))?;
    Ok(())
}

/// The double-entry legs an entry posts, each under a fresh key of this view.
fn legs(store: &Store, entry: &Entry) -> anyhow::Result<Vec<([u8; 8], Posting)>> {
    let postings = match entry {
        Entry::Settled { settlement, .. } => {
            let r = &settlement.receipt;
            let entry = r.payment_id.to_string();
            vec![
                Posting {
                    entry: entry.clone(),
                    account: CLEARING_ACCOUNT.to_string(),
                    fen: r.total.fen.get(),
                },
                Posting {
                    entry,
                    account: tenant_account(&r.tenant),
                    fen: -r.total.fen.get(),
                },
            ]
        }
        Entry::Closed { .. } | Entry::StatementIssued { .. } => Vec::new(),
        Entry::Refunded {
            key,
            amount,
            tenant,
            ..
        } => {
            let entry = format!("refund:{key}");
            vec![
                Posting {
                    entry: entry.clone(),
                    account: tenant_account(tenant),
                    fen: amount.get(),
                },
                Posting {
                    entry,
                    account: CLEARING_ACCOUNT.to_string(),
                    fen: -amount.get(),
                },
            ]
        }
    };
    postings
        .into_iter()
        .map(|p| Ok((store.db.generate_id()?.to_be_bytes(), p)))
        .collect()
}
