//! Phones enrolling their own keys through the identity service, and keys the system refuses
//! learning why: what is refused, that a refusal changes nothing, and that a crowd making
//! keys behind one address cannot keep a genuine phone out. (Who may connect and revocation:
//! tests/bus_roles.rs.)
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{bus, enrol, CallError};
use posfee_harness::{Harness, ServiceOptions};
use posfee_schemas::identity::{
    EnrolRequest, Holder, IssueReply, IssueRequest, KeyState, CONNECT_STAMP_BITS,
};
use posfee_schemas::ids::{DeviceId, TerminalId};
use posfee_schemas::subjects::{self, Identity, IdentityOp, Role, ServiceName};
use posfee_schemas::ErrorCode;
use std::time::{Duration, Instant};

/// A harness whose identity service runs with `opts`.
async fn with_identity(opts: ServiceOptions) -> Harness {
    let mut h = Harness::start().await.unwrap();
    h.stop_service(ServiceName::Identity).await.unwrap();
    h.start_service(ServiceName::Identity, opts).await.unwrap();
    h
}

fn code(e: &CallError) -> Option<ErrorCode> {
    e.remote().map(|w| w.code)
}

/// A fresh key's connection, named with a stamp of `bits` (a key nobody enrolled needs one).
async fn unenrolled(h: &Harness, bits: u32) -> (String, DeviceId, u64, async_nats::Client) {
    let seed = enrol::new_key().unwrap();
    let device = posfee_client::creds::device_id(&seed).unwrap();
    let stamp = enrol::stamp(&seed, bits, 0).unwrap();
    let client = bus::connect(
        h.url(),
        Identity::Device(device.clone()),
        Some(seed.clone()),
        &enrol::stamped_name("t", stamp),
    )
    .await
    .unwrap();
    (seed, device, stamp, client)
}

/// Sends an enrol request as it is (stamp and all) and returns its refusal.
async fn refused_enrolment(
    client: &async_nats::Client,
    device: &DeviceId,
    req: &EnrolRequest,
) -> CallError {
    posfee_client::call::<_, posfee_schemas::identity::EnrolReply>(
        client,
        subjects::identity_enrol(device),
        req,
        None,
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn a_connection_enrols_only_its_own_key() {
    let h = Harness::start().await.unwrap();
    let (seed, device, stamp, client) = unenrolled(&h, CONNECT_STAMP_BITS).await;
    // Another key, stamped, asked for on this connection's own subject: refused, and not
    // enrolled.
    let other = enrol::new_key().unwrap();
    let other_stamp = enrol::stamp(&other, CONNECT_STAMP_BITS, 0).unwrap();
    let (_, req) = enrol::request(&other, other_stamp).unwrap();
    let e = refused_enrolment(&client, &device, &req).await;
    assert_eq!(code(&e), Some(ErrorCode::Forbidden), "{e}");
    // The probe can succeed: the connection's own key enrols.
    let reply = enrol::ask(&client, &device, &seed, stamp).await.unwrap();
    assert_eq!(reply.device_id, device);
    let operator = h.connect(Role::Operator).await.unwrap();
    let listed = posfee_deploy::identities::list(&operator, 10)
        .await
        .unwrap();
    let other_id = posfee_client::creds::device_id(&other).unwrap();
    assert!(!listed
        .keys
        .iter()
        .any(|k| k.holder == Holder::Device(other_id.clone())));
    // An enrolled phone cannot enrol other keys either: the old way to fill the store.
    let (phone_id, phone) = h.phone().await.unwrap();
    let e = enrol::ask(&phone, &phone_id, &other, other_stamp)
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Forbidden), "{e}");
}

