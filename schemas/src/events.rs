//! Events, one subject per kind (`posfee.events.<entity>.<what>`).
//!
//! Two homes, one shape. What is not a money record (bills issued, pairings, presence,
//! accounts and readings) is kept in the `POSFEE_EVENTS` stream, published with `Nats-Msg-Id`
//! = the event id so a retried publish is stored once. What a money record implies
//! (`payment.*`, `bill.closed`) is carried by that record itself, on the journal entry of the
//! ledger or paygate that made it ([`EVENT_HEADER`], [`EVENT_SEAL_HEADER`]): one fsynced write
//! instead of two, and an event that cannot exist without its record.

use crate::ids::{
    AccountNo, BillId, EventId, FeeKind, Month, PayerHandle, PaymentId, TenantId, TerminalId,
};
use crate::money::Money;
use crate::pairing::PairMode;
use crate::subjects::EventKind;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The header of a journal entry that carries an event the entry implies: the event's
/// MessagePack in standard base64 (with padding), once per event, in order.
pub const EVENT_HEADER: &str = "Posfee-Event";
/// The header carrying each carried event's seal, in the same order as [`EVENT_HEADER`]: the
/// writer's [`crate::trust::Seal`] over the event's subject ([`Event::subject`]) and its
/// MessagePack, exactly as if it had been published there.
pub const EVENT_SEAL_HEADER: &str = "Posfee-Event-Seal";

/// The kinds a money record carries ([`EventKind::carried_by`]): never published to
/// `POSFEE_EVENTS` by a current writer, read from the journals (`payment.authorized`,
/// `payment.voided` and `pairing.joined` from paygate's; `payment.settled`,
/// `payment.refunded`, `bill.closed` and `pairing.*` from the ledger's).
pub const CARRIED_KINDS: [EventKind; 8] = [
    EventKind::PaymentAuthorized,
    EventKind::PaymentVoided,
    EventKind::PaymentSettled,
    EventKind::PaymentRefunded,
    EventKind::BillClosed,
    EventKind::PairingJoined,
    EventKind::PairingExpired,
    EventKind::PairingCancelled,
];

/// One event as a journal entry carries it: its bytes, and its writer's seal as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub payload: Vec<u8>,
    pub seal: String,
}

impl Carried {
    /// The header values for `payload` sealed `seal`.
    pub fn header_value(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.payload)
    }

    /// The events carried by a journal entry with these header values (event, seal), in
    /// order; a value that is not base64 is kept as no bytes, which no seal holds over.
    pub fn read<'a>(
        events: impl Iterator<Item = &'a str>,
        seals: impl Iterator<Item = &'a str>,
    ) -> Vec<Carried> {
        use base64::Engine;
        events
            .zip(seals)
            .map(|(e, s)| Carried {
                payload: base64::engine::general_purpose::STANDARD
                    .decode(e.trim())
                    .unwrap_or_default(),
                seal: s.trim().to_string(),
            })
            .collect()
    }
}

/// An event as stored: id, time, and a body whose variant decides the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub body: EventBody,
}

impl Event {
    pub fn new(id: EventId, at: DateTime<Utc>, body: EventBody) -> Event {
        Event { id, at, body }
    }

    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    /// The subject this event is published on.
    pub fn subject(&self) -> String {
        crate::subjects::event(self.kind())
    }

    /// Reads an event delivered on `subject`. Its kind must be the subject's: who may publish
    /// on a subject is what the server enforces, so a body claiming another kind (a
    /// "payment.settled" published on a pairing subject) is refused, never shown as that kind.
    pub fn read_on(subject: &str, payload: &[u8]) -> Result<Event, String> {
        let event: Event = crate::decode(payload).map_err(|e| e.to_string())?;
        if event.subject() != subject {
            return Err(format!(
                "a {} event on {subject}: its kind is not its subject's",
                event.kind()
            ));
        }
        Ok(event)
    }

    /// The tenant the event belongs to, for filtering.
    pub fn tenant(&self) -> Option<&TenantId> {
        match &self.body {
            EventBody::BillIssued(e) => Some(&e.tenant),
            EventBody::BillClosed(e) => Some(&e.tenant),
            EventBody::PaymentSettled(e) => Some(&e.tenant),
            EventBody::AccountUpserted(e) => Some(&e.tenant),
            EventBody::ReadingRecorded(e) => Some(&e.tenant),
            _ => None,
        }
    }

    /// The account the event names, for filtering.
    pub fn account(&self) -> Option<&AccountNo> {
        match &self.body {
            EventBody::BillIssued(e) => Some(&e.account),
            EventBody::BillClosed(e) => Some(&e.account),
            EventBody::PaymentSettled(e) => Some(&e.account),
            EventBody::AccountUpserted(e) => Some(&e.account),
            EventBody::ReadingRecorded(e) => Some(&e.account),
            _ => None,
        }
    }

