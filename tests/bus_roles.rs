//! Each role, kiosk and phone is who it says it is and can do only its job: proven against the
//! real server with the project's nats.conf and the users `posfee keys` issues.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_harness::{Harness, ServiceOptions};
use posfee_schemas::ids::{DeviceId, PairToken, TerminalId};
use posfee_schemas::subjects::{
    self, EventKind, Identity, LedgerOp, PaygateOp, QueryKind, Role, ServiceName,
};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Waits for the server to report a permission violation on this connection.
async fn expect_violation(errors: &mut UnboundedReceiver<String>, what: &str) {
    let got = tokio::time::timeout(Duration::from_secs(3), errors.recv())
        .await
        .unwrap_or_else(|_| panic!("no permission violation for {what}"))
        .unwrap();
    assert!(
        got.to_lowercase().contains("permissions violation"),
        "{what}: unexpected server error {got}"
    );
}

#[tokio::test]
async fn anonymous_connections_are_refused_and_an_unknown_key_may_only_ask_to_enrol() {
    let h = Harness::start().await.unwrap();
    let anon = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(h.url())
        .await;
    assert!(anon.is_err(), "anonymous connection accepted");
    let by_password =
        async_nats::ConnectOptions::with_user_and_password("admin".into(), "admin".into())
            .connection_timeout(Duration::from_secs(2))
            .connect(h.url())
            .await;
    assert!(by_password.is_err(), "a password connection accepted");

    // An enrolled phone may join pairings and hear its wallet codes (the probe can succeed) ...
    let (_, enrolled) = h.phone().await.unwrap();
    let pair = subjects::pair(&kiosk("kiosk-01"), &PairToken::generate());
    enrolled.publish(pair.clone(), "x".into()).await.unwrap();
    enrolled.flush().await.unwrap();
    // ... a key nobody enrolled connects (with a stamp, as a new key must), but may do
    // nothing except ask to enrol as itself and ask what it is taken for.
    let stranger = nkeys::KeyPair::new_user();
    let device = DeviceId::of_nkey(&stranger.public_key()).unwrap();
    let stamp = posfee_client::enrol::stamp(
        &stranger.seed().unwrap(),
        posfee_schemas::identity::CONNECT_STAMP_BITS,
        0,
    )
    .unwrap();
    let (client, mut errors) = h
        .watching(
            async_nats::ConnectOptions::new()
                .name(posfee_client::enrol::stamped_name("t", stamp))
                .nkey(stranger.seed().unwrap())
                .custom_inbox_prefix(Identity::Device(device.clone()).inbox_prefix()),
        )
        .await
        .unwrap();
    let me = Identity::Device(device.clone());
    for subject in [
        pair,
        subjects::paygate(PaygateOp::Register, &me),
        subjects::fee_quote(&me),
        subjects::identity_enrol(&DeviceId::parse("phabcd2345").unwrap()),
        "$JS.API.INFO".to_string(),
    ] {
        refused_publish(&client, &mut errors, "an unenrolled key", subject).await;
    }
    refused_subscribe(
        &client,
        &mut errors,
        "an unenrolled key",
        subjects::wallet_for_device(&device),
    )
    .await;
    // Asking to enrol as itself is what it may do, and then it is a phone.
    let seed = stranger.seed().unwrap();
    let reply = posfee_client::enrol::ask(&client, &device, &seed, stamp)
        .await
        .unwrap();
    assert_eq!(reply.device_id, device);
    let again = h.connect_watching(Identity::Device(device.clone())).await;
    assert!(
        again.is_err(),
        "the harness has no seed file for it: {again:?}"
    );
    let phone =
        posfee_client::bus::connect(h.url(), Identity::Device(device.clone()), Some(seed), "t")
            .await
            .unwrap();
    let _wallet = phone
        .subscribe(subjects::wallet_for_device(&device))
        .await
        .unwrap();
    phone.flush().await.unwrap();
}

/// Subscribes `subject` and expects the server to refuse it.
async fn refused_subscribe(
    client: &async_nats::Client,
    errors: &mut UnboundedReceiver<String>,
    who: &str,
    subject: String,
) {
    let _sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();
    expect_violation(errors, &format!("{who} subscribing {subject}")).await;
}

/// Publishes to `subject` and expects the server to refuse it.
async fn refused_publish(
    client: &async_nats::Client,
    errors: &mut UnboundedReceiver<String>,
    who: &str,
    subject: String,
) {
    client
        .publish(subject.clone(), "forged".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    expect_violation(errors, &format!("{who} publishing {subject}")).await;
}

fn kiosk(id: &str) -> TerminalId {
    TerminalId::parse(id).unwrap()
}

#[tokio::test]
async fn a_terminal_cannot_settle_and_its_attempt_never_reaches_the_ledger() {
    let h = Harness::start().await.unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let mut settle = ledger
        .subscribe(subjects::ledger(LedgerOp::Settle))
        .await
        .unwrap();
    // Routed before the forgery is sent, so "never delivered" is not a race.
    assert!(served(&ledger, Role::Ledger).await);
    h.terminal("kiosk-01").await.unwrap();
    let (terminal, mut errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    refused_publish(
        &terminal,
        &mut errors,
        "terminal",
        subjects::ledger(LedgerOp::Settle),
    )
    .await;
    let delivered = tokio::time::timeout(
        Duration::from_millis(300),
        futures::StreamExt::next(&mut settle),
    )
    .await;
    assert!(
        delivered.is_err(),
        "the forged settlement reached the ledger"
    );
    for kind in [
        EventKind::PaymentAuthorized,
        EventKind::PaymentSettled,
        EventKind::PaymentVoided,
        EventKind::PaymentRefunded,
    ] {
        refused_publish(&terminal, &mut errors, "terminal", subjects::event(kind)).await;
    }
    refused_publish(
        &terminal,
        &mut errors,
        "terminal",
        subjects::ledger_refund(&posfee_harness::fixtures::water()),
    )
    .await;
}

#[tokio::test]
async fn a_terminal_hears_only_its_own_pairings_receipts_and_replies() {
    let h = Harness::start().await.unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let kiosk_01 = h.terminal("kiosk-01").await.unwrap();
    h.terminal("kiosk-02").await.unwrap();
    let (kiosk_02, mut errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-02")))
        .await
        .unwrap();
    let tok = PairToken::generate();
    for subject in [
        subjects::receipt(&kiosk("kiosk-01")),
        subjects::receipt_any(),
        subjects::pair_for_terminal(&kiosk("kiosk-01")),
        subjects::pair(&kiosk("kiosk-01"), &tok),
        "posfee.pair.>".to_string(),
        "_INBOX.>".to_string(),
        format!("{}.>", Identity::Terminal(kiosk("kiosk-01")).inbox_prefix()),
        subjects::events_all(),
        subjects::wallet_any(),
    ] {
        refused_subscribe(&kiosk_02, &mut errors, "kiosk-02", subject).await;
    }
    // Nor may it ask for bills in another kiosk's name, or write another kiosk's presence.
    refused_publish(
        &kiosk_02,
        &mut errors,
        "kiosk-02",
        subjects::bill_issue(&kiosk("kiosk-01")),
    )
    .await;
    refused_publish(
        &kiosk_02,
        &mut errors,
        "kiosk-02",
        subjects::terminal_presence(&kiosk("kiosk-01")),
    )
    .await;

    // A receipt for kiosk-01 reaches kiosk-01 and nobody else.
    let mut own = kiosk_01
        .subscribe(subjects::receipt(&kiosk("kiosk-01")))
        .await
        .unwrap();
    // flush() only empties the socket; a request answered by the server proves the
    // subscription is in place before the ledger publishes on another connection.
    assert!(served(&kiosk_01, Identity::Terminal(kiosk("kiosk-01"))).await);
    ledger
        .publish(subjects::receipt(&kiosk("kiosk-01")), "receipt".into())
        .await
        .unwrap();
    ledger.flush().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(3), futures::StreamExt::next(&mut own))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"receipt");
}

#[tokio::test]
async fn a_companion_cannot_listen_to_events_inboxes_pairings_receipts_or_other_phones() {
    let h = Harness::start().await.unwrap();
    let (other, _) = h.phone().await.unwrap();
    let (me, _client) = h.phone().await.unwrap();
    let (companion, mut errors) = h
        .connect_watching(Identity::Device(me.clone()))
        .await
        .unwrap();
    let tok = PairToken::generate();
    for subject in [
        subjects::events_all(),
        "_INBOX.>".to_string(),
        format!("{}.>", Identity::Device(other.clone()).inbox_prefix()),
        format!("{}.>", Identity::Terminal(kiosk("kiosk-01")).inbox_prefix()),
        "posfee.pair.>".to_string(),
        subjects::pair_for_terminal(&kiosk("kiosk-01")),
        "posfee.receipt.>".to_string(),
        subjects::receipt(&kiosk("kiosk-01")),
        subjects::wallet_for_device(&other),
        subjects::wallet(&other, &tok),
        subjects::wallet_any(),
    ] {
        refused_subscribe(&companion, &mut errors, "phone", subject).await;
    }
    // Its own wallet codes are allowed: no error arrives for them.
    let _own = companion
        .subscribe(subjects::wallet(&me, &tok))
        .await
        .unwrap();
    companion.flush().await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), errors.recv()).await;
    assert!(quiet.is_err(), "own wallet refused: {quiet:?}");
    for subject in [
        subjects::event(EventKind::PaymentSettled),
        subjects::ledger(LedgerOp::Settle),
        subjects::bill_issue(&kiosk("kiosk-01")),
    ] {
        refused_publish(&companion, &mut errors, "phone", subject).await;
    }
}

