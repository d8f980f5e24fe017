//! The one place that writes posfee subjects.
//!
//! Each subject has a builder and [`Subject::parse`] reads any of them back, so a handler that
//! receives on a wildcard learns the typed ids from the subject and nothing else writes a
//! subject string. Ids that go into a subject are newtypes that have already refused `.`, `*`,
//! `>` and whitespace, so a builder cannot be tricked into addressing another subject.

use crate::ids::{
    check_subject_token, DeviceId, IdError, PairToken, PublicNkey, TenantId, TerminalId,
};
use std::fmt;

pub const PREFIX: &str = "posfee";
/// The JetStream stream that keeps every event.
pub const EVENTS_STREAM: &str = "POSFEE_EVENTS";
/// The ledger's journal: its system of record, one subject per tenant account.
pub const LEDGER_JOURNAL: &str = "POSFEE_LEDGER";
/// Paygate's journal: payers and payments, one subject per payer (and one for registrations).
pub const PAYGATE_JOURNAL: &str = "POSFEE_PAYGATE";
/// The identity service's journal: issued, enrolled and revoked keys, one subject per holder.
pub const IDENTITY_JOURNAL: &str = "POSFEE_IDENTITY";
/// The JetStream key-value bucket where terminals record when they were last seen.
pub const TERMINALS_BUCKET: &str = "POSFEE_TERMINALS";
/// The JetStream key-value bucket of public signing keys (bills, settlement notices).
pub const KEYS_BUCKET: &str = "POSFEE_KEYS";
/// Paygate's wrapped data keys, one per payer: deleting one makes that payer's sealed
/// identity unreadable everywhere it was copied. Only paygate reads or writes it.
pub const PAYER_KEYS_BUCKET: &str = "POSFEE_PAYER_KEYS";
/// Queue group every posfee service joins, so a second copy shares the load.
pub const QUEUE_GROUP: &str = "posfee";