    /// Every bill the event concerns: [`Event::bill`], and a basket's other bills for a
    /// pairing that offered them all.
    pub fn bills(&self) -> Vec<BillId> {
        match &self.body {
            EventBody::PairingJoined(e)
            | EventBody::PairingExpired(e)
            | EventBody::PairingCancelled(e) => std::iter::once(e.bill_id)
                .chain(e.more_bills.iter().copied())
                .collect(),
            _ => self.bill().into_iter().collect(),
        }
    }

    /// The bill the event concerns, for following one payer's bill through its events.
    pub fn bill(&self) -> Option<BillId> {
        match &self.body {
            EventBody::BillIssued(e) => Some(e.bill_id),
            EventBody::BillClosed(e) => Some(e.bill_id),
            EventBody::PairingJoined(e)
            | EventBody::PairingExpired(e)
            | EventBody::PairingCancelled(e) => Some(e.bill_id),
            EventBody::PaymentAuthorized(e) => Some(e.bill_id),
            EventBody::PaymentSettled(e) => Some(e.bill_id),
            EventBody::PaymentVoided(e) => Some(e.bill_id),
            EventBody::PaymentRefunded(e) => Some(e.bill_id),
            _ => None,
        }
    }

    /// The payment the event concerns, for filtering.
    pub fn payment(&self) -> Option<PaymentId> {
        match &self.body {
            EventBody::PaymentAuthorized(e) => Some(e.payment_id),
            EventBody::PaymentSettled(e) => Some(e.payment_id),
            EventBody::PaymentVoided(e) => Some(e.payment_id),
            EventBody::PaymentRefunded(e) => Some(e.payment_id),
            _ => None,
        }
    }

    /// The terminal the event concerns, for filtering.
    pub fn terminal(&self) -> Option<&TerminalId> {
        match &self.body {
            EventBody::BillIssued(e) => Some(&e.terminal),
            EventBody::BillClosed(e) => Some(&e.terminal),
            EventBody::PairingJoined(e)
            | EventBody::PairingExpired(e)
            | EventBody::PairingCancelled(e) => Some(&e.terminal),
            EventBody::PaymentSettled(e) => Some(&e.terminal),
            EventBody::TerminalOnline(e) | EventBody::TerminalOffline(e) => Some(&e.terminal),
            _ => None,
        }
    }
}

/// The body of each event kind. Adjacently tagged: `{kind: "payment.settled", data: {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
pub enum EventBody {
    #[serde(rename = "bill.issued")]
    BillIssued(BillIssued),
    #[serde(rename = "bill.closed")]
    BillClosed(BillClosed),
    #[serde(rename = "pairing.joined")]
    PairingJoined(PairingEnded),
    #[serde(rename = "pairing.expired")]
    PairingExpired(PairingEnded),
    #[serde(rename = "pairing.cancelled")]
    PairingCancelled(PairingEnded),
    #[serde(rename = "payment.authorized")]
    PaymentAuthorized(PaymentAuthorized),
    #[serde(rename = "payment.settled")]
    PaymentSettled(PaymentSettled),
    #[serde(rename = "payment.voided")]
    PaymentVoided(PaymentVoided),
    #[serde(rename = "payment.refunded")]
    PaymentRefunded(PaymentRefunded),
    #[serde(rename = "terminal.online")]
    TerminalOnline(TerminalEvent),
    #[serde(rename = "terminal.offline")]
    TerminalOffline(TerminalEvent),
    #[serde(rename = "account.upserted")]
    AccountUpserted(AccountUpserted),
    #[serde(rename = "reading.recorded")]
    ReadingRecorded(ReadingRecorded),
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::BillIssued(_) => EventKind::BillIssued,
            EventBody::BillClosed(_) => EventKind::BillClosed,
            EventBody::PairingJoined(_) => EventKind::PairingJoined,
            EventBody::PairingExpired(_) => EventKind::PairingExpired,
            EventBody::PairingCancelled(_) => EventKind::PairingCancelled,
            EventBody::PaymentAuthorized(_) => EventKind::PaymentAuthorized,
            EventBody::PaymentSettled(_) => EventKind::PaymentSettled,
            EventBody::PaymentVoided(_) => EventKind::PaymentVoided,
            EventBody::PaymentRefunded(_) => EventKind::PaymentRefunded,
            EventBody::TerminalOnline(_) => EventKind::TerminalOnline,
            EventBody::TerminalOffline(_) => EventKind::TerminalOffline,
            EventBody::AccountUpserted(_) => EventKind::AccountUpserted,
            EventBody::ReadingRecorded(_) => EventKind::ReadingRecorded,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillIssued {
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub account: AccountNo,
    pub terminal: TerminalId,
    pub total: Money,
    pub expires_at: DateTime<Utc>,
    /// The record behind the event: the fee-engine keeps bills nowhere else, and every
    /// instance builds its view of them from these events. Absent from events written
    /// before contract 0.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<BillRecord>>,
}

/// What the fee-engine needs of an issued bill after issuing it: the signed bill (to answer a
/// retried issue), how to tell a retry from a reused key, and what the bill pays (to advance
/// the account once the ledger settles it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRecord {
    pub issued: crate::fee::IssuedBill,
    /// The kiosk's key for the issue request; with the terminal, what a retry names.
    pub idempotency_key: crate::ids::IdempotencyKey,
    /// SHA-256 of the issue request as the fee-engine read it.
    #[serde(with = "serde_bytes")]
    pub request_hash: Vec<u8>,
    /// Per fee kind, the last month the bill pays (its arrear lines aside).
    pub pays_through: BTreeMap<String, String>,
    /// The arrears (kind, period) it pays off.
    pub arrears: Vec<(String, String)>,
}

