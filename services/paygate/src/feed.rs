//! What paygate learns from the ledger's events: `payment.settled` captures the payment
//! (the ledger's settlement is the record of it; paygate writes no entry of its own), and
//! `payment.refunded` notes a credit due to the payer ([`crate::refunds`]).
//!
//! They are carried by the ledger's journal entries; a ledger from before they were published
//! them to the event stream, which is followed as well, each with its own position.
//!
//! Each batch is applied in one transaction with the feed's position. A view fed by two
//! streams sees them in either order: a settlement whose hold this view has not applied yet
//! is kept aside and captured when the hold arrives ([`crate::journal`]). A request that
//! paid waits here for its own view to capture ([`Captures`]), so the phone and paygate's
//! payment list agree.

use crate::journal::{left_for_recovery, Payments, Tx};
use crate::store::Store;
use posfee_client::keydir::KeyDirectory;
use posfee_client::shutdown::Shutdown;
use posfee_runtime::feed::{self, Delivered, FEED_SEQ_KEY};
use posfee_runtime::tasks::Tasks;
use posfee_schemas::events::EventBody;
use posfee_schemas::ids::PaymentId;
use posfee_schemas::subjects::{self, EventKind};
use posfee_store::Transactional;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The events paygate follows.
pub fn followed() -> Vec<String> {
    [EventKind::PaymentSettled, EventKind::PaymentRefunded]
        .into_iter()
        .map(subjects::event)
        .collect()
}

/// Follows the ledger's events, those its journal carries and those an older ledger published
/// to the event stream, each from where this view stopped. Returns how far the journal's
/// feed has applied: what a recovery pass waits on.
pub fn follow(
    client: &async_nats::Client,
    store: &Store,
    (captures, credits): (&Arc<Captures>, &Arc<Notify>),
    seals: Arc<KeyDirectory>,
    tasks: &mut Tasks,
    shutdown: &Shutdown,
) -> anyhow::Result<tokio::sync::watch::Receiver<u64>> {
    let (view, captured, wake) = (store.clone(), captures.clone(), credits.clone());
    let journal_applied = feed::spawn_carried(
        tasks,
        (client, subjects::LEDGER_JOURNAL, &store.meta),
        (shutdown, seals.clone()),
        move |key, batch| apply(&view, (&captured, &wake), key, batch),
    )?;
    let (applied, _) = tokio::sync::watch::channel(0);
    let (view, captured, wake) = (store.clone(), captures.clone(), credits.clone());
    tasks.spawn_fallible(
        "ledger events",
        feed::follow(
            client.clone(),
            followed(),
            store.feed_seq()?,
            applied,
            shutdown.clone(),
            seals,
            move |batch| apply(&view, (&captured, &wake), FEED_SEQ_KEY, batch),
        ),
    );
    Ok(journal_applied)
}

/// Applies a batch of the ledger's events with the feed's new position (kept under `key`);
/// wakes the requests waiting for the payments it captured and the credit task for the
/// refunds it noted.
pub fn apply(
    store: &Store,
    (captures, credits): (&Captures, &Notify),
    key: &[u8],
    batch: Vec<Delivered>,
) -> anyhow::Result<u64> {
    let mut last = feed::seq_at(&store.meta, key)?;
    let (mut settled, mut due) = (Vec::new(), Vec::new());
    for d in batch {
        last = last.max(d.seq);
        match d.event.map(|e| e.body) {
            Some(EventBody::PaymentSettled(s)) => settled.push(s),
            Some(EventBody::PaymentRefunded(r)) => due.push((r.payment_id, r.total_refunded.fen)),
            _ => {}
        }
    }
    let s = store;
    let captured = (
        &s.payers,
        &s.payments,
        &s.pending,
        &s.settled_early,
        &s.credits_due,
        &s.meta,
    )
        .transaction(
            |(payers, payments, pending, settled_early, credits_due, meta)| {
                let money = Payments {
                    payers,
                    payments,
                    pending,
                    settled_early,
                };
                let mut captured = Vec::new();
                for s in &settled {
                    if left_for_recovery(s.payment_id, money.settled(s))? {
                        captured.push(s.payment_id);
                    }
                }
                for (id, total) in &due {
                    let old = credits_due
                        .get(id.0.as_bytes())?
                        .and_then(|v| crate::store::due_total(&v))
                        .unwrap_or(0);
                    // Totals only grow: keep the largest.
                    credits_due.insert(id.0.as_bytes(), &old.max(total.get()).to_be_bytes())?;
                }
                meta.insert(key, &last.to_be_bytes())?;
                Ok::<_, Tx>(captured)
            },
        )
        .map_err(|e| anyhow::anyhow!("applying the ledger's events up to {last}: {e:?}"))?;
    if !due.is_empty() {
        // The feed must not move past a refund before it is noted on disk. A capture needs
        // no flush: lost in a crash, it is applied again from the stream.
        store.db.flush()?;
        credits.notify_one();
    }
    captures.done(&captured);
    Ok(last)
}