/// What an account owes, asked by `asker`: every request subject several identities share
/// ends with the asker's inbox path ([`Identity::path`]), which the server lets only that
/// identity publish on, so the service answers only into that identity's own inbox.
pub fn fee_quote(asker: &Identity) -> String {
    format!("{PREFIX}.fee.quote.{}", asker.path())
}
/// Every quote, whoever asks: what the fee-engine answers.
pub fn fee_quote_any() -> String {
    format!("{PREFIX}.fee.quote.>")
}
/// The payees the system collects for, asked by `asker` (a kiosk lists them).
pub fn fee_payees(asker: &Identity) -> String {
    format!("{PREFIX}.fee.payees.{}", asker.path())
}
/// Every payee list request, whoever asks: what the fee-engine answers.
pub fn fee_payees_any() -> String {
    format!("{PREFIX}.fee.payees.>")
}
/// Where a terminal asks for bills: its own id is in the subject, which the server lets only
/// that terminal publish to, and the fee-engine refuses a body naming another terminal.
pub fn bill_issue(terminal: &TerminalId) -> String {
    format!("{PREFIX}.bill.issue.{terminal}")
}
/// Where a phone's key asks to be enrolled: only a connection holding the key whose
/// fingerprint is `device` may publish here.
pub fn identity_enrol(device: &DeviceId) -> String {
    format!("{PREFIX}.identity.enrol.{device}")
}
/// Every enrolment request: what the identity service answers.
pub fn identity_enrol_any() -> String {
    format!("{PREFIX}.identity.enrol.*")
}
/// Where a connection asks what the system takes its key for: only a connection made with
/// that key may publish here.
pub fn identity_status(key: &PublicNkey) -> String {
    format!("{PREFIX}.identity.status.{key}")
}
/// Every key status request: what the identity service answers.
pub fn identity_status_any() -> String {
    format!("{PREFIX}.identity.status.*")
}
/// The inbox a key's status is answered into: the same for every identity the key may be
/// taken for, so a refused key, or one used under the wrong identity, still hears why.
pub fn status_inbox(key: &PublicNkey) -> String {
    format!("{KEY_STATUS_INBOX}.{key}")
}
/// The prefix of every key's status inbox.
pub const KEY_STATUS_INBOX: &str = "_INBOX.key";
/// The operator's identity requests (issue, revoke, list).
pub fn identity(op: IdentityOp) -> String {
    format!("{PREFIX}.identity.{}", op.as_str())
}
/// The inbox prefix of the identity service's system-account user.
pub const SYSTEM_INBOX: &str = "_INBOX.identity-sys";
/// Where nats-server asks who a connecting client is (its auth callout).
pub const AUTH_CALLOUT: &str = "$SYS.REQ.USER.AUTH";
/// Every instance of every service answers a request here with its metrics in Prometheus'
/// text format; only the operator asks (`posfee up` serves them over HTTP).
pub const METRICS: &str = "posfee.metrics";
/// Where a kiosk records its heartbeat (a `TerminalSeen`): only that kiosk may publish here,
/// and the query service writes it into the `POSFEE_TERMINALS` bucket on its behalf.
pub fn terminal_seen(terminal: &TerminalId) -> String {
    format!("{PREFIX}.terminal.seen.{terminal}")
}
/// Every kiosk's heartbeat: what the query service answers.
pub fn terminal_seen_any() -> String {
    format!("{PREFIX}.terminal.seen.*")
}
/// Where a phone looks up a public signing key in the key directory.
pub fn keys_get(asker: &Identity) -> String {
    format!("{PREFIX}.keys.get.{}", asker.path())
}
/// Every key look-up: what the query service answers.
pub fn keys_get_any() -> String {
    format!("{PREFIX}.keys.get.>")
}
/// Kiosks' key look-ups: what the fee-engine and the ledger answer too.
pub fn keys_get_terminals() -> String {
    format!("{PREFIX}.keys.get.terminal.*")
}
/// Phones' key look-ups: what paygate answers too.
pub fn keys_get_devices() -> String {
    format!("{PREFIX}.keys.get.device.*")
}
/// Where a kiosk reports its own pairing and presence events: only that kiosk may publish here.
pub fn terminal_report(terminal: &TerminalId) -> String {
    format!("{PREFIX}.terminal.report.{terminal}")
}
/// Every kiosk's reports: what the query service answers.
pub fn terminal_report_any() -> String {
    format!("{PREFIX}.terminal.report.*")
}
/// Every terminal's bill requests: what the fee-engine answers.
pub fn bill_issue_any() -> String {
    format!("{PREFIX}.bill.issue.*")
}
pub fn query(kind: QueryKind, asker: &Identity) -> String {
    format!("{PREFIX}.query.{}.{}", kind.as_str(), asker.path())
}
/// One kind of read query, whoever asks: what the query service answers.
pub fn query_from_any(kind: QueryKind) -> String {
    format!("{PREFIX}.query.{}.>", kind.as_str())
}
/// Every read query.
pub fn query_any() -> String {
    format!("{PREFIX}.query.>")
}
pub fn pair(terminal: &TerminalId, token: &PairToken) -> String {
    format!("{PREFIX}.pair.{terminal}.{token}")
}
/// Everything pairing-related for one terminal: the permission a terminal holds.
pub fn pair_for_terminal(terminal: &TerminalId) -> String {
    format!("{PREFIX}.pair.{terminal}.*")
}
pub fn wallet(device: &DeviceId, token: &PairToken) -> String {
    format!("{PREFIX}.wallet.{device}.{token}")
}
/// Every wallet code one phone may show: the permission a phone holds.
pub fn wallet_for_device(device: &DeviceId) -> String {
    format!("{PREFIX}.wallet.{device}.*")
}
/// Any phone's wallet code: what a terminal may send an offer to.
pub fn wallet_any() -> String {
    format!("{PREFIX}.wallet.*.*")
}
/// Any terminal's pairing: what a phone may join.
pub fn pair_any() -> String {
    format!("{PREFIX}.pair.*.*")
}
/// The key-value subject a terminal's presence is written to.
pub fn terminal_presence(terminal: &TerminalId) -> String {
    format!("$KV.{TERMINALS_BUCKET}.{terminal}")
}
pub fn paygate(op: PaygateOp, asker: &Identity) -> String {
    format!("{PREFIX}.paygate.{}.{}", op.as_str(), asker.path())
}
/// One paygate operation, whoever asks: what paygate answers.
pub fn paygate_from_any(op: PaygateOp) -> String {
    format!("{PREFIX}.paygate.{}.>", op.as_str())
}
pub fn ledger(op: LedgerOp) -> String {
    format!("{PREFIX}.ledger.{}", op.as_str())
}
pub fn receipt(terminal: &TerminalId) -> String {
    format!("{PREFIX}.receipt.{terminal}")
}
/// Every terminal's receipts: what the ledger sends.
pub fn receipt_any() -> String {
    format!("{PREFIX}.receipt.*")
}
/// Where a kiosk closes the bills it issued: its own id is in the subject, which the server
/// lets only that kiosk publish to, and the ledger refuses a bill issued for another terminal.
pub fn ledger_close(terminal: &TerminalId) -> String {
    format!("{PREFIX}.ledger.close.{terminal}")
}
/// Every kiosk's close requests: what the ledger answers.
pub fn ledger_close_any() -> String {
    format!("{PREFIX}.ledger.close.*")
}
/// Where a tenant's billing clerk asks for refunds: only that tenant's clerks may publish
/// here, and the ledger refuses a payment of another tenant.
pub fn ledger_refund(tenant: &TenantId) -> String {
    format!("{PREFIX}.ledger.refund.{tenant}")
}
/// Every tenant's refund requests: what the ledger answers.
pub fn ledger_refund_any() -> String {
    format!("{PREFIX}.ledger.refund.*")
}
/// Where a tenant's billing clerk fetches the tenant's daily statements: only that tenant's
/// clerks may publish here.
pub fn ledger_statement(tenant: &TenantId) -> String {
    format!("{PREFIX}.ledger.statement.{tenant}")
}
/// Every tenant's statement requests: what the ledger answers.
pub fn ledger_statement_any() -> String {
    format!("{PREFIX}.ledger.statement.*")
}
/// Every ledger operation: what the ledger answers.
pub fn ledger_any() -> String {
    format!("{PREFIX}.ledger.*")
}
/// Every paygate operation.
pub fn paygate_any() -> String {
    format!("{PREFIX}.paygate.>")
}
pub fn event(kind: EventKind) -> String {
    format!("{PREFIX}.events.{}.{}", kind.entity(), kind.what())
}
/// The ledger journal's subject for one scope (a tenant account's hashed token).
pub fn ledger_journal(scope: &str) -> String {
    format!("{PREFIX}.journal.ledger.{scope}")
}
/// Every subject of the ledger's journal: the stream's subject filter.
pub fn ledger_journal_all() -> String {
    format!("{PREFIX}.journal.ledger.>")
}
/// Paygate's journal subject for one scope.
pub fn paygate_journal(scope: &str) -> String {
    format!("{PREFIX}.journal.paygate.{scope}")
}
/// Every subject of paygate's journal.
pub fn paygate_journal_all() -> String {
    format!("{PREFIX}.journal.paygate.>")
}
/// The identity journal's subject for one scope (a key holder's hashed token).
pub fn identity_journal(scope: &str) -> String {
    format!("{PREFIX}.journal.identity.{scope}")
}
/// Every subject of the identity service's journal.
pub fn identity_journal_all() -> String {
    format!("{PREFIX}.journal.identity.>")
}
/// All events: the stream's subject filter.
pub fn events_all() -> String {
    format!("{PREFIX}.events.>")
}
/// Every event of the same entity as `kind` (`posfee.events.pairing.*` for a pairing event).
pub fn events_like(kind: EventKind) -> String {
    format!("{PREFIX}.events.{}.*", kind.entity())
}
/// The service whose journal `stream` is, for the streams whose entries carry events.
pub fn journal_owner(stream: &str) -> Option<Role> {
    match stream {
        LEDGER_JOURNAL => Some(Role::Ledger),
        PAYGATE_JOURNAL => Some(Role::Paygate),
        _ => None,
    }
}