/// A bill that ended unpaid: the kiosk closed it at the ledger (cancelled, nobody joined in
/// time, the payer declined, the payment was refused, no receipt came), so it can never be
/// paid. Written by the ledger, once per bill. A paid bill ends with `payment.settled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillClosed {
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub account: AccountNo,
    pub terminal: TerminalId,
    pub total: Money,
    /// How it ended, as the kiosk says: `cancelled`, `expired`, `declined`, `not_paid`,
    /// `no_receipt`.
    pub reason: crate::pairing::CloseReason,
    /// The error code that ended it, when the kiosk was told one (`PAYER_DECLINED`,
    /// `INSUFFICIENT_FUNDS`, `BILL_EXPIRED` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub closed_at: DateTime<Utc>,
}

/// A pairing, reported once, when it ends (joined, expired or cancelled): one event per
/// pairing rather than one when it opens and one when it ends, since every event is a write
/// the stream fsyncs. The pairing token is a secret and never appears in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingEnded {
    pub terminal: TerminalId,
    pub bill_id: BillId,
    /// Who showed the code: the kiosk (A) or the phone (B).
    pub mode: PairMode,
    /// When the code was shown (A) or the offer sent (B).
    pub opened_at: DateTime<Utc>,
    /// When the pairing would have expired had nobody joined.
    pub expires_at: DateTime<Utc>,
    /// A basket's other bills, offered in the same pairing (`bill_id` is its first). Since
    /// 0.4.0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_bills: Vec<BillId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAuthorized {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub payer: PayerHandle,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSettled {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub tenant: TenantId,
    pub account: AccountNo,
    pub terminal: TerminalId,
    pub payer: PayerHandle,
    pub amount: Money,
    pub settled_at: DateTime<Utc>,
    /// The receipt as the ledger signed it: what paygate gives the phone when it learns the
    /// settlement from this event. Absent from events written before contract 0.2.
    #[serde(default)]
    pub receipt: Option<Box<crate::ledger::SignedReceipt>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentVoided {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    /// The error code that caused the void, e.g. `BILL_EXPIRED`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub amount: Money,
    pub total_refunded: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalEvent {
    pub terminal: TerminalId,
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub version: String,
}

/// Reference data: an account at a tenant, as the tenant's billing system knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpserted {
    pub tenant: TenantId,
    pub account: AccountNo,
    /// Customer class, e.g. `residential`, `commercial`; tariffs price by it.
    pub class: String,
    /// The holder's name, masked (`张*`): `posfee import` masks it before it enters the stream.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub holder_name: String,
    /// Billing attributes such as `area_m2` or `building`, exact strings.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub attributes: BTreeMap<String, String>,
    /// Meter ids by fee kind, e.g. `water` → `W-0042`.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub meters: BTreeMap<FeeKind, String>,
    /// The last month already paid per fee kind (`2026-09`), as the tenant's books stand.
    /// Typed, so an event with a malformed kind or month does not decode at all (and is
    /// reported) instead of losing the entry quietly.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub paid_through: BTreeMap<FeeKind, Month>,
    /// Earlier bills still unpaid in the tenant's books; owed in full, may carry late fees.
    #[serde(default, deserialize_with = "crate::codec::nil_is_default")]
    pub arrears: Vec<ArrearRecord>,
}

/// An unpaid earlier bill as the tenant's billing system reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrearRecord {
    pub kind: FeeKind,
    /// The period billed, e.g. `2026-01`.
    pub period: String,
    pub amount: Money,
    pub due_on: NaiveDate,
}

/// Reference data: one meter reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingRecorded {
    pub tenant: TenantId,
    pub account: AccountNo,
    pub meter: String,
    /// Time-of-use register (`peak`, `flat`, `valley`); absent for a single-register meter.
    #[serde(default)]
    pub register: Option<String>,
    pub read_on: NaiveDate,
    /// The cumulative register value.
    pub value: Decimal,
}