#[tokio::test]
async fn a_new_key_needs_a_stamp_to_connect() {
    let h = Harness::start().await.unwrap();
    let seed = enrol::new_key().unwrap();
    let device = posfee_client::creds::device_id(&seed).unwrap();
    let unstamped = bus::connect(
        h.url(),
        Identity::Device(device.clone()),
        Some(seed.clone()),
        "no stamp",
    )
    .await;
    assert!(unstamped.is_err(), "a new key connected without a stamp");
    // The probe can succeed: the same key with a stamp connects and enrols.
    let reply = enrol::enrol(h.url(), &seed, "t").await.unwrap();
    assert_eq!(reply.device_id, device);
}

#[tokio::test]
async fn a_thousand_new_keys_from_one_address_do_not_keep_a_genuine_phone_out() {
    // Enrolling asks for harder stamps past 5 a second; the crowd's stamps are cheap (8 bits
    // to connect), so it can make many.
    let h = with_identity(ServiceOptions {
        enrol_target_per_sec: 5.0,
        stamp_bits: 8,
        ..Default::default()
    })
    .await;
    let url = h.url().to_string();
    let tried = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = tried.clone();
    let crowd = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for worker in 0..20 {
            let (url, tried) = (url.clone(), counted.clone());
            tasks.push(tokio::spawn(async move {
                let mut enrolled = 0;
                for i in 0..50 {
                    tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let seed = enrol::new_key().unwrap();
                    let device = posfee_client::creds::device_id(&seed).unwrap();
                    // Most come without a stamp; every fifth one pays for a cheap one and
                    // enrols.
                    if (worker + i) % 5 != 0 {
                        let refused =
                            bus::connect(&url, Identity::Device(device), Some(seed), "crowd").await;
                        assert!(refused.is_err(), "an unstamped new key got in");
                        continue;
                    }
                    if enrol::enrol_with(&url, &seed, "crowd", 8).await.is_ok() {
                        enrolled += 1;
                    }
                }
                enrolled
            }));
        }
        let mut enrolled = 0;
        for t in tasks {
            enrolled += t.await.unwrap();
        }
        enrolled
    });
    // A genuine phone on the same address, in the middle of it.
    posfee_harness::eventually("the crowd is under way", || async {
        tried.load(std::sync::atomic::Ordering::Relaxed) >= 200
    })
    .await;
    let seed = enrol::new_key().unwrap();
    let started = Instant::now();
    let reply = enrol::enrol(h.url(), &seed, "genuine").await.unwrap();
    let took = started.elapsed();
    let enrolled_by_crowd = crowd.await.unwrap();
    assert_eq!(
        reply.device_id,
        posfee_client::creds::device_id(&seed).unwrap()
    );
    assert!(
        took < Duration::from_secs(2),
        "the genuine phone took {took:?}"
    );
    // The crowd was real: it enrolled its stamped keys.
    assert!(enrolled_by_crowd >= 150, "{enrolled_by_crowd}");
    eprintln!(
        "the genuine phone enrolled in {took:?} among {} new-key attempts ({enrolled_by_crowd} enrolled)",
        tried.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[tokio::test]
async fn enrolling_asks_for_a_stronger_stamp_while_many_keys_enrol() {
    let h = with_identity(ServiceOptions {
        enrol_target_per_sec: 0.1,
        stamp_bits: 6,
        ..Default::default()
    })
    .await;
    // Two quiet enrolments at the base bits: the probe can succeed.
    for _ in 0..2 {
        let seed = enrol::new_key().unwrap();
        enrol::enrol_with(h.url(), &seed, "t", 6).await.unwrap();
    }
    // Past the target rate a base stamp is refused, saying how many bits it needs ...
    let (seed, device, stamp, client) = unenrolled(&h, 6).await;
    let bits_of = |s| {
        posfee_schemas::identity::stamp_bits(&posfee_client::creds::public_key(&seed).unwrap(), s)
    };
    let weak = (stamp..).find(|s| bits_of(*s) == 6).unwrap();
    let (_, req) = enrol::request(&seed, weak).unwrap();
    let e = refused_enrolment(&client, &device, &req).await;
    assert_eq!(code(&e), Some(ErrorCode::StampTooWeak), "{e}");
    let needed = posfee_schemas::identity::stamp_needed(&e.remote().unwrap().message).unwrap();
    assert!(needed > 6, "{e}");
    // ... and a phone that computes one enrols.
    let reply = enrol::ask(&client, &device, &seed, weak).await.unwrap();
    assert_eq!(reply.device_id, device);
}

#[tokio::test]
async fn a_proof_by_another_key_or_over_other_bytes_is_refused() {
    let h = Harness::start().await.unwrap();
    let (seed, asker, stamp, client) = unenrolled(&h, CONNECT_STAMP_BITS).await;
    let key = nkeys::KeyPair::from_seed(&seed).unwrap();
    let other = nkeys::KeyPair::new_user();
    let message = posfee_schemas::identity::enrol_proof_message(&key.public_key());
    for (what, proof) in [
        ("signed by another key", other.sign(&message).unwrap()),
        ("over other bytes", key.sign(b"posfee.enrol.v1:").unwrap()),
        ("empty", Vec::new()),
    ] {
        let req = EnrolRequest {
            nkey: key.public_key(),
            proof,
            stamp: Some(stamp),
        };
        let e = posfee_client::call::<_, posfee_schemas::identity::EnrolReply>(
            &client,
            subjects::identity_enrol(&asker),
            &req,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::BadSignature), "{what}: {e}");
    }
    // A seed instead of a public key is refused naming the field.
    let req = EnrolRequest {
        nkey: String::from_utf8(key.seed().unwrap().into_bytes()).unwrap(),
        proof: Vec::new(),
        stamp: Some(stamp),
    };
    let e = posfee_client::call::<_, posfee_schemas::identity::EnrolReply>(
        &client,
        subjects::identity_enrol(&asker),
        &req,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidField), "{e}");
    assert!(e.to_string().contains("nkey"), "{e}");
}

