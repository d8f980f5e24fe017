//! Phones enrolling their own keys through the identity service: what is refused, and that a
//! refusal changes nothing. (Who may connect and revocation: tests/bus_roles.rs.)
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_client::{bus, enrol};
use posfee_harness::{Harness, ServiceOptions};
use posfee_identity::limit::Rate;
use posfee_schemas::identity::{EnrolRequest, Holder};
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::{self, Identity, Role, ServiceName};
use posfee_schemas::ErrorCode;

/// A harness whose identity service runs with `opts`.
async fn with_identity(opts: ServiceOptions) -> Harness {
    let mut h = Harness::start().await.unwrap();
    h.stop_service(ServiceName::Identity).await.unwrap();
    h.start_service(ServiceName::Identity, opts).await.unwrap();
    h
}

/// A harness whose identity service enrols `burst` phones and then no more.
async fn with_enrolments(burst: f64) -> Harness {
    with_identity(ServiceOptions {
        enrol_rate: Rate {
            per_sec: 0.0,
            burst,
        },
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn unknown_keys_from_one_address_are_let_in_only_so_often_and_enrolled_phones_always() {
    let h = with_identity(ServiceOptions {
        new_key_rate: Rate {
            per_sec: 0.0,
            burst: 3.0,
        },
        ..Default::default()
    })
    .await;
    // An enrolled phone (its own connects do not count) ...
    let (device, _) = h.phone().await.unwrap();
    // ... then unknown keys: the first ones connect (the probe can succeed), the next is refused.
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let seed = enrol::new_key().unwrap();
        let d = posfee_client::creds::device_id(&seed).unwrap();
        outcomes.push(
            bus::connect(h.url(), Identity::Device(d), Some(seed), "t")
                .await
                .is_ok(),
        );
    }
    assert_eq!(
        outcomes,
        [true, true, false],
        "the phone's own enrolment took one"
    );
    // The enrolled phone still connects: the limit is on keys nobody enrolled.
    let seed = std::fs::read_to_string(h.seed_file(&Identity::Device(device.clone()))).unwrap();
    bus::connect(
        h.url(),
        Identity::Device(device),
        Some(seed.trim().to_string()),
        "t",
    )
    .await
    .unwrap();
}

fn code(e: &posfee_client::CallError) -> Option<ErrorCode> {
    e.remote().map(|w| w.code)
}

#[tokio::test]
async fn enrolments_past_the_rate_are_refused_with_429_and_enrol_nothing() {
    let h = with_enrolments(3.0).await;
    // The asker itself takes one enrolment.
    let (asker, client) = h.phone().await.unwrap();
    // The probe can succeed: within the burst a new key is enrolled.
    let first = enrol::new_key().unwrap();
    enrol::ask(&client, &asker, &first).await.unwrap();
    enrol::ask(&client, &asker, &enrol::new_key().unwrap())
        .await
        .unwrap();
    // Past it: 429 with what to do, and the key is not enrolled.
    let refused_key = enrol::new_key().unwrap();
    let e = enrol::ask(&client, &asker, &refused_key).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::RateLimited), "{e}");
    assert!(e.to_string().contains("try again"), "{e}");
    let operator = h.connect(Role::Operator).await.unwrap();
    let listed = posfee_deploy::identities::list(&operator, 10)
        .await
        .unwrap();
    assert_eq!(listed.devices_enrolled, 3, "{listed:?}");
    let refused_id = posfee_client::creds::device_id(&refused_key).unwrap();
    assert!(!listed
        .keys
        .iter()
        .any(|k| k.holder == Holder::Device(refused_id.clone())));
    // Enrolling an enrolled key again is answered (its first enrolment), not rate-limited.
    let again = enrol::ask(&client, &asker, &first).await.unwrap();
    assert_eq!(
        again.device_id,
        posfee_client::creds::device_id(&first).unwrap()
    );
}

#[tokio::test]
async fn a_proof_by_another_key_or_over_other_bytes_is_refused() {
    let h = Harness::start().await.unwrap();
    let (asker, client) = h.phone().await.unwrap();
    let key = nkeys::KeyPair::new_user();
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
async fn a_revoked_key_never_connects_or_enrols_again() {
    let h = Harness::start().await.unwrap();
    let seed = enrol::new_key().unwrap();
    let device = enrol::enrol(h.url(), &seed, "t").await.unwrap().device_id;
    let operator = h.connect(Role::Operator).await.unwrap();
    posfee_deploy::identities::revoke(&operator, Holder::Device(device.clone()))
        .await
        .unwrap();
    // It cannot connect, not even to ask to enrol.
    let refused = bus::connect(
        h.url(),
        Identity::Device(device.clone()),
        Some(seed.clone()),
        "t",
    )
    .await;
    assert!(refused.is_err(), "a revoked key connected");
    // Nor can another phone enrol it on its behalf (the probe: that phone can enrol a new key).
    let (asker, client) = h.phone().await.unwrap();
    enrol::ask(&client, &asker, &enrol::new_key().unwrap())
        .await
        .unwrap();
    let e = enrol::ask(&client, &asker, &seed).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Forbidden), "{e}");
    assert!(e.to_string().contains("new key"), "{e}");
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