/// A basket is settled on a subject of its own; only paygate may ask there. Every other role,
/// a kiosk and a phone are refused, and the same forgery from paygate's role reaches the
/// ledger (so the refusals are the permissions', not a subject nobody hears).
#[tokio::test]
async fn nobody_but_paygate_may_ask_the_ledger_to_settle_a_basket() {
    let h = Harness::start().await.unwrap();
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let mut baskets = ledger
        .subscribe(subjects::ledger(LedgerOp::SettleBasket))
        .await
        .unwrap();
    assert!(served(&ledger, Role::Ledger).await);
    let subject = subjects::ledger(LedgerOp::SettleBasket);
    let paygate = h.connect(Role::Paygate).await.unwrap();
    paygate
        .publish(subject.clone(), "from paygate".into())
        .await
        .unwrap();
    paygate.flush().await.unwrap();
    let heard = tokio::time::timeout(
        Duration::from_secs(2),
        futures::StreamExt::next(&mut baskets),
    )
    .await
    .expect("paygate's request reached the ledger")
    .unwrap();
    assert_eq!(&heard.payload[..], b"from paygate");
    for role in Role::ALL.iter().filter(|r| **r != Role::Paygate) {
        let (client, mut errors) = h.connect_watching(*role).await.unwrap();
        refused_publish(&client, &mut errors, role.as_str(), subject.clone()).await;
    }
    h.terminal("kiosk-01").await.unwrap();
    let (terminal, mut errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    refused_publish(&terminal, &mut errors, "terminal", subject.clone()).await;
    let (phone, _) = h.phone().await.unwrap();
    let (companion, mut errors) = h.connect_watching(Identity::Device(phone)).await.unwrap();
    refused_publish(&companion, &mut errors, "phone", subject.clone()).await;
    let delivered = tokio::time::timeout(
        Duration::from_millis(300),
        futures::StreamExt::next(&mut baskets),
    )
    .await;
    assert!(delivered.is_err(), "a forged basket reached the ledger");
}

#[tokio::test]
async fn nobody_but_the_ledger_may_publish_a_settlement() {
    let h = Harness::start().await.unwrap();
    for role in Role::ALL.iter().filter(|r| **r != Role::Ledger) {
        let (client, mut errors) = h.connect_watching(*role).await.unwrap();
        refused_publish(
            &client,
            &mut errors,
            role.as_str(),
            subjects::event(EventKind::PaymentSettled),
        )
        .await;
    }
    h.terminal("kiosk-01").await.unwrap();
    let (phone, _) = h.phone().await.unwrap();
    for who in [
        Identity::Terminal(kiosk("kiosk-01")),
        Identity::Device(phone),
    ] {
        let (client, mut errors) = h.connect_watching(who.clone()).await.unwrap();
        refused_publish(
            &client,
            &mut errors,
            &who.to_string(),
            subjects::event(EventKind::PaymentSettled),
        )
        .await;
    }
}

/// Each money service's journal is written by that service only: its own role's append is
/// stored (the probe can succeed), every other role's, a kiosk's and a phone's is refused.
#[tokio::test]
async fn only_the_ledger_and_paygate_write_their_own_journals() {
    let h = Harness::start().await.unwrap();
    h.terminal("kiosk-01").await.unwrap();
    let (phone, _) = h.phone().await.unwrap();
    for (owner, subject) in [
        (Role::Ledger, subjects::ledger_journal("probe")),
        (Role::Paygate, subjects::paygate_journal("probe")),
    ] {
        let js = async_nats::jetstream::new(h.connect(owner).await.unwrap());
        let ack = js
            .publish(subject.clone(), "probe".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(ack.sequence > 0, "{owner:?} could not append to {subject}");
        let others = Role::ALL
            .iter()
            .filter(|r| **r != owner)
            .map(|r| Identity::Role(*r))
            .chain([
                Identity::Terminal(kiosk("kiosk-01")),
                Identity::Device(phone.clone()),
            ]);
        for who in others {
            let (client, mut errors) = h.connect_watching(who.clone()).await.unwrap();
            refused_publish(&client, &mut errors, &who.to_string(), subject.clone()).await;
        }
    }
}

#[tokio::test]
async fn the_operator_reads_but_cannot_write() {
    let h = Harness::start().await.unwrap();
    let (operator, mut errors) = h.connect_watching(Role::Operator).await.unwrap();
    for subject in [
        subjects::event(EventKind::PaymentSettled),
        subjects::event(EventKind::AccountUpserted),
        subjects::ledger(LedgerOp::Settle),
        subjects::ledger_refund(&posfee_harness::fixtures::water()),
        // A phone's and a kiosk's subjects, and the operator's own on another's behalf.
        subjects::paygate(PaygateOp::Pay, &Identity::Role(Role::Operator)),
        subjects::paygate(PaygateOp::Register, &Identity::Role(Role::Operator)),
        subjects::query(QueryKind::Account, &Identity::Terminal(kiosk("kiosk-01"))),
        subjects::paygate(PaygateOp::Payments, &Identity::Role(Role::Query)),
        subjects::bill_issue(&kiosk("kiosk-01")),
        subjects::fee_quote(&Identity::Role(Role::Operator)),
        subjects::receipt(&kiosk("kiosk-01")),
        subjects::terminal_presence(&kiosk("kiosk-01")),
        "$JS.API.STREAM.DELETE.POSFEE_EVENTS".to_string(),
        "$JS.API.STREAM.PURGE.POSFEE_EVENTS".to_string(),
        // Nobody but the admin at set-up may delete another's consumer.
        "$JS.API.CONSUMER.DELETE.POSFEE_EVENTS.some-feed".to_string(),
        "$JS.API.CONSUMER.DELETE.KV_POSFEE_TERMINALS.some-watch".to_string(),
    ] {
        refused_publish(&operator, &mut errors, "operator", subject).await;
    }
    // The probe can succeed: the same delete from the admin is answered by JetStream.
    let admin = h.connect(Role::Admin).await.unwrap();
    let answer = admin
        .request(
            "$JS.API.CONSUMER.DELETE.POSFEE_EVENTS.some-feed",
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer.payload).contains("consumer not found"),
        "{answer:?}"
    );
}

/// `posfee keys` against the running server, as an operator types it.
fn keys(h: &Harness, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_posfee"))
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(h.data().root())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "posfee keys {args:?}: {text}");
    text
}