#[tokio::test]
async fn a_revoked_key_may_only_learn_why_and_never_enrols_again() {
    let h = Harness::start().await.unwrap();
    let seed = enrol::new_key().unwrap();
    let device = enrol::enrol(h.url(), &seed, "t").await.unwrap().device_id;
    // The probe can succeed: enrolled, the key is a phone and may join pairings.
    let phone = bus::connect(
        h.url(),
        Identity::Device(device.clone()),
        Some(seed.clone()),
        "t",
    )
    .await
    .unwrap();
    let status = bus::key_status(&phone, &seed).await.unwrap();
    assert_eq!(status.state, KeyState::Active);
    assert_eq!(status.holder, Some(Holder::Device(device.clone())));
    drop(phone);
    let operator = h.connect(Role::Operator).await.unwrap();
    posfee_deploy::identities::revoke(&operator, Holder::Device(device.clone()))
        .await
        .unwrap();
    // It connects only to ask why, and is told what to do.
    let (refused, mut errors) = h
        .watching(
            async_nats::ConnectOptions::new()
                .nkey(seed.clone())
                .custom_inbox_prefix(Identity::Device(device.clone()).inbox_prefix()),
        )
        .await
        .unwrap();
    let status = bus::key_status(&refused, &seed).await.unwrap();
    assert_eq!(status.state, KeyState::Revoked, "{status:?}");
    assert_eq!(status.holder, Some(Holder::Device(device.clone())));
    assert!(status.message.contains("new key"), "{status:?}");
    // Nothing else: not even asking to enrol again.
    for subject in [
        subjects::identity_enrol(&device),
        subjects::pair_any().replace('*', "x"),
    ] {
        refused.publish(subject.clone(), "x".into()).await.unwrap();
        refused.flush().await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(3), errors.recv())
            .await
            .unwrap_or_else(|_| panic!("no permission violation for {subject}"))
            .unwrap();
        assert!(
            got.to_lowercase().contains("permissions violation"),
            "{got}"
        );
    }
    // Nor can another phone enrol it on its behalf.
    let (asker, client) = h.phone().await.unwrap();
    let e = enrol::ask(&client, &asker, &seed, 0).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Forbidden), "{e}");
    // Revoking twice says the key is revoked already, and nothing is found for a stranger.
    let stranger = DeviceId::parse("phzzzzzzzz").unwrap();
    let e = posfee_deploy::identities::revoke(&operator, Holder::Device(stranger))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("KEY_NOT_FOUND") || e.to_string().contains("no key"),
        "{e}"
    );
}

