//! Who may do what on the bus.
//!
//! Every service and tool is a role with one NATS user, listed in the server's configuration
//! (`auth.conf`, rendered here). A crate of its own, beside the contract it is built from, so
//! the identity service (which grants these permissions) depends on it and not on deployment. Every kiosk, phone and clerk connects with a key of its own
//! that the configuration does not list: the server asks the identity service (its auth
//! callout, `services/identity`), which answers with a user JWT carrying [`perms`] for that
//! one identity, so one can be revoked without touching the others and the server holds no
//! list of devices. Both kinds of rules are built here from the same subject builders the code
//! publishes and subscribes with (`schemas::subjects`), so a subject cannot change in one place
//! and be left behind in the server's rules. `nats.conf` holds the server settings and includes
//! the `auth.conf` this crate renders (`posfee_deploy::natsd::write_config` writes it).
//!
//! Replies travel under each identity's own inbox prefix, so nobody can read replies meant for
//! another. Nobody has `allow_responses` (a right to publish once on the reply subject of any
//! message received, whatever that subject is): a service answers only into the inboxes of
//! those who may ask it, which its publish list names (and `posfee_runtime::serve` answers
//! only into the asker's own); kiosks and phones answer each other on subjects their lists
//! name. What anyone publishes is exactly what its lists name, so no message it receives can
//! make it publish elsewhere (a stolen kiosk, a phone its thief enrolled and a leaked service
//! seed cannot relay each other onto the key bucket, the event stream or the ledger). The tests in `tests/bus_roles.rs`
//! try, as each identity, what it must not do, and expect the server to refuse.

use posfee_schemas::ids::{DeviceId, PublicNkey, TenantId, TerminalId};
use posfee_schemas::subjects::{
    self, EventKind, Identity, IdentityOp, LedgerOp, PaygateOp, QueryKind, Role, ServiceName,
    EVENTS_STREAM, IDENTITY_JOURNAL, KEYS_BUCKET, LEDGER_JOURNAL, PAYER_KEYS_BUCKET,
    PAYGATE_JOURNAL, TERMINALS_BUCKET,
};
use std::fmt::Write;

/// Seconds a client has to prove its key after connecting (the callout's answer included).
pub const AUTH_TIMEOUT_SECS: u32 = 2;
/// The account every posfee connection is in, and the JetStream data with it.
pub const ACCOUNT: &str = "POSFEE";
/// The server's system account: only the identity service's second user is in it, to list
/// and close a revoked key's connections.
pub const SYSTEM_ACCOUNT: &str = "SYS";
pub use posfee_schemas::subjects::SYSTEM_INBOX;

/// What one user may publish and subscribe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Perms {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

/// One user of the server: a public nkey and what it may do.
#[derive(Debug, Clone)]
pub struct User {
    pub who: Identity,
    pub nkey: String,
    pub perms: Perms,
}

impl User {
    pub fn new(who: Identity, nkey: String) -> User {
        let perms = perms(&who);
        User { who, nkey, perms }
    }
}

/// The rules for any identity.
pub fn perms(who: &Identity) -> Perms {
    match who {
        Identity::Role(r) => role(*r),
        Identity::Terminal(t) => terminal(t),
        Identity::Device(d) => device(d),
        Identity::Clerk(t) => clerk(t),
    }
}

fn s(v: impl Into<String>) -> String {
    v.into()
}

/// JetStream account info: every client library asks it before using JetStream.
const JS_INFO: &str = "$JS.API.INFO";

fn stream_info(stream: &str) -> String {
    format!("$JS.API.STREAM.INFO.{stream}")
}

fn kv_stream(bucket: &str) -> String {
    format!("KV_{bucket}")
}