/// Whether a connection is still served: a round trip through the server comes back.
async fn served(client: &async_nats::Client, who: impl Into<Identity>) -> bool {
    let who = who.into();
    tokio::time::timeout(
        Duration::from_secs(2),
        posfee_client::bus::round_trip(client, &who),
    )
    .await
    .is_ok_and(|r| r.is_ok())
}

// The identity service runs in this process and answers `posfee keys`, run as a child whose
// wait blocks one worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_one_terminal_or_phone_leaves_the_others_connected() {
    let h = Harness::start().await.unwrap();
    h.publish_url_file().unwrap();
    let issued = keys(&h, &["terminal", "kiosk-01"]);
    assert!(issued.contains("terminal kiosk-01 issued"), "{issued}");
    keys(&h, &["terminal", "kiosk-02"]);
    // Phones enrol themselves.
    let (a, _) = h.phone().await.unwrap();
    let (b, _) = h.phone().await.unwrap();
    let listed = keys(&h, &["list", "--json", "--devices", "10"]);
    let devices: Vec<DeviceId> = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "device")
        .map(|v| DeviceId::parse(v["id"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(devices.len(), 2, "{listed}");
    assert!(devices.contains(&a) && devices.contains(&b), "{listed}");

    let k1 = h
        .connect_as(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    let k2 = h
        .connect_as(Identity::Terminal(kiosk("kiosk-02")))
        .await
        .unwrap();
    let pa = h.connect_as(Identity::Device(a.clone())).await.unwrap();
    let pb = h.connect_as(Identity::Device(b.clone())).await.unwrap();
    let who = |t: &str| Identity::Terminal(kiosk(t));
    let (k1_id, k2_id) = (who("kiosk-01"), who("kiosk-02"));
    let (pa_id, pb_id) = (Identity::Device(a.clone()), Identity::Device(b.clone()));
    for (c, id) in [(&k1, &k1_id), (&k2, &k2_id), (&pa, &pa_id), (&pb, &pb_id)] {
        assert!(served(c, id.clone()).await);
    }
    let k1_seed =
        std::fs::read_to_string(h.seed_file(&Identity::Terminal(kiosk("kiosk-01")))).unwrap();
    // A second key for a terminal that has one is refused, without --replace.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_posfee"))
        .args(["keys", "terminal", "kiosk-02", "--data-dir"])
        .arg(h.data().root())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a key"));

    for holder in [["terminal", "kiosk-01"], ["device", a.as_str()]] {
        let mut args = vec!["revoke"];
        args.extend(holder);
        let out = keys(&h, &args);
        let closed: u32 = out
            .split("revoked; ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"));
        assert!(closed >= 1, "{out}");
    }
    // The revoked were cut off before the command returned, and cannot come back ...
    assert!(
        !served(&k1, k1_id.clone()).await,
        "a revoked terminal is still served"
    );
    assert!(!served(&pa, pa_id).await, "a revoked phone is still served");
    // It is let in again only to ask why: nothing a terminal does is served, and the client
    // reports the refusal with what to do.
    let back = async_nats::ConnectOptions::new()
        .nkey(k1_seed.trim().to_string())
        .custom_inbox_prefix(k1_id.inbox_prefix())
        .connection_timeout(Duration::from_secs(2))
        .connect(h.url())
        .await
        .unwrap();
    assert!(
        !served(&back, k1_id.clone()).await,
        "a revoked terminal is served again"
    );
    let refused = posfee_client::bus::connect(
        h.url(),
        k1_id.clone(),
        Some(k1_seed.trim().to_string()),
        "t",
    )
    .await
    .unwrap_err();
    assert!(format!("{refused:#}").contains("revoked"), "{refused:#}");
    // ... while the others were never disturbed.
    assert!(served(&k2, k2_id).await);
    assert!(served(&pb, pb_id).await);
    assert_eq!(
        k2.connection_state(),
        async_nats::connection::State::Connected
    );
    assert!(h
        .connect_as(Identity::Terminal(kiosk("kiosk-02")))
        .await
        .is_ok());
}

#[tokio::test]
async fn every_service_runs_in_process_and_answers_discovery() {
    let mut h = Harness::start().await.unwrap();
    h.start_all(ServiceOptions::default()).await.unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let status =
        posfee_operator::status::collect(&operator, h.url().to_string(), chrono::Utc::now())
            .await
            .unwrap();
    let mut names: Vec<_> = status.services.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "posfee-fee-engine",
            "posfee-identity",
            "posfee-ledger",
            "posfee-paygate",
            "posfee-query"
        ]
    );
    h.stop_service(ServiceName::Ledger).await.unwrap();
    let res = operator
        .request(subjects::srv::ping_service("posfee-ledger"), "".into())
        .await;
    assert!(res.is_err(), "a stopped ledger still answers");
}

/// A kiosk listening on its receipts, the subscription in place at the server (so "never
/// delivered" afterwards is not a race).
async fn hearing_receipts(h: &Harness, id: &str) -> (async_nats::Client, async_nats::Subscriber) {
    let client = h.terminal(id).await.unwrap();
    let receipts = client
        .subscribe(subjects::receipt(&kiosk(id)))
        .await
        .unwrap();
    assert!(served(&client, Identity::Terminal(kiosk(id))).await);
    (client, receipts)
}