#[tokio::test]
async fn a_key_nobody_enrolled_is_disconnected_when_its_time_is_up() {
    let h = with_identity(ServiceOptions {
        unenrolled_ttl_secs: 2,
        ..Default::default()
    })
    .await;
    let seed = enrol::new_key().unwrap();
    let device = posfee_client::creds::device_id(&seed).unwrap();
    let stamp = enrol::stamp(&seed, CONNECT_STAMP_BITS, 0).unwrap();
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let _client = async_nats::ConnectOptions::new()
        .name(enrol::stamped_name("t", stamp))
        .nkey(seed)
        .custom_inbox_prefix(Identity::Device(device).inbox_prefix())
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event.to_string());
            }
        })
        .connect(h.url())
        .await
        .unwrap();
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = events.recv().await {
            if e.to_lowercase().contains("disconnect") {
                return;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "an unenrolled connection outlived its deadline"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn one_key_cannot_open_connections_without_end() {
    let h = Harness::start().await.unwrap();
    let (device, _) = h.phone().await.unwrap();
    let seed = std::fs::read_to_string(h.seed_file(&Identity::Device(device.clone())))
        .unwrap()
        .trim()
        .to_string();
    let attempts = (0..40).map(|_| {
        let (url, seed, device) = (h.url().to_string(), seed.clone(), device.clone());
        tokio::spawn(
            async move { bus::connect(&url, Identity::Device(device), Some(seed), "t").await },
        )
    });
    let mut opened = Vec::new();
    for a in attempts {
        if let Ok(c) = a.await.unwrap() {
            opened.push(c);
        }
    }
    // The probe can succeed: some connected; a burst of a few, then one a second.
    assert!(!opened.is_empty());
    let burst = posfee_identity::callout::ADMISSION_RATE.burst as usize;
    assert!(
        opened.len() <= burst + 1,
        "{} connections of one key",
        opened.len()
    );
    // Another phone is not held back by it.
    h.phone().await.unwrap();
}

/// Issues `n` fresh keys to `holder` at once; returns each seed with the call's answer.
async fn issue_at_once(
    operator: &async_nats::Client,
    holder: &Holder,
    n: usize,
    replace: bool,
) -> Vec<(String, Result<IssueReply, CallError>)> {
    let calls = (0..n).map(|_| {
        let seed = enrol::new_key().unwrap();
        let req = IssueRequest {
            holder: holder.clone(),
            nkey: nkeys::KeyPair::from_seed(&seed).unwrap().public_key(),
            replace,
        };
        async move {
            let subject = subjects::identity(IdentityOp::Issue);
            (
                seed,
                posfee_client::call(operator, subject, &req, None).await,
            )
        }
    });
    futures::future::join_all(calls).await
}

/// How many of `seeds` the bus lets in as `who`.
async fn connecting(h: &Harness, who: &Identity, seeds: &[String]) -> usize {
    let mut n = 0;
    for seed in seeds {
        if bus::connect(h.url(), who.clone(), Some(seed.clone()), "t")
            .await
            .is_ok()
        {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn keys_issued_at_once_to_one_holder_leave_exactly_one_that_connects() {
    // Two instances side by side, as `posfee up --instances 2` runs them: the requests spread
    // over both, so they race through the journal, not through one store.
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Identity, ServiceOptions::default())
        .await
        .unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    let kiosk = TerminalId::parse("kiosk-race").unwrap();
    let (holder, who) = (Holder::Terminal(kiosk.clone()), Identity::Terminal(kiosk));
    // Without --replace: one of eight is issued, the others are told the holder has a key.
    let first = issue_at_once(&operator, &holder, 8, false).await;
    let issued: Vec<String> = first
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(issued.len(), 1, "{first:?}");
    for (_, r) in first.iter().filter(|(_, r)| r.is_err()) {
        let e = r.as_ref().unwrap_err();
        assert_eq!(code(e), Some(ErrorCode::KeyConflict), "{e}");
    }
    // The probe can succeed: the issued key connects as the kiosk.
    let seeds: Vec<String> = first.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(connecting(&h, &who, &seeds).await, 1);
    // With --replace, each request revokes what it finds and claims the holder: however they
    // interleave, one key is left that connects, and the list shows it alone.
    let second = issue_at_once(&operator, &holder, 8, true).await;
    let mut seeds: Vec<String> = second.iter().map(|(s, _)| s.clone()).collect();
    seeds.extend(issued);
    assert_eq!(connecting(&h, &who, &seeds).await, 1, "{second:?}");
    let listed = posfee_deploy::identities::list(&operator, 0).await.unwrap();
    let live: Vec<_> = listed
        .keys
        .iter()
        .filter(|k| k.holder == holder && k.revoked_at.is_none())
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
}

#[tokio::test]
async fn a_kiosks_key_is_never_enrolled_as_a_phone() {
    let h = Harness::start().await.unwrap();
    let operator = h.connect(Role::Operator).await.unwrap();
    // A fresh key's connection, whose key the operator then issues to a kiosk.
    let (seed, device, stamp, client) = unenrolled(&h, CONNECT_STAMP_BITS).await;
    let issue = |nkey: String| posfee_schemas::identity::IssueRequest {
        holder: Holder::Terminal(posfee_schemas::ids::TerminalId::parse("kiosk-77").unwrap()),
        nkey,
        replace: false,
    };
    let nkey = posfee_client::creds::public_key(&seed).unwrap();
    let _: posfee_schemas::identity::IssueReply = posfee_client::call(
        &operator,
        subjects::identity(posfee_schemas::subjects::IdentityOp::Issue),
        &issue(nkey),
        None,
    )
    .await
    .unwrap();
    let e = enrol::ask(&client, &device, &seed, stamp)
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::KeyConflict), "{e}");
    assert!(e.to_string().contains("terminal kiosk-77"), "{e}");
    // The probe can succeed: another fresh key's connection enrols.
    let (seed, device, stamp, client) = unenrolled(&h, CONNECT_STAMP_BITS).await;
    let reply = enrol::ask(&client, &device, &seed, stamp).await.unwrap();
    assert_eq!(reply.device_id, device);
}

/// Whether a connection made with `who`'s key may publish what only a phone may: a request on
/// a pairing subject nobody listens on is answered "no responders" if the server let it
/// through; a refused one is never answered.
async fn acts_as_phone(h: &Harness, who: &Identity) -> bool {
    let client = h.connect_as(who.clone()).await.unwrap();
    let subject = subjects::pair_any().replace(['*', '>'], "x");
    let asked = client.request(subject, "x".into());
    match tokio::time::timeout(Duration::from_secs(2), asked).await {
        Ok(Err(e)) => e.kind() == async_nats::RequestErrorKind::NoResponders,
        _ => false,
    }
}

/// What a key is to the system, asked by a connection made with it.
async fn state_of(h: &Harness, who: &Identity) -> KeyState {
    let seed = h.seed_of(who).unwrap();
    let (client, _errors) = h
        .watching(
            async_nats::ConnectOptions::new()
                .nkey(seed.clone())
                .custom_inbox_prefix(who.inbox_prefix()),
        )
        .await
        .unwrap();
    bus::key_status(&client, &seed).await.unwrap().state
}

/// Two instances serve side by side: a phone enrolled through one is let in at once whichever
/// answers its connection. Then both stop and one starts on an empty store folder: its view is
/// rebuilt from the journal alone and it answers exactly as before (who is a phone, a kiosk,
/// revoked; the key list; a re-enrolment answered with its first time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_every_key_and_a_lost_store_is_rebuilt_from_the_journal() {
    let mut h = Harness::start().await.unwrap();
    h.start_service(ServiceName::Identity, ServiceOptions::default())
        .await
        .unwrap();
    let mut phones = Vec::new();
    for _ in 0..8 {
        // Enrols, then connects as the phone at once: the callout of either instance lets it
        // in as the phone, not as a key nobody enrolled (which may not ask a kiosk anything).
        let (device, client) = h.phone().await.unwrap();
        drop(client);
        let phone = Identity::Device(device);
        assert!(
            acts_as_phone(&h, &phone).await,
            "{phone} let in as unenrolled"
        );
        phones.push(phone);
    }
    let kiosk = h.terminal("kiosk-twin").await.unwrap();
    drop(kiosk);
    let operator = h.connect(Role::Operator).await.unwrap();
    let gone = phones.pop().unwrap();
    let Identity::Device(gone_device) = &gone else {
        unreachable!()
    };
    posfee_deploy::identities::revoke(&operator, Holder::Device(gone_device.clone()))
        .await
        .unwrap();
    let before = posfee_deploy::identities::list(&operator, 100)
        .await
        .unwrap();
    assert_eq!(
        (before.devices_enrolled, before.devices_revoked),
        (7, 1),
        "{before:?}"
    );

    h.stop_service(ServiceName::Identity).await.unwrap();
    let folder = h.data().service(Role::Identity.as_str());
    assert!(folder.join("db").exists(), "{}", folder.display());
    std::fs::remove_dir_all(&folder).unwrap();
    h.stop_service(ServiceName::Identity).await.unwrap();
    h.start_service(ServiceName::Identity, ServiceOptions::default())
        .await
        .unwrap();
    assert!(folder.join("db").exists(), "not started on the lost folder");

    for phone in &phones {
        assert_eq!(state_of(&h, phone).await, KeyState::Active, "{phone}");
        h.connect_as(phone.clone()).await.unwrap();
    }
    h.connect_as(Identity::Terminal(TerminalId::parse("kiosk-twin").unwrap()))
        .await
        .unwrap();
    assert_eq!(state_of(&h, &gone).await, KeyState::Revoked);
    assert!(
        h.connect_as(gone.clone()).await.is_err(),
        "a revoked key connected"
    );
    let after = posfee_deploy::identities::list(&operator, 100)
        .await
        .unwrap();
    let keys = |l: &posfee_schemas::identity::ListReply| {
        let mut k: Vec<_> = l
            .keys
            .iter()
            .map(|k| (k.holder.key(), k.nkey.clone(), k.issued_at, k.revoked_at))
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&after), keys(&before));
    assert_eq!(
        (after.devices_enrolled, after.devices_revoked),
        (before.devices_enrolled, before.devices_revoked)
    );
    // A phone enrolling again is answered with its first enrolment, not a new one.
    let Identity::Device(first) = &phones[0] else {
        unreachable!()
    };
    let seed = h.seed_of(&phones[0]).unwrap();
    let again = enrol::enrol(h.url(), &seed, "t").await.unwrap();
    let listed = before
        .keys
        .iter()
        .find(|k| k.holder == Holder::Device(first.clone()))
        .unwrap();
    assert_eq!(again.enrolled_at, listed.issued_at);
}