/// The requests waiting for their payment's settlement to reach this instance's view: at
/// most one per payment (a payment is driven by one request at a time, `App::payment_lock`).
#[derive(Default)]
pub struct Captures {
    waiting: Mutex<HashMap<PaymentId, Arc<Notify>>>,
}

impl Captures {
    /// What a request waits on for payment `id`; registered before it looks at the view, so
    /// a capture between its look and its wait still wakes it.
    pub fn waiter(&self, id: PaymentId) -> Arc<Notify> {
        self.waiting().entry(id).or_default().clone()
    }

    /// The request for `id` stopped waiting.
    pub fn forget(&self, id: PaymentId) {
        self.waiting().remove(&id);
    }

    fn done(&self, ids: &[PaymentId]) {
        let waiting = self.waiting();
        for id in ids {
            if let Some(n) = waiting.get(id) {
                n.notify_one();
            }
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentId, Arc<Notify>>> {
        match self.waiting.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::journal::{self, Entry};
    use crate::store::{Payer, Payment, Refusal, Registration};
    use chrono::{TimeZone, Utc};
    use posfee_runtime::journal::Batch;
    use posfee_schemas::decode;
    use posfee_schemas::events::{
        Event, PaymentAuthorized, PaymentRefunded, PaymentSettled, PaymentVoided,
    };
    use posfee_schemas::fee::{Bill, IssuedBill};
    use posfee_schemas::ids::*;
    use posfee_schemas::ledger::Receipt;
    use posfee_schemas::money::{Fen, Money};
    use posfee_schemas::paygate::{PaymentState, RegisterReply};
    use posfee_schemas::signed::{Purpose, Signed};

    const OPENING: i64 = 1_000_000;
    const AMOUNT: i64 = 19_000;

    struct Case {
        payer: PayerHandle,
        id: PaymentId,
        bill: Bill,
        payment: Payment,
    }

    fn case() -> Case {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let bill = Bill {
            basket: None,
            bill_id: BillId::new_random(),
            tenant: TenantId::parse("water").unwrap(),
            tenant_name: "Water".into(),
            account: AccountNo::parse("1-1-101").unwrap(),
            terminal: TerminalId::parse("kiosk-01").unwrap(),
            as_of: at.date_naive(),
            lines: vec![],
            total: Money::cny(AMOUNT),
            issued_at: at,
            expires_at: at + chrono::Duration::minutes(15),
            holder_masked: None,
            tenant_name_zh: "自来水公司".into(),
            class: String::new(),
            class_zh: String::new(),
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let signed = Signed::sign(Purpose::Bill, &bill, &KeyId::parse("fee-1").unwrap(), &key);
        let payer = PayerHandle::parse("p-0001").unwrap();
        let payment = Payment {
            basket: None,
            payer: payer.clone(),
            biller_payer: None,
            bill_id: bill.bill_id,
            bill: IssuedBill {
                bill_id: bill.bill_id,
                signed,
            },
            terminal: bill.terminal.clone(),
            amount: bill.total,
            order_body: vec![1, 2, 3],
            state: PaymentState::Authorized,
            authorized_at: at,
            receipt: None,
            signed_receipt: None,
            refusal: None,
            refunded: Fen::ZERO,
        };
        Case {
            payer,
            id: PaymentId::new_random(),
            bill,
            payment,
        }
    }

    fn store() -> Store {
        Store::open(posfee_store::temporary().unwrap()).unwrap()
    }

    /// Applies `entries` as the journal delivers them, from stream sequence `first`.
    fn journal(store: &Store, first: u64, entries: Vec<Entry>) {
        let batch = Batch::new(
            entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| (first + i as u64, "scope".to_string(), e))
                .collect(),
        );
        journal::apply(store, &batch).unwrap();
    }

    fn hold(c: &Case) -> Vec<Entry> {
        let authorized = PaymentAuthorized {
            payment_id: c.id,
            bill_id: c.bill.bill_id,
            payer: c.payer.clone(),
            amount: c.payment.amount,
        };
        let at = c.payment.authorized_at;
        let event = Event::new(
            EventId::derived("payment.authorized", c.id.0.as_bytes()),
            at,
            EventBody::PaymentAuthorized(authorized),
        );
        let payer = Payer {
            device_key_id: KeyId::parse("dev-1").unwrap(),
            device_public_key: vec![9; 32],
            balance: Fen::new(OPENING),
            held: Fen::ZERO,
            registered_at: c.payment.authorized_at,
            device: None,
            erased_at: None,
        };
        vec![
            Entry::Registered {
                handle: c.payer.clone(),
                payer,
                idempotency_key: "reg-1".into(),
                registration: Registration {
                    fingerprint: vec![],
                    reply: RegisterReply {
                        payer: c.payer.clone(),
                        balance: Money::cny(OPENING),
                    },
                },
                identity: None,
            },
            Entry::Authorized {
                pairing: None,
                id: c.id,
                payment: Box::new(c.payment.clone()),
                writer: 2,
                event,
            },
        ]
    }

    fn settled(c: &Case, amount: Money) -> PaymentSettled {
        PaymentSettled {
            payment_id: c.id,
            bill_id: c.bill.bill_id,
            tenant: c.bill.tenant.clone(),
            account: c.bill.account.clone(),
            terminal: c.bill.terminal.clone(),
            payer: c.payer.clone(),
            amount,
            settled_at: c.payment.authorized_at + chrono::Duration::seconds(1),
            receipt: None,
        }
    }

    fn events(seq: u64, bodies: Vec<EventBody>) -> Vec<Delivered> {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Delivered {
                seq: seq + i as u64,
                event: Some(Event::new(
                    EventId::derived("t", &[i as u8]),
                    Utc::now(),
                    body,
                )),
            })
            .collect()
    }

    fn feed(store: &Store, seq: u64, bodies: Vec<EventBody>) {
        let (captures, credits) = (Captures::default(), Notify::new());
        apply(
            store,
            (&captures, &credits),
            FEED_SEQ_KEY,
            events(seq, bodies),
        )
        .unwrap();
    }

    fn refunded(c: &Case, total: i64) -> EventBody {
        EventBody::PaymentRefunded(PaymentRefunded {
            payment_id: c.id,
            bill_id: c.bill.bill_id,
            amount: Money::cny(total),
            total_refunded: Money::cny(total),
        })
    }

    /// Every record the view keeps of payers and payments, to compare two views.
    fn contents(store: &Store) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let mut all = Vec::new();
        for (name, tree) in [
            ("payers", &store.payers),
            ("payments", &store.payments),
            ("pending", &store.pending),
            ("settled_early", &store.settled_early),
        ] {
            for kv in tree.iter() {
                let (k, v) = kv.unwrap();
                all.push((name.to_string(), k.to_vec(), v.to_vec()));
            }
        }
        all
    }

    fn payment(store: &Store, id: PaymentId) -> Payment {
        decode(&store.payments.get(id.0.as_bytes()).unwrap().unwrap()).unwrap()
    }

    fn payer(store: &Store, c: &Case) -> Payer {
        decode(
            &store
                .payers
                .get(c.payer.as_str().as_bytes())
                .unwrap()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_settlement_captures_the_payment_whichever_stream_reaches_the_view_first() {
        let c = case();
        let settled_body = || EventBody::PaymentSettled(settled(&c, c.payment.amount));
        // The hold first, then the ledger's event: the usual order.
        let usual = store();
        journal(&usual, 1, hold(&c));
        assert_eq!(payment(&usual, c.id).state, PaymentState::Authorized);
        assert_eq!(payer(&usual, &c).held, Fen::new(AMOUNT));
        feed(&usual, 10, vec![settled_body()]);
        // The event first (a view rebuilt, or a journal follower behind): kept aside, then
        // captured when the hold arrives.
        let early = store();
        feed(&early, 10, vec![settled_body()]);
        assert!(early.payments.is_empty());
        assert_eq!(early.settled_early.len(), 1);
        journal(&early, 1, hold(&c));

        for view in [&usual, &early] {
            let p = payment(view, c.id);
            assert_eq!(p.state, PaymentState::Captured);
            let receipt = Receipt::of_bill(c.id, &c.bill, settled(&c, p.amount).settled_at);
            assert_eq!(p.receipt, Some(receipt));
            assert_eq!(payer(view, &c).held, Fen::ZERO);
            assert_eq!(payer(view, &c).balance, Fen::new(OPENING - AMOUNT));
            assert!(view.pending.is_empty());
        }
        assert_eq!(contents(&usual), contents(&early));
        assert!(early.settled_early.is_empty());
    }

    #[test]
    fn a_settlement_that_is_not_of_the_payment_held_leaves_it_for_the_recovery_loop() {
        let c = case();
        let view = store();
        journal(&view, 1, hold(&c));
        let other = settled(&c, Money::cny(AMOUNT - 1));
        feed(&view, 10, vec![EventBody::PaymentSettled(other)]);
        assert_eq!(payment(&view, c.id).state, PaymentState::Authorized);
        assert_eq!(view.pending.len(), 1);
        // The settlement of the payment held captures it: the probe above could succeed.
        feed(
            &view,
            11,
            vec![EventBody::PaymentSettled(settled(&c, c.payment.amount))],
        );
        assert_eq!(payment(&view, c.id).state, PaymentState::Captured);
    }

    #[test]
    fn a_settlement_wins_over_a_void_whichever_the_view_reads_first() {
        let c = case();
        let settled_body = || EventBody::PaymentSettled(settled(&c, c.payment.amount));
        let void = || Entry::Voided {
            id: c.id,
            refusal: Refusal {
                code: "BILL_EXPIRED".into(),
                message: "the bill expired".into(),
            },
            writer: 2,
            event: Event::new(
                EventId::derived("payment.voided", c.id.0.as_bytes()),
                c.payment.authorized_at,
                EventBody::PaymentVoided(PaymentVoided {
                    payment_id: c.id,
                    bill_id: c.bill.bill_id,
                    reason: "BILL_EXPIRED".into(),
                }),
            ),
        };
        let settled_first = store();
        journal(&settled_first, 1, hold(&c));
        feed(&settled_first, 10, vec![settled_body()]);
        journal(&settled_first, 3, vec![void()]);
        let voided_first = store();
        journal(&voided_first, 1, hold(&c));
        journal(&voided_first, 3, vec![void()]);
        assert_eq!(payment(&voided_first, c.id).state, PaymentState::Voided);
        assert_eq!(payer(&voided_first, &c).balance, Fen::new(OPENING));
        feed(&voided_first, 10, vec![settled_body()]);
        for view in [&settled_first, &voided_first] {
            assert_eq!(payment(view, c.id).state, PaymentState::Captured);
            assert_eq!(payer(view, &c).balance, Fen::new(OPENING - AMOUNT));
            assert_eq!(payer(view, &c).held, Fen::ZERO);
        }
        assert_eq!(contents(&settled_first), contents(&voided_first));
    }

    #[test]
    fn a_credit_journaled_before_this_view_learns_the_settlement_is_credited_all_the_same() {
        let c = case();
        let settled_body = || EventBody::PaymentSettled(settled(&c, c.payment.amount));
        let credit = || Entry::Credited {
            id: c.id,
            total: Fen::new(5_000),
        };
        let usual = store();
        journal(&usual, 1, hold(&c));
        feed(&usual, 10, vec![settled_body(), refunded(&c, 5_000)]);
        journal(&usual, 3, vec![credit()]);
        // Another instance's view: the credit entry (written where the payment was captured)
        // comes before the settlement reaches this view.
        let behind = store();
        journal(&behind, 1, hold(&c));
        journal(&behind, 3, vec![credit()]);
        feed(&behind, 10, vec![settled_body(), refunded(&c, 5_000)]);
        for view in [&usual, &behind] {
            assert_eq!(payer(view, &c).balance, Fen::new(OPENING - AMOUNT + 5_000));
            assert_eq!(payment(view, c.id).refunded, Fen::new(5_000));
        }
        assert_eq!(contents(&usual), contents(&behind));
    }
}