/// Whether `subject` matches the subject filter `filter` as the server matches them (`*` one
/// token, a final `>` one or more): for events read where no server filters them (those a
/// journal's entries carry).
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut want = filter.split('.');
    let mut got = subject.split('.');
    loop {
        match (want.next(), got.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(w), Some(g)) if w == g => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Events of one entity (`payment`, `terminal` …) for filtered consumers.
pub fn events_of(entity: &str) -> Result<String, IdError> {
    check_subject_token("event entity", entity)?;
    Ok(format!("{PREFIX}.events.{entity}.*"))
}

/// NATS micro discovery subjects, for operators and readiness checks.
pub mod srv {
    pub fn ping() -> String {
        "$SRV.PING".to_string()
    }
    pub fn ping_service(name: &str) -> String {
        format!("$SRV.PING.{name}")
    }
    pub fn info() -> String {
        "$SRV.INFO".to_string()
    }
    pub fn stats() -> String {
        "$SRV.STATS".to_string()
    }
}

/// The inbox prefix of the only identity that may publish on `subject`: the subject names it
/// (`posfee.bill.issue.<terminal>`, `posfee.paygate.pay.device.<id>` …) or only one role may
/// ask (`posfee.ledger.settle`), and the server's permissions vouch for who asked.
pub fn inbox_of(subject: &str) -> Option<String> {
    match Subject::parse(subject).ok()? {
        Subject::BillIssue(t)
        | Subject::LedgerClose(t)
        | Subject::TerminalReport(t)
        | Subject::TerminalSeen(t) => Some(Identity::Terminal(t).inbox_prefix()),
        Subject::LedgerRefund(t) | Subject::LedgerStatement(t) => {
            Some(Identity::Clerk(t).inbox_prefix())
        }
        Subject::IdentityEnrol(d) => Some(Identity::Device(d).inbox_prefix()),
        Subject::IdentityStatus(k) => Some(status_inbox(&k)),
        Subject::FeeQuote(a)
        | Subject::FeePayees(a)
        | Subject::Query(_, a)
        | Subject::KeysGet(a)
        | Subject::Paygate(_, a) => Some(a.inbox_prefix()),
        // Only paygate settles, and only the operator lists settlements and walks the books.
        Subject::Ledger(LedgerOp::Settle | LedgerOp::SettleBasket) => {
            Some(Identity::Role(Role::Paygate).inbox_prefix())
        }
        Subject::Ledger(LedgerOp::Settlements | LedgerOp::Audit) => {
            Some(Identity::Role(Role::Operator).inbox_prefix())
        }
        _ => None,
    }
}

/// Whether a request on `subject` may be answered on `reply`: the inbox of one who may ask
/// there ([`inbox_of`]); a tenant's statements are also asked by the operator (its console).
pub fn answers_asker(subject: &str, reply: &str) -> bool {
    let operator_too = matches!(Subject::parse(subject), Ok(Subject::LedgerStatement(_)));
    is_reply_for(reply, inbox_of(subject).as_deref())
        || (operator_too
            && is_reply_for(reply, Some(&Identity::Role(Role::Operator).inbox_prefix())))
}

/// Whether `reply` is a reply inbox, under `asker`'s own prefix when that is known. Anything
/// else would let a caller make a responder publish on a subject of the caller's choosing.
pub fn is_reply_for(reply: &str, asker: Option<&str>) -> bool {
    let prefix = asker.unwrap_or("_INBOX");
    reply.len() > prefix.len() + 1
        && reply.starts_with(prefix)
        && reply.as_bytes()[prefix.len()] == b'.'
        && !reply.contains(['*', '>', ' '])
}

/// Each connection's reply inbox prefix. A role may only subscribe below its own prefix, so one
/// role can never read replies meant for another.
pub fn inbox_prefix(role: Role) -> String {
    Identity::Role(role).inbox_prefix()
}

/// Who is on the other end of a connection: a service or tool (one NATS user per role), one
/// kiosk, one phone, or one tenant's billing clerk (one NATS user each, so each can be revoked
/// alone and is confined to its own subjects).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Role(Role),
    Terminal(TerminalId),
    Device(DeviceId),
    /// A billing clerk of one tenant: refunds that tenant's payments only.
    Clerk(TenantId),
}