/// What has reached `sub` by now: a round trip through the server on its connection first, so
/// everything routed to it before has arrived.
async fn arrived(
    client: &async_nats::Client,
    who: Identity,
    sub: &mut async_nats::Subscriber,
) -> usize {
    use futures::{FutureExt, StreamExt};
    assert!(served(client, who).await);
    let mut n = 0;
    while let Some(Some(_)) = sub.next().now_or_never() {
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_service_answers_only_into_the_askers_own_inbox() {
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Paygate, ServiceOptions::default())
        .await
        .unwrap();
    let (victim, mut receipts) = hearing_receipts(&h, "kiosk-02").await;
    let (device, phone) = h.phone().await.unwrap();
    let (other, other_phone) = h.phone().await.unwrap();
    let other_id = Identity::Device(other.clone());
    let stolen = format!("{}.stolen", other_id.inbox_prefix());
    let mut other_inbox = other_phone.subscribe(stolen.clone()).await.unwrap();
    assert!(served(&other_phone, other_id.clone()).await);
    let register = subjects::paygate(PaygateOp::Register, &Identity::Device(device));
    // The reply aimed at another kiosk's receipts, then at another phone's inbox, then the
    // same request asked properly.
    phone
        .publish_with_reply(
            register.clone(),
            subjects::receipt(&kiosk("kiosk-02")),
            "garbage".into(),
        )
        .await
        .unwrap();
    phone
        .publish_with_reply(register.clone(), stolen, "garbage".into())
        .await
        .unwrap();
    // Nor can it ask in the other phone's name.
    let (asked_as_other, mut errors) = h
        .connect_watching(Identity::Device(device_of(&phone)))
        .await
        .unwrap();
    refused_publish(
        &asked_as_other,
        &mut errors,
        "a phone",
        subjects::paygate(PaygateOp::Register, &other_id),
    )
    .await;
    let answer = phone.request(register, "garbage".into()).await.unwrap();
    // The probe can succeed: paygate does answer this request, with its refusal.
    let refused = posfee_client::call::error_from_headers(&answer).unwrap();
    assert_eq!(refused.code, posfee_schemas::ErrorCode::BadRequest);
    assert_eq!(
        arrived(
            &victim,
            Identity::Terminal(kiosk("kiosk-02")),
            &mut receipts
        )
        .await,
        0,
        "the answer reached kiosk-02's receipts"
    );
    assert_eq!(
        arrived(&other_phone, other_id, &mut other_inbox).await,
        0,
        "the answer reached another phone's inbox"
    );
}

/// The phone a connection is, from its inbox.
fn device_of(client: &async_nats::Client) -> DeviceId {
    match posfee_harness::asker(client) {
        Identity::Device(d) => d,
        other => panic!("not a phone: {other}"),
    }
}

#[tokio::test]
async fn a_kiosk_answers_a_join_only_on_a_wallet_subject_of_the_phone() {
    use posfee_schemas::pairing::{BillOffer, PairJoin};
    let mut h = Harness::start().await.unwrap();
    for s in [ServiceName::FeeEngine, ServiceName::Query] {
        h.start_service(s, ServiceOptions::default()).await.unwrap();
    }
    let importer = h.connect(Role::Importer).await.unwrap();
    let account = posfee_schemas::ids::AccountNo::parse("3-1-1202").unwrap();
    posfee_harness::fixtures::import_water_households(
        &importer,
        &h.signer(Role::Importer),
        std::slice::from_ref(&account),
    )
    .await
    .unwrap();
    let clock = std::sync::Arc::new(posfee_client::ManualClock::new(
        posfee_harness::fixtures::billing_now(),
    ));
    let a = h
        .kiosk(&kiosk("kiosk-01"), Duration::from_secs(30), clock)
        .await
        .unwrap();
    let (victim, mut receipts) = hearing_receipts(&h, "kiosk-02").await;
    let shown = posfee_pos_agent::bill::issue(
        &a,
        posfee_schemas::fee::QuoteRequest {
            tenant: posfee_harness::fixtures::water(),
            account,
            kinds: vec![],
            as_of: None,
            prepay_months: None,
            top_up: None,
        },
    )
    .await
    .unwrap();
    let open = posfee_pos_agent::pairing::open(&a, std::slice::from_ref(&shown), None)
        .await
        .unwrap();
    let token = open.code.token().clone();
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move {
            open.wait(&a, &posfee_pos_agent::CancellationToken::new())
                .await
        })
    };
    let (device, phone) = h.phone().await.unwrap();
    let join = PairJoin {
        terminal: kiosk("kiosk-01"),
        bill_id: None,
        notify: None,
    };
    let subject = subjects::pair(&kiosk("kiosk-01"), &token);
    // Aimed at another kiosk's receipts: not a phone's wallet subject, never answered.
    phone
        .publish_with_reply(
            subject.clone(),
            subjects::receipt(&kiosk("kiosk-02")),
            posfee_schemas::encode(&join).into(),
        )
        .await
        .unwrap();
    // Asked into the phone's own inbox, as before contract 0.2: not answered either, and
    // the code is not spent by it.
    let inbox = posfee_client::call::<_, BillOffer>(
        &phone,
        subject.clone(),
        &join,
        Some(Duration::from_millis(500)),
    )
    .await;
    assert!(
        matches!(inbox, Err(posfee_client::CallError::TimedOut(_))),
        "a join into an inbox was answered: {inbox:?}"
    );
    // The probe can succeed: the same join answered on one of the phone's wallet subjects
    // gets the bill.
    let offer: BillOffer = posfee_client::peer::ask(
        &phone,
        &Identity::Device(device),
        subject,
        &join,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(offer.bill.bill_id, shown.issued.bill_id);
    waiting.await.unwrap().unwrap();
    assert_eq!(
        arrived(
            &victim,
            Identity::Terminal(kiosk("kiosk-02")),
            &mut receipts
        )
        .await,
        0,
        "the bill reached kiosk-02's receipts"
    );
}

#[tokio::test]
async fn an_event_body_claiming_another_kind_is_never_shown_as_that_kind() {
    use posfee_schemas::events::{Event, EventBody, PairingEnded, PaymentSettled};
    use posfee_schemas::ids::*;
    let h = Harness::start().await.unwrap();
    h.publish_url_file().unwrap();
    // The one identity that may write pairing events (recording kiosks' reports), compromised.
    let writer = h.connect(Role::Query).await.unwrap();
    let js = async_nats::jetstream::new(writer);
    let at = posfee_harness::fixtures::billing_now();
    let forged = Event::new(
        EventId::new_random(),
        at,
        EventBody::PaymentSettled(PaymentSettled {
            payment_id: PaymentId::new_random(),
            bill_id: BillId::new_random(),
            tenant: posfee_harness::fixtures::water(),
            account: AccountNo::parse("3-1-1202").unwrap(),
            terminal: kiosk("kiosk-01"),
            payer: PayerHandle::parse("p-forged").unwrap(),
            amount: posfee_schemas::money::Money::cny(123_456),
            settled_at: at,
            receipt: None,
        }),
    );
    // It may publish pairing events, and seals them (its authority too is the thief's); this
    // one's body says it is a settlement.
    let pairing = subjects::event(EventKind::PairingJoined);
    let signer = h.signer(Role::Query);
    let (_, msg) = posfee_client::sealed::message(&forged, &signer);
    js.send_publish(pairing.clone(), msg)
        .await
        .unwrap()
        .await
        .unwrap();
    // A genuine pairing event beside it, so the listing is known to read what is there.
    let genuine = Event::new(
        EventId::new_random(),
        at,
        EventBody::PairingJoined(PairingEnded {
            more_bills: Vec::new(),
            terminal: kiosk("kiosk-01"),
            bill_id: BillId::new_random(),
            mode: posfee_schemas::pairing::PairMode::TerminalPresents,
            opened_at: at,
            expires_at: at,
        }),
    );
    // And one written with the seed but not sealed.
    let mut unsealed = genuine.clone();
    unsealed.id = EventId::new_random();
    js.publish(pairing.clone(), posfee_schemas::encode(&unsealed).into())
        .await
        .unwrap()
        .await
        .unwrap();
    let (subject, msg) = posfee_client::sealed::message(&genuine, &signer);
    assert_eq!(subject, pairing);
    js.send_publish(subject, msg).await.unwrap().await.unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_posfee"))
        .args([
            "events",
            "--json",
            "--no-follow",
            "--since",
            "start",
            "--data-dir",
        ])
        .arg(h.data().root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&genuine.id.to_string()),
        "the genuine event is missing:\n{text}"
    );
    assert!(
        !text.contains("payment.settled"),
        "a forged settlement was listed:\n{text}"
    );
    assert!(!text.contains(&forged.id.to_string()), "{text}");
    assert!(
        !text.contains(&unsealed.id.to_string()),
        "an unsealed event was listed:\n{text}"
    );
}