/// Reading the event stream through a consumer of one's own.
fn event_reader(durable: bool) -> Vec<String> {
    let mut v = vec![
        s(JS_INFO),
        stream_info(EVENTS_STREAM),
        format!("$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}"),
        format!("$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}.>"),
        format!("$JS.API.CONSUMER.INFO.{EVENTS_STREAM}.>"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.>"),
    ];
    if durable {
        v.push(format!("$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.>"));
        v.push(format!("$JS.ACK.{EVENTS_STREAM}.>"));
        v.push(format!("$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}"));
    }
    v
}

/// A service's own journal: appended to, read back, followed into each instance's view.
fn journal_writer(stream: &str, subjects: String) -> Vec<String> {
    vec![
        subjects,
        stream_info(stream),
        format!("$JS.API.STREAM.MSG.GET.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.>"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
    ]
}

/// Another service's journal, followed for the events its entries carry
/// (`posfee_schemas::events::EVENT_HEADER`): a consumer of one's own, nothing written.
fn journal_reader(stream: &str) -> Vec<String> {
    vec![
        s(JS_INFO),
        stream_info(stream),
        format!("$JS.API.CONSUMER.CREATE.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.>"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
    ]
}

/// Paygate's bucket of wrapped data keys: read, created, rewrapped and purged by paygate only.
fn payer_keys() -> Vec<String> {
    let bucket = kv_stream(PAYER_KEYS_BUCKET);
    vec![
        format!("$KV.{PAYER_KEYS_BUCKET}.>"),
        stream_info(&bucket),
        format!("$JS.API.DIRECT.GET.{bucket}.>"),
        format!("$JS.API.STREAM.MSG.GET.{bucket}"),
        format!("$JS.API.STREAM.MSG.DELETE.{bucket}"),
    ]
}

/// Reading public signing keys from the key directory.
fn key_reader() -> Vec<String> {
    let bucket = kv_stream(KEYS_BUCKET);
    vec![
        stream_info(&bucket),
        format!("$JS.API.DIRECT.GET.{bucket}.>"),
    ]
}

/// What every micro service answers: discovery, on any of its names, and the operator's
/// request for its metrics.
fn discovery_answers() -> Vec<String> {
    vec![
        subjects::srv::ping(),
        subjects::srv::info(),
        subjects::srv::stats(),
        s("$SRV.*.*"),
        s("$SRV.*.*.*"),
        s(subjects::METRICS),
    ]
}

/// A service pings itself through the server before it reports ready.
fn self_ping(name: ServiceName) -> String {
    format!("{}.*", subjects::srv::ping_service(name.as_str()))
}

/// Who may ask a service something, and so whose inbox it may answer into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// Any kiosk (`_INBOX.terminal.*.>`).
    Terminals,
    /// Any phone, enrolled or enrolling (`_INBOX.device.*.>`).
    Devices,
    /// Any tenant's clerk (`_INBOX.clerk.*.>`).
    Clerks,
    /// Any key asking about itself (`_INBOX.key.*.>`).
    Keys,
    /// The server's auth callout, whose requests carry a reply in `$SYS._INBOX.` of the
    /// account the callout runs in.
    Server,
    Role(Role),
}

impl Asker {
    fn inbox(self) -> String {
        match self {
            Asker::Terminals => s("_INBOX.terminal.*.>"),
            Asker::Devices => s("_INBOX.device.*.>"),
            Asker::Clerks => s("_INBOX.clerk.*.>"),
            Asker::Keys => format!("{}.*.>", subjects::KEY_STATUS_INBOX),
            Asker::Server => s("$SYS._INBOX.>"),
            Asker::Role(r) => format!("{}.>", Identity::Role(r).inbox_prefix()),
        }
    }
}

/// A service: what it publishes, and answers into the inboxes of those who may ask it (and
/// its own: it pings itself before it reports ready) and nowhere else. No service has
/// `allow_responses`: with it, a service may publish once on the reply subject of any message
/// it receives, whoever sent it, so one leaked service seed and any identity that may send
/// the service a message (a kiosk, a free phone, the seed's own connection on a subject it
/// both publishes and hears) could publish anything anywhere. `posfee_runtime::serve` answers
/// only into the asker's own inbox besides.
fn service(
    name: ServiceName,
    who: Role,
    (publish, askers): (Vec<String>, &[Asker]),
    serves: Vec<String>,
) -> Perms {
    let mut p = publish;
    p.push(self_ping(name));
    p.extend(askers.iter().map(|a| a.inbox()));
    p.push(Asker::Role(who).inbox());
    let mut sub = discovery_answers();
    sub.extend(serves);
    sub.push(format!("{}.>", Identity::Role(who).inbox_prefix()));
    Perms {
        publish: p,
        subscribe: sub,
    }
}

fn tool(who: Role, publish: Vec<String>) -> Perms {
    Perms {
        publish,
        subscribe: vec![format!("{}.>", Identity::Role(who).inbox_prefix())],
    }
}

/// The rules of a service or tool role.
pub fn role(r: Role) -> Perms {
    match r {
        Role::FeeEngine => fee_engine_rules(r),
        Role::Query => query_rules(r),
        Role::Ledger => ledger_rules(r),
        Role::Paygate => paygate_rules(r),
        Role::Operator => operator_rules(r),
        Role::Importer => importer_rules(r),
        Role::Admin => admin_rules(r),
        Role::Identity => identity_rules(r),
    }
}

/// Prices and issues bills from its own view of the stream; publishes its public keys.
fn fee_engine_rules(r: Role) -> Perms {
    let mut p = vec![
        format!("$KV.{KEYS_BUCKET}.bill.*"),
        subjects::event(EventKind::BillIssued),
    ];
    p.extend(event_reader(true));
    // The settlements the ledger's journal carries: the months they paid.
    p.extend(journal_reader(LEDGER_JOURNAL));
    // The authorities' certificates, to believe the seals of the events it reads.
    p.extend(key_reader());
    service(
        ServiceName::FeeEngine,
        r,
        (
            p,
            &[
                Asker::Terminals,
                Asker::Role(Role::Query),
                Asker::Role(Role::Operator),
            ],
        ),
        vec![
            subjects::fee_quote_any(),
            subjects::fee_payees_any(),
            subjects::bill_issue_any(),
            // Kiosks' key look-ups, with the query service and the ledger.
            subjects::keys_get_terminals(),
        ],
    )
}

/// Answers read queries from its view; asks the fee-engine for live amounts.
/// Also records kiosks' own pairing and presence events on their behalf.
/// Also writes kiosks' heartbeats into the terminals bucket and answers phones' key
/// lookups, so kiosks and phones need no JetStream rights.
fn query_rules(r: Role) -> Perms {
    let mut p = vec![
        subjects::fee_quote(&Identity::Role(r)),
        subjects::events_like(EventKind::PairingJoined),
        subjects::events_like(EventKind::TerminalOnline),
        format!("$KV.{TERMINALS_BUCKET}.*"),
        stream_info(&kv_stream(TERMINALS_BUCKET)),
    ];
    p.extend(event_reader(true));
    p.extend(journal_reader(LEDGER_JOURNAL));
    p.extend(key_reader());
    service(
        ServiceName::Query,
        r,
        (
            p,
            &[
                Asker::Terminals,
                Asker::Devices,
                Asker::Role(Role::Operator),
                Asker::Role(Role::Importer),
            ],
        ),
        vec![
            subjects::query_any(),
            subjects::terminal_report_any(),
            subjects::terminal_seen_any(),
            subjects::keys_get_any(),
        ],
    )
}

/// The only publisher of settlements, refunds and receipts.
fn ledger_rules(r: Role) -> Perms {
    let mut p = key_reader();
    p.extend([
        subjects::event(EventKind::PaymentSettled),
        subjects::event(EventKind::PaymentRefunded),
        subjects::event(EventKind::BillClosed),
        subjects::receipt_any(),
        s(JS_INFO),
        stream_info(EVENTS_STREAM),
    ]);
    p.extend(journal_writer(
        LEDGER_JOURNAL,
        subjects::ledger_journal_all(),
    ));
    service(
        ServiceName::Ledger,
        r,
        (
            p,
            &[
                Asker::Terminals,
                Asker::Clerks,
                Asker::Role(Role::Paygate),
                Asker::Role(Role::Operator),
            ],
        ),
        vec![
            subjects::ledger_any(),
            subjects::ledger_close_any(),
            subjects::ledger_refund_any(),
            subjects::ledger_statement_any(),
            // Kiosks' key look-ups, with the query service and the fee-engine.
            subjects::keys_get_terminals(),
        ],
    )
}

/// The payment platform sandbox: holds, asks the ledger to settle, captures or voids.
/// Captures follow the ledger's settlements, so its recovery loop asks how far the
/// stream is on them (the last message of a subject) before it drives a hold itself.
fn paygate_rules(r: Role) -> Perms {
    let mut p = vec![format!("$KV.{KEYS_BUCKET}.settlement.*")];
    p.extend(key_reader());
    p.extend(event_reader(false));
    p.push(format!("$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}"));
    // Settlements and refunds, carried by the ledger's journal entries.
    p.extend(journal_reader(LEDGER_JOURNAL));
    p.extend([
        subjects::ledger(LedgerOp::Settle),
        subjects::ledger(LedgerOp::SettleBasket),
        subjects::event(EventKind::PaymentAuthorized),
        subjects::event(EventKind::PaymentVoided),
    ]);
    p.extend(journal_writer(
        PAYGATE_JOURNAL,
        subjects::paygate_journal_all(),
    ));
    p.extend(payer_keys());
    service(
        ServiceName::Paygate,
        r,
        (p, &[Asker::Devices, Asker::Role(Role::Operator)]),
        // Phones' key look-ups too, with the query service.
        vec![subjects::paygate_any(), subjects::keys_get_devices()],
    )
}

/// Watches: discovery, read queries, listings, the event stream and terminal presence.
fn operator_rules(r: Role) -> Perms {
    let terminals = kv_stream(TERMINALS_BUCKET);
    let mut p = vec![
        subjects::ledger(LedgerOp::Settlements),
        // Every biller's daily statement, for the console (a clerk gets only its own).
        subjects::ledger_statement_any(),
        subjects::paygate(PaygateOp::Payments, &Identity::Role(r)),
        // Asks the ledger, paygate and identity to walk their journals' chains.
        subjects::ledger(LedgerOp::Audit),
        subjects::paygate(PaygateOp::Audit, &Identity::Role(r)),
        subjects::identity(IdentityOp::Audit),
        // Erases a payer at their request.
        subjects::paygate(PaygateOp::Erase, &Identity::Role(r)),
        // Issues kiosks' and clerks' keys, revokes any key, lists them.
        subjects::identity(IdentityOp::Issue),
        subjects::identity(IdentityOp::Revoke),
        subjects::identity(IdentityOp::List),
        stream_info(&terminals),
        // How far the journals are, and the events their entries carry (`posfee events`
        // reads them headers only).
        format!("$JS.API.CONSUMER.CREATE.{terminals}"),
        format!("$JS.API.CONSUMER.CREATE.{terminals}.>"),
        format!("$JS.API.DIRECT.GET.{terminals}.>"),
        s("$JS.FC.>"),
    ];
    p.extend(discovery_answers());
    p.extend(event_reader(false));
    p.extend(journal_reader(LEDGER_JOURNAL));
    p.extend(journal_reader(PAYGATE_JOURNAL));
    // The authorities' certificates, to show only events their writers sealed.
    p.extend(key_reader());
    p.extend(asked_queries(r));
    tool(r, p)
}

/// `posfee import`: accounts and readings as events, and asking whether an account exists.
fn importer_rules(r: Role) -> Perms {
    tool(
        r,
        vec![
            subjects::event(EventKind::AccountUpserted),
            subjects::event(EventKind::ReadingRecorded),
            s(JS_INFO),
            stream_info(EVENTS_STREAM),
            // Whether a reading's account exists, asked before the reading is imported.
            subjects::query(QueryKind::Account, &Identity::Role(r)),
        ],
    )
}

/// Set-up only: `posfee up` creates the stream and buckets with it, and puts the
/// signing services' certificates into the key directory.
fn admin_rules(r: Role) -> Perms {
    tool(
        r,
        vec![s("$JS.API.>"), format!("$KV.{KEYS_BUCKET}.authority.*")],
    )
}

/// Answers the server's auth callout (who each kiosk, phone and clerk is), phones'
/// enrolments and the operator's key requests.
fn identity_rules(r: Role) -> Perms {
    let mut serves = vec![
        s(subjects::AUTH_CALLOUT),
        subjects::identity_enrol_any(),
        subjects::identity_status_any(),
    ];
    serves.extend(IdentityOp::ALL.iter().map(|o| subjects::identity(*o)));
    // Its journal is where keys live; each instance's store is a view of it.
    let publishes = journal_writer(IDENTITY_JOURNAL, subjects::identity_journal_all());
    service(
        ServiceName::Identity,
        r,
        (
            publishes,
            &[
                Asker::Server,
                Asker::Devices,
                Asker::Keys,
                Asker::Role(Role::Operator),
            ],
        ),
        serves,
    )
}

/// Every read query, asked as `who`: the subjects end with who asks, so the answers can go
/// only into that identity's inbox.
fn asked_queries(who: impl Into<Identity>) -> Vec<String> {
    let who = who.into();
    QueryKind::ALL
        .iter()
        .map(|k| subjects::query(*k, &who))
        .collect()
}

/// One kiosk: asks for quotes, bills and queries; presents its own pairings (mode A) and
/// offers bills to a phone's wallet code (mode B); reports its pairing and presence events
/// and its heartbeat; receives its own receipts. It can never settle, refund or publish
/// payment events, it cannot listen to another kiosk's pairings or receipts, and it has no
/// JetStream rights at all (the query service records its events and heartbeat).
pub fn terminal(t: &TerminalId) -> Perms {
    let mut publish = vec![
        subjects::fee_quote(&Identity::Terminal(t.clone())),
        subjects::fee_payees(&Identity::Terminal(t.clone())),
        subjects::bill_issue(t),
        subjects::ledger_close(t),
        subjects::terminal_report(t),
        subjects::terminal_seen(t),
    ];
    publish.extend(asked_queries(Identity::Terminal(t.clone())));
    // The key directory, to believe the ledger's receipts before printing them.
    publish.push(subjects::keys_get(&Identity::Terminal(t.clone())));
    publish.push(subjects::wallet_any());
    // No `allow_responses`: a kiosk answers a phone only on that phone's wallet subjects,
    // which it may publish anyway, so it can never be made to publish anywhere else.
    Perms {
        publish,
        subscribe: vec![
            subjects::pair_for_terminal(t),
            subjects::receipt(t),
            format!("{}.>", Identity::Terminal(t.clone()).inbox_prefix()),
        ],
    }
}

/// One tenant's billing clerk: refunds of that tenant's payments and that tenant's daily
/// statements, nothing else (the ledger refuses a payment of another tenant on this subject).
pub fn clerk(t: &TenantId) -> Perms {
    Perms {
        publish: vec![subjects::ledger_refund(t), subjects::ledger_statement(t)],
        subscribe: vec![format!("{}.>", Identity::Clerk(t.clone()).inbox_prefix())],
    }
}

/// One phone: joins a kiosk's pairing (mode A), listens on its own wallet codes (mode B),
/// looks up public keys to verify bills (`posfee.keys.get`), registers and pays at the payment
/// platform. Nothing else; no JetStream rights.
pub fn device(d: &DeviceId) -> Perms {
    let me = Identity::Device(d.clone());
    let mut publish = vec![subjects::keys_get(&me)];
    publish.extend([
        subjects::pair_any(),
        subjects::paygate(PaygateOp::Register, &me),
        subjects::paygate(PaygateOp::Amend, &me),
        subjects::paygate(PaygateOp::Pay, &me),
        // Asking again is harmless: the answer is the first enrolment.
        subjects::identity_enrol(d),
    ]);
    // No `allow_responses`: a phone answers a kiosk only on that kiosk's pairing subjects,
    // which it may publish anyway (see `posfee_client::peer`).
    Perms {
        publish,
        subscribe: vec![
            subjects::wallet_for_device(d),
            format!("{}.>", Identity::Device(d.clone()).inbox_prefix()),
        ],
    }
}

/// A key the server does not know yet: it may ask to enrol as the phone its fingerprint
/// names, and hear the answer, nothing else.
pub fn unenrolled(d: &DeviceId) -> Perms {
    Perms {
        publish: vec![subjects::identity_enrol(d)],
        subscribe: vec![format!("{}.>", Identity::Device(d.clone()).inbox_prefix())],
    }
}

/// `perms` and the one thing every connection the callout lets in may do with its key: ask
/// what the system takes it for (`posfee.identity.status.<key>`), heard on the key's own
/// status inbox whatever identity the connection believes it is.
pub fn with_key_status(mut perms: Perms, key: &PublicNkey) -> Perms {
    perms.publish.push(subjects::identity_status(key));
    perms
        .subscribe
        .push(format!("{}.>", subjects::status_inbox(key)));
    perms
}

/// The identity service's user in the system account: list a holder's connections, close one.
pub fn system_user() -> Perms {
    Perms {
        publish: vec![s("$SYS.REQ.SERVER.PING.CONNZ"), s("$SYS.REQ.SERVER.*.KICK")],
        // Connects and disconnects in the posfee account, on one subscription so they keep
        // their order: how many connections each key holds; and servers shutting down, whose
        // connections are all gone.
        subscribe: vec![
            format!("{SYSTEM_INBOX}.>"),
            format!("$SYS.ACCOUNT.{ACCOUNT}.*"),
            s("$SYS.SERVER.*.SHUTDOWN"),
        ],
    }
}

/// The public keys the auth callout configuration names.
#[derive(Debug, Clone)]
pub struct CalloutKeys {
    /// The account key (`A…`) whose signature the server accepts on callout answers.
    pub issuer: String,
    /// The identity service's system-account user.
    pub system_user: String,
}

/// The server's accounts, role users and auth callout, in its configuration language.
pub fn render(users: &[User], callout: &CalloutKeys) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by posfee from its roles; do not edit. Kiosks, phones and clerks are not\n\
         # listed: the identity service answers for them (auth_callout below).\n"
    );
    let _ = writeln!(out, "accounts {{");
    let _ = writeln!(out, "  {ACCOUNT}: {{");
    let _ = writeln!(out, "    jetstream: enabled");
    render_users(&mut out, users);
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out, "  {SYSTEM_ACCOUNT}: {{");
    let sys = User {
        who: Identity::Role(Role::Identity),
        nkey: callout.system_user.clone(),
        perms: system_user(),
    };
    render_users(&mut out, std::slice::from_ref(&sys));
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out, "system_account: {SYSTEM_ACCOUNT}");
    let _ = writeln!(out, "authorization {{");
    let _ = writeln!(out, "  timeout: {AUTH_TIMEOUT_SECS}");
    let _ = writeln!(out, "  auth_callout {{");
    let _ = writeln!(out, "    issuer: {}", quote(&callout.issuer));
    let _ = writeln!(out, "    account: {ACCOUNT}");
    let mut keys: Vec<String> = users.iter().map(|u| u.nkey.clone()).collect();
    keys.push(callout.system_user.clone());
    let _ = writeln!(out, "    auth_users: {}", list(&keys));
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out, "}}");
    out
}