impl Identity {
    /// The reply inbox prefix this identity connects with and may alone subscribe below.
    /// No role is called `terminal`, `device` or `clerk`, so these never meet a role's prefix.
    pub fn inbox_prefix(&self) -> String {
        format!("_INBOX.{}", self.path())
    }

    /// Who this is as subject tokens: `terminal.<id>`, `device.<id>`, `clerk.<tenant>` or the
    /// role's name. Its inbox prefix is `_INBOX.` and this; shared request subjects end with it.
    pub fn path(&self) -> String {
        match self {
            Identity::Role(r) => r.as_str().to_string(),
            Identity::Terminal(t) => format!("terminal.{t}"),
            Identity::Device(d) => format!("device.{d}"),
            Identity::Clerk(t) => format!("clerk.{t}"),
        }
    }

    /// Reads [`Identity::path`] back from subject tokens.
    pub fn from_path(tokens: &[&str]) -> Result<Identity, IdError> {
        let bad = || IdError::Invalid {
            kind: "asker",
            reason: "not terminal.<id>, device.<id>, clerk.<tenant> or a role",
        };
        match tokens {
            ["terminal", t] => Ok(Identity::Terminal(TerminalId::parse(*t)?)),
            ["device", d] => Ok(Identity::Device(DeviceId::parse(*d)?)),
            ["clerk", t] => Ok(Identity::Clerk(TenantId::parse(*t)?)),
            [r] => Role::parse(r).map(Identity::Role).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl From<Role> for Identity {
    fn from(r: Role) -> Self {
        Identity::Role(r)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Role(r) => write!(f, "{r}"),
            Identity::Terminal(t) => write!(f, "terminal {t}"),
            Identity::Device(d) => write!(f, "device {d}"),
            Identity::Clerk(t) => write!(f, "clerk of {t}"),
        }
    }
}

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant,)* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)* }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum!(
    /// Read requests the query service answers.
    QueryKind { Account = "account", Bills = "bills", Payments = "payments", Readings = "readings", }
);
str_enum!(
    /// The NATS micro service names (`$SRV.PING.<name>`); each is also the service's binary.
    ServiceName {
        FeeEngine = "posfee-fee-engine",
        Query = "posfee-query",
        Ledger = "posfee-ledger",
        Paygate = "posfee-paygate",
        Identity = "posfee-identity",
    }
);
impl ServiceName {
    /// The role a service connects as.
    pub fn role(self) -> Role {
        match self {
            ServiceName::FeeEngine => Role::FeeEngine,
            ServiceName::Query => Role::Query,
            ServiceName::Ledger => Role::Ledger,
            ServiceName::Paygate => Role::Paygate,
            ServiceName::Identity => Role::Identity,
        }
    }
}
str_enum!(PaygateOp { Register = "register", Amend = "amend", Pay = "pay", Payments = "payments", Audit = "audit", Erase = "erase", });
str_enum!(IdentityOp { Issue = "issue", Revoke = "revoke", List = "list", Audit = "audit", });
str_enum!(LedgerOp { Settle = "settle", SettleBasket = "settle_basket", Settlements = "settlements", Audit = "audit", });
str_enum!(
    /// The services and tools. Each role has one NATS user with least-privilege permissions
    /// (`posfee::authz`); terminals and phones are not roles but identities of their own.
    Role {
        FeeEngine = "fee-engine",
        Query = "query",
        Ledger = "ledger",
        Paygate = "paygate",
        Operator = "operator",
        // Loads reference data (accounts, readings) as events; nothing else.
        Importer = "importer",
        Admin = "admin",
        // Answers the server's auth callout: who each kiosk, phone and clerk is.
        Identity = "identity",
    }
);