/// An identity service from before the journal kept its keys only in its own store. Started on
/// such a store, it moves every key into the journal once: the kiosk's current key and the
/// phone connect, the kiosk's replaced key stays revoked, and an instance on an empty folder
/// then knows all of it from the journal alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_kept_before_the_journal_are_moved_into_it() {
    use posfee_schemas::identity::IssuedKey;
    let mut h = Harness::start().await.unwrap();
    h.stop_service(ServiceName::Identity).await.unwrap();
    let folder = h.data().service(Role::Identity.as_str());
    std::fs::remove_dir_all(&folder).unwrap();
    let kiosk = Identity::Terminal(TerminalId::parse("kiosk-old").unwrap());
    let Identity::Terminal(kiosk_id) = &kiosk else {
        unreachable!()
    };
    let (old_kiosk, new_kiosk, phone_seed) = (
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
        enrol::new_key().unwrap(),
    );
    let phone_key = posfee_client::creds::public_key(&phone_seed).unwrap();
    let phone = Identity::Device(DeviceId::of_nkey(&phone_key).unwrap());
    let Identity::Device(device) = &phone else {
        unreachable!()
    };
    let t0 = chrono::Utc::now() - chrono::Duration::days(30);
    let legacy = [
        IssuedKey {
            holder: Holder::Terminal(kiosk_id.clone()),
            nkey: old_kiosk.public_key(),
            issued_at: t0,
            revoked_at: Some(t0 + chrono::Duration::days(2)),
        },
        IssuedKey {
            holder: Holder::Terminal(kiosk_id.clone()),
            nkey: new_kiosk.public_key(),
            issued_at: t0 + chrono::Duration::days(2),
            revoked_at: None,
        },
        IssuedKey {
            holder: Holder::Device(device.clone()),
            nkey: phone_key.clone(),
            issued_at: t0 + chrono::Duration::days(3),
            revoked_at: None,
        },
    ];
    {
        // The old layout: `keys` (nkey → key) and `holders` (holder → current nkey).
        let db = posfee_store::open(&folder.join("db")).unwrap();
        let (keys, holders) = (
            db.open_tree("keys").unwrap(),
            db.open_tree("holders").unwrap(),
        );
        for k in &legacy {
            keys.insert(k.nkey.as_bytes(), posfee_schemas::encode(k))
                .unwrap();
            holders
                .insert(k.holder.key().as_bytes(), k.nkey.as_bytes())
                .unwrap();
        }
        db.flush().unwrap();
    }
    let kiosk_file = h.seed_file(&kiosk);
    let use_key = |k: &nkeys::KeyPair| {
        let file = &kiosk_file;
        let _ = std::fs::remove_file(file);
        posfee_client::creds::write_seed(file, &k.seed().unwrap()).unwrap();
    };
    posfee_client::creds::write_seed(&h.seed_file(&phone), &phone_seed).unwrap();
    for round in ["migrated", "rebuilt from the journal"] {
        h.start_service(ServiceName::Identity, ServiceOptions::default())
            .await
            .unwrap();
        use_key(&new_kiosk);
        h.connect_as(kiosk.clone()).await.unwrap();
        assert!(acts_as_phone(&h, &phone).await, "{round}: the phone");
        use_key(&old_kiosk);
        assert_eq!(state_of(&h, &kiosk).await, KeyState::Revoked, "{round}");
        let operator = h.connect(Role::Operator).await.unwrap();
        let listed = posfee_deploy::identities::list(&operator, 10)
            .await
            .unwrap();
        let mut got: Vec<_> = listed.keys.iter().map(|k| k.nkey.clone()).collect();
        got.sort();
        let mut want: Vec<_> = legacy.iter().map(|k| k.nkey.clone()).collect();
        want.sort();
        // The list shows holders' current keys: the kiosk's new one and the phone.
        want.retain(|n| *n != old_kiosk.public_key());
        assert_eq!(got, want, "{round}");
        h.stop_service(ServiceName::Identity).await.unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