#[tokio::test]
async fn nobody_can_roll_up_a_bucket_over_the_others_keys() {
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Query, ServiceOptions::default())
        .await
        .unwrap();
    let clock = std::sync::Arc::new(posfee_client::ManualClock::new(
        posfee_harness::fixtures::billing_now(),
    ));
    // Two kiosks announce themselves the ordinary way.
    let a = h
        .kiosk(&kiosk("kiosk-01"), Duration::from_secs(30), clock.clone())
        .await
        .unwrap();
    let b = h
        .kiosk(&kiosk("kiosk-02"), Duration::from_secs(30), clock)
        .await
        .unwrap();
    let _pa = posfee_pos_agent::presence::Presence::announce(&a).await;
    let _pb = posfee_pos_agent::presence::Presence::announce(&b).await;
    // A kiosk has no JetStream rights: the bucket is written for it by the query service,
    // which the server lets write plain values and nothing else.
    let (raw, mut errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    refused_publish(
        &raw,
        &mut errors,
        "kiosk-01",
        subjects::terminal_presence(&kiosk("kiosk-01")),
    )
    .await;
    // Recording another kiosk's heartbeat on its own subject is refused by the query service.
    let mut forged = posfee_schemas::terminal::TerminalSeen {
        terminal: kiosk("kiosk-02"),
        state: posfee_schemas::terminal::TerminalState::Offline,
        last_seen: posfee_harness::fixtures::billing_now(),
        heartbeat_secs: 1,
        version: String::new(),
    };
    let refused: Result<posfee_schemas::terminal::TerminalSeen, _> = posfee_client::call(
        &a.client,
        subjects::terminal_seen(&kiosk("kiosk-01")),
        &forged,
        None,
    )
    .await;
    assert_eq!(
        refused.unwrap_err().remote().map(|e| e.code),
        Some(posfee_schemas::ErrorCode::Forbidden)
    );
    // The probe can succeed: its own heartbeat is recorded.
    forged.terminal = kiosk("kiosk-01");
    let _: posfee_schemas::terminal::TerminalSeen = posfee_client::call(
        &a.client,
        subjects::terminal_seen(&kiosk("kiosk-01")),
        &forged,
        None,
    )
    .await
    .unwrap();
    // The role that writes the bucket may write plainly, but a roll-up is refused.
    let query = h.connect(Role::Query).await.unwrap();
    let js = async_nats::jetstream::new(query);
    let own_key = subjects::terminal_presence(&kiosk("kiosk-01"));
    js.publish(own_key.clone(), "plain".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Rollup", "all");
    let rolled = js
        .publish_with_headers(own_key, headers, "wipe".into())
        .await
        .unwrap()
        .await;
    assert!(rolled.is_err(), "a roll-up was stored");
    let operator = h.connect(Role::Operator).await.unwrap();
    let bucket = async_nats::jetstream::new(operator)
        .get_key_value(subjects::TERMINALS_BUCKET)
        .await
        .unwrap();
    assert!(
        bucket.get("kiosk-02").await.unwrap().is_some(),
        "kiosk-02's presence is gone"
    );

    // The key directory likewise: a signer's roll-up of its own key is refused.
    let fee_engine = h.connect(Role::FeeEngine).await.unwrap();
    let js = async_nats::jetstream::new(fee_engine);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Rollup", "all");
    let subject = format!("$KV.{}.bill.some-key", subjects::KEYS_BUCKET);
    js.publish(subject.clone(), "plain".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let rolled = js
        .publish_with_headers(subject, headers, "wipe".into())
        .await
        .unwrap()
        .await;
    assert!(rolled.is_err(), "a roll-up of the key directory was stored");
}

#[tokio::test]
async fn a_kiosk_reports_only_its_own_pairing_and_presence_events_and_cannot_write_the_stream() {
    use posfee_schemas::events::{EventBody, PairingEnded, TerminalEvent};
    use posfee_schemas::ids::{BillId, EventId};
    use posfee_schemas::terminal::TerminalReport;
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Query, ServiceOptions::default())
        .await
        .unwrap();
    h.terminal("kiosk-01").await.unwrap();
    let (client, mut errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    let report = |terminal: &str, body: fn(TerminalId) -> EventBody| TerminalReport {
        report_id: EventId::new_random(),
        at: posfee_harness::fixtures::billing_now(),
        body: body(kiosk(terminal)),
    };
    let subject = subjects::terminal_report(&kiosk("kiosk-01"));
    let joined = |t: TerminalId| {
        EventBody::PairingJoined(PairingEnded {
            more_bills: Vec::new(),
            terminal: t,
            bill_id: BillId::new_random(),
            mode: posfee_schemas::pairing::PairMode::TerminalPresents,
            opened_at: posfee_harness::fixtures::billing_now(),
            expires_at: posfee_harness::fixtures::billing_now(),
        })
    };
    // The probe can succeed: its own event is stored.
    let own: posfee_schemas::events::Event =
        posfee_client::call(&client, subject.clone(), &report("kiosk-01", joined), None)
            .await
            .unwrap();
    assert_eq!(own.kind(), EventKind::PairingJoined);
    // Another kiosk's event is refused.
    let foreign = posfee_client::call::<_, posfee_schemas::events::Event>(
        &client,
        subject.clone(),
        &report("kiosk-02", joined),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        foreign.remote().unwrap().code,
        posfee_schemas::ErrorCode::Forbidden
    );
    // So is any kind but its pairing and presence events.
    let online = |t: TerminalId| {
        EventBody::TerminalOnline(TerminalEvent {
            terminal: t,
            version: "x".into(),
        })
    };
    let fine: posfee_schemas::events::Event =
        posfee_client::call(&client, subject, &report("kiosk-01", online), None)
            .await
            .unwrap();
    assert_eq!(fine.kind(), EventKind::TerminalOnline);
    // And the stream's subjects are not the kiosk's to publish on at all.
    refused_publish(
        &client,
        &mut errors,
        "kiosk-01",
        subjects::event(EventKind::PairingJoined),
    )
    .await;
}

/// Where a relayed message would land, and how a test sees whether it did.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Another kiosk's receipts: a receipt printed for nothing.
    Receipt,
    /// The event stream: a forged `payment.settled`.
    EventStream,
    /// The key directory: a forged bill key.
    KeyBucket,
    /// The JetStream API: a consumer delivering the whole event stream to the phone.
    ConsumerCreate,
    /// The JetStream API: a consumer delivering the ledger's whole journal (entries, not
    /// only the events they carry) to the phone.
    LedgerConsumer,
    /// The same on paygate's journal, whose entries name payers.
    PaygateConsumer,
    /// The JetStream API: the books deleted.
    StreamDelete,
    /// The ledger's settle subject.
    LedgerSettle,
}

impl Target {
    const ALL: [Target; 8] = [
        Target::Receipt,
        Target::EventStream,
        Target::KeyBucket,
        Target::ConsumerCreate,
        Target::LedgerConsumer,
        Target::PaygateConsumer,
        Target::StreamDelete,
        Target::LedgerSettle,
    ];

    fn subject(self) -> String {
        match self {
            Target::Receipt => subjects::receipt(&kiosk("kiosk-02")),
            Target::EventStream => subjects::event(EventKind::PaymentSettled),
            Target::KeyBucket => format!("$KV.{}.bill.relayed", subjects::KEYS_BUCKET),
            Target::ConsumerCreate | Target::LedgerConsumer | Target::PaygateConsumer => {
                format!("$JS.API.CONSUMER.CREATE.{}", target_stream(self))
            }
            Target::StreamDelete => format!("$JS.API.STREAM.DELETE.{}", subjects::LEDGER_JOURNAL),
            Target::LedgerSettle => subjects::ledger(LedgerOp::Settle),
        }
    }

    /// What a thief would send there.
    fn payload(self, phone: &DeviceId) -> bytes::Bytes {
        match self {
            Target::ConsumerCreate | Target::LedgerConsumer | Target::PaygateConsumer => serde_json::json!({
                "stream_name": target_stream(self),
                "config": {
                    "deliver_subject": format!("{}.stolen", Identity::Device(phone.clone()).inbox_prefix()),
                    "deliver_policy": "all",
                    "ack_policy": "none",
                },
            })
            .to_string()
            .into(),
            _ => "forged".into(),
        }
    }
}

/// The stream a consumer target reads.
fn target_stream(target: Target) -> &'static str {
    match target {
        Target::LedgerConsumer => subjects::LEDGER_JOURNAL,
        Target::PaygateConsumer => subjects::PAYGATE_JOURNAL,
        _ => subjects::EVENTS_STREAM,
    }
}