str_enum!(
    /// Every event kind; the subject is `posfee.events.<entity>.<what>`.
    EventKind {
        BillIssued = "bill.issued",
        BillClosed = "bill.closed",
        PairingJoined = "pairing.joined",
        PairingExpired = "pairing.expired",
        PairingCancelled = "pairing.cancelled",
        PaymentAuthorized = "payment.authorized",
        PaymentSettled = "payment.settled",
        PaymentVoided = "payment.voided",
        PaymentRefunded = "payment.refunded",
        TerminalOnline = "terminal.online",
        TerminalOffline = "terminal.offline",
        AccountUpserted = "account.upserted",
        ReadingRecorded = "reading.recorded",
    }
);

impl EventKind {
    /// The only role that writes events of this kind, and seals them: a reader believes an
    /// event only with that role's seal (`trust::Seal`).
    pub fn writer(self) -> Role {
        match self {
            EventKind::BillIssued => Role::FeeEngine,
            EventKind::PairingJoined
            | EventKind::PairingExpired
            | EventKind::PairingCancelled
            | EventKind::TerminalOnline
            | EventKind::TerminalOffline => Role::Query,
            EventKind::PaymentAuthorized | EventKind::PaymentVoided => Role::Paygate,
            EventKind::PaymentSettled | EventKind::PaymentRefunded | EventKind::BillClosed => {
                Role::Ledger
            }
            EventKind::AccountUpserted | EventKind::ReadingRecorded => Role::Importer,
        }
    }