fn render_users(out: &mut String, users: &[User]) {
    let _ = writeln!(out, "  users = [");
    for u in users {
        let _ = writeln!(out, "    # {}", u.who);
        let _ = writeln!(out, "    {{");
        let _ = writeln!(out, "      nkey: {}", quote(&u.nkey));
        let _ = writeln!(out, "      permissions: {{");
        let _ = writeln!(
            out,
            "        publish: {{ allow: {} }}",
            list(&u.perms.publish)
        );
        let _ = writeln!(
            out,
            "        subscribe: {{ allow: {} }}",
            list(&u.perms.subscribe)
        );
        let _ = writeln!(out, "      }}");
        let _ = writeln!(out, "    }}");
    }
    let _ = writeln!(out, "  ]");
}

/// A double-quoted string; ids and subjects never hold quotes or backslashes, but a JSON
/// string is what the configuration language reads either way.
fn quote(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_terminal_hears_only_its_own_pairings_receipts_and_replies() {
        let t = TerminalId::parse("kiosk-07").unwrap();
        let p = terminal(&t);
        assert_eq!(
            p.subscribe,
            [
                "posfee.pair.kiosk-07.*",
                "posfee.receipt.kiosk-07",
                "_INBOX.terminal.kiosk-07.>"
            ]
        );
        assert!(p
            .publish
            .contains(&"posfee.terminal.seen.kiosk-07".to_string()));
        assert!(!p
            .publish
            .iter()
            .any(|s| s.starts_with("$JS") || s.starts_with("$KV")));
        assert!(!p.publish.iter().any(|s| s.contains("events.payment")));
        let ledger: Vec<_> = p.publish.iter().filter(|s| s.contains("ledger")).collect();
        assert_eq!(ledger, ["posfee.ledger.close.kiosk-07"]);
    }

    #[test]
    fn a_phone_hears_only_its_own_wallet_codes_and_replies() {
        let d = DeviceId::parse("phabcd2345").unwrap();
        let p = device(&d);
        assert_eq!(
            p.subscribe,
            ["posfee.wallet.phabcd2345.*", "_INBOX.device.phabcd2345.>"]
        );
    }

    /// Whether a subject or pattern `a` and a pattern `b` can name one subject.
    fn overlaps(a: &str, b: &str) -> bool {
        let (mut a, mut b) = (a.split('.'), b.split('.'));
        loop {
            match (a.next(), b.next()) {
                (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
                (Some(x), Some(y)) if x == y || x == "*" || y == "*" => continue,
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    /// Every identity there is, by kind: the roles and one kiosk, phone and clerk.
    fn everyone() -> Vec<Identity> {
        let mut all: Vec<Identity> = Role::ALL.iter().map(|r| Identity::Role(*r)).collect();
        all.push(Identity::Terminal(TerminalId::parse("kiosk-07").unwrap()));
        all.push(Identity::Device(DeviceId::parse("phabcd2345").unwrap()));
        all.push(Identity::Clerk(TenantId::parse("city-water").unwrap()));
        all
    }

    #[test]
    fn a_service_may_answer_exactly_those_who_may_ask_it() {
        for r in Role::ALL {
            let service = role(*r);
            let own_inbox = format!("{}.>", Identity::Role(*r).inbox_prefix());
            // Discovery (`$SRV.…`) is asked by the operator only, and by the service itself.
            let discovery = discovery_answers();
            let serves: Vec<&String> = service
                .subscribe
                .iter()
                .filter(|s| **s != own_inbox && !discovery.contains(s))
                .collect();
            for asker in everyone() {
                let asks = perms(&asker)
                    .publish
                    .iter()
                    .any(|p| serves.iter().any(|s| overlaps(p, s)))
                    || (!serves.is_empty()
                        && [Identity::Role(*r), Identity::Role(Role::Operator)].contains(&asker));
                let reply = format!("{}.x1", asker.inbox_prefix());
                let answers = service.publish.iter().any(|p| overlaps(&reply, p));
                assert_eq!(
                    answers, asks,
                    "{r} may answer {asker:?}: {answers}, {asker:?} may ask {r}: {asks}"
                );
            }
        }
    }

    #[test]
    fn nobody_may_publish_on_whatever_reply_subject_a_message_names() {
        let keys = CalloutKeys {
            issuer: "AISSUER".into(),
            system_user: "USYS".into(),
        };
        let users: Vec<User> = Role::ALL
            .iter()
            .map(|r| User::new(Identity::Role(*r), format!("U{r}")))
            .collect();
        assert!(!render(&users, &keys).contains("allow_responses"));
    }

    #[test]
    fn only_the_ledger_may_publish_settlements() {
        let settled = subjects::event(EventKind::PaymentSettled);
        for r in Role::ALL {
            let may = role(*r).publish.contains(&settled);
            assert_eq!(may, *r == Role::Ledger, "{r}");
        }
    }

    #[test]
    fn rendered_users_are_quoted_lists_and_skip_the_callout() {
        let keys = CalloutKeys {
            issuer: "AISSUER".into(),
            system_user: "USYS".into(),
        };
        let text = render(
            &[User::new(Identity::Role(Role::Ledger), "UABC".into())],
            &keys,
        );
        assert!(text.contains("nkey: \"UABC\""), "{text}");
        assert!(
            text.contains("subscribe: { allow: [\"$SRV.PING\""),
            "{text}"
        );
        assert!(!text.contains("allow_responses"), "{text}");
        assert!(text.contains("auth_users: [\"UABC\", \"USYS\"]"), "{text}");
        assert!(text.contains("issuer: \"AISSUER\""), "{text}");
    }
}