/// What each target holds, read by roles that may read it: receipts heard by kiosk-02, the
/// settle subject heard by the ledger, the streams and the bucket through the admin.
struct Watch {
    admin: async_nats::jetstream::Context,
    victim: async_nats::Client,
    receipts: async_nats::Subscriber,
    ledger: async_nats::Client,
    settles: async_nats::Subscriber,
}

impl Watch {
    async fn new(h: &Harness) -> Watch {
        let admin = async_nats::jetstream::new(h.connect(Role::Admin).await.unwrap());
        let (victim, receipts) = hearing_receipts(h, "kiosk-02").await;
        let ledger = h.connect(Role::Ledger).await.unwrap();
        let settles = ledger
            .subscribe(subjects::ledger(LedgerOp::Settle))
            .await
            .unwrap();
        assert!(served(&ledger, Role::Ledger).await);
        Watch {
            admin,
            victim,
            receipts,
            ledger,
            settles,
        }
    }

    /// How many messages of this kind the target shows: delivered, stored, written or alive.
    async fn count(&mut self, target: Target) -> u64 {
        match target {
            Target::Receipt => {
                arrived(
                    &self.victim,
                    Identity::Terminal(kiosk("kiosk-02")),
                    &mut self.receipts,
                )
                .await as u64
            }
            Target::LedgerSettle => {
                arrived(
                    &self.ledger,
                    Identity::Role(Role::Ledger),
                    &mut self.settles,
                )
                .await as u64
            }
            Target::EventStream => self.stream(subjects::EVENTS_STREAM).await.state.messages,
            Target::ConsumerCreate | Target::LedgerConsumer | Target::PaygateConsumer => {
                self.stream(target_stream(target))
                    .await
                    .state
                    .consumer_count as u64
            }
            Target::StreamDelete => self
                .admin
                .get_stream(subjects::LEDGER_JOURNAL)
                .await
                .map_or(0, |_| 1),
            Target::KeyBucket => {
                let kv = self
                    .admin
                    .get_key_value(subjects::KEYS_BUCKET)
                    .await
                    .unwrap();
                kv.status().await.unwrap().values()
            }
        }
    }

    async fn stream(&self, name: &str) -> async_nats::jetstream::stream::Info {
        let mut s = self.admin.get_stream(name).await.unwrap();
        s.info().await.unwrap().clone()
    }

    /// The probe can succeed: a role that may write the target does, and the count moves.
    async fn proven(&mut self, h: &Harness, target: Target, phone: &DeviceId) {
        let before = self.count(target).await;
        let (writer, subject) = match target {
            Target::Receipt => (Role::Ledger, target.subject()),
            Target::EventStream => (Role::Ledger, target.subject()),
            Target::KeyBucket => (
                Role::FeeEngine,
                format!("$KV.{}.bill.proven", subjects::KEYS_BUCKET),
            ),
            // The operator reads every stream (the journals for the events they carry).
            Target::ConsumerCreate | Target::LedgerConsumer | Target::PaygateConsumer => {
                (Role::Operator, target.subject())
            }
            Target::LedgerSettle => (Role::Paygate, target.subject()),
            // Only the admin deletes streams: shown on a stream of its own.
            Target::StreamDelete => {
                self.admin
                    .create_stream(async_nats::jetstream::stream::Config {
                        name: "SCRATCH".into(),
                        subjects: vec!["scratch.>".into()],
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                self.admin.delete_stream("SCRATCH").await.unwrap();
                assert!(self.admin.get_stream("SCRATCH").await.is_err());
                return;
            }
        };
        let client = h.connect(writer).await.unwrap();
        let answer = client.request(subject, target.payload(phone)).await;
        if matches!(
            target,
            Target::KeyBucket
                | Target::EventStream
                | Target::ConsumerCreate
                | Target::LedgerConsumer
                | Target::PaygateConsumer
        ) {
            answer.unwrap_or_else(|e| panic!("{writer} writing {target:?}: {e}"));
        }
        let after = self.count(target).await;
        assert!(
            after > before,
            "{writer} could not write {target:?}: the watch cannot see it"
        );
    }
}

/// One side of the relay: a connection that hears `channel` and is watched for the server's
/// refusals.
struct Side {
    client: async_nats::Client,
    errors: UnboundedReceiver<String>,
    who: Identity,
}

impl Side {
    /// A fresh subject this side hears and the other side may publish on.
    fn channel(&self) -> String {
        posfee_client::peer::answer_subject(&self.who).unwrap()
    }
}

/// `asker` sends a message on a subject `relayer` hears, naming `reply` as its reply subject;
/// the relayer's client (a thief's, which checks nothing) publishes `payload` on that reply.
/// Returns the relayer's refusal, if the server refused.
async fn relay(
    asker: &Side,
    relayer: &mut Side,
    reply: String,
    payload: bytes::Bytes,
) -> Option<String> {
    let channel = relayer.channel();
    relay_on(&asker.client, relayer, channel, reply, payload).await
}

/// [`relay`] on a `channel` the relayer hears and `asker` may publish on.
async fn relay_on(
    asker: &async_nats::Client,
    relayer: &mut Side,
    channel: String,
    reply: String,
    payload: bytes::Bytes,
) -> Option<String> {
    use futures::StreamExt;
    let mut heard = relayer.client.subscribe(channel.clone()).await.unwrap();
    match &relayer.who {
        // A role's flushed subscription is in place on this one server.
        // A role's subscription is in place once a probe from the asker arrives on it.
        Identity::Role(_) => {
            assert!(
                posfee_harness::hears(asker, &mut heard, &channel).await,
                "{} never heard the asker on {channel}",
                relayer.who
            );
        }
        who => assert!(served(&relayer.client, who.clone()).await),
    }
    asker
        .publish_with_reply(channel.clone(), reply.clone(), "relay this".into())
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(3), heard.next())
        .await
        .unwrap_or_else(|_| panic!("{} never heard the asker on {channel}", relayer.who))
        .unwrap();
    assert_eq!(msg.reply.as_deref(), Some(reply.as_str()));
    relayer
        .client
        .publish(msg.reply.unwrap(), payload)
        .await
        .unwrap();
    relayer.client.flush().await.unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(3), relayer.errors.recv()).await;
    refused.ok().flatten()
}