    /// Whether a journal entry of `role`'s may carry an event of this kind (since 0.5.0): the
    /// money events their one writer's, and the pairing that a hold (paygate) or a bill's
    /// close (the ledger) ends, which the kiosk told it. A carried event is believed with the
    /// journal owner's seal.
    pub fn carried_by(self, role: Role) -> bool {
        match self {
            EventKind::PairingJoined => matches!(role, Role::Paygate | Role::Ledger),
            EventKind::PairingExpired | EventKind::PairingCancelled => role == Role::Ledger,
            EventKind::PaymentAuthorized | EventKind::PaymentVoided => role == Role::Paygate,
            EventKind::PaymentSettled | EventKind::PaymentRefunded | EventKind::BillClosed => {
                role == Role::Ledger
            }
            _ => false,
        }
    }

    pub fn entity(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }
    pub fn what(self) -> &'static str {
        self.as_str().split('.').nth(1).unwrap_or_default()
    }
}

/// Every concrete posfee subject, read back from its string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    FeeQuote(Identity),
    FeePayees(Identity),
    BillIssue(TerminalId),
    Query(QueryKind, Identity),
    Pair(TerminalId, PairToken),
    Wallet(DeviceId, PairToken),
    Paygate(PaygateOp, Identity),
    Ledger(LedgerOp),
    LedgerClose(TerminalId),
    LedgerRefund(TenantId),
    LedgerStatement(TenantId),
    TerminalReport(TerminalId),
    TerminalSeen(TerminalId),
    KeysGet(Identity),
    Receipt(TerminalId),
    Event(EventKind),
    IdentityEnrol(DeviceId),
    IdentityStatus(PublicNkey),
    Identity(IdentityOp),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("subject {0:?} is not a posfee subject")]
    Unknown(String),
    #[error("subject {subject:?}: {source}")]
    BadId { subject: String, source: IdError },
}

impl Subject {
    pub fn parse(s: &str) -> Result<Subject, SubjectError> {
        let unknown = || SubjectError::Unknown(s.to_string());
        let bad_id = |source| SubjectError::BadId {
            subject: s.to_string(),
            source,
        };
        let parts: Vec<&str> = s.split('.').collect();
        if parts.first() != Some(&PREFIX) {
            return Err(unknown());
        }
        let asker = |tokens: &[&str]| Identity::from_path(tokens).map_err(bad_id);
        match parts[1..] {
            ["fee", "quote", ref who @ ..] => Ok(Subject::FeeQuote(asker(who)?)),
            ["fee", "payees", ref who @ ..] => Ok(Subject::FeePayees(asker(who)?)),
            ["bill", "issue", t] => Ok(Subject::BillIssue(TerminalId::parse(t).map_err(bad_id)?)),
            ["query", k, ref who @ ..] => {
                let kind = QueryKind::parse(k).ok_or_else(unknown)?;
                Ok(Subject::Query(kind, asker(who)?))
            }
            ["pair", t, tok] => Ok(Subject::Pair(
                TerminalId::parse(t).map_err(bad_id)?,
                PairToken::parse(tok).map_err(bad_id)?,
            )),
            ["wallet", d, tok] => Ok(Subject::Wallet(
                DeviceId::parse(d).map_err(bad_id)?,
                PairToken::parse(tok).map_err(bad_id)?,
            )),
            ["paygate", op, ref who @ ..] => {
                let op = PaygateOp::parse(op).ok_or_else(unknown)?;
                Ok(Subject::Paygate(op, asker(who)?))
            }
            ["ledger", op] => LedgerOp::parse(op).map(Subject::Ledger).ok_or_else(unknown),
            ["ledger", "close", t] => {
                Ok(Subject::LedgerClose(TerminalId::parse(t).map_err(bad_id)?))
            }
            ["ledger", "refund", t] => {
                Ok(Subject::LedgerRefund(TenantId::parse(t).map_err(bad_id)?))
            }
            ["ledger", "statement", t] => Ok(Subject::LedgerStatement(
                TenantId::parse(t).map_err(bad_id)?,
            )),
            ["terminal", "report", t] => Ok(Subject::TerminalReport(
                TerminalId::parse(t).map_err(bad_id)?,
            )),
            ["identity", "enrol", d] => {
                Ok(Subject::IdentityEnrol(DeviceId::parse(d).map_err(bad_id)?))
            }
            ["identity", "status", k] => Ok(Subject::IdentityStatus(
                PublicNkey::parse(k).map_err(bad_id)?,
            )),
            ["identity", op] => IdentityOp::parse(op)
                .map(Subject::Identity)
                .ok_or_else(unknown),
            ["terminal", "seen", t] => {
                Ok(Subject::TerminalSeen(TerminalId::parse(t).map_err(bad_id)?))
            }
            ["keys", "get", ref who @ ..] => Ok(Subject::KeysGet(asker(who)?)),
            ["receipt", t] => Ok(Subject::Receipt(TerminalId::parse(t).map_err(bad_id)?)),
            ["events", entity, what] => EventKind::parse(&format!("{entity}.{what}"))
                .map(Subject::Event)
                .ok_or_else(unknown),
            _ => Err(unknown()),
        }
    }