#[tokio::test]
async fn a_stolen_kiosk_and_a_phone_cannot_relay_each_other_onto_any_subject() {
    let h = Harness::start().await.unwrap();
    h.terminal("kiosk-01").await.unwrap();
    let kiosk_who = Identity::Terminal(kiosk("kiosk-01"));
    let (client, errors) = h.connect_watching(kiosk_who.clone()).await.unwrap();
    let mut thief_kiosk = Side {
        client,
        errors,
        who: kiosk_who,
    };
    let (device, _) = h.phone().await.unwrap();
    let phone_who = Identity::Device(device.clone());
    let (client, errors) = h.connect_watching(phone_who.clone()).await.unwrap();
    let mut thief_phone = Side {
        client,
        errors,
        who: phone_who,
    };

    // The probe can succeed: through either side, a reply on a subject the relayer may
    // publish itself arrives (a kiosk answering a phone, a phone answering a kiosk).
    for kiosk_asks in [true, false] {
        use futures::StreamExt;
        let (asker, relayer) = match kiosk_asks {
            true => (&thief_kiosk, &mut thief_phone),
            false => (&thief_phone, &mut thief_kiosk),
        };
        let back = asker.channel();
        let mut answers = asker.client.subscribe(back.clone()).await.unwrap();
        assert!(served(&asker.client, asker.who.clone()).await);
        let refused = relay(asker, relayer, back, "answer".into()).await;
        assert_eq!(
            refused, None,
            "{} could not answer {}",
            relayer.who, asker.who
        );
        let got = tokio::time::timeout(Duration::from_secs(3), answers.next()).await;
        assert_eq!(got.unwrap().unwrap().payload, "answer");
    }

    let mut watch = Watch::new(&h).await;
    for target in Target::ALL {
        watch.proven(&h, target, &device).await;
        for kiosk_asks in [true, false] {
            let (asker, relayer) = match kiosk_asks {
                true => (&thief_kiosk, &mut thief_phone),
                false => (&thief_phone, &mut thief_kiosk),
            };
            let before = watch.count(target).await;
            let refused = relay(asker, relayer, target.subject(), target.payload(&device)).await;
            let refused = refused.unwrap_or_else(|| {
                panic!(
                    "{} relayed {target:?} for {} unrefused",
                    relayer.who, asker.who
                )
            });
            assert!(
                refused.to_lowercase().contains("permissions violation"),
                "{target:?}: unexpected server error {refused}"
            );
            assert_eq!(
                watch.count(target).await,
                before,
                "{} relayed {target:?} for {}",
                relayer.who,
                asker.who
            );
        }
    }
}

/// A subject `role` serves that `asker` may send on, or, without an asker, the service's own
/// discovery subject, which it may both publish (it pings itself) and hear.
fn served_subject(role: Role, asker: Option<&Identity>) -> String {
    match (role, asker) {
        (Role::FeeEngine, Some(Identity::Terminal(t))) => subjects::bill_issue(t),
        (Role::Query, Some(Identity::Terminal(t))) => subjects::terminal_seen(t),
        (Role::Ledger, Some(Identity::Terminal(t))) => subjects::ledger_close(t),
        (Role::Paygate, Some(me @ Identity::Device(_))) => subjects::paygate(PaygateOp::Pay, me),
        (Role::Identity, Some(Identity::Device(d))) => subjects::identity_enrol(d),
        (_, None) => {
            let name = ServiceName::ALL.iter().find(|n| n.role() == role).unwrap();
            format!("{}.relay", subjects::srv::ping_service(name.as_str()))
        }
        other => panic!("no served subject for {other:?}"),
    }
}

#[tokio::test]
async fn a_leaked_service_seed_cannot_relay_onto_any_subject_with_a_kiosk_a_phone_or_itself() {
    let h = Harness::start().await.unwrap();
    h.terminal("kiosk-01").await.unwrap();
    let thief_kiosk = Identity::Terminal(kiosk("kiosk-01"));
    let kiosk_client = h.connect_as(thief_kiosk.clone()).await.unwrap();
    let (device, phone_client) = h.phone().await.unwrap();
    let thief_phone = Identity::Device(device.clone());
    let mut watch = Watch::new(&h).await;
    for role in [
        Role::FeeEngine,
        Role::Query,
        Role::Ledger,
        Role::Paygate,
        Role::Identity,
    ] {
        let (client, errors) = h.connect_watching(Identity::Role(role)).await.unwrap();
        let mut leaked = Side {
            client,
            errors,
            who: Identity::Role(role),
        };
        let edge = match role {
            Role::Paygate | Role::Identity => (&thief_phone, &phone_client),
            _ => (&thief_kiosk, &kiosk_client),
        };
        // The probe can succeed: the service answers its asker's own inbox, and itself.
        for (asker, client) in [(Some(edge.0), edge.1), (None, &leaked.client.clone())] {
            use futures::StreamExt;
            let inbox = client.new_inbox();
            let mut answers = client.subscribe(inbox.clone()).await.unwrap();
            client.flush().await.unwrap();
            let channel = served_subject(role, asker);
            let refused = relay_on(client, &mut leaked, channel, inbox, "answer".into()).await;
            assert_eq!(refused, None, "{role} could not answer {asker:?}");
            // (The genuine identity service answers the enrolment too, with a refusal.)
            let answered = tokio::time::timeout(Duration::from_secs(3), async {
                while let Some(m) = answers.next().await {
                    if m.payload == "answer" {
                        return true;
                    }
                }
                false
            });
            assert!(
                answered.await.unwrap_or(false),
                "{role} never answered {asker:?}"
            );
        }
        // What the role may publish by itself is no relay (and is why its records need its
        // authority's signature besides).
        let own = posfee_deploy::authz::role(role).publish;
        for target in Target::ALL
            .into_iter()
            .filter(|t| !own.iter().any(|p| subject_matches(p, &t.subject())))
        {
            for (asker, client) in [(Some(edge.0), edge.1), (None, &leaked.client.clone())] {
                let before = watch.count(target).await;
                let channel = served_subject(role, asker);
                let refused = relay_on(
                    client,
                    &mut leaked,
                    channel,
                    target.subject(),
                    target.payload(&device),
                )
                .await
                .unwrap_or_else(|| panic!("{role} relayed {target:?} for {asker:?} unrefused"));
                assert!(
                    refused.to_lowercase().contains("permissions violation"),
                    "{target:?}: unexpected server error {refused}"
                );
                assert_eq!(
                    watch.count(target).await,
                    before,
                    "{role} relayed {target:?} for {asker:?}"
                );
            }
        }
    }
}

/// Whether `pattern` (with `*` and `>`) names `subject`.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let (mut p, mut s) = (pattern.split('.'), subject.split('.'));
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some(x), Some(y)) if x == y || x == "*" => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A correction of a registration is asked only on the asking phone's own subject, and the
/// payee list only by a kiosk for itself: a stolen kiosk key, another phone and a phone asking
/// for payees are refused by the server. Each probe is first shown to succeed for the
/// identity it belongs to.
#[tokio::test]
async fn only_a_phone_asks_to_correct_itself_and_only_a_kiosk_lists_payees() {
    use posfee_schemas::fee::{Payees, PayeesRequest};
    use posfee_schemas::paygate::{AmendReply, AmendRequest};
    let mut h = Harness::start().await.unwrap();
    h.start_all(ServiceOptions::default()).await.unwrap();
    let (me, phone) = h.phone().await.unwrap();
    let terminal = h.terminal("kiosk-01").await.unwrap();
    let mine = Identity::Device(me.clone());
    let amend = subjects::paygate(PaygateOp::Amend, &mine);
    let payees = subjects::fee_payees(&Identity::Terminal(kiosk("kiosk-01")));
    // The probes succeed for their owners: the list comes back, the correction reaches paygate
    // (which answers that no such device key is registered).
    let listed: Payees = posfee_client::call(&terminal, payees.clone(), &PayeesRequest {}, None)
        .await
        .unwrap();
    assert!(!listed.payees.is_empty());
    let correction = AmendRequest::signed(
        Some("王五".into()),
        None,
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        posfee_schemas::ids::KeyId::parse("dev-0000000000000009").unwrap(),
    );
    let reached = posfee_client::call::<_, AmendReply>(&phone, amend.clone(), &correction, None)
        .await
        .unwrap_err();
    assert_eq!(
        reached.remote().map(|e| e.code),
        Some(posfee_schemas::ErrorCode::PayerNotFound),
        "{reached}"
    );
    // Denied to the others, the kiosk and another phone one person may hold together.
    let (kiosk_w, mut kiosk_errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    refused_publish(&kiosk_w, &mut kiosk_errors, "kiosk", amend.clone()).await;
    let (other, _) = h.phone().await.unwrap();
    let (other_w, mut other_errors) = h
        .connect_watching(Identity::Device(other.clone()))
        .await
        .unwrap();
    refused_publish(&other_w, &mut other_errors, "another phone", amend).await;
    refused_publish(&other_w, &mut other_errors, "a phone", payees).await;
    refused_publish(
        &other_w,
        &mut other_errors,
        "a phone",
        subjects::fee_payees(&Identity::Device(other)),
    )
    .await;
}

#[tokio::test]
async fn only_the_operator_may_ask_the_services_for_their_metrics() {
    use futures::StreamExt;
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Identity, ServiceOptions::default())
        .await
        .unwrap();
    // Every service instance hears the request, as the ledger's connection here.
    let ledger = h.connect(Role::Ledger).await.unwrap();
    let mut asked = ledger.subscribe(subjects::METRICS).await.unwrap();
    ledger.flush().await.unwrap();
    // The probe can succeed: the operator's request reaches it, with the operator's inbox
    // to answer into.
    let operator = h.connect(Role::Operator).await.unwrap();
    operator
        .publish_with_reply(subjects::METRICS, operator.new_inbox(), "".into())
        .await
        .unwrap();
    operator.flush().await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(3), asked.next())
        .await
        .unwrap()
        .unwrap();
    let operator_inbox = subjects::inbox_prefix(Role::Operator);
    assert!(
        subjects::is_reply_for(heard.reply.as_deref().unwrap(), Some(&operator_inbox)),
        "{heard:?}"
    );
    // A kiosk and a phone, held by one thief, can neither ask nor listen for the answers.
    h.terminal("kiosk-01").await.unwrap();
    let (kiosk_bus, mut kiosk_errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    let (device, _) = h.phone().await.unwrap();
    let (phone_bus, mut phone_errors) = h.connect_watching(Identity::Device(device)).await.unwrap();
    for (bus, errors, who) in [
        (&kiosk_bus, &mut kiosk_errors, "kiosk"),
        (&phone_bus, &mut phone_errors, "phone"),
    ] {
        refused_publish(bus, errors, who, subjects::METRICS.to_string()).await;
        refused_subscribe(bus, errors, who, subjects::METRICS.to_string()).await;
    }
    // Nothing of theirs reached the service.
    let more = tokio::time::timeout(Duration::from_millis(300), asked.next()).await;
    assert!(more.is_err(), "{more:?}");
}

#[tokio::test]
async fn only_the_operator_erases_a_payer_not_a_kiosk_a_phone_or_the_two_together() {
    use posfee_schemas::paygate::{EraseReply, EraseRequest};
    let mut h = Harness::start().await.unwrap();
    h.start_all(ServiceOptions::default()).await.unwrap();
    let nobody = EraseRequest {
        payer: posfee_schemas::ids::PayerHandle::parse("p-000000000000000000000000").unwrap(),
    };
    // The probe reaches paygate for the operator: it answers that there is no such payer.
    let operator = h.connect(Role::Operator).await.unwrap();
    let as_operator = subjects::paygate(PaygateOp::Erase, &Identity::Role(Role::Operator));
    let reached =
        posfee_client::call::<_, EraseReply>(&operator, as_operator.clone(), &nobody, None)
            .await
            .unwrap_err();
    assert!(reached.remote().is_some(), "{reached}");
    // A kiosk and a phone (one thief may hold both) may not ask, as themselves or as the
    // operator.
    let _kiosk = h.terminal("kiosk-01").await.unwrap();
    let (me, _) = h.phone().await.unwrap();
    let (phone_w, mut phone_errors) = h
        .connect_watching(Identity::Device(me.clone()))
        .await
        .unwrap();
    let (kiosk_w, mut kiosk_errors) = h
        .connect_watching(Identity::Terminal(kiosk("kiosk-01")))
        .await
        .unwrap();
    for subject in [
        as_operator,
        subjects::paygate(PaygateOp::Erase, &Identity::Device(me)),
        subjects::paygate(PaygateOp::Erase, &Identity::Terminal(kiosk("kiosk-01"))),
    ] {
        refused_publish(&phone_w, &mut phone_errors, "a phone", subject.clone()).await;
        refused_publish(&kiosk_w, &mut kiosk_errors, "a kiosk", subject).await;
    }
}