    /// The subject string; `Subject::parse(&x.to_string()) == x`.
    pub fn render(&self) -> String {
        match self {
            Subject::FeeQuote(a) => fee_quote(a),
            Subject::FeePayees(a) => fee_payees(a),
            Subject::BillIssue(t) => bill_issue(t),
            Subject::Query(k, a) => query(*k, a),
            Subject::Pair(t, tok) => pair(t, tok),
            Subject::Wallet(d, tok) => wallet(d, tok),
            Subject::Paygate(op, a) => paygate(*op, a),
            Subject::Ledger(op) => ledger(*op),
            Subject::LedgerClose(t) => ledger_close(t),
            Subject::LedgerRefund(t) => ledger_refund(t),
            Subject::LedgerStatement(t) => ledger_statement(t),
            Subject::TerminalReport(t) => terminal_report(t),
            Subject::TerminalSeen(t) => terminal_seen(t),
            Subject::KeysGet(a) => keys_get(a),
            Subject::Receipt(t) => receipt(t),
            Subject::Event(k) => event(*k),
            Subject::IdentityEnrol(d) => identity_enrol(d),
            Subject::IdentityStatus(k) => identity_status(k),
            Subject::Identity(op) => identity(*op),
        }
    }

    /// Every subject pattern posfee uses, with `{name}` for parameters, as the AsyncAPI
    /// document writes its channel addresses. The contract test compares the two.
    pub fn patterns() -> Vec<String> {
        let mut out = vec![
            format!("{PREFIX}.fee.quote.{{asker}}"),
            format!("{PREFIX}.fee.payees.{{asker}}"),
            format!("{PREFIX}.bill.issue.{{terminal}}"),
        ];
        out.extend(
            QueryKind::ALL
                .iter()
                .map(|k| format!("{PREFIX}.query.{}.{{asker}}", k.as_str())),
        );
        out.push(format!("{PREFIX}.pair.{{terminal}}.{{token}}"));
        out.push(format!("{PREFIX}.wallet.{{device}}.{{token}}"));
        out.extend(
            PaygateOp::ALL
                .iter()
                .map(|o| format!("{PREFIX}.paygate.{}.{{asker}}", o.as_str())),
        );
        out.extend(LedgerOp::ALL.iter().map(|o| ledger(*o)));
        out.push(format!("{PREFIX}.ledger.close.{{terminal}}"));
        out.push(format!("{PREFIX}.ledger.refund.{{tenant}}"));
        out.push(format!("{PREFIX}.ledger.statement.{{tenant}}"));
        out.push(format!("{PREFIX}.terminal.report.{{terminal}}"));
        out.push(format!("{PREFIX}.terminal.seen.{{terminal}}"));
        out.push(format!("{PREFIX}.keys.get.{{asker}}"));
        out.push(format!("{PREFIX}.receipt.{{terminal}}"));
        out.extend(EventKind::ALL.iter().map(|k| event(*k)));
        out.push(format!("{PREFIX}.identity.enrol.{{device}}"));
        out.push(format!("{PREFIX}.identity.status.{{nkey}}"));
        out.extend(IdentityOp::ALL.iter().map(|o| identity(*o)));
        out
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod matching {
    use super::matches;

    #[test]
    fn filters_match_as_the_server_matches_them() {
        assert!(matches(
            "posfee.events.payment.*",
            "posfee.events.payment.settled"
        ));
        assert!(matches("posfee.events.>", "posfee.events.payment.settled"));
        assert!(matches(
            "posfee.events.payment.settled",
            "posfee.events.payment.settled"
        ));
        assert!(!matches("posfee.events.payment.*", "posfee.events.payment"));
        assert!(!matches(
            "posfee.events.payment.*",
            "posfee.events.bill.closed"
        ));
        assert!(!matches("posfee.events.>", "posfee.events"));
        assert!(!matches(
            "posfee.events.payment.settled",
            "posfee.events.payment.settled.x"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_round_trips_through_parse() {
        let t = TerminalId::parse("kiosk-7").unwrap();
        let tok = PairToken::generate();
        let mut all = vec![
            Subject::FeeQuote(Identity::Terminal(t.clone())),
            Subject::FeeQuote(Identity::Role(Role::Query)),
            Subject::FeePayees(Identity::Terminal(t.clone())),
            Subject::BillIssue(t.clone()),
            Subject::LedgerClose(t.clone()),
            Subject::TerminalReport(t.clone()),
            Subject::TerminalSeen(t.clone()),
            Subject::KeysGet(Identity::Device(DeviceId::parse("phabcd2345").unwrap())),
            Subject::LedgerRefund(TenantId::parse("city-water").unwrap()),
            Subject::LedgerStatement(TenantId::parse("city-water").unwrap()),
            Subject::Pair(t.clone(), tok.clone()),
            Subject::Wallet(DeviceId::parse("phabcd2345").unwrap(), tok),
            Subject::IdentityEnrol(DeviceId::parse("phabcd2345").unwrap()),
            Subject::Receipt(t),
        ];
        all.extend(IdentityOp::ALL.iter().map(|o| Subject::Identity(*o)));
        let op = Identity::Role(Role::Operator);
        all.extend(
            QueryKind::ALL
                .iter()
                .map(|k| Subject::Query(*k, op.clone())),
        );
        let phone = Identity::Device(DeviceId::parse("phabcd2345").unwrap());
        all.extend(
            PaygateOp::ALL
                .iter()
                .map(|o| Subject::Paygate(*o, phone.clone())),
        );
        all.extend(LedgerOp::ALL.iter().map(|o| Subject::Ledger(*o)));
        all.extend(EventKind::ALL.iter().map(|k| Subject::Event(*k)));
        for s in all {
            assert_eq!(Subject::parse(&s.render()).unwrap(), s);
        }
    }

    #[test]
    fn parse_refuses_foreign_and_hostile_subjects() {
        for bad in [
            "posfee",
            "other.fee.quote",
            "posfee.fee.quote",
            "posfee.fee.quote.extra",
            "posfee.paygate.pay.device",
            "posfee.query.account.terminal.kiosk.1",
            "posfee.query.secrets",
            "posfee.pair.kiosk*.00112233445566778899aabbccddeeff",
            "posfee.pair.kiosk.>",
            "posfee.receipt.*",
            "posfee.events.payment.stolen",
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn event_subjects_have_entity_and_what() {
        assert_eq!(
            event(EventKind::PaymentSettled),
            "posfee.events.payment.settled"
        );
        assert_eq!(EventKind::TerminalOffline.entity(), "terminal");
        assert_eq!(EventKind::TerminalOffline.what(), "offline");
        assert!(events_of("pay.ment").is_err());
    }

    #[test]
    fn inbox_prefixes_keep_identities_apart() {
        assert_eq!(inbox_prefix(Role::Query), "_INBOX.query");
        let t = TerminalId::parse("kiosk-1").unwrap();
        assert_eq!(
            Identity::Terminal(t).inbox_prefix(),
            "_INBOX.terminal.kiosk-1"
        );
        // No role's inbox can sit under a terminal's, a phone's or a clerk's.
        for r in Role::ALL {
            assert!(!["terminal", "device", "clerk"].contains(&r.as_str()));
        }
    }
}
